// Close codes and control frames seen by a raw client (RFC 6455 §5.2, §5.5, §7.4; reference §2.2, §4.6).
import Testing

extension ProxyBinaryTests {
    @Suite("Close codes")
    struct CloseCodes {
        @Test("§5.6 a text frame is answered with close 1003")
        func textFrame() async throws {
            try await withProxy(to: .echo) { proxy, _ in
                let result = try await RawClientResult.websocket(
                    port: proxy.port,
                    frames: [FrameSpec(op: 1, text: "hi")]
                )
                #expect(result.error == nil)
                #expect(result.status == 101)
                #expect(result.close?.code == 1003)
                #expect(result.eof)
            }
        }

        @Test("§5.1 an unmasked client frame is answered with close 1002")
        func unmaskedFrame() async throws {
            try await withProxy(to: .echo) { proxy, _ in
                let result = try await RawClientResult.websocket(
                    port: proxy.port,
                    frames: [FrameSpec(op: 2, text: "hello", mask: false)]
                )
                #expect(result.error == nil)
                #expect(result.close?.code == 1002)
                #expect(result.eof)
            }
        }

        @Test("§5.5 a control frame longer than 125 bytes is answered with close 1002")
        func oversizedControlFrame() async throws {
            try await withProxy(to: .echo) { proxy, _ in
                let result = try await RawClientResult.websocket(
                    port: proxy.port,
                    frames: [FrameSpec(op: 9, len: 200)],
                    ["--stop-on", "10"]
                )
                #expect(result.error == nil)
                if proxy.kind.has(.oversizedControlFrameAccepted) {
                    #expect(result.frames.first?.op == 10)
                    #expect(result.frames.first?.len == 200)
                } else {
                    #expect(result.frames.first { $0.op == 10 } == nil, "no pong for an invalid ping")
                    #expect(result.close?.code == 1002)
                }
            }
        }

        @Test("§5.2 a frame with a reserved bit set and no extension is answered with close 1002")
        func reservedBit() async throws {
            try await withProxy(to: .echo) { proxy, target in
                let result = try await RawClientResult.websocket(
                    port: proxy.port,
                    frames: [FrameSpec(op: 2, text: "abc", rsv: 4)],
                    ["--stop-on", "2"]
                )
                #expect(result.error == nil)
                if proxy.kind.has(.reservedBitsIgnored) {
                    #expect(result.frames.first?.op == 2, "websockify relays the RSV1 frame")
                    #expect(result.frames.first?.hex == Array("abc".utf8).hex)
                } else {
                    #expect(result.close?.code == 1002)
                    #expect(!result.frames.contains { $0.op == 2 }, "the bad frame must not reach the target")
                    #expect(target.stats.value.bytesReceived == 0)
                }
            }
        }

        @Test("reference §2.2: a refused target connection gives 101, then close 1011 with websockify's reason")
        func targetRefused() async throws {
            let deadPort = try LoopbackSocket.freePort()
            let proxy = try await ProxyUnderTest.start(target: ["127.0.0.1:\(deadPort)"])
            defer { proxy.stop() }
            let result = try await RawClientResult.websocket(port: proxy.port)
            #expect(result.error == nil)
            #expect(result.status == 101)
            #expect(result.close?.code == 1011)
            #expect(result.close?.reason == "Failed to connect to downstream server")
            #expect(result.eof)
        }

        @Test("reference §4.6: when the target closes, the client gets close 1000 \"Target closed\"")
        func targetCloses() async throws {
            try await withProxy(to: .source(byteCount: 5)) { proxy, _ in
                let result = try await RawClientResult.websocket(port: proxy.port)
                #expect(result.error == nil)
                #expect(
                    result.frames.filter { $0.op == 2 }.map(\.hex).joined()
                        == PatternStream.bytes(offset: 0, count: 5).hex
                )
                #expect(result.close?.code == 1000)
                #expect(result.close?.reason == "Target closed")
                #expect(result.eof)
            }
        }

        @Test("§5.5.1 a client close 1000 is echoed and the target sees EOF")
        func clientClose() async throws {
            try await withProxy(to: .echo) { proxy, target in
                let result = try await RawClientResult.websocket(port: proxy.port, frames: [.close(1000, "bye")])
                #expect(result.error == nil)
                #expect(result.frames.count == 1)
                #expect(result.close?.code == 1000)
                #expect(result.eof)
                let stats = try await target.wait { $0.peerEOFs == 1 }
                #expect(stats.peerEOFs == 1)
            }
        }

        @Test("§5.5.2 a ping gets a pong with the same payload")
        func pingPong() async throws {
            try await withProxy(to: .echo) { proxy, _ in
                let payload = Array("ping payload 0123456789".utf8)
                let result = try await RawClientResult.websocket(
                    port: proxy.port,
                    frames: [FrameSpec(op: 9, hex: payload.hex)],
                    ["--stop-on", "10"]
                )
                #expect(result.error == nil)
                #expect(result.frames.first?.op == 10)
                #expect(result.frames.first?.hex == payload.hex)
                #expect(result.frames.first?.masked == false)
            }
        }
    }
}
