// The opening handshake and non-WebSocket requests without --web (RFC 6455 §4.2; reference §4.2–4.4).
import Testing

extension ProxyBinaryTests {
    @Suite("Handshake")
    struct Handshake {
        /// Closes right after the 101 so the raw client does not wait for frames.
        static let closeAfterUpgrade = [FrameSpec.close(1000)]

        @Test("§4.4 an unsupported Sec-WebSocket-Version is refused (426 + version 13; websockify: 400)")
        func unsupportedVersion() async throws {
            try await withProxy(to: .echo) { proxy, _ in
                let result = try await RawClientResult.websocket(
                    port: proxy.port,
                    frames: Self.closeAfterUpgrade,
                    ["-H", "Sec-WebSocket-Version: 12"]
                )
                #expect(result.error == nil)
                if proxy.kind.has(.unsupportedVersionIs400) {
                    #expect(result.status == 400)
                    #expect(result.reason == "Unsupported protocol version 12")
                } else {
                    #expect(result.status == 426)
                    #expect(result.header("Sec-WebSocket-Version") == "13")
                }
            }
        }

        @Test("§4.2.1 a request without Sec-WebSocket-Key gets 400")
        func missingKey() async throws {
            try await withProxy(to: .echo) { proxy, target in
                let result = try await RawClientResult.websocket(
                    port: proxy.port,
                    frames: Self.closeAfterUpgrade,
                    ["--drop", "Sec-WebSocket-Key"]
                )
                #expect(result.error == nil)
                #expect(result.status == 400)
                #expect(target.stats.value.accepted == 0, "no target connection for a refused upgrade")
            }
        }

        @Test("§4.2.2 the browser list \"base64, binary\" selects binary (websockify: 400)")
        func spacedProtocolList() async throws {
            try await withProxy(to: .echo) { proxy, _ in
                let result = try await RawClientResult.websocket(
                    port: proxy.port,
                    frames: Self.closeAfterUpgrade,
                    ["-H", "Sec-WebSocket-Protocol: base64, binary"]
                )
                #expect(result.error == nil)
                if proxy.kind.has(.spacedProtocolListRejected) {
                    #expect(result.status == 400)
                    #expect(result.reason == "Invalid protocol selected")
                } else {
                    #expect(result.status == 101)
                    #expect(result.header("Sec-WebSocket-Protocol") == "binary")
                    #expect(result.acceptOk == true)
                }
            }
        }

        @Test("§4.2.2 the protocol \"binary\" is echoed (noVNC 0.6–1.1)")
        func binaryProtocol() async throws {
            try await withProxy(to: .echo) { proxy, _ in
                let result = try await RawClientResult.websocket(
                    port: proxy.port,
                    frames: Self.closeAfterUpgrade,
                    ["-H", "Sec-WebSocket-Protocol: binary"]
                )
                #expect(result.status == 101)
                #expect(result.header("Sec-WebSocket-Protocol") == "binary")
            }
        }

        @Test("§4.2.2 no requested protocol gives 101 with the right accept and no protocol header (noVNC ≥ 1.2)")
        func noProtocol() async throws {
            try await withProxy(to: .echo) { proxy, _ in
                let result = try await RawClientResult.websocket(port: proxy.port, frames: Self.closeAfterUpgrade)
                #expect(result.error == nil)
                #expect(result.status == 101)
                #expect(result.acceptOk == true, "Sec-WebSocket-Accept for the RFC 6455 §1.3 sample key")
                #expect(result.header("Upgrade")?.lowercased() == "websocket")
                #expect(result.header("Sec-WebSocket-Protocol") == nil)
                #expect(result.header("Sec-WebSocket-Extensions") == nil)
                #expect(result.close?.code == 1000)
            }
        }

        @Test("reference §4.2: a plain GET without --web gets 405")
        func plainGet() async throws {
            try await withProxy(to: .echo) { proxy, _ in
                let result = try await RawClientResult.run(port: proxy.port, ["--path", "/vnc.html"])
                #expect(result.error == nil)
                #expect(result.status == 405)
            }
        }

        @Test("reference §4.2: POST gets 501")
        func post() async throws {
            try await withProxy(to: .echo) { proxy, _ in
                let result = try await RawClientResult.run(
                    port: proxy.port,
                    ["--method", "POST", "-H", "Content-Length: 0"]
                )
                #expect(result.error == nil)
                #expect(result.status == 501)
            }
        }

        /// The upgrade request and a first masked frame leave in one write; a second frame follows the 101.
        /// The target must see both payloads in order (websockify drops the first: `Deviation.pipelinedFrameLost`).
        @Test("a frame pipelined with the upgrade request reaches the target")
        func pipelinedFrame() async throws {
            try await withProxy(to: .sink(captureLimit: 64)) { proxy, target in
                let early = Array("early-bytes|".utf8)
                let late = Array("late-bytes".utf8)
                let result = try await RawClientResult.websocket(
                    port: proxy.port,
                    frames: [.binary(late), .close(1000)],
                    ["--pipeline", FrameSpec.json([.binary(early)])]
                )
                #expect(result.error == nil)
                #expect(result.status == 101)
                let stats = try await target.wait { $0.peerEOFs == 1 }
                let expected = proxy.kind.has(.pipelinedFrameLost) ? late : early + late
                #expect(stats.captured == expected, "target got \"\(String(decoding: stats.captured, as: UTF8.self))\"")
            }
        }
    }
}
