// Command-line parsing: URLs, modes, units, defaults and the bounds every run must have.
import Testing

@testable import SockifyLoad

@Suite("LoadCommandLine")
struct LoadCommandLineTests {
    func plan(_ arguments: String) throws -> LoadPlan {
        guard case .load(let plan) = try LoadCommandLine.parse(arguments.split(separator: " ").map(String.init), randomSeed: 1)
        else { throw UsageError("not a load command") }
        return plan
    }

    @Test("URLs: ws:// and wss:// with path and query, IPv6, tcp://")
    func urls() throws {
        let ws = try Endpoint(parsing: "ws://localhost:6080/websockify?token=a:b")
        #expect(ws.scheme == .ws && ws.host == "localhost" && ws.port == 6080 && ws.resource == "/websockify?token=a:b")
        let query = try Endpoint(parsing: "ws://127.0.0.1:1?x=1")
        #expect(query.resource == "/?x=1")
        let v6 = try Endpoint(parsing: "ws://[::1]:80")
        #expect(v6.host == "::1" && v6.hostHeader == "[::1]:80" && v6.resource == "/")
        let tcp = try Endpoint(parsing: "tcp://127.0.0.1:5900")
        #expect(tcp.scheme == .tcp && tcp.description == "tcp://127.0.0.1:5900")
        #expect(!tcp.isWebSocket && !tcp.isTLS && ws.isWebSocket && !ws.isTLS)
        let wss = try Endpoint(parsing: "WSS://example.test:443/websockify?token=x")
        #expect(wss.scheme == .wss && wss.isWebSocket && wss.isTLS && wss.resource == "/websockify?token=x")
        #expect(wss.description == "wss://example.test:443/websockify?token=x" && wss.hostHeader == "example.test:443")
    }

    @Test("bad URLs are usage errors", arguments: ["127.0.0.1:80", "wss://h/", "https://h:1/", "http://h:1/", "ws://h/", "ws://:80/", "ws://h:0/", "ws://h:99999/", "tcp://h:1/path"])
    func badURLs(url: String) {
        #expect(throws: UsageError.self) { try Endpoint(parsing: url) }
    }

    @Test("loopback detection")
    func loopback() {
        #expect(Endpoint.isLoopback(numericHost: "127.0.0.1") && Endpoint.isLoopback(numericHost: "127.9.9.9"))
        #expect(Endpoint.isLoopback(numericHost: "::1") && Endpoint.isLoopback(numericHost: "::ffff:127.0.0.1"))
        #expect(!Endpoint.isLoopback(numericHost: "10.0.0.1") && !Endpoint.isLoopback(numericHost: "::2"))
    }

    @Test("defaults per mode keep every run bounded")
    func defaults() throws {
        let rtt = try plan("rtt ws://127.0.0.1:1/")
        #expect(rtt.connectionCount == 1 && rtt.messageSize == 64 && rtt.duration == .seconds(10) && rtt.timeout == .seconds(40))
        let up = try plan("up tcp://127.0.0.1:1")
        #expect(up.messageSize == 65536 && up.byteCount == 1 << 30 && up.duration == nil && up.timeout == .seconds(300))
        let conns = try plan("conns ws://127.0.0.1:1/ --pid 1 -d 2")
        #expect(conns.connectionCount == 1000 && conns.hold == .seconds(2) && conns.proxyPID == 1 && conns.duration == nil)
        let soak = try plan("soak ws://127.0.0.1:1/")
        #expect(soak.duration == .seconds(30) && soak.connectionCount == 8)
    }

    @Test("units: sizes, durations, rates")
    func units() throws {
        let p = try plan("rtt ws://127.0.0.1:1/ -s 4K -d 500ms -r 1000 -c 50 -t 2 --timeout=1m --hgrm /tmp/x --json --seed 5")
        #expect(p.messageSize == 4096 && p.duration == .milliseconds(500) && p.rate == 1000 && p.connectionCount == 50)
        #expect(p.threadCount == 2 && p.timeout == .seconds(60) && p.histogramPath == "/tmp/x" && p.isJSON && p.seed == 5)
        #expect(try LoadCommandLine.byteSize("64KiB", "") == 65536 && LoadCommandLine.byteSize("2G", "") == 2 << 30)
        #expect(try LoadCommandLine.byteSize("100", "") == 100 && LoadCommandLine.byteSize("3MB", "") == 3 << 20)
        #expect(try LoadCommandLine.duration("2.5") == .milliseconds(2500) && LoadCommandLine.duration("1m") == .seconds(60))
    }

    @Test("contradictions are usage errors", arguments: [
        "rtt ws://127.0.0.1:1/ -b 1M", "up ws://127.0.0.1:1/ -d 1", "down ws://127.0.0.1:1/ -r 5",
        "soak ws://127.0.0.1:1/ -n 5", "rtt ws://127.0.0.1:1/ --pid 3", "rtt", "bogus ws://127.0.0.1:1/",
        "rtt ws://127.0.0.1:1/ --nope", "rtt ws://127.0.0.1:1/ -s 0", "rtt ws://127.0.0.1:1/ -c 0", "soak ws://127.0.0.1:1/ -s 4",
    ])
    func contradictions(arguments: String) {
        #expect(throws: UsageError.self) { try plan(arguments) }
    }

    @Test("TLS options: verification by default, --cafile, --insecure, client certificate, --ktls")
    func tlsOptions() throws {
        let plain = try plan("rtt wss://127.0.0.1:1/")
        #expect(plain.tls == TLSOptions() && plain.tls.verifiesPeer && plain.tls.verification == "system" && plain.tls.kernelTLS)
        let ca = try plan("up wss://127.0.0.1:1/ --cafile /x/ca.pem --cert c.pem --key k.pem --ktls off")
        #expect(ca.tls.caFile == "/x/ca.pem" && ca.tls.verification == "cafile" && !ca.tls.kernelTLS)
        #expect(ca.tls.certificateFile == "c.pem" && ca.tls.keyFile == "k.pem")
        let insecure = try plan("rtt wss://127.0.0.1:1/ --insecure --cert=both.pem")
        #expect(!insecure.tls.verifiesPeer && insecure.tls.verification == "none" && insecure.tls.keyFile == nil)
    }

    @Test("TLS options are refused without wss:// and in contradictions", arguments: [
        "rtt ws://127.0.0.1:1/ --cafile ca.pem", "rtt tcp://127.0.0.1:1 --insecure", "rtt ws://127.0.0.1:1/ --ktls off",
        "rtt wss://127.0.0.1:1/ --insecure --cafile ca.pem", "rtt wss://127.0.0.1:1/ --key k.pem",
        "rtt wss://127.0.0.1:1/ --ktls on", "rtt wss://127.0.0.1:1/ --insecure=1",
    ])
    func tlsContradictions(arguments: String) {
        #expect(throws: UsageError.self) { try plan(arguments) }
    }

    @Test("--serve parses kind and listen address")
    func serve() throws {
        guard case .serve(let plan) = try LoadCommandLine.parse(["--serve", "sink", "--listen", "127.0.0.1:0", "-t", "2"], randomSeed: 0)
        else {
            Issue.record("not a serve command")
            return
        }
        #expect(plan.kind == .sink && plan.host == "127.0.0.1" && plan.port == 0 && plan.threadCount == 2)
        #expect(throws: UsageError.self) { try LoadCommandLine.parse(["--serve", "pipe", "--listen", "127.0.0.1:0"], randomSeed: 0) }
        #expect(throws: UsageError.self) { try LoadCommandLine.parse(["--serve", "echo"], randomSeed: 0) }
    }
}
