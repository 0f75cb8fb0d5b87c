// `[host:]port` and `host:port` positionals, as websockify 0.13.0 splits them (`websocketproxy.py:675-712`).
import SockifyTargets
import Testing

@Suite("HostPort")
struct HostPortTests {
    @Test(
        "listen forms",
        arguments: [
            ("6080", "", 6080), ("127.0.0.1:6080", "127.0.0.1", 6080), ("[::1]:6080", "::1", 6080),
            ("::1:6080", "::1", 6080), (":6080", "", 6080), ("[[::]]:1", "::", 1),
            ("localhost: 6080 ", "localhost", 6080),
            ("h:+7", "h", 7), ("h:70000", "h", 70000), ("h:-1", "h", -1),
        ] as [(String, String, Int)])
    func listen(argument: String, host: String, port: Int) throws {
        #expect(try HostPort.parseListen(argument) == HostPort(host: host, port: port))
    }

    @Test("listen port errors", arguments: ["x", "host:", "host:x", "[::1]", "6080:"])
    func listenErrors(argument: String) {
        #expect(throws: HostPortError.listenPort) { try HostPort.parseListen(argument) }
        #expect(HostPortError.listenPort.message == "Error parsing listen port")
    }

    @Test(
        "target forms",
        arguments: [
            ("localhost:5900", "localhost", 5900), ("[::1]:5900", "::1", 5900), ("::1:5900", "::1", 5900),
            ("[fe80::1%eth0]:5900", "fe80::1%eth0", 5900), (":5900", "", 5900),
        ] as [(String, String, Int)])
    func target(argument: String, host: String, port: Int) throws {
        #expect(try HostPort.parseTarget(argument) == HostPort(host: host, port: port))
    }

    @Test("target errors")
    func targetErrors() {
        #expect(throws: HostPortError.target) { try HostPort.parseTarget("5900") }
        #expect(throws: HostPortError.target) { try HostPort.parseTarget("") }
        #expect(throws: HostPortError.targetPort) { try HostPort.parseTarget("host:vnc") }
        #expect(throws: HostPortError.targetPort) { try HostPort.parseTarget("[::1]:") }
        #expect(HostPortError.target.message == "Error parsing target")
        #expect(HostPortError.targetPort.message == "Error parsing target port")
    }

    @Test("tcpPort range-checks")
    func tcpPort() {
        #expect(HostPort(host: "h", port: 0).tcpPort == 0)
        #expect(HostPort(host: "h", port: 65535).tcpPort == 65535)
        #expect(HostPort(host: "h", port: 65536).tcpPort == nil)
        #expect(HostPort(host: "h", port: -1).tcpPort == nil)
    }

    @Test("TargetAddress renders like websockify's log lines")
    func targetDescription() {
        #expect(TargetAddress.tcp(host: "::1", port: 5900).description == "::1:5900")
        #expect(TargetAddress.unixSocket(path: "/run/vnc.sock").description == "/run/vnc.sock")
        #expect(TargetAddress.tcp(host: "h", port: 1).kind == .tcp(host: "h", port: 1))
    }
}
