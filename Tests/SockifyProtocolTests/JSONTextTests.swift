// JSONText.string: RFC 8259 §7 escaping, checked byte for byte (structured logs and sockify-load reports use it).
import SockifyProtocol
import Testing

@Suite("JSONText")
struct JSONTextTests {
    @Test("quotes, backslash, the short escapes, other control characters and DEL are escaped; the rest is kept", arguments: [
        ("plain", #""plain""#),
        ("a\"b\\c", #""a\"b\\c""#),
        ("\n\r\t", #""\n\r\t""#),
        ("\u{0}\u{1F}\u{7F}", #""\u0000\u001f\u007f""#),
        ("é ✓ 🙂", "\"é ✓ 🙂\""),
    ])
    func escaping(input: String, expected: String) {
        #expect(JSONText.string(input) == expected)
    }
}
