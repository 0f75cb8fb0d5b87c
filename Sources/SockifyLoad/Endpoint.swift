// Target URLs: `ws://host:port/path?query` and `wss://…` (RFC 6455 §3), and `tcp://host:port` for raw comparisons.

/// Where the load goes: a WebSocket endpoint or a plain TCP one.
struct Endpoint: Sendable, Equatable, CustomStringConvertible {
    enum Scheme: String, Sendable {
        /// RFC 6455 over TCP: opening handshake, masked client frames.
        case ws
        /// RFC 6455 over TLS (§3, §4.1 item 5: the TLS handshake comes first, the opening handshake inside it).
        case wss
        /// Bytes as they are, for the no-proxy and raw-relay baselines.
        case tcp
    }

    var scheme: Scheme
    /// The host without IPv6 brackets.
    var host: String
    var port: UInt16
    /// The request target sent in the handshake: path plus query, `/` when the URL has none (§3).
    var resource: String

    /// Parses `ws://host:port[/path][?query]`, `wss://host:port[/path][?query]` or `tcp://host:port`.
    ///
    /// The port is required even for `ws`/`wss` (a load run names the proxy's port explicitly).
    /// - Throws: `UsageError` with a message naming the part that is wrong.
    init(parsing text: String) throws(UsageError) {
        guard let separator = text.range(of: "://") else {
            throw UsageError("target \"\(text)\" is not a URL; use ws://host:port/path, wss://host:port/path or tcp://host:port")
        }
        let schemeText = text[..<separator.lowerBound].lowercased()
        guard let scheme = Scheme(rawValue: schemeText) else {
            throw UsageError("unsupported scheme \"\(schemeText)://\"; use ws://, wss:// or tcp://")
        }
        var rest = text[separator.upperBound...]
        var resource = "/"
        if let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) {
            resource = String(rest[slash...])
            if resource.first == "?" { resource = "/" + resource }
            rest = rest[..<slash]
        }
        guard scheme != .tcp || resource == "/" else {
            throw UsageError("tcp:// targets take no path (\(text))")
        }
        let host: Substring
        let portText: Substring
        if rest.first == "[" {
            guard let close = rest.firstIndex(of: "]") else { throw UsageError("unterminated IPv6 address in \(text)") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let afterClose = rest[rest.index(after: close)...]
            guard afterClose.first == ":" else { throw UsageError("missing port in \(text)") }
            portText = afterClose.dropFirst()
        } else {
            guard let colon = rest.lastIndex(of: ":") else { throw UsageError("missing port in \(text)") }
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        }
        guard !host.isEmpty else { throw UsageError("missing host in \(text)") }
        guard let port = UInt16(portText), port != 0 else { throw UsageError("invalid port \"\(portText)\" in \(text)") }
        self.scheme = scheme
        self.host = String(host)
        self.port = port
        self.resource = resource
    }

    /// The `Host` header value (§4.1: host, and the port when it is not the scheme's default; we always send it).
    var hostHeader: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    var description: String {
        scheme == .tcp ? "tcp://\(hostHeader)" : "\(scheme.rawValue)://\(hostHeader)\(resource)"
    }

    /// Whether the connection speaks RFC 6455 (ws or wss).
    var isWebSocket: Bool { scheme != .tcp }

    /// Whether the connection starts with a TLS handshake.
    var isTLS: Bool { scheme == .wss }

    /// Whether a numeric address (as `SocketAddress.host` prints it) is on the loopback interface.
    static func isLoopback(numericHost host: String) -> Bool {
        host.hasPrefix("127.") || host == "::1" || host.hasPrefix("::ffff:127.")
    }
}

/// A command-line mistake: printed with the usage hint, exit status 2.
struct UsageError: Error, Equatable, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}
