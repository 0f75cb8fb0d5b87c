// The one URL shape a token API may have: `http[s]://host[:port]/path?query` (websockify's BaseTokenAPI and
// JSONTokenApi substitute the token into such a URL, reference §2.3).

/// A parsed `http://` or `https://` URL: how and where to connect, and what to put in the request line.
public struct HTTPURL: Hashable, Sendable, CustomStringConvertible {
    /// How the request travels.
    public enum Scheme: String, Hashable, Sendable {
        /// Plain TCP (default port 80).
        case http
        /// TLS over TCP, the server verified against the URL's host (default port 443).
        case https

        /// The port a URL without one means.
        public var defaultPort: UInt16 { self == .http ? 80 : 443 }
    }

    /// `http` or `https`.
    public var scheme: Scheme
    /// The host without brackets: a name, an IPv4 literal or an IPv6 literal (`::1`).
    public var host: String
    /// The port (the scheme's default, 80 or 443, when the URL names none).
    public var port: UInt16
    /// The request target: path and query, never empty (`/` at least), percent-encoded where the URL was not.
    public var target: String

    /// Parses `url`.
    ///
    /// The scheme is case-insensitive; a fragment (`#…`) is dropped. Bytes a request line cannot carry (spaces,
    /// controls, non-ASCII, `"<>\^`{|}`) are percent-encoded, as Python `requests` does (`requote_uri`), so a
    /// token substituted unencoded into the URL (websockify does no encoding) still makes a valid request.
    /// - Throws: `HTTPClientError` with `.invalidURL` for anything that is not
    ///   `http[s]://host[:port][/path][?query]` (user info `user:pass@` included).
    public init(parsing url: String) throws(HTTPClientError) {
        let bytes = Array(url.utf8)
        func invalid(_ why: String) -> HTTPClientError { HTTPClientError(endpoint: nil, reason: .invalidURL(url, why)) }
        guard let schemeEnd = bytes.firstIndex(of: UInt8(ascii: ":")),
            bytes[schemeEnd...].starts(with: Array("://".utf8))
        else { throw invalid("no scheme") }
        guard let scheme = Scheme(rawValue: String(decoding: bytes[..<schemeEnd], as: UTF8.self).lowercased()) else {
            throw invalid("only http:// and https:// are supported")
        }
        self.scheme = scheme
        var rest = bytes[(schemeEnd + 3)...]
        if let hash = rest.firstIndex(of: UInt8(ascii: "#")) { rest = rest[..<hash] }
        let authorityEnd = rest.firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard !authority.contains(UInt8(ascii: "@")) else { throw invalid("credentials in URLs are not supported") }
        var hostPart = authority[...]
        var portText: ArraySlice<UInt8>?
        if hostPart.first == UInt8(ascii: "[") {
            guard let close = hostPart.firstIndex(of: UInt8(ascii: "]")) else { throw invalid("unclosed [") }
            let after = hostPart[(close + 1)...]
            if let colon = after.first {
                guard colon == UInt8(ascii: ":") else { throw invalid("junk after ]") }
                portText = after.dropFirst()
            }
            hostPart = hostPart[(hostPart.startIndex + 1)..<close]
        } else if let colon = hostPart.lastIndex(of: UInt8(ascii: ":")) {
            portText = hostPart[(colon + 1)...]
            hostPart = hostPart[..<colon]
        }
        guard !hostPart.isEmpty else { throw invalid("no host") }
        guard hostPart.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "%") }) else {
            throw invalid("bad character in host")
        }
        host = String(decoding: hostPart, as: UTF8.self)
        if let portText, !portText.isEmpty {  // `http://host:/` means the default port, as in Python
            guard portText.count <= 5, portText.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let number = UInt16(String(decoding: portText, as: UTF8.self)), number != 0
            else { throw invalid("bad port") }
            port = number
        } else {
            port = scheme.defaultPort
        }
        let pathAndQuery = rest[authorityEnd...]
        let path = pathAndQuery.first == UInt8(ascii: "/") ? Array(pathAndQuery) : [UInt8(ascii: "/")] + pathAndQuery
        target = Self.requote(path)
    }

    /// The `Host` header value: the port only when it is not the scheme's default, IPv6 literals in brackets.
    public var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == scheme.defaultPort ? name : "\(name):\(port)"
    }

    /// `host:port` (`[v6]:port`), for log lines.
    public var endpoint: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// `http[s]://<Host header><target>`.
    public var description: String { "\(scheme.rawValue)://\(hostHeader)\(target)" }

    /// Percent-encodes every byte outside RFC 3986's unreserved and reserved sets; `%` stays when a valid escape
    /// follows it and is encoded otherwise (Python `requests.utils.requote_uri`).
    private static func requote(_ bytes: [UInt8]) -> String {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!#$&'()*+,/:;=?@[]".utf8)
        let hex = Array("0123456789ABCDEF".utf8)
        func isHex(_ byte: UInt8) -> Bool {
            (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte)
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for (index, byte) in bytes.enumerated() {
            let isEscape =
                byte == UInt8(ascii: "%") && index + 2 < bytes.count
                && isHex(bytes[index + 1]) && isHex(bytes[index + 2])
            if allowed.contains(byte) || isEscape {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
