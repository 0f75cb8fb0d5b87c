// The `token` query parameter and `--host-token`; every row was printed by CPython 3.11's
// `parse_qs(urlparse(path)[4])['token'][0].rstrip('\n')`, as websocketproxy.py:160-166 computes it.
import SockifyTargets
import Testing

@Suite("TokenQuery")
struct TokenQueryTests {
    @Test(
        "confirmed against Python parse_qs",
        arguments: [
            ("/?token=abc", "abc"), ("/websockify?token=abc", "abc"), ("/any/thing?x=1&token=abc", "abc"),
            ("/?token=a+b", "a b"), ("/?token=a%2Bb", "a+b"), ("/?token=first&token=second", "first"),
            ("/?token=&token=second", "second"), ("/?token=%0A", ""), ("/?token=abc%0A%0A", "abc"),
            ("/?token=abc%0D%0A", "abc\r"), ("/?token=%20abc%20", " abc "), ("/?tok%65n=x", "x"),
            ("/?token=%C3%A9", "é"), ("/?token=%C3", "\u{FFFD}"), ("/?token=%zz", "%zz"), ("/?token=a;b", "a;b"),
            ("/?token=a#frag", "a"), ("/?token=a=b", "a=b"), (" \u{1}/?token=lead", "lead"), ("/?to\tken=x", "x"),
            ("//host/p?token=n", "n"), ("http://h:1/p?token=abs", "abs"), ("/?a=1&&token=z", "z"),
            ("/?token=\u{e9}raw", "\u{e9}raw"), ("/?token=%C3%A9\u{e9}", "é\u{e9}"), ("/?%74oken=y", "y"),
        ] as [(String, String)])
    func found(target: String, token: String) {
        #expect(TokenQuery.token(inRequestTarget: target) == token)
    }

    @Test(
        "absent, confirmed against Python parse_qs",
        arguments: ["/?token", "/", "/#?token=x", "/?+token=x", "/?token+=x", "/?token=", "/?x=token", ""])
    func absent(target: String) {
        #expect(TokenQuery.token(inRequestTarget: target) == nil)
    }

    @Test("raw bytes are ISO-8859-1, percent escapes UTF-8 (Python http.server)")
    func bytes() {
        // UTF-8 "é" sent raw is two Latin-1 characters to Python; sent escaped it is one.
        #expect(TokenQuery.token(inRequestTargetBytes: Array("/?token=".utf8) + [0xC3, 0xA9]) == "\u{C3}\u{A9}")
        #expect(TokenQuery.token(inRequestTargetBytes: Array("/?token=%C3%A9".utf8)) == "é")
    }

    @Test(
        "Host header token, confirmed against websockify --host-token",
        arguments: [
            ("vm1.example.com:6080", "vm1.example.com"), ("vm1.example.com", "vm1.example.com"),
            ("VM1.example.com", "VM1.example.com"), ("[::1]:6080", "["), ("", ""), (":6080", ""), ("a:b:c", "a"),
        ] as [(String, String)])
    func hostToken(header: String, token: String) {
        #expect(TokenQuery.hostToken(hostHeader: header) == token)
    }

    @Test("no Host header: token not present")
    func noHostHeader() {
        #expect(TokenQuery.hostToken(hostHeader: nil) == nil)
    }
}
