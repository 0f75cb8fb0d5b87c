// `--web DIR` responses against a real temporary tree, with the expectations taken from Python 3.11's
// SimpleHTTPRequestHandler as websockify runs it (reference/websockify.md §4.2, §4.8).
import Glibc
import SockifyProtocol
import SockifyProxy
import Testing

/// 2020-01-02 03:04:05 UTC, the mtime of `a.txt`.
private let aTxtMtime = 1_577_934_245
private let aTxtLastModified = "Thu, 02 Jan 2020 03:04:05 GMT"

/// The tree most tests share:
/// ```
/// root/a.txt  b.js  B.txt  empty.txt  unread.txt(000)  we<i>rd &.txt  link.txt→a.txt  linkdir→sub
///      loop→loop  outside→../secret.txt  fifo  sub/{c.css, deeper/}  withindex/{index.html, index.htm}
///      withhtm/index.htm  indexdir/index.html/ (a directory)
/// secret.txt (beside root, outside it)
/// ```
private func makeTree() throws -> (tree: WebTestTree, web: String) {
    let tree = try WebTestTree()
    try tree.file("secret.txt", "top secret\n")
    try tree.directory("root")
    try tree.file("root/a.txt", "hello\n", mtime: aTxtMtime)
    try tree.file("root/b.js", "let b = 1;\n")
    try tree.file("root/B.txt", "upper\n")
    try tree.file("root/empty.txt", "")
    try tree.file("root/unread.txt", "nope\n", mode: 0)
    try tree.file("root/we<i>rd &.txt", "odd\n")
    try tree.symlink("root/link.txt", to: "a.txt")
    try tree.symlink("root/loop", to: "loop")
    try tree.symlink("root/outside", to: "../secret.txt")
    try tree.fifo("root/fifo")
    try tree.directory("root/sub")
    try tree.file("root/sub/c.css", "p {}\n")
    try tree.directory("root/sub/deeper")
    try tree.symlink("root/linkdir", to: "sub")
    try tree.directory("root/withindex")
    try tree.file("root/withindex/index.html", "<p>html</p>\n")
    try tree.file("root/withindex/index.htm", "<p>htm</p>\n")
    try tree.directory("root/withhtm")
    try tree.file("root/withhtm/index.htm", "<p>htm only</p>\n")
    try tree.directory("root/indexdir")
    try tree.directory("root/indexdir/index.html")
    return (tree, tree.path("root"))
}

private func get(
    _ web: String, _ target: String, method: String = "GET", listing: Bool = true, keepAlive: Bool = true,
    headers: [(name: String, value: String)] = []
) throws -> ParsedWebResponse {
    let root = WebRoot(directory: web, allowsListing: listing)
    return try parse(
        root.respond(
            to: request(method, target, headers), now: testNow, serverName: testServer, keepAlive: keepAlive))
}

/// Python's error page for `send_error(404, "File not found")`.
private let fileNotFoundPage = """
    <!DOCTYPE HTML>
    <html lang="en">
        <head>
            <meta charset="utf-8">
            <title>Error response</title>
        </head>
        <body>
            <h1>Error response</h1>
            <p>Error code: 404</p>
            <p>Message: File not found.</p>
            <p>Error code explanation: 404 - Nothing matches the given URI.</p>
        </body>
    </html>

    """

