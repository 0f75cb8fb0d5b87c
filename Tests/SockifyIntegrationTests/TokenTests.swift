// Target selection by token with --target-config (reference §2.1, §2.2).
import Foundation
import Testing

extension ProxyBinaryTests {
    @Suite("Tokens")
    struct Tokens {
        /// Starts the proxy with `--target-config` mapping `tok` to `target`, and no target argument.
        static func withTokenProxy(
            _ target: LoopbackTarget,
            _ body: (ProxyUnderTest) async throws -> Void
        ) async throws {
            let scratch = try ScratchDirectory()
            defer { scratch.remove() }
            let file = scratch.path("tokens.cfg")
            try "# comment line\ntok: 127.0.0.1:\(target.port)\n".write(toFile: file, atomically: true, encoding: .utf8)
            let proxy = try await ProxyUnderTest.start(options: ["--target-config", file], target: [])
            defer { proxy.stop() }
            try await body(proxy)
        }

        @Test("?token=tok reaches the target the token file names")
        func knownToken() async throws {
            let target = try LoopbackTarget(.echo)
            defer { target.stop() }
            try await Self.withTokenProxy(target) { proxy in
                let result = try await WebSocketClientResult.run(
                    "echo",
                    url: proxy.url + "/websockify?token=tok",
                    ["--total", "65536", "--max-frame", "4096"]
                )
                #expect(result.error == nil)
                #expect(result.received == 65536)
                #expect(result.mismatch == nil)
                #expect(target.stats.value.accepted == 1)
            }
        }

        @Test("an unknown token closes the connection with zero bytes and logs \"Token 'nope' not found\"")
        func unknownToken() async throws {
            let target = try LoopbackTarget(.echo)
            defer { target.stop() }
            try await Self.withTokenProxy(target) { proxy in
                let result = try await RawClientResult.websocket(
                    port: proxy.port,
                    frames: [.close(1000)],
                    ["--path", "/websockify?token=nope"]
                )
                #expect(result.error == nil)
                #expect(result.rawBytes == 0)
                #expect(result.status == nil)
                #expect(result.eof)
                #expect(try await proxy.waitForLog("Token 'nope' not found"), "log:\n\(proxy.log)")
                #expect(target.stats.value.accepted == 0)
            }
        }

        @Test("no token closes the connection with zero bytes and logs \"Token not present\"")
        func missingToken() async throws {
            let target = try LoopbackTarget(.echo)
            defer { target.stop() }
            try await Self.withTokenProxy(target) { proxy in
                let result = try await RawClientResult.websocket(
                    port: proxy.port,
                    frames: [.close(1000)],
                    ["--path", "/websockify"]
                )
                #expect(result.error == nil)
                #expect(result.rawBytes == 0)
                #expect(result.eof)
                #expect(try await proxy.waitForLog("Token not present"), "log:\n\(proxy.log)")
            }
        }
    }
}
