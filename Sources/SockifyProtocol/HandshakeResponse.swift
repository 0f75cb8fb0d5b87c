// RFC 6455 §4.2.2 server handshake response: the Sec-WebSocket-Accept value and the 101 response.

/// Builds the server's answer to a valid opening handshake.
public enum HandshakeResponse {
    /// The GUID RFC 6455 §1.3 appends to the key before hashing.
    public static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// `base64(SHA-1(key + guid))` (RFC 6455 §4.2.2 item 5.4).
    ///
    /// SHA-1 is injected so this module stays free of dependencies: the proxy passes swift-crypto's
    /// `Insecure.SHA1` (`{ Array(Insecure.SHA1.hash(data: $0)) }`).
    ///
    /// - Parameters:
    ///   - key: The client's `Sec-WebSocket-Key`, as received (trimmed).
    ///   - sha1: Returns the 20-byte SHA-1 digest of its input.
    public static func acceptValue(key: String, sha1: (UnsafeRawBufferPointer) -> [UInt8]) -> String {
        let input = Array((key + guid).utf8)
        let digest = input.withUnsafeBytes { sha1($0) }
        return Base64.encode(digest)
    }

    /// The `101 Switching Protocols` response, header for header in websockify's order (reference §4.3).
    ///
    /// - Parameters:
    ///   - accept: ``acceptValue(key:sha1:)``.
    ///   - protocol: The selected subprotocol, or `nil` for no `Sec-WebSocket-Protocol` header.
    ///   - serverName: The `Server` value.
    ///   - date: The `Date` value, an IMF-fixdate.
    /// - Returns: The complete response head, ending in an empty line.
    public static func switchingProtocols(accept: String, protocol: String?, serverName: String, date: String) -> String
    {
        var response = "HTTP/1.1 101 Switching Protocols\r\nServer: \(serverName)\r\nDate: \(date)\r\n"
        response += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\n"
        if let selected = `protocol` { response += "Sec-WebSocket-Protocol: \(selected)\r\n" }
        return response + "\r\n"
    }
}
