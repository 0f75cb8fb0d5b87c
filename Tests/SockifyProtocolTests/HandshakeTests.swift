// Opening handshake (RFC 6455 §4.2) validation per reference §4.3/§4.4, the accept value, and the responses.
import Crypto
import SockifyProtocol
import Testing

@Suite("OpeningHandshake and HandshakeResponse")
struct HandshakeTests {
    static let key = RFCVectors.sampleKey

    static func head(method: String = "GET", _ headers: [(String, String)]) -> HTTPRequestHead {
        HTTPRequestHead(method: method, target: "/?token=a", headers: headers.map { (name: $0.0, value: $0.1) })
    }

    static func upgrade(
        version: String? = "13",
        key: String? = HandshakeTests.key,
        protocols: String? = nil,
        method: String = "GET"
    ) -> HTTPRequestHead {
        var headers = [("Upgrade", "websocket")]
        if let version { headers.append(("Sec-WebSocket-Version", version)) }
        if let key { headers.append(("Sec-WebSocket-Key", key)) }
        if let protocols { headers.append(("Sec-WebSocket-Protocol", protocols)) }
        return head(method: method, headers)
    }

    @Test("§1.3/§4.2.2 the sample key gives the sample accept value (SHA-1 from swift-crypto)")
    func acceptVector() {
        let accept = HandshakeResponse.acceptValue(key: RFCVectors.sampleKey) { Array(Insecure.SHA1.hash(data: $0)) }
        #expect(accept == RFCVectors.sampleAccept)
    }

