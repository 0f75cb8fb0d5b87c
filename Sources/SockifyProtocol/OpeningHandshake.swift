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
        guard head.method == "GET" else { return false }
        // §4.2.1 item 3: the Upgrade field is a list (RFC 9110 §7.8) that must *include* "websocket";
        // websockify compares the whole value and so answers `websocket, foo` with 405.
        return head.fields.withValue(named: "Upgrade") { list in
            var found = false
            ASCII.forEachListItem(list) { item in
                found = ASCII.equalsIgnoringCase(item, "websocket")
                return !found
            }
            return found
        } ?? false
    }

    /// Validates an upgrade request, in websockify's order: method, version, key, subprotocol.
    ///
    /// | request | result |
    /// |---|---|
    /// | method HEAD | 405 "Method Not Allowed" |
    /// | method other than GET/HEAD | 501 "Unsupported method ('POST')" |
    /// | HTTP/1.0 | 400 "WebSocket upgrade needs HTTP/1.1" (RFC 6455 §4.2.1 item 1) |
    /// | no `Sec-WebSocket-Version` | 400 "Missing Sec-WebSocket-Version header" |
    /// | version not 7/8/13 | 426 "Unsupported protocol version N" + `Sec-WebSocket-Version: 13` (RFC 6455 §4.4) |
    /// | no `Sec-WebSocket-Key` | 400 "Missing Sec-WebSocket-Key header" |
    /// | key not base64 of 16 bytes, or given twice | 400 "Invalid Sec-WebSocket-Key header" (RFC 6455 §4.2.1 item 5, §11.3.1) |
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
        // §4.2.1 item 1: "An HTTP/1.1 or higher GET request" (websockify also accepts HTTP/1.0).
        guard head.versionMajor > 1 || (head.versionMajor == 1 && head.versionMinor >= 1) else {
            throw HTTPError(status: 400, reason: "WebSocket upgrade needs HTTP/1.1")
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
        // §4.2.1: "a base64-encoded value that, when decoded, is 16 bytes in length"; §11.3.1: the field
        // MUST NOT appear more than once.
        guard isNonce(key), head.fields.count(named: "Sec-WebSocket-Key") == 1 else {
            throw HTTPError(status: 400, reason: "Invalid Sec-WebSocket-Key header")
        }
        var selectedProtocol: String? = nil
        let offered = head.fields.withValue(named: "Sec-WebSocket-Protocol") { offerBinary($0) }
        switch offered {
        case nil, .nothing?: break
        case .binary?: selectedProtocol = "binary"
        case .otherProtocols?: throw HTTPError(status: 400, reason: "Invalid protocol selected")
        }
        return OpeningHandshake(key: key, version: version, selectedProtocol: selectedProtocol)
    }

    /// Creates a handshake from validated parts (tests, clients).
    public init(key: String, version: Int, selectedProtocol: String?) {
        self.key = key
        self.version = version
        self.selectedProtocol = selectedProtocol
    }

    /// What a `Sec-WebSocket-Protocol` list offers, as far as websockify cares.
    private enum ProtocolOffer {
        /// Only empty items.
        case nothing
        /// `binary` (exactly, case-sensitive) among the items.
        case binary
        /// Non-empty items, none of them `binary`.
        case otherProtocols
    }

    /// Reads a protocol list: items split on `,`, trimmed of spaces and tabs, empty ones ignored.
    private static func offerBinary(_ list: UnsafeBufferPointer<UInt8>) -> ProtocolOffer {
        var offer = ProtocolOffer.nothing
        ASCII.forEachListItem(list) { item in
            if ASCII.equals(item, "binary") {
                offer = .binary
                return false
            }
            offer = .otherProtocols
            return true
        }
        return offer
    }

    /// Whether `key` is what ``Base64/decode(_:)`` turns into exactly 16 bytes, checked without decoding: padded
    /// base64 of 16 bytes is 24 symbols, the last two `=` (4 groups of 3 bytes, then one byte and 2 padding).
    private static func isNonce(_ key: String) -> Bool {
        var key = key
        return key.withUTF8 { symbols in
            guard symbols.count == 24, symbols[22] == UInt8(ascii: "="), symbols[23] == UInt8(ascii: "=") else {
                return false
            }
            for index in 0..<22 {
                switch symbols[index] {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"):
                    continue
                default:
                    return false
                }
            }
            return true
        }
    }
}
