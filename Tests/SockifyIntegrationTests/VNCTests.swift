// A real RFB session through the proxy: TigerVNC Xvnc behind it, the Python client in front (RFC 6143 §7.1–7.3).
import Testing

extension ProxyBinaryTests {
    @Suite("VNC")
    struct VNC {
        @Test("RFC 6143 handshake with Xvnc through the proxy: version 3.8, security None, ServerInit 320×240")
        func rfbHandshake() async throws {
            let vnc = try await VirtualVNCServer.start(geometry: "320x240")
            defer { vnc.stop() }
            let proxy = try await ProxyUnderTest.start(target: ["127.0.0.1:\(vnc.port)"])
            defer { proxy.stop() }
            let result = try await WebSocketClientResult.run("rfb", url: proxy.url + "/websockify")
            #expect(result.error == nil)
            #expect(result.version == "RFB 003.008\n")
            #expect(result.securityTypes?.contains(1) == true, "security type 1 (None) offered")
            #expect(result.securityResult == 0)
            #expect(result.width == 320)
            #expect(result.height == 240)
        }
    }
}