    @Test("Upgrade detection: GET + Upgrade: websocket in any case, Connection not required")
    func upgradeDetection() {
        #expect(OpeningHandshake.isUpgradeRequest(Self.head([("upgrade", "WebSocket")])))
        #expect(!OpeningHandshake.isUpgradeRequest(Self.head([("Connection", "Upgrade")])))
        #expect(!OpeningHandshake.isUpgradeRequest(Self.head(method: "POST", [("Upgrade", "websocket")])))
        #expect(!OpeningHandshake.isUpgradeRequest(Self.head([("Upgrade", "h2c")])))
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var head: HTTPRequestHead
        var expected: Result<String?, HTTPError>  // success: the selected protocol
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "version 13, no protocol → 101 without protocol", head: upgrade(), expected: .success(nil)),
        Case(name: "version 7 accepted", head: upgrade(version: "7"), expected: .success(nil)),
        Case(name: "version 8 accepted", head: upgrade(version: "8"), expected: .success(nil)),
        Case(
            name: "missing version → 400",
            head: upgrade(version: nil),
            expected: .failure(HTTPError(status: 400, reason: "Missing Sec-WebSocket-Version header"))
        ),
        Case(
            name: "version 12 → 426 with Sec-WebSocket-Version: 13",
            head: upgrade(version: "12"),
            expected: .failure(
                HTTPError(
                    status: 426,
                    reason: "Unsupported protocol version 12",
                    extraHeaders: [("Sec-WebSocket-Version", "13")]
                )
            )
        ),
        Case(
            name: "version abc → 426",
            head: upgrade(version: "abc"),
            expected: .failure(
                HTTPError(
                    status: 426,
                    reason: "Unsupported protocol version abc",
                    extraHeaders: [("Sec-WebSocket-Version", "13")]
                )
            )
        ),
        Case(
            name: "missing key → 400",
            head: upgrade(key: nil),
            expected: .failure(HTTPError(status: 400, reason: "Missing Sec-WebSocket-Key header"))
        ),
        Case(
            name: "key not base64 → 400",
            head: upgrade(key: "not base64!"),
            expected: .failure(HTTPError(status: 400, reason: "Invalid Sec-WebSocket-Key header"))
        ),
        Case(
            name: "key of 15 bytes → 400",
            head: upgrade(key: "AAAAAAAAAAAAAAAAAAAA"),
            expected: .failure(HTTPError(status: 400, reason: "Invalid Sec-WebSocket-Key header"))
        ),
        Case(name: "protocol binary → binary", head: upgrade(protocols: "binary"), expected: .success("binary")),
        Case(
            name: "protocol binary, base64 → binary",
            head: upgrade(protocols: "binary, base64"),
            expected: .success("binary")
        ),
        Case(
            name: "protocol base64,binary → binary",
            head: upgrade(protocols: "base64,binary"),
            expected: .success("binary")
        ),
        Case(
            name: "protocol base64, binary → binary (trimmed, unlike websockify)",
            head: upgrade(protocols: "base64, binary"),
            expected: .success("binary")
        ),
        Case(name: "empty protocol header → none", head: upgrade(protocols: ""), expected: .success(nil)),
        Case(
            name: "protocol base64 → 400",
            head: upgrade(protocols: "base64"),
            expected: .failure(HTTPError(status: 400, reason: "Invalid protocol selected"))
        ),
        Case(
            name: "protocol chat, sip → 400",
            head: upgrade(protocols: "chat, sip"),
            expected: .failure(HTTPError(status: 400, reason: "Invalid protocol selected"))
        ),
        Case(
            name: "protocol BINARY is case-sensitive → 400",
            head: upgrade(protocols: "BINARY"),
            expected: .failure(HTTPError(status: 400, reason: "Invalid protocol selected"))
        ),
        Case(
            name: "HEAD → 405",
            head: upgrade(method: "HEAD"),
            expected: .failure(HTTPError(status: 405, reason: "Method Not Allowed"))
        ),
        Case(
            name: "POST → 501",
            head: upgrade(method: "POST"),
            expected: .failure(HTTPError(status: 501, reason: "Unsupported method ('POST')"))
        ),
        Case(
            name: "version checked before key",
            head: upgrade(version: "99", key: nil),
            expected: .failure(
                HTTPError(
                    status: 426,
                    reason: "Unsupported protocol version 99",
                    extraHeaders: [("Sec-WebSocket-Version", "13")]
                )
            )
        ),
    ]

    @Test("Handshake validation follows reference §4.3/§4.4 with the issue's fixes", arguments: cases)
    func validation(_ testCase: Case) {
        switch testCase.expected {
        case .success(let selected):
            let handshake = try? OpeningHandshake.validate(testCase.head)
            #expect(handshake?.selectedProtocol == selected)
            #expect(handshake?.key == Self.key)
        case .failure(let error):
            #expect(throws: error) { _ = try OpeningHandshake.validate(testCase.head) }
        }
    }

    @Test("The 101 response has websockify's header order")
    func switchingProtocols() {
        let date = "Wed, 25 Nov 2026 08:24:32 GMT"
        #expect(
            HandshakeResponse.switchingProtocols(
                accept: RFCVectors.sampleAccept,
                protocol: "binary",
                serverName: "Sockify",
                date: date
            )
                == "HTTP/1.1 101 Switching Protocols\r\nServer: Sockify\r\nDate: \(date)\r\nUpgrade: websocket\r\n"
                + "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: binary\r\n\r\n"
        )
        #expect(
            HandshakeResponse.switchingProtocols(accept: "x", protocol: nil, serverName: "S", date: "D")
                == "HTTP/1.1 101 Switching Protocols\r\nServer: S\r\nDate: D\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n"
        )
    }

    static let page405 = """
        <!DOCTYPE HTML>
        <html lang="en">
            <head>
                <meta charset="utf-8">
                <title>Error response</title>
            </head>
            <body>
                <h1>Error response</h1>
                <p>Error code: 405</p>
                <p>Message: Method Not Allowed.</p>
                <p>Error code explanation: 405 - Specified method is invalid for this resource.</p>
            </body>
        </html>

        """

    @Test("Error responses reproduce Python's send_error (405 page of 355 bytes, as Python 3.11 renders it)")
    func errorResponse() {
        let response = HTTPResponse.error(
            status: 405,
            reason: nil,
            serverName: "WebSockify Python/3.11.7",
            date: "D",
            extraHeaders: [],
            includeBody: true
        )
        #expect(
            response
                == "HTTP/1.1 405 Method Not Allowed\r\nServer: WebSockify Python/3.11.7\r\nDate: D\r\nConnection: close\r\n"
                + "Content-Type: text/html;charset=utf-8\r\nContent-Length: 355\r\n\r\n" + Self.page405
        )
        #expect(Self.page405.utf8.count == 355)
        let head = HTTPResponse.error(
            status: 405,
            reason: nil,
            serverName: "S",
            date: "D",
            extraHeaders: [],
            includeBody: false
        )
        #expect(head.hasSuffix("Content-Length: 355\r\n\r\n"))
    }

    @Test("426 carries its extra header and the message as reason; HTML in messages is escaped")
    func errorExtras() {
        let response = HTTPResponse.error(
            status: 426,
            reason: "Unsupported protocol version 99",
            serverName: "S",
            date: "D",
            extraHeaders: [("Sec-WebSocket-Version", "13")],
            includeBody: true
        )
        #expect(response.hasPrefix("HTTP/1.1 426 Unsupported protocol version 99\r\n"))
        #expect(response.contains("Content-Length: 323\r\nSec-WebSocket-Version: 13\r\n\r\n"))
        #expect(response.contains("<p>Error code explanation: 426 - .</p>"))
        let escaped = HTTPResponse.error(
            status: 400,
            reason: "<b>&",
            serverName: "S",
            date: "D",
            extraHeaders: [],
            includeBody: true
        )
        #expect(escaped.contains("<p>Message: &lt;b&gt;&amp;.</p>"))
    }

    @Test(
        "Standard reasons",
        arguments: [
            (200, "OK"), (301, "Moved Permanently"), (304, "Not Modified"), (400, "Bad Request"), (403, "Forbidden"),
            (404, "Not Found"), (405, "Method Not Allowed"), (414, "Request-URI Too Long"), (426, "Upgrade Required"),
            (431, "Request Header Fields Too Large"), (500, "Internal Server Error"), (501, "Not Implemented"),
            (505, "HTTP Version Not Supported"), (999, "???"),
        ]
    )
    func standardReasons(status: Int, reason: String) {
        #expect(HTTPResponse.standardReason(status) == reason)
    }

    @Test("304 has no body or Content-Type, like Python")
    func notModified() {
        let response = HTTPResponse.error(
            status: 304,
            reason: nil,
            serverName: "S",
            date: "D",
            extraHeaders: [],
            includeBody: true
        )
        #expect(response == "HTTP/1.1 304 Not Modified\r\nServer: S\r\nDate: D\r\nConnection: close\r\n\r\n")
    }
}
