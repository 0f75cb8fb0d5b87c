// The client side of the RFC 6455 §4.1 opening handshake: the GET request and the checks on the 101 response.
import SockifyProtocol

/// Builds the opening request and validates the server's answer (§4.1, client requirements).
enum ClientHandshake {
    /// The largest response head accepted before the handshake fails.
    static let maxResponseHeadLength = 8192

    /// A fresh `Sec-WebSocket-Key`: 16 random bytes, base64 (§4.1 item 7).
    static func randomKey(using generator: inout some RandomNumberGenerator) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        for _ in 0..<2 {
            let word = generator.next()
            for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: word >> (8 * UInt64(i)))) }
        }
        return Base64.encode(bytes)
    }

    /// The request head, CRLF-terminated.
    static func request(for endpoint: Endpoint, key: String, subprotocol: String?) -> [UInt8] {
        var text = "GET \(endpoint.resource) HTTP/1.1\r\nHost: \(endpoint.hostHeader)\r\n"
        text += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
        if let subprotocol { text += "Sec-WebSocket-Protocol: \(subprotocol)\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }

    /// The `Sec-WebSocket-Accept` value a correct server sends for `key` (§4.2.2 item 5.4).
    static func expectedAccept(key: String) -> String {
        Base64.encode(SHA1.digest(Array((key + HandshakeResponse.guid).utf8)))
    }

    /// The offset just past the blank line that ends a response head in `bytes[0 ..< count]`, if it is there.
    static func headEnd(_ bytes: UnsafeRawPointer, count: Int) -> Int? {
        guard count >= 4 else { return nil }
        for i in 0...(count - 4)
        where bytes.load(fromByteOffset: i, as: UInt8.self) == 13
            && bytes.load(fromByteOffset: i + 1, as: UInt8.self) == 10
            && bytes.load(fromByteOffset: i + 2, as: UInt8.self) == 13
            && bytes.load(fromByteOffset: i + 3, as: UInt8.self) == 10
        {
            return i + 4
        }
        return nil
    }

    /// Checks a response head (without the final CRLF CRLF) against §4.1's client rules.
    ///
    /// - Returns: The subprotocol the server selected, if any.
    /// - Throws: `HandshakeFailure` saying which rule the response broke (a non-101 status is quoted).
    static func validate(
        head: String, key: String, requestedSubprotocol: String?
    ) throws(HandshakeFailure) -> String? {
        let lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard let status = lines.first else { throw HandshakeFailure("empty response") }
        let parts = status.split(separator: " ", maxSplits: 2)
        // §4.1: "If the status code received from the server is not 101, the client handles the response per
        // HTTP procedures" — for a load tool that is a failed connection.
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[1] == "101" else {
            throw HandshakeFailure("server answered \"\(status)\"")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { throw HandshakeFailure("malformed header line \"\(line)\"") }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingBlanks()
            headers[name] = headers[name].map { $0 + ", " + value } ?? value
        }
        // §4.1 items 2-5 of the client's response checks.
        guard headers["upgrade"]?.lowercased() == "websocket" else { throw HandshakeFailure("missing Upgrade: websocket") }
        let connectionTokens = (headers["connection"] ?? "").lowercased().split(separator: ",").map {
            $0.trimmingBlanks()
        }
        guard connectionTokens.contains("upgrade") else { throw HandshakeFailure("missing Connection: Upgrade") }
        guard headers["sec-websocket-accept"] == expectedAccept(key: key) else {
            throw HandshakeFailure("wrong Sec-WebSocket-Accept \"\(headers["sec-websocket-accept"] ?? "")\"")
        }
        guard headers["sec-websocket-extensions"] == nil else { throw HandshakeFailure("server selected an extension") }
        let selected = headers["sec-websocket-protocol"]
        if let selected, selected != requestedSubprotocol {
            throw HandshakeFailure("server selected subprotocol \"\(selected)\" that was not offered")
        }
        return selected
    }
}

/// A handshake the load tool rejects.
struct HandshakeFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs (HTTP optional whitespace).
    fileprivate func trimmingBlanks() -> String {
        var view = Substring(self)
        while view.first == " " || view.first == "\t" { view = view.dropFirst() }
        while view.last == " " || view.last == "\t" { view = view.dropLast() }
        return String(view)
    }
}
