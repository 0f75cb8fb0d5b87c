// RFC 6455 §4.2.1 server-side validation of the opening handshake, with websockify's messages (reference §4.3/§4.4).

/// A validated WebSocket opening handshake request.
public struct OpeningHandshake: Sendable {
    /// The `Sec-WebSocket-Key` value (trimmed); base64 of 16 bytes.
    public var key: String
    /// The `Sec-WebSocket-Version` (7, 8 or 13).
    public var version: Int
    /// The subprotocol to echo in the 101 response: `"binary"` or `nil` (no header).
    public var selectedProtocol: String?

    /// The versions websockify accepts: HyBi-07, HyBi-08 and RFC 6455.
    public static let supportedVersions = [7, 8, 13]

    /// Whether `head` asks for a WebSocket upgrade: a GET whose `Upgrade` header is `websocket` (any case), on
    /// any path. Like websockify, `Connection: Upgrade` is not required.
    public static func isUpgradeRequest(_ head: HTTPRequestHead) -> Bool {
        guard head.method == "GET", let upgrade = head.header("Upgrade") else { return false }
        return HTTPRequestHead.equalsIgnoringASCIICase(upgrade, "websocket")
    }

    /// Validates an upgrade request, in websockify's order: method, version, key, subprotocol.
    ///
    /// | request | result |
    /// |---|---|
    /// | method HEAD | 405 "Method Not Allowed" |
    /// | method other than GET/HEAD | 501 "Unsupported method ('POST')" |
    /// | no `Sec-WebSocket-Version` | 400 "Missing Sec-WebSocket-Version header" |
    /// | version not 7/8/13 | 426 "Unsupported protocol version N" + `Sec-WebSocket-Version: 13` (RFC 6455 §4.4) |
    /// | no `Sec-WebSocket-Key` | 400 "Missing Sec-WebSocket-Key header" |
    /// | key not base64 of 16 bytes | 400 "Invalid Sec-WebSocket-Key header" (RFC 6455 §4.2.1 item 5) |
    /// | protocols (split on `,`, trimmed) contain `binary` | `selectedProtocol = "binary"` |
    /// | protocol header absent or only empty items | `selectedProtocol = nil` |
    /// | other protocols only | 400 "Invalid protocol selected" |
    ///
    /// Differences from websockify, both fixes listed in reference §10: an unsupported version gets 426 with
    /// the version header instead of 400, and protocol items are trimmed, so browsers' `base64, binary` works.
    ///
    /// - Throws: ``HTTPError`` as in the table.
    public static func validate(_ head: HTTPRequestHead) throws(HTTPError) -> OpeningHandshake {
        switch head.method {
        case "GET": break
        case "HEAD": throw HTTPError(status: 405, reason: "Method Not Allowed")
        default: throw HTTPError(status: 501, reason: "Unsupported method ('\(head.method)')")
        }
        guard let versionText = head.header("Sec-WebSocket-Version"), !versionText.isEmpty else {
            throw HTTPError(status: 400, reason: "Missing Sec-WebSocket-Version header")
        }
        guard let version = Int(versionText), supportedVersions.contains(version) else {
            throw HTTPError(
                status: 426,
                reason: "Unsupported protocol version \(versionText)",
                extraHeaders: [("Sec-WebSocket-Version", "13")]
            )
        }
        guard let key = head.header("Sec-WebSocket-Key"), !key.isEmpty else {
            throw HTTPError(status: 400, reason: "Missing Sec-WebSocket-Key header")
        }
        // §4.2.1: "a base64-encoded value that, when decoded, is 16 bytes in length".
        guard let nonce = Base64.decode(key), nonce.count == 16 else {
            throw HTTPError(status: 400, reason: "Invalid Sec-WebSocket-Key header")
        }
        var selectedProtocol: String? = nil
        if let protocols = head.header("Sec-WebSocket-Protocol") {
            let items = protocols.split(separator: ",").map { HTTPRequestHead.trimmed($0) }.filter { !$0.isEmpty }
            if items.contains("binary") {
                selectedProtocol = "binary"
            } else if !items.isEmpty {
                throw HTTPError(status: 400, reason: "Invalid protocol selected")
            }
        }
        return OpeningHandshake(key: key, version: version, selectedProtocol: selectedProtocol)
    }

    /// Creates a handshake from validated parts (tests, clients).
    public init(key: String, version: Int, selectedProtocol: String?) {
        self.key = key
        self.version = version
        self.selectedProtocol = selectedProtocol
    }
}
