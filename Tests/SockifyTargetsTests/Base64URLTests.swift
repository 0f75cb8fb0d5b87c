// jwcrypto's lenient base64url decoding; expectations from Python 3.11 `jwcrypto.common.base64url_decode`.
import SockifyTargets
import Testing

@Suite("Base64URL")
struct Base64URLTests {
    @Test(
        "decodes like jwcrypto",
        arguments: [
            ("", []), ("c2VjcmV0", Array("secret".utf8)), ("ab=", [0x69]), ("-_8", [0xFB, 0xFF]),
            ("+/8", [0xFB, 0xFF]),
            ("TWFu", Array("Man".utf8)), ("TWE", Array("Ma".utf8)), ("TQ", Array("M".utf8)),
            ("TQ==", Array("M".utf8)), ("TQ==TWFu", Array("M".utf8)),
        ] as [(String, [UInt8])])
    func decodes(text: String, bytes: [UInt8]) throws {
        #expect(try Base64URL.decodeLeniently(text) == bytes)
    }

    @Test(
        "rejects like jwcrypto",
        arguments: [
            ("a", "Invalid base64 string"), ("c2VjcmV0\n", "Invalid base64 string"), ("a b", "Incorrect padding"),
            ("{\"kty\":\"oct\"}", "Invalid base64 string"),
        ])
    func rejects(text: String, message: String) {
        #expect(throws: Base64URL.DecodingError(message: message)) { try Base64URL.decodeLeniently(text) }
    }

    @Test("encode is unpadded base64url and round-trips")
    func roundTrip() throws {
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
        #expect(Base64URL.encode(Array("Man".utf8)) == "TWFu")
        for length in 0..<70 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(try Base64URL.decodeLeniently(Base64URL.encode(bytes)) == bytes)
        }
    }
}
