// Byte-exact relaying in both directions, bulk transfers and backpressure (reference §4.5, §6).
import Testing

extension ProxyBinaryTests {
    @Suite("Relay")
    struct Relay {
        @Test("32 MiB in binary frames of random sizes 0…200 KiB round-trip through an echo target byte-exact")
        func randomFrameSizesEcho() async throws {
            let total = 32 << 20
            try await withProxy(to: .echo) { proxy, target in
                let result = try await WebSocketClientResult.run(
                    "echo",
                    url: proxy.url + "/websockify",
                    ["--total", "\(total)", "--seed", "20251125", "--max-frame", "\(200 * 1024)"]
                )
                #expect(result.error == nil)
                #expect(result.sent == total)
                #expect(result.received == total)
                #expect(result.mismatch == nil, "first differing stream offset")
                #expect(result.closeCode == 1000)
                let stats = try await target.wait { $0.peerEOFs == 1 }
                #expect(stats.bytesReceived == total)
                #expect(stats.bytesSent == total)
                #expect(stats.errors.isEmpty)
            }
        }

        @Test("64 MiB from a source target reach the client intact, then close 1000 \"Target closed\"")
        func bulkTargetToClient() async throws {
            let total = 64 << 20
            try await withProxy(to: .source(byteCount: total)) { proxy, target in
                let result = try await WebSocketClientResult.run("recv", url: proxy.url + "/")
                #expect(result.error == nil)
                #expect(result.received == total)
                #expect(result.mismatch == nil, "first differing stream offset")
                #expect(result.closeCode == 1000)
                #expect(result.closeReason == "Target closed")
                #expect(target.stats.value.bytesSent == total)
            }
        }

        @Test("64 MiB in 64 KiB client frames reach a sink target intact, then the sink sees EOF")
        func bulkClientToTarget() async throws {
            let total = 64 << 20
            try await withProxy(to: .sink(captureLimit: 0)) { proxy, target in
                let result = try await WebSocketClientResult.run(
                    "send",
                    url: proxy.url + "/",
                    ["--total", "\(total)", "--frame", "\(64 * 1024)"]
                )
                #expect(result.error == nil)
                #expect(result.sent == total)
                #expect(result.closeCode == 1000)
                let stats = try await target.wait { $0.peerEOFs == 1 }
                #expect(stats.bytesReceived == total)
                #expect(stats.mismatchOffset == nil)
                #expect(stats.errors.isEmpty)
            }
        }

        /// A client that stops reading must make the proxy stop reading the target (ARCHITECTURE "backpressure"),
        /// so memory stays bounded while 256 MiB wait at the target. websockify has no backpressure
        /// (`Deviation.noBackpressure`): its RSS follows the backlog, so only the data is checked there.
        /// Over wss:// too: OpenSSL's `SSL_write` returning WANT_WRITE must stop the target reads just the same.
        @Test("a slow reader of 256 MiB keeps the proxy's RSS below 64 MiB and receives every byte (ws, wss)",
            arguments: [false, true])
        func slowReaderBackpressure(tls: Bool) async throws {
            let total = 256 << 20
            let material = tls ? try await TLSMaterial.make() : nil
            defer { material?.remove() }
            let certificate = material.map { ["--cert", $0.server] } ?? []
            try await withProxy(to: .source(byteCount: total), options: certificate) { proxy, _ in
                let sampler = PeakResidentSampler(proxy.process)
                let url = tls ? "wss://127.0.0.1:\(proxy.port)/" : proxy.url + "/"
                let result = try await WebSocketClientResult.run(
                    "recv",
                    url: url,
                    ["--pause", "2", "--max-queue", "4", "--slow-chunk", "\(4 << 20)", "--slow-delay", "0.05"]
                        + (material.map { ["--cafile", $0.ca] } ?? [])
                )
                let peak = sampler.stop()
                #expect(result.error == nil)
                #expect(result.received == total)
                #expect(result.mismatch == nil, "first differing stream offset")
                #expect(result.closeCode == 1000)
                if proxy.kind.has(.noBackpressure) {
                    // The measurement must see the backlog where there is one, or the bound below proves nothing.
                    #expect(peak > 64 << 20, "peak RSS \(peak >> 20) MiB: the sampler missed websockify's backlog")
                } else {
                    #expect(peak < 64 << 20, "peak RSS \(peak >> 20) MiB")
                }
            }
        }
    }
}
