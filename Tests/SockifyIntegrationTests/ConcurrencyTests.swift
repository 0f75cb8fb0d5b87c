// Many simultaneous WebSocket connections through one proxy.
import Testing

extension ProxyBinaryTests {
    @Suite("Concurrency")
    struct Concurrency {
        /// All 200 connections are open at once (the client waits for every handshake before any echo), each
        /// echoes 4 KiB of its own pattern window, so a cross-wired pair is caught.
        @Test("200 concurrent connections each echo 4 KiB intact")
        func twoHundredConnections() async throws {
            try await withProxy(to: .echo) { proxy, target in
                let result = try await WebSocketClientResult.run(
                    "many",
                    url: proxy.url + "/websockify",
                    ["--count", "200", "--bytes", "4096", "--timeout", "50"]
                )
                #expect(result.error == nil)
                #expect(result.opened == 200)
                #expect(result.ok == 200, "failures: \(result.failures ?? [])")
                let stats = try await target.wait { $0.finished == 200 }
                #expect(stats.accepted == 200)
                #expect(stats.bytesReceived == 200 * 4096)
                // Not exactly 200: a proxy may connect the last target after the first clients finished.
                #expect(stats.maxOpen >= 100)
            }
        }
    }
}
