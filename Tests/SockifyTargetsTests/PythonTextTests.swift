// PythonText against CPython 3.11: every expectation here was printed by /work/main/.venv/bin/python.
import SockifyTargets
import Testing

@Suite("PythonText")
struct PythonTextTests {
    @Test(
        "int(text, 10) matches CPython",
        arguments: [
            ("5900", 5900), (" 5900 ", 5900), ("+5900", 5900), ("-1", -1), ("5_900", 5900), ("0005", 5),
            ("\u{0665}\u{0669}", 59), ("\t7\n", 7), ("\u{3000}8\u{a0}", 8),
        ] as [(String, Int)])
    func decimalAccepted(text: String, value: Int) {
        #expect(PythonText.int(text, radix: 10) == value)
    }

    @Test(
        "int(text, 10) rejects what CPython rejects",
        arguments: ["", " ", "x", "5900x", "5__900", "_5", "5_", "+-5", "0x10", "5 9", "99999999999999999999999"])
    func decimalRejected(text: String) {
        #expect(PythonText.int(text, radix: 10) == nil)
    }

    @Test(
        "int(text, 8/16/2) with prefixes",
        arguments: [
            ("660", 8, 0o660), ("0o17", 8, 15), ("0O_17", 8, 15), ("-010", 8, -8), ("0x1f", 16, 31),
            ("0X_1F", 16, 31), ("ff", 16, 255), ("101", 2, 5), ("0b11", 2, 3),
        ] as [(String, Int, Int)])
    func prefixed(text: String, radix: Int, value: Int) {
        #expect(PythonText.int(text, radix: radix) == value)
    }

    @Test("int(text, 8) rejects non-octal", arguments: ["8", "0x1", "0o", "0o_", "rw", "0b1"])
    func octalRejected(text: String) {
        #expect(PythonText.int(text, radix: 8) == nil)
    }

    @Test(
        "repr matches CPython",
        arguments: [
            ("x", "'x'"), ("it's", "\"it's\""), ("a'\"b", "'a\\'\"b'"), ("a\tb\u{1}é", "'a\\tb\\x01é'"),
            ("back\\slash", "'back\\\\slash'"), ("\n\r", "'\\n\\r'"), ("\u{a0}\u{ad}", "'\\xa0\\xad'"),
            ("\u{2028}", "'\\u2028'"), ("\u{E000}", "'\\ue000'"), ("\u{10FFFF}", "'\\U0010ffff'"), ("日本", "'日本'"),
            ("", "''"),
        ] as [(String, String)])
    func repr(text: String, expected: String) {
        #expect(PythonText.repr(text) == expected)
    }

    @Test(
        "posixpath.normpath",
        arguments: [
            ("", "."), ("/", "/"), ("//", "//"), ("///", "/"), ("//a//b", "//a/b"), ("a/./b/../c", "a/c"),
            ("../a", "../a"), ("/../a", "/a"), ("a/../..", ".."), ("a/..", "."), ("/a/b/", "/a/b"),
        ] as [(String, String)])
    func normalizePath(path: String, expected: String) {
        #expect(PythonText.normalizePath(path) == expected)
    }

    @Test("os.path.abspath with an injected working directory")
    func absolutePath() {
        #expect(PythonText.absolutePath("tokens", currentDirectory: "/srv/app") == "/srv/app/tokens")
        #expect(PythonText.absolutePath("../t", currentDirectory: "/srv/app/") == "/srv/t")
        #expect(PythonText.absolutePath("/etc//x/.", currentDirectory: "/srv") == "/etc/x")
        #expect(PythonText.absolutePath("", currentDirectory: "/srv/app") == "/srv/app")
    }

    @Test("whitespace is str.isspace()")
    func whitespace() {
        for value: UInt32 in [
            0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1F, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x200A,
            0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
        ] {
            #expect(PythonText.isWhitespace(Unicode.Scalar(value)!), "U+\(String(value, radix: 16))")
        }
        for value: UInt32 in [0x00, 0x08, 0x0E, 0x1B, 0x21, 0x200B, 0xFEFF, 0x180E] {
            #expect(!PythonText.isWhitespace(Unicode.Scalar(value)!), "U+\(String(value, radix: 16))")
        }
    }
}
