// HTTPRequestHead.parse: completeness at every split, limits, version handling, header lookup and keep-alive.
import SockifyProtocol
import Testing

@Suite("HTTPRequestHead")
struct HTTPRequestHeadTests {
    static let request = Array(
        ("GET /websockify?token=abc HTTP/1.1\r\nHost: localhost:6080\r\nUpgrade: websocket\r\n"
            + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            .utf8
    )

    static func parse(
        _ bytes: [UInt8],
        maxLength: Int = 8192
    ) throws(HTTPError) -> (head: HTTPRequestHead, length: Int)? {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(HTTPError) in try HTTPRequestHead.parse(buffer.bytes, maxLength: maxLength) }
        }
        return try result.get()
    }

    @Test("A complete upgrade request parses into method, target, version and headers")
    func parsesRequest() throws {
        let parsed = try #require(try Self.parse(Self.request))
        #expect(parsed.length == Self.request.count)
        #expect(parsed.head.method == "GET")
        #expect(parsed.head.target == "/websockify?token=abc")
        #expect(parsed.head.versionMajor == 1 && parsed.head.versionMinor == 1)
        #expect(parsed.head.headers.count == 5)
        #expect(parsed.head.header("Sec-WebSocket-Version") == "13")
    }

    @Test("Every strict prefix is incomplete (nil); the whole head parses", arguments: 0...request.count)
    func everySplit(prefix: Int) throws {
        let parsed = try Self.parse(Array(Self.request[..<prefix]))
        if prefix < Self.request.count {
            #expect(parsed == nil)
        } else {
            #expect(parsed?.length == Self.request.count)
        }
    }

    @Test("Bytes after the head (pipelined frames) are not part of it")
    func pipelinedBytes() throws {
        let parsed = try Self.parse(Self.request + [0x82, 0x85, 1, 2, 3, 4])
        #expect(parsed?.length == Self.request.count)
    }

    @Test("Header names match case-insensitively; the first occurrence wins; values are trimmed")
    func headerLookup() throws {
        let text = "GET / HTTP/1.1\r\nuPgRaDe:   websocket  \r\nX-Dup: one\r\nx-dup: two\r\nEmpty:\r\n\r\n"
        let head = try #require(try Self.parse(Array(text.utf8))).head
        #expect(head.header("UPGRADE") == "websocket")
        #expect(head.header("upgrade") == "websocket")
        #expect(head.header("x-DUP") == "one")
        #expect(head.header("empty") == "")
        #expect(head.header("missing") == nil)
    }

    @Test("Bare LF line endings, leading empty lines and folded header lines are accepted")
    func lenientLines() throws {
        let head = try #require(try Self.parse(Array("\r\nGET /x HTTP/1.0\nA: 1\n  2\nB: 3\n\n".utf8))).head
        #expect(head.target == "/x")
        #expect(head.header("a") == "1 2")
        #expect(head.header("b") == "3")
    }

    @Test("Bytes are decoded as ISO-8859-1, one character per byte")
    func latin1() throws {
        let head = try #require(
            try Self.parse(Array("GET /\u{E9} HTTP/1.1\r\n\r\n".unicodeScalars.map { UInt8($0.value) }))
        ).head
        #expect(head.target == "/é")
    }

    @Test(
        "keep-alive: HTTP/1.1 defaults on, HTTP/1.0 off, Connection overrides",
        arguments: [
            ("HTTP/1.1", nil, true), ("HTTP/1.1", "close", false), ("HTTP/1.1", "Keep-Alive, Close", false),
            ("HTTP/1.0", nil, false), ("HTTP/1.0", "keep-alive", true), ("HTTP/1.1", "Upgrade", true),
        ] as [(String, String?, Bool)]
    )
    func keepAlive(version: String, connection: String?, expected: Bool) throws {
        let text = "GET / \(version)\r\n" + (connection.map { "Connection: \($0)\r\n" } ?? "") + "\r\n"
        #expect(try #require(try Self.parse(Array(text.utf8))).head.keepAlive == expected)
    }

    struct Failure: Sendable, CustomTestStringConvertible {
        var name: String
        var text: String
        var maxLength: Int = 8192
        var error: HTTPError
        var testDescription: String { name }
    }

    static let failures: [Failure] = [
        Failure(
            name: "request line longer than the limit → 414",
            text: "GET /" + String(repeating: "a", count: 100),
            maxLength: 64,
            error: HTTPError(status: 414, reason: "Request-URI Too Long")
        ),
        Failure(
            name: "head longer than the limit → 431",
            text: "GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 100),
            maxLength: 64,
            error: HTTPError(status: 431, reason: "Request Header Fields Too Large")
        ),
        Failure(
            name: "more than 100 headers → 431",
            text: "GET / HTTP/1.1\r\n" + String(repeating: "X: y\r\n", count: 101) + "\r\n",
            error: HTTPError(status: 431, reason: "Too many headers")
        ),
        Failure(
            name: "garbage → 400",
            text: "HELLO\r\n\r\n",
            error: HTTPError(status: 400, reason: "Bad request syntax ('HELLO')")
        ),
        Failure(
            name: "HTTP/0.9 two-word line → 400",
            text: "GET /\r\n\r\n",
            error: HTTPError(status: 400, reason: "Bad request syntax ('GET /')")
        ),
        Failure(
            name: "bad version → 400",
            text: "GET / HTTQ/1.1\r\n\r\n",
            error: HTTPError(status: 400, reason: "Bad request version ('HTTQ/1.1')")
        ),
        Failure(
            name: "non-numeric version → 400",
            text: "GET / HTTP/1.x\r\n\r\n",
            error: HTTPError(status: 400, reason: "Bad request version ('HTTP/1.x')")
        ),
        Failure(
            name: "HTTP/2.0 → 505",
            text: "GET / HTTP/2.0\r\n\r\n",
            error: HTTPError(status: 505, reason: "Invalid HTTP version (2.0)")
        ),
        Failure(
            name: "header line without colon → 400",
            text: "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
            error: HTTPError(status: 400, reason: "Bad header line ('NoColon')")
        ),
        Failure(
            name: "space before colon → 400",
            text: "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
            error: HTTPError(status: 400, reason: "Bad header line ('Host : x')")
        ),
    ]

    @Test("Malformed or oversized heads are rejected with Python's statuses", arguments: failures)
    func failure(_ failure: Failure) {
        #expect(throws: failure.error) { _ = try Self.parse(Array(failure.text.utf8), maxLength: failure.maxLength) }
    }

    @Test("A head that exactly fills maxLength is accepted; one byte less is an error")
    func limitBoundary() throws {
        #expect(try Self.parse(Self.request, maxLength: Self.request.count)?.length == Self.request.count)
        #expect(throws: HTTPError(status: 431)) { _ = try Self.parse(Self.request, maxLength: Self.request.count - 1) }
    }
}

