// The pure pieces of `--web`: translate_path, quote/unquote, urlsplit's slash, repr, and the MIME table, each
// checked against values printed by Python 3.11.7 on this Debian 12 machine.
import Testing

@testable import SockifyProxy

@Suite("WebPath: Python's path and URL rules")
struct WebPathTests {
    @Test(arguments: [
        ("/", "/r/"), ("", "/r"), ("/a/b", "/r/a/b"), ("/a/b/", "/r/a/b/"), ("/a?x=/../..#y", "/r/a"),
        ("/a#frag?q", "/r/a"), ("/../x", "/r/x"), ("/%2e%2e/x", "/r/x"), ("/a/../../x", "/r/x"),
        ("/a/./b//c", "/r/a/b/c"), ("/..%2f..%2fetc/passwd", "/r/etc/passwd"), ("relative/../..", "/r"),
        ("/sp%20ace/%C3%A9", "/r/sp ace/é"), ("/%zz%4", "/r/%zz%4"), ("/a+b", "/r/a+b"), ("/%ff", "/r/\u{FFFD}"),
        ("/a%2F", "/r/a"), ("/a/ ", "/r/a/ /"),
    ])
    func translate(target: String, expected: String) {
        #expect(WebPath.translate(target, root: "/r") == expected)
    }

    @Test func translateUnderTheFileSystemRoot() {
        #expect(WebPath.translate("/etc/../x", root: "/") == "/x")
        #expect(WebPath.translate("/", root: "/") == "/")
    }

    @Test func leadingSlashesCollapseLikePython311() {
        #expect(WebPath.collapsingLeadingSlashes("//evil.example/x") == "/evil.example/x")
        #expect(WebPath.collapsingLeadingSlashes("////x") == "/x")
        #expect(WebPath.collapsingLeadingSlashes("/x//y") == "/x//y")
    }

    @Test(arguments: [
        ("a b", "a%20b"), ("we<i>rd&.txt", "we%3Ci%3Erd%26.txt"), ("dir/", "dir/"), ("A-z_0.9~", "A-z_0.9~"),
        ("é", "%C3%A9"), ("100%", "100%25"), ("a?b#c", "a%3Fb%23c"), ("+=;:@", "%2B%3D%3B%3A%40"),
    ])
    func quote(text: String, expected: String) {
        #expect(WebPath.percentEncoded(text) == expected)
        #expect(WebPath.percentDecoded(expected) == text)
    }

    @Test(arguments: [
        ("POST", "'POST'"), ("it's", "\"it's\""), ("a'\"b", "'a\\'\"b'"), ("x\ty\u{1}", "'x\\ty\\x01'"),
        ("back\\slash", "'back\\\\slash'"), ("é", "'é'"),
    ])
    func pythonRepr(text: String, expected: String) {
        #expect(WebPath.pythonRepr(text) == expected)
    }

    @Test func htmlEscapeLeavesQuotes() {
        #expect(WebPath.htmlEscaped("<a href=\"x\">&'</a>") == "&lt;a href=\"x\"&gt;&amp;'&lt;/a&gt;")
    }

    @Test(arguments: [
        ("/a/b.txt", ".txt"), ("/a/.bashrc", ""), ("/a/..b.c", ".c"), ("/a/b.", "."), ("/a.b/c", ""),
        ("a...js", ".js"), ("/a/b.tar.gz", ".gz"),
    ])
    func splitext(path: String, ext: String) {
        #expect(WebPath.fileExtension(path[...]) == ext)
    }

    @Test(arguments: [
        ("/sub", "/sub/"), ("/sub?", "/sub/"), ("/sub?a", "/sub/?a"), ("/sub#", "/sub/"), ("/sub#f?q", "/sub/#f?q"),
        ("/sub?q#f", "/sub/?q#f"),
    ])
    func redirectTarget(target: String, expected: String) {
        #expect(WebPath.addingSlashToPath(target) == expected)
    }
}

@Suite("WebMIMEType: Python 3.11 guess_type")
struct WebMIMETypeTests {
    /// Every pair was printed by `SimpleHTTPRequestHandler.guess_type` under Python 3.11.7 on Debian 12.
    @Test(arguments: [
        ("a.html", "text/html"), ("a.htm", "text/html"), ("a.js", "text/javascript"), ("a.mjs", "text/javascript"),
        ("a.css", "text/css"), ("a.json", "application/json"), ("a.png", "image/png"), ("a.jpg", "image/jpeg"),
        ("a.jpeg", "image/jpeg"), ("a.gif", "image/gif"), ("a.svg", "image/svg+xml"),
        ("a.ico", "image/vnd.microsoft.icon"), ("a.wasm", "application/wasm"), ("a.txt", "text/plain"),
        ("a.xml", "application/xml"), ("a.woff", "font/woff"), ("a.woff2", "font/woff2"), ("a.ttf", "font/ttf"),
        ("a.otf", "font/otf"), ("a.map", "application/octet-stream"), ("a.gz", "application/gzip"),
        ("a.bz2", "application/x-bzip2"), ("a.xz", "application/x-xz"), ("a.Z", "application/octet-stream"),
        ("a.tar.gz", "application/gzip"), ("a.GZ", "application/gzip"), ("a.Gz", "application/gzip"),
        ("a.tgz", "application/x-tar"), ("a.svgz", "image/svg+xml"), ("a.HTML", "text/html"),
        ("a.JS", "text/javascript"), ("a.md", "text/markdown"), ("a.mp3", "audio/mpeg"), ("a.oga", "audio/ogg"),
        ("a.webmanifest", "application/manifest+json"), ("a.pl", "text/x-perl"), ("a.wav", "audio/x-wav"),
        ("a.js.br", "text/javascript"), ("a.js.BR", "application/octet-stream"), ("a.foo", "application/octet-stream"),
        ("Makefile", "application/octet-stream"), ("/x.d/.hidden", "application/octet-stream"),
        ("/x.html/noext", "application/octet-stream"), ("a.", "application/octet-stream"),
    ])
    func guess(path: String, type: String) {
        #expect(WebMIMEType.guess(path) == type)
    }
}