@Suite("WebRoot: static files like websockify --web")
struct WebRootTests {
    @Test func getFileSendsHeadersInPythonOrderAndTheFileWithSendfile() throws {
        let (tree, web) = try makeTree()
        let response = try get(web, "/a.txt")
        #expect(response.statusLine == "HTTP/1.1 200 OK")
        #expect(
            response.headerNames == ["Server", "Date", "Connection", "Content-type", "Content-Length", "Last-Modified"])
        #expect(response.header("Server") == testServer)
        #expect(response.header("Date") == testDate)
        #expect(response.header("Connection") == "keep-alive")
        #expect(response.header("Content-type") == "text/plain")
        #expect(response.header("Content-Length") == "6")
        #expect(response.header("Last-Modified") == aTxtLastModified)
        #expect(response.fileByteCount == 6)
        #expect(response.body == "hello\n")
        #expect(!response.closesConnection)
        _ = tree
    }

    @Test func headHasTheSameHeadersAndNoBodyAndNoOpenFile() throws {
        let (tree, web) = try makeTree()
        let response = try get(web, "/a.txt", method: "HEAD")
        #expect(response.statusLine == "HTTP/1.1 200 OK")
        #expect(response.fileByteCount == nil)
        #expect(response.header("Content-Length") == "6")
        #expect(response.header("Last-Modified") == aTxtLastModified)
        #expect(response.body == "")
        _ = tree
    }

    @Test func keepAliveFalseSaysConnectionClose() throws {
        let (tree, web) = try makeTree()
        let response = try get(web, "/a.txt", keepAlive: false)
        #expect(response.header("Connection") == "close")
        #expect(response.closesConnection)
        _ = tree
    }

    @Test func queryAndFragmentAreIgnoredForFiles() throws {
        let (tree, web) = try makeTree()
        let response = try get(web, "/a.txt?token=abc#frag")
        #expect(response.status == 200)
        #expect(response.body == "hello\n")
        _ = tree
    }

    @Test func emptyFileIsAFileResponseOfZeroBytes() throws {
        let (tree, web) = try makeTree()
        let response = try get(web, "/empty.txt")
        #expect(response.fileByteCount == 0)
        #expect(response.header("Content-Length") == "0")
        _ = tree
    }

    @Test func largeFileIsSentFromTheFileNotCopied() throws {
        let tree = try WebTestTree()
        let size = 8 << 20 + 1
        try tree.sparseFile("big.bin", byteCount: size)
        let response = try get(tree.root, "/big.bin", headers: [])
        #expect(response.fileByteCount == size)
        #expect(response.header("Content-Length") == String(size))
        #expect(response.header("Content-type") == "application/octet-stream")
    }

    @Test func missingFileIs404FileNotFoundAndCloses() throws {
        let (tree, web) = try makeTree()
        let response = try get(web, "/missing.html")
        #expect(response.statusLine == "HTTP/1.1 404 File not found")
        #expect(
            response.headerNames == ["Server", "Date", "Connection", "Content-Type", "Content-Length"])
        #expect(response.header("Connection") == "close")
        #expect(response.header("Content-Type") == "text/html;charset=utf-8")
        #expect(response.header("Content-Length") == String(fileNotFoundPage.utf8.count))
        #expect(response.body == fileNotFoundPage)
        #expect(response.closesConnection)
        _ = tree
    }

    @Test func missingFileToHeadHasNoBodyButAnnouncesItsLength() throws {
        let (tree, web) = try makeTree()
        let response = try get(web, "/missing.html", method: "HEAD")
        #expect(response.statusLine == "HTTP/1.1 404 File not found")
        #expect(response.header("Content-Length") == String(fileNotFoundPage.utf8.count))
        #expect(response.body == "")
        _ = tree
    }

    @Test(arguments: [
        "/a.txt/",  // Issue17324: a trailing slash on a file
        "/loop",  // ELOOP on open
        "/fifo",  // not a regular file (Python would block on it)
        "/sub/nothing",
        "/nothing/a.txt",
    ])
    func filesThatCannotBeServedAre404(target: String) throws {
        let (tree, web) = try makeTree()
        let response = try get(web, target)
        #expect(response.statusLine == "HTTP/1.1 404 File not found")
        #expect(response.body == fileNotFoundPage)
        _ = tree
    }

    @Test func unreadableFileIs404UnlessRootCanReadItAnyway() throws {
        let (tree, web) = try makeTree()
        let response = try get(web, "/unread.txt")
        // Python answers any OSError of open() with 404; root's open(2) ignores the mode bits and succeeds.
        if geteuid() == 0 {
            #expect(response.status == 200)
            #expect(response.body == "nope\n")
        } else {
            #expect(response.statusLine == "HTTP/1.1 404 File not found")
        }
        _ = tree
    }

    @Test(arguments: [
        ("/../secret.txt", 404), ("/%2e%2e/secret.txt", 404), ("/%2E%2E/secret.txt", 404),
        ("/sub/../../secret.txt", 404), ("/..%2fsecret.txt", 404), ("/sub/%2e%2e/%2e%2e/secret.txt", 404),
        ("//secret.txt", 404), ("//../secret.txt", 404), ("/./../a/../../secret.txt", 404),
        ("/../../../../../../etc/passwd", 404), ("//etc/passwd", 404), ("/%2fetc%2fpasswd", 404),
        // `..` is resolved lexically inside the root, so these reach files that are in it.
        ("/sub/../a.txt", 200), ("/../a.txt", 200), ("/%2e%2e/a.txt", 200), ("/sub/./deeper/../../a.txt", 200),
        ("//a.txt", 200), ("/a%2etxt", 200), ("/sub//c.css", 200),
    ])
    func traversalNeverLeavesTheRoot(target: String, status: Int) throws {
        let (tree, web) = try makeTree()
        let response = try get(web, target)
        #expect(response.status == status)
        if status == 200 { #expect(response.body == "hello\n" || response.body == "p {}\n") }
        _ = tree
    }

    @Test func symlinksAreFollowedLikePythonDoes() throws {
        let (tree, web) = try makeTree()
        let inside = try get(web, "/link.txt")
        #expect(inside.status == 200)
        #expect(inside.body == "hello\n")
        // Python follows any link the owner of the root made, even one that points outside it.
        let outside = try get(web, "/outside")
        #expect(outside.status == 200)
        #expect(outside.body == "top secret\n")
        let throughDirectoryLink = try get(web, "/linkdir/c.css")
        #expect(throughDirectoryLink.body == "p {}\n")
        #expect(throughDirectoryLink.header("Content-type") == "text/css")
        _ = tree
    }

    @Test(arguments: [
        ("/sub", "/sub/"), ("/sub?q=1", "/sub/?q=1"), ("/sub?q=1#f", "/sub/?q=1#f"), ("/sub#f?x", "/sub/#f?x"),
        ("/sub?", "/sub/"), ("//sub", "/sub/"), ("///sub?a=b", "/sub/?a=b"), ("/sub/deeper", "/sub/deeper/"),
        ("/linkdir", "/linkdir/"), ("/sub%2F", "/sub%2F/"), ("", "/"),
    ])
    func directoryWithoutSlashIsRedirected(target: String, location: String) throws {
        let (tree, web) = try makeTree()
        let response = try get(web, target)
        #expect(response.statusLine == "HTTP/1.1 301 Moved Permanently")
        #expect(response.headerNames == ["Server", "Date", "Connection", "Location", "Content-Length"])
        #expect(response.header("Location") == location)
        #expect(response.header("Content-Length") == "0")
        #expect(response.body == "")
        #expect(!response.closesConnection)
        _ = tree
    }

    @Test func indexHtmlIsPreferredThenIndexHtm() throws {
        let (tree, web) = try makeTree()
        let html = try get(web, "/withindex/")
        #expect(html.body == "<p>html</p>\n")
        #expect(html.header("Content-type") == "text/html")
        let htm = try get(web, "/withhtm/?x=1")
        #expect(htm.body == "<p>htm only</p>\n")
        #expect(htm.header("Content-type") == "text/html")
        // An index.html that is a directory is not an index: the directory is listed.
        let listed = try get(web, "/indexdir/")
        #expect(listed.body.contains("<li><a href=\"index.html/\">index.html/</a></li>"))
        _ = tree
    }

    @Test func directoryListingMatchesPythonByteForByte() throws {
        let (tree, web) = try makeTree()
        let response = try get(web, "/")
        let expected = """
            <!DOCTYPE HTML>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>Directory listing for /</title>
            </head>
            <body>
            <h1>Directory listing for /</h1>
            <hr>
            <ul>
            <li><a href="a.txt">a.txt</a></li>
            <li><a href="b.js">b.js</a></li>
            <li><a href="B.txt">B.txt</a></li>
            <li><a href="empty.txt">empty.txt</a></li>
            <li><a href="fifo">fifo</a></li>
            <li><a href="indexdir/">indexdir/</a></li>
            <li><a href="link.txt">link.txt@</a></li>
            <li><a href="linkdir/">linkdir@</a></li>
            <li><a href="loop">loop@</a></li>
            <li><a href="outside">outside@</a></li>
            <li><a href="sub/">sub/</a></li>
            <li><a href="unread.txt">unread.txt</a></li>
            <li><a href="we%3Ci%3Erd%20%26.txt">we&lt;i&gt;rd &amp;.txt</a></li>
            <li><a href="withhtm/">withhtm/</a></li>
            <li><a href="withindex/">withindex/</a></li>
            </ul>
            <hr>
            </body>
            </html>

            """
        #expect(response.statusLine == "HTTP/1.1 200 OK")
        #expect(response.headerNames == ["Server", "Date", "Connection", "Content-type", "Content-Length"])
        #expect(response.header("Content-type") == "text/html; charset=utf-8")
        #expect(response.header("Content-Length") == String(expected.utf8.count))
        #expect(response.fileByteCount == nil)
        #expect(response.body == expected)
        _ = tree
    }

    @Test func listingTitleIsTheDecodedEscapedTargetWithItsQuery() throws {
        let (tree, web) = try makeTree()
        let response = try get(web, "/sub/?q=%3Cb%3E&x")
        #expect(response.body.contains("<title>Directory listing for /sub/?q=&lt;b&gt;&amp;x</title>"))
        #expect(
            response.body.contains("<li><a href=\"c.css\">c.css</a></li>\n<li><a href=\"deeper/\">deeper/</a></li>"))
        let head = try get(web, "/sub/", method: "HEAD")
        #expect(head.body == "")
        #expect(Int(head.header("Content-Length") ?? "") ?? 0 > 100)
        _ = tree
    }

    @Test func fileOnlyTurnsListingsInto404NotFoundButServesIndexes() throws {
        let (tree, web) = try makeTree()
        let listing = try get(web, "/sub/", listing: false)
        #expect(listing.statusLine == "HTTP/1.1 404 Not Found")
        #expect(listing.body.contains("<p>Message: Not Found.</p>"))
        #expect(listing.closesConnection)
        #expect(try get(web, "/withindex/", listing: false).status == 200)
        #expect(try get(web, "/sub", listing: false).status == 301)
        #expect(try get(web, "/a.txt", listing: false).status == 200)
        _ = tree
    }

    @Test(arguments: [
        ("Thu, 02 Jan 2020 03:04:05 GMT", 304),  // equal: not modified
        ("Fri, 03 Jan 2020 00:00:00 GMT", 304),  // later
        ("Thu, 02 Jan 2020 03:04:04 GMT", 200),  // one second earlier
        ("yesterday", 200),  // ill-formed: ignored
    ])
    func ifModifiedSince(value: String, status: Int) throws {
        let (tree, web) = try makeTree()
        let response = try get(web, "/a.txt", headers: [("if-modified-since", value)])
        #expect(response.status == status)
        if status == 304 {
            #expect(response.statusLine == "HTTP/1.1 304 Not Modified")
            #expect(response.headerNames == ["Server", "Date", "Connection"])
            #expect(response.body == "")
            #expect(response.fileByteCount == nil)
            #expect(!response.closesConnection)
        } else {
            #expect(response.body == "hello\n")
        }
        _ = tree
    }

    @Test func ifNoneMatchDisablesIfModifiedSince() throws {
        let (tree, web) = try makeTree()
        let response = try get(
            web, "/a.txt", headers: [("If-Modified-Since", aTxtLastModified), ("If-None-Match", "\"x\"")])
        #expect(response.status == 200)
        _ = tree
    }

    @Test(arguments: [
        ("POST", "Unsupported method ('POST')"), ("PUT", "Unsupported method ('PUT')"),
        ("get", "Unsupported method ('get')"), ("OPTIONS", "Unsupported method ('OPTIONS')"),
    ])
    func otherMethodsAre501(method: String, reason: String) throws {
        let (tree, web) = try makeTree()
        let response = try get(web, "/a.txt", method: method)
        #expect(response.statusLine == "HTTP/1.1 501 \(reason)")
        #expect(response.body.contains("<p>Message: \(reason).</p>"))
        #expect(response.body.contains("<p>Error code explanation: 501 - Server does not support this operation.</p>"))
        #expect(response.closesConnection)
        _ = tree
    }

    @Test func rootGivenWithTrailingSlashesWorksTheSame() throws {
        let (tree, web) = try makeTree()
        let response = try get(web + "//", "/sub/c.css")
        #expect(response.body == "p {}\n")
        #expect(WebRoot(directory: "/", allowsListing: true).directory == "/")
        _ = tree
    }
}
