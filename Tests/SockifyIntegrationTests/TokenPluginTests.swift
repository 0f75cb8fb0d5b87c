// The token plugins beyond TokenFile (reference §2.3) through the whole proxy, with real peers: a real redis-server,
// a real HTTP token API (Python http.server), real Unix sockets, JWTs signed by Python. The same expectations hold
// for websockify 0.13 (SOCKIFY_PROXY=websockify) except where the Deviation allow-list says otherwise.
import Foundation
import Glibc
import Testing

/// A redis-server of our own on a free loopback port, killed by PID at the end.
final class RedisUnderTest: Sendable {
    let port: UInt16
    let process: SpawnedProcess

    init() async throws {
        let server = try RepositoryLayout.systemTool("redis-server", package: "redis-server")
        var lastError = ""
        for _ in 0..<3 {
            let port = try LoopbackSocket.freePort()
            let process = try SpawnedProcess(
                server, ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            if try await LoopbackSocket.waitUntilAccepting(port: port, while: process) {
                self.port = port
                self.process = process
                return
            }
            lastError = process.stdout + process.stderr
            process.terminate()
        }
        throw HarnessError("redis-server did not start: \(lastError)")
    }

    /// Runs a redis command through a raw RESP exchange (no client library needed).
    func command(_ arguments: [String]) throws {
        let fd = try LoopbackSocket.connect(port: port)
        defer { close(fd) }
        var request = "*\(arguments.count)\r\n"
        for argument in arguments { request += "$\(argument.utf8.count)\r\n\(argument)\r\n" }
        let bytes = Array(request.utf8)
        _ = bytes.withUnsafeBytes { LoopbackSocket.sendAll(fd, $0) }
        var reply = [UInt8](repeating: 0, count: 256)
        let n = reply.withUnsafeMutableBytes { LoopbackSocket.receive(fd, into: $0) } ?? 0
        guard n > 0, reply[0] != UInt8(ascii: "-") else {
            throw HarnessError("redis \(arguments): \(String(decoding: reply[0..<max(0, n)], as: UTF8.self))")
        }
    }

    func stop() { process.terminate() }
}

extension ProxyBinaryTests {
    @Suite("Token plugins")
    struct TokenPlugins {
        /// Sends an upgrade for `token` and expects either the echo of `payload` (a reachable target) or a silent
        /// close (`expectEcho == false`).
        static func session(_ proxy: ProxyUnderTest, token: String) async throws -> RawClientResult {
            try await RawClientResult.websocket(
                port: proxy.port, frames: [.close(1000)],
                ["--path", "/websockify?token=" + (token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? token)])
        }

        @Test("TokenRedis: plain and JSON values, a missing key, a namespace; Redis down fails only new lookups")
        func tokenRedis() async throws {
            let redis = try await RedisUnderTest()
            defer { redis.stop() }
            let target = try LoopbackTarget(.echo)
            defer { target.stop() }
            try redis.command(["SET", "app:plain", "127.0.0.1:\(target.port)"])
            try redis.command(["SET", "app:json", "{\"host\": \"127.0.0.1:\(target.port)\"}"])
            let proxy = try await ProxyUnderTest.start(
                options: ["--token-plugin", "TokenRedis", "--token-source", "127.0.0.1:\(redis.port):0::app"], target: [])
            defer { proxy.stop() }
            #expect(try await proxy.waitForLog("TokenRedis backend initialized (127.0.0.1:\(redis.port))"))

            for token in ["plain", "json"] {
                let ok = try await Self.session(proxy, token: token)
                #expect(ok.status == 101, "token \(token): \(proxy.log)")
            }
            let missing = try await Self.session(proxy, token: "nope")
            #expect(missing.status == nil && missing.rawBytes == 0)
            #expect(try await proxy.waitForLog("Token 'nope' not found"))

            // Sessions that are already relaying keep working while Redis goes away; new lookups fail cleanly.
            let steady = try await SteadySessions.start(
                url: proxy.url + "/?token=plain", ["--count", "2", "--seconds", "3", "--max-frame", "65536"])
            redis.stop()
            let down = try await Self.session(proxy, token: "plain")
            #expect(down.status == nil && down.rawBytes == 0, "no upgrade without a lookup")
            #expect(try await proxy.waitForLog("handler exception: "), "log:\n\(proxy.log)")
            ProxyBinaryTests.Faults.expectUntouched(try await steady.finish(), count: 2)
        }

