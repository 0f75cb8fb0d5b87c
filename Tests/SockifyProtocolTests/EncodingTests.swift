// Base64 (RFC 4648 §10 vectors) and HTTPDate (IMF-fixdate) round trips.
import SockifyProtocol
import Testing

@Suite("Base64 and HTTPDate")
struct EncodingTests {
    @Test(
        "RFC 4648 §10 test vectors encode and decode",
        arguments: [
            ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ]
    )
    func base64Vectors(plain: String, encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }

    @Test("All byte values round-trip")
    func base64AllBytes() {
        let bytes = (0...255).map { UInt8($0) }
        #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        #expect(Base64.decode(Base64.encode(bytes.dropFirst())) == Array(bytes.dropFirst()))
    }

    @Test(
        "Malformed base64 is rejected",
        arguments: ["Zg", "Zg=", "Z===", "Zg==Zg==", "Zm9v\n", "Zm 9", "Zm9-", "=Zm9", "Zg=a"]
    )
    func base64Invalid(text: String) {
        #expect(Base64.decode(text) == nil)
    }

    @Test("IMF-fixdate formatting matches known dates (Python's email.utils.formatdate)")
    func dateFormat() {
        #expect(HTTPDate.format(secondsSinceEpoch: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(secondsSinceEpoch: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(secondsSinceEpoch: 1_795_595_072) == "Wed, 25 Nov 2026 08:24:32 GMT")
        #expect(HTTPDate.format(secondsSinceEpoch: 951_782_400) == "Tue, 29 Feb 2000 00:00:00 GMT")
        #expect(HTTPDate.format(secondsSinceEpoch: -1) == "Wed, 31 Dec 1969 23:59:59 GMT")
    }

    @Test("format → parse round-trips (seeded random instants, 1900–2400)")
    func dateRoundTrip() {
        var generator = SeededGenerator(seed: 1994)
        for _ in 0..<2000 {
            let seconds = Int64.random(in: -2_208_988_800...13_569_465_600, using: &generator)
            #expect(HTTPDate.parse(HTTPDate.format(secondsSinceEpoch: seconds)) == seconds)
        }
    }

    @Test(
        "Invalid dates are rejected",
        arguments: [
            "", "Sun, 06 Nov 1994 08:49:37 UTC", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
            "Sun, 31 Nov 1994 08:49:37 GMT", "Sun, 29 Feb 2100 00:00:00 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
            "Xyz, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 0x Nov 1994 08:49:37 GMT",
        ]
    )
    func dateInvalid(text: String) {
        #expect(HTTPDate.parse(text) == nil)
    }

    @Test("Close codes: §7.4 validity table")
    func closeCodes() {
        let valid: [UInt16] = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]
        let invalid: [UInt16] = [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]
        #expect(valid.allSatisfy { CloseCode(rawValue: $0).isValidInCloseFrame })
        #expect(!invalid.contains { CloseCode(rawValue: $0).isValidInCloseFrame })
        #expect(CloseCode.noStatusReceived.rawValue == 1005 && CloseCode.abnormalClosure.rawValue == 1006)
        #expect(ProtocolError.frameTooLarge(1).closeCode == .messageTooBig)
        #expect(ProtocolError.textFrame.closeCode == .unsupportedData)
        #expect(ProtocolError.invalidUTF8InClose.closeCode == .invalidPayloadData)
    }
}