@Suite("HTTPRequestHead fields")
struct HTTPRequestHeadFieldTests {
    @Test("Header values keep ISO-8859-1 bytes as U+0080…U+00FF, and folded lines join with one space")
    func latin1Values() throws {
        let text = "GET / HTTP/1.1\r\nX-\u{E9}: \u{E9}\u{FF}\u{80}\r\n \t \u{A0}\r\n\r\n"
        let bytes = text.unicodeScalars.map { UInt8($0.value) }
        let parsed = try #require(try HTTPRequestHeadTests.parse(bytes))
        #expect(parsed.head.headers.count == 1)
        #expect(parsed.head.headers.first?.name == "X-\u{E9}")
        #expect(parsed.head.header("x-\u{E9}") == "\u{E9}\u{FF}\u{80} \u{A0}")
        // ASCII-only case folding: É (U+00C9) is not é.
        #expect(parsed.head.header("X-\u{C9}") == nil)
    }

    @Test("headers can be read, replaced and mutated; lookups see the change")
    func mutation() {
        var head = HTTPRequestHead(
            method: "GET",
            target: "/",
            headers: [(name: "Ünïcode", value: "välue"), (name: "X", value: "1"), (name: "x", value: "2")]
        )
        #expect(head.header("Ünïcode") == "välue")
        #expect(head.header("ünïcode") == nil)
        #expect(head.header("X") == "1")
        head.headers.append((name: "Upgrade", value: "websocket"))
        head.headers[1].value = "one"
        #expect(head.headers.map(\.name) == ["Ünïcode", "X", "x", "Upgrade"])
        #expect(head.header("x") == "one")
        #expect(OpeningHandshake.isUpgradeRequest(head))
        head.headers = []
        #expect(head.headers.isEmpty)
        #expect(head.header("x") == nil)
        #expect(!OpeningHandshake.isUpgradeRequest(head))
    }

    @Test("A request with no header fields parses to an empty list")
    func noFields() throws {
        let head = try #require(try HTTPRequestHeadTests.parse(Array("GET / HTTP/1.1\r\n\r\n".utf8))).head
        #expect(head.headers.isEmpty)
        #expect(head.header("Host") == nil)
        #expect(head.keepAlive)
    }
}
