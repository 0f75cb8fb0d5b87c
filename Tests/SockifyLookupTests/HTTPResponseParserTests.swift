import SockifyLookup
import Testing

/// The parsed (status, body) of `text` fed in `chunk`-byte pieces, ending with end of stream if needed.
func parseResponse(_ text: String, chunk: Int, maxBody: Int = 64 << 10) throws -> (Int?, [UInt8]) {
    let bytes = Array(text.utf8)
    var parser = HTTPResponseParser(maxBodyByteCount: maxBody)
    var offset = 0
    var complete = false
    while offset < bytes.count && !complete {
        let end = min(bytes.count, offset + chunk)
        complete = try parser.consume(bytes[offset..<end])
        offset = end
    }
    if !complete { try parser.consumeEndOfStream() }
    #expect(parser.isComplete)
    return (parser.status, parser.body)
}

@Suite("HTTPResponseParser")
struct HTTPResponseParserTests {
    static let responses: [(String, Int, String)] = [
        ("HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n127.0.0.1:5900", 200, "127.0.0.1:5900"),
        ("HTTP/1.0 200 OK\r\nServer: x\r\n\r\nclose-delimited body", 200, "close-delimited body"),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nhost\r\n5;ext=1\r\n:5900\r\n0\r\n\r\n", 200,
            "host:5900"
        ),
        (
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\nContent-Length: 99\r\n\r\n"
                + "A\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n",
            200, "0123456789"
        ),
        ("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found", 404, "not found"),
        ("HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n", 302, ""),
        ("HTTP/1.1 204 No Content\r\n\r\n", 204, ""),
        ("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, "ok"),
        ("HTTP/1.1 200 OK\nContent-Length: 3\n\nabc", 200, "abc"),  // bare LF line ends (RFC 9112 §2.2)
        ("HTTP/1.1 200\r\ncontent-length:  5, 5 \r\n\r\nhello", 200, "hello"),  // no reason phrase; repeated length
        ("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\nerrorTRAILING", 500, "error"),
    ]

    @Test("responses parse to status and body whole and in every chunk size", arguments: responses.indices)
    func everySplit(index: Int) throws {
        let (text, status, body) = Self.responses[index]
        for chunk in 1...text.utf8.count {
            let (parsedStatus, parsedBody) = try parseResponse(text, chunk: chunk)
            #expect(parsedStatus == status, "chunk \(chunk)")
            #expect(String(decoding: parsedBody, as: UTF8.self) == body, "chunk \(chunk)")
        }
    }

    @Test(
        "malformed responses are rejected with the reason",
        arguments: [
            ("HTTP/2 200 OK\r\n\r\n", HTTPResponseParseError.badStatusLine),
            ("ICY 200 OK\r\n\r\n", .badStatusLine),
            ("HTTP/1.1 20 OK\r\n\r\n", .badStatusLine),
            ("HTTP/1.1 2000 OK\r\n\r\n", .badStatusLine),
            ("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", .badHeaderLine),
            ("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", .badHeaderLine),
            ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", .badContentLength),
            ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", .badContentLength),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                .unsupportedTransferEncoding("gzip, chunked")
            ),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZ\r\n", .badChunk),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", .badChunk),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n", .badChunk),
            ("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", .truncated),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", .truncated),
            ("HTTP/1.1 200 OK\r\n", .truncated),
            ("", .truncated),
        ])
    func rejections(text: String, expected: HTTPResponseParseError) {
        for chunk in 1...max(1, text.utf8.count) {
            #expect(throws: expected) { try parseResponse(text, chunk: chunk) }
        }
    }

    @Test("bodies over the limit fail, whichever way they are framed")
    func bodyLimit() throws {
        let limit = 16
        let body = String(repeating: "x", count: 17)
        for text in [
            "HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n\(body)",
            "HTTP/1.1 200 OK\r\n\r\n\(body)",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nxxxxxxxx\r\n9\r\nxxxxxxxxx\r\n0\r\n\r\n",
        ] {
            #expect(throws: HTTPResponseParseError.bodyTooLarge(limit: limit)) {
                try parseResponse(text, chunk: 5, maxBody: limit)
            }
        }
        #expect(try parseResponse("HTTP/1.1 200 OK\r\n\r\n\(body.dropLast())", chunk: 5, maxBody: limit).1.count == 16)
    }

    @Test("a head that never ends is cut off at its limit")
    func headLimit() {
        var parser = HTTPResponseParser(maxHeadByteCount: 64)
        let head = "HTTP/1.1 200 OK\r\n" + String(repeating: "X-Filler: 0123456789\r\n", count: 10)
        #expect(throws: HTTPResponseParseError.headTooLong(limit: 64)) { try parser.consume(Array(head.utf8)) }
    }

    @Test("fuzz: random bytes in random splits never trap")
    func fuzz() {
        var random = SplitMix64(state: 0xF00D)
        let alphabet = Array("HTTP/1.1 200 OK\r\n:;Content-Length: Transfer-Encoding chunked 0123456789abcdefXYZ".utf8)
        let seeds = Self.responses.map { Array($0.0.utf8) }
        for round in 0..<3000 {
            var input: [UInt8]
            if round % 2 == 0 {
                input = (0..<Int.random(in: 0...96, using: &random)).map { _ in alphabet.randomElement(using: &random)!
                }
            } else {
                input = seeds.randomElement(using: &random)!
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    input[Int.random(in: 0..<input.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                }
            }
            var parser = HTTPResponseParser(maxHeadByteCount: 256, maxBodyByteCount: 256)
            var offset = 0
            var outcome = "incomplete"
            while offset < input.count {
                let end = min(input.count, offset + Int.random(in: 1...16, using: &random))
                do {
                    if try parser.consume(input[offset..<end]) { outcome = "complete" }
                } catch {
                    outcome = "failed"
                    break
                }
                offset = end
            }
            if outcome == "incomplete" { _ = try? parser.consumeEndOfStream() }
            #expect(parser.body.count <= 256)
        }
    }
}

