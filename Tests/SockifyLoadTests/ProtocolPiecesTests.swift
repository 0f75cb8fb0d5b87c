// The small protocol pieces of the load tool: SHA-1 (RFC 3174), the client handshake checks (RFC 6455 §4.1),
// and the stream request/report the targets speak.
import Testing

@testable import SockifyLoad

@Suite("SHA1")
struct SHA1Tests {
    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    @Test("RFC 3174 §7.3 test vectors", arguments: [
        ("abc", 1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1, "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
        ("a", 1_000_000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"),
        ("0123456701234567012345670123456701234567012345670123456701234567", 10, "dea356a2cddd90c7a7ecedc5ebb563934f460452"),
    ])
    func vectors(text: String, repeats: Int, digest: String) {
        let message = [UInt8]((0..<repeats).flatMap { _ in Array(text.utf8) })
        #expect(Self.hex(SHA1.digest(message)) == digest)
    }

    @Test("empty message")
    func empty() {
        #expect(Self.hex(SHA1.digest([UInt8]())) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
    }
}

@Suite("ClientHandshake")
struct ClientHandshakeTests {
    static let key = "dGhlIHNhbXBsZSBub25jZQ=="

    @Test("§1.3 sample: the accept value for the sample nonce")
    func sampleAccept() {
        #expect(ClientHandshake.expectedAccept(key: Self.key) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test("§4.1: a correct 101 response is accepted, with the offered subprotocol")
    func acceptsCorrectResponse() throws {
        let head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
            + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: binary"
        #expect(try ClientHandshake.validate(head: head, key: Self.key, requestedSubprotocol: "binary") == "binary")
    }

    @Test("§4.1: responses a client must reject", arguments: [
        "HTTP/1.1 400 Bad Request\r\nContent-Length: 0",
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: xxx",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat",
    ])
    func rejects(head: String) {
        #expect(throws: HandshakeFailure.self) {
            try ClientHandshake.validate(head: head, key: Self.key, requestedSubprotocol: nil)
        }
    }

    @Test("the request carries the resource, Host, version 13 and a 16-byte key")
    func request() {
        var generator = XorshiftGenerator(seed: 7)
        let key = ClientHandshake.randomKey(using: &generator)
        #expect(key.count == 24 && key.hasSuffix("=="))
        let endpoint = try! Endpoint(parsing: "ws://127.0.0.1:6080/websockify?token=abc")  // literal URL: cannot fail
        let text = String(decoding: ClientHandshake.request(for: endpoint, key: key, subprotocol: nil), as: UTF8.self)
        #expect(text.hasPrefix("GET /websockify?token=abc HTTP/1.1\r\nHost: 127.0.0.1:6080\r\n"))
        #expect(text.contains("Sec-WebSocket-Version: 13\r\n") && text.contains("Sec-WebSocket-Key: \(key)\r\n"))
        #expect(text.hasSuffix("\r\n\r\n") && !text.contains("Protocol"))
    }
}

@Suite("StreamProtocol")
struct StreamProtocolTests {
    @Test("request and report round-trip through their 24-byte encodings")
    func roundTrip() {
        var bytes = [UInt8](repeating: 0, count: 24)
        let request = StreamRequest(direction: .fromSource, seed: 99, byteCount: 1 << 33)
        bytes.withUnsafeMutableBytes { request.write(to: $0.baseAddress!) }
        #expect(bytes.withUnsafeBytes { StreamRequest($0.baseAddress!) } == request)
        #expect(Array(bytes[0..<8]) == Array("SKLDSRCE".utf8))
        for report in [StreamReport(verifiedCount: 10, mismatchOffset: nil), StreamReport(verifiedCount: 3, mismatchOffset: 0)] {
            bytes.withUnsafeMutableBytes { report.write(to: $0.baseAddress!) }
            #expect(bytes.withUnsafeBytes { StreamReport($0.baseAddress!) } == report)
        }
        bytes[0] = 0
        #expect(bytes.withUnsafeBytes { StreamReport($0.baseAddress!) } == nil)
    }

    @Test("a prefix of either magic could still be a request; anything else cannot")
    func sniffing() {
        for (prefix, expected) in [("SKLD", true), ("SKLDSI", true), ("SKLDSR", true), ("SKX", false), ("x", false), ("", true)] {
            let bytes = Array(prefix.utf8)
            #expect(bytes.withUnsafeBytes { StreamRequest.couldStartRequest($0) } == expected, "\(prefix)")
        }
    }
}