        @Test("JSONTokenApi and BaseTokenAPI: an HTTP lookup per connection; 404 means not found")
        func tokenAPI() async throws {
            let target = try LoopbackTarget(.echo)
            defer { target.stop() }
            let scratch = try ScratchDirectory()
            defer { scratch.remove() }
            try FileManager.default.createDirectory(atPath: scratch.path("json"), withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: scratch.path("plain"), withIntermediateDirectories: true)
            try "{\"host\": \"127.0.0.1\", \"port\": \(target.port)}".write(
                toFile: scratch.path("json/vm1"), atomically: true, encoding: .utf8)
            try "127.0.0.1:\(target.port)".write(toFile: scratch.path("plain/vm1"), atomically: true, encoding: .utf8)
            let httpPort = try LoopbackSocket.freePort()
            let http = try SpawnedProcess(
                try RepositoryLayout.python(),
                ["-m", "http.server", "--bind", "127.0.0.1", "--directory", scratch.url.path, "\(httpPort)"])
            defer { http.terminate() }
            let up = try await LoopbackSocket.waitUntilAccepting(port: httpPort, while: http)
            #expect(up, "python http.server did not start: \(http.stderr)")
            for (plugin, folder) in [("JSONTokenApi", "json"), ("BaseTokenAPI", "plain")] {
                let proxy = try await ProxyUnderTest.start(
                    options: ["--token-plugin", plugin, "--token-source", "http://127.0.0.1:\(httpPort)/\(folder)/%s"],
                    target: [])
                defer { proxy.stop() }
                let found = try await Self.session(proxy, token: "vm1")
                #expect(found.status == 101, "\(plugin): \(proxy.log)")
                let missing = try await Self.session(proxy, token: "vm2")
                #expect(missing.status == nil && missing.rawBytes == 0)
                #expect(try await proxy.waitForLog("Token 'vm2' not found"), "\(plugin): \(proxy.log)")
            }
        }

        @Test("JWTTokenApi (HS256): a valid token connects; expired, tampered or unsigned ones do not")
        func jwt() async throws {
            let target = try LoopbackTarget(.echo)
            defer { target.stop() }
            let scratch = try ScratchDirectory()
            defer { scratch.remove() }
            // jwcrypto reads a non-PEM key file as the base64url `k` of an oct key; HS256 needs ≥ 32 secret bytes.
            let secret = "0123456789abcdef0123456789abcdef"
            let k = Data(secret.utf8).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
            try k.write(toFile: scratch.path("key"), atomically: true, encoding: .utf8)
            let sign = """
                import base64, hashlib, hmac, json, sys, time
                def b64(b): return base64.urlsafe_b64encode(b).rstrip(b'=').decode()
                def token(claims, alg='HS256', key=b'0123456789abcdef0123456789abcdef'):
                    head = b64(json.dumps({'alg': alg, 'typ': 'JWT'}).encode())
                    body = b64(json.dumps(claims).encode())
                    signing = (head + '.' + body).encode()
                    sig = b64(hmac.new(key, signing, hashlib.sha256).digest()) if alg == 'HS256' else ''
                    return head + '.' + body + '.' + sig
                port = int(sys.argv[1])
                now = int(time.time())
                good = token({'host': '127.0.0.1', 'port': port, 'exp': now + 3600})
                print(good)
                print(token({'host': '127.0.0.1', 'port': port, 'exp': now - 3600}))
                print(good[:-2] + ('AA' if not good.endswith('AA') else 'BB'))
                print(token({'host': '127.0.0.1', 'port': port}, alg='none'))
                """
            let signer = try SpawnedProcess(try RepositoryLayout.python(), ["-c", sign, "\(target.port)"])
            #expect(try await offload { signer.waitForExit(timeout: .seconds(20)) })
            let tokens = signer.stdout.split(separator: "\n").map(String.init)
            try #require(tokens.count == 4, "signer: \(signer.stdout) \(signer.stderr)")
            let proxy = try await ProxyUnderTest.start(
                options: ["--token-plugin", "JWTTokenApi", "--token-source", scratch.path("key")], target: [])
            defer { proxy.stop() }
            let good = try await Self.session(proxy, token: tokens[0])
            #expect(good.status == 101, "log:\n\(proxy.log)")
            for bad in tokens[1...] {
                let refused = try await Self.session(proxy, token: bad)
                #expect(refused.status == nil && refused.rawBytes == 0, "token \(bad) must not connect")
            }
            #expect(target.stats.value.accepted == 1)
        }