@Suite("HTTPURL")
struct HTTPURLTests {
    @Test("host, port, Host header and request target")
    func parsing() throws {
        let plain = try HTTPURL(parsing: "http://api.example:8080/lookup?token=abc")
        #expect(plain.host == "api.example" && plain.port == 8080 && plain.target == "/lookup?token=abc")
        #expect(plain.hostHeader == "api.example:8080")
        let defaults = try HTTPURL(parsing: "HTTP://Example")
        #expect(defaults.port == 80 && defaults.target == "/" && defaults.hostHeader == "Example")
        let v6 = try HTTPURL(parsing: "http://[::1]:9000?t=1#frag")
        #expect(v6.host == "::1" && v6.port == 9000 && v6.target == "/?t=1")
        #expect(v6.hostHeader == "[::1]:9000" && v6.endpoint == "[::1]:9000")
        #expect(try HTTPURL(parsing: "http://h:/p").port == 80)
        #expect(plain.scheme == .http && plain.description == "http://api.example:8080/lookup?token=abc")
    }

    @Test("https: default port 443, left out of the Host header; other ports kept")
    func https() throws {
        let defaults = try HTTPURL(parsing: "HTTPS://api.example/t?k=1")
        #expect(defaults.scheme == .https && defaults.host == "api.example" && defaults.port == 443)
        #expect(defaults.hostHeader == "api.example" && defaults.endpoint == "api.example:443")
        #expect(defaults.description == "https://api.example/t?k=1")
        let other = try HTTPURL(parsing: "https://127.0.0.1:8443/x")
        #expect(other.port == 8443 && other.hostHeader == "127.0.0.1:8443")
        #expect(try HTTPURL(parsing: "https://h:80/").hostHeader == "h:80")
        let v6 = try HTTPURL(parsing: "https://[::1]/")
        #expect(v6.host == "::1" && v6.port == 443 && v6.hostHeader == "[::1]")
    }

    @Test("bytes a request line cannot carry are percent-encoded; valid escapes are kept")
    func requoting() throws {
        #expect(try HTTPURL(parsing: "http://h/a b?t=x\r\nInjected: 1").target == "/a%20b?t=x%0D%0AInjected:%201")
        #expect(try HTTPURL(parsing: "http://h/t%2Fok%zz%").target == "/t%2Fok%25zz%25")
        #expect(try HTTPURL(parsing: "http://h/é").target == "/%C3%A9")
    }

    @Test("bad URLs say what is wrong")
    func rejections() {
        for (url, why) in [
            ("ftp://h/x", "only http:// and https:// are supported"), ("h:80/x", "no scheme"), ("http:///x", "no host"),
            ("https://u@h/", "credentials in URLs are not supported"),
            ("http://u:p@h/x", "credentials in URLs are not supported"), ("http://h:99999/", "bad port"),
            ("http://h:0/", "bad port"), ("http://[::1/", "unclosed ["), ("http://h:8x/", "bad port"),
        ] {
            #expect(throws: HTTPClientError(endpoint: nil, reason: .invalidURL(url, why))) { try HTTPURL(parsing: url) }
        }
    }
}
