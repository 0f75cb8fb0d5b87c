// Where a connection is relayed to, and websockify's `[host:]port` / `host:port` argument syntax
// (`websocketproxy.py:675-712`, reference §1.3).

/// A resolved relay target: a TCP host and port, or a Unix domain socket path.
///
/// The host is kept as text (a name or a literal, never bracketed); resolving it is the caller's job, at connect
/// time, as websockify does.
public struct TargetAddress: Hashable, Sendable, CustomStringConvertible {
    /// The two kinds of target websockify can reach.
    public enum Kind: Hashable, Sendable {
        /// A TCP target. `host` is a name or an address literal without brackets (`::1`, not `[::1]`).
        case tcp(host: String, port: UInt16)
        /// An `AF_UNIX` stream socket. A relative path is resolved against the working directory at connect time.
        case unixSocket(path: String)
    }

    /// What kind of target this is.
    public var kind: Kind

    /// Creates a target of the given kind.
    public init(_ kind: Kind) {
        self.kind = kind
    }

    /// A TCP target.
    public static func tcp(host: String, port: UInt16) -> TargetAddress {
        TargetAddress(.tcp(host: host, port: port))
    }

    /// A Unix domain socket target.
    public static func unixSocket(path: String) -> TargetAddress {
        TargetAddress(.unixSocket(path: path))
    }

    /// websockify's rendering in log lines: `host:port` (no brackets, as in `connecting to: ::1:5900`) or the
    /// socket path.
    public var description: String {
        switch kind {
        case .tcp(let host, let port): "\(host):\(port)"
        case .unixSocket(let path): path
        }
    }
}

/// A `host:port` command-line argument, split the way websockify splits it.
///
/// websockify takes `arg.rsplit(':', 1)` and then `host.strip('[]')`, so `[::1]:6080` and `::1:6080` both mean
/// host `::1`. The port is converted with Python's `int()`, which also accepts ` 6080 `, `+6080`, `6_080` and
/// non-ASCII digits; websockify does **not** range-check it (a listen or target port outside 0…65535 only fails
/// later, at bind or connect time), so ``port`` is an `Int` and ``tcpPort`` does the range check.
public struct HostPort: Hashable, Sendable, CustomStringConvertible {
    /// The host with every leading and trailing `[`/`]` removed; empty means "all interfaces" for a listen
    /// address.
    public var host: String
    /// The port as Python's `int()` read it. Not range-checked (see the type's documentation).
    public var port: Int

    /// Creates a value directly.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// ``port`` if it is a valid TCP port (0…65535).
    public var tcpPort: UInt16? {
        UInt16(exactly: port)
    }

    /// `host:port` as websockify prints it (no brackets).
    public var description: String {
        "\(host):\(port)"
    }

    /// Parses the listen positional `[source_addr:]source_port` (`websocketproxy.py:675-689`).
    ///
    /// - Parameter argument: e.g. `6080`, `127.0.0.1:6080`, `[::1]:6080`, `::1:6080`.
    /// - Returns: the host (empty when no `:` is present) and port.
    /// - Throws: ``HostPortError/listenPort`` when the port is not a Python integer.
    public static func parseListen(_ argument: String) throws(HostPortError) -> HostPort {
        let (host, portText) = split(argument) ?? ("", Substring(argument))
        guard let port = PythonText.int(portText, radix: 10) else { throw .listenPort }
        return HostPort(host: host, port: port)
    }

    /// Parses the target positional `target_addr:target_port` (`websocketproxy.py:696-708`).
    ///
    /// - Parameter argument: e.g. `localhost:5900`, `[::1]:5900`.
    /// - Returns: the host and port.
    /// - Throws: ``HostPortError/target`` when there is no `:`, ``HostPortError/targetPort`` when the port is
    ///   not a Python integer.
    public static func parseTarget(_ argument: String) throws(HostPortError) -> HostPort {
        guard let (host, portText) = split(argument) else { throw .target }
        guard let port = PythonText.int(portText, radix: 10) else { throw .targetPort }
        return HostPort(host: host, port: port)
    }

    /// `rsplit(':', 1)` plus `host.strip('[]')`, or `nil` without a colon.
    private static func split(_ argument: String) -> (String, Substring)? {
        // Code points, not Characters: Python splits `":\u{301}"` too.
        let scalars = argument.unicodeScalars
        guard let colon = scalars.lastIndex(of: ":") else { return nil }
        var host = scalars[..<colon]
        while let first = host.first, first == "[" || first == "]" { host.removeFirst() }
        while let last = host.last, last == "[" || last == "]" { host.removeLast() }
        return (String(host), Substring(scalars[scalars.index(after: colon)...]))
    }
}

/// Why a `host:port` argument was rejected; ``message`` is websockify's exact text.
public enum HostPortError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A target argument without `:`.
    case target
    /// A target port that is not an integer.
    case targetPort
    /// A listen port that is not an integer.
    case listenPort

    /// websockify's `parser.error` message for this case.
    public var message: String {
        switch self {
        case .target: "Error parsing target"
        case .targetPort: "Error parsing target port"
        case .listenPort: "Error parsing listen port"
        }
    }

    public var description: String { message }
}