        @Test("TokenFileName and UnixDomainSocketDirectory: a file per token, a socket per token, no escapes")
        func directories() async throws {
            let target = try LoopbackTarget(.echo)
            defer { target.stop() }
            let scratch = try ScratchDirectory()
            defer { scratch.remove() }
            try FileManager.default.createDirectory(atPath: scratch.path("names"), withIntermediateDirectories: true)
            try "127.0.0.1:\(target.port)\n".write(toFile: scratch.path("names/vm1"), atomically: true, encoding: .utf8)
            let proxy = try await ProxyUnderTest.start(
                options: ["--token-plugin", "TokenFileName", "--token-source", scratch.path("names")], target: [])
            let named = try await Self.session(proxy, token: "vm1")
            #expect(named.status == 101, "log:\n\(proxy.log)")
            let unnamed = try await Self.session(proxy, token: "vm2")
            #expect(unnamed.status == nil && unnamed.rawBytes == 0)
            proxy.stop()

            // A Unix-socket VNC stand-in: socat relays the socket to the echo target.
            try FileManager.default.createDirectory(atPath: scratch.path("socks"), withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: scratch.path("socksX"), withIntermediateDirectories: true)
            let socat = try RepositoryLayout.systemTool("socat", package: "socat")
            let relay = try SpawnedProcess(
                socat, ["UNIX-LISTEN:\(scratch.path("socks/vm1.sock")),fork", "TCP:127.0.0.1:\(target.port)"])
            defer { relay.terminate() }
            let sibling = try SpawnedProcess(
                socat, ["UNIX-LISTEN:\(scratch.path("socksX/vm1.sock")),fork", "TCP:127.0.0.1:\(target.port)"])
            defer { sibling.terminate() }
            let listening = try await offload { () -> Bool in
                for _ in 0..<200 {
                    if FileManager.default.fileExists(atPath: scratch.path("socks/vm1.sock"))
                        && FileManager.default.fileExists(atPath: scratch.path("socksX/vm1.sock"))
                    {
                        return true
                    }
                    usleep(25_000)  // bounded readiness poll of a separate process
                }
                return false
            }
            #expect(listening, "socat did not create its sockets")
            let sockets = try await ProxyUnderTest.start(
                options: ["--token-plugin", "UnixDomainSocketDirectory", "--token-source", scratch.path("socks")],
                target: [])
            defer { sockets.stop() }
            let inside = try await Self.session(sockets, token: "vm1.sock")
            #expect(inside.status == 101, "log:\n\(sockets.log)")
            #expect(try await sockets.waitForLog("connecting to unix socket: \(scratch.path("socks/vm1.sock"))"))
            if sockets.kind == .sockify {
                // websockify's prefix check lets "../socksX/…" through (reference §2.3); Sockify's does not.
                let escape = try await Self.session(sockets, token: "../socksX/vm1.sock")
                #expect(escape.status == nil && escape.rawBytes == 0)
            }
            let outside = try await Self.session(sockets, token: "../names/vm1")
            #expect(outside.status == nil && outside.rawBytes == 0)
        }
    }
}
