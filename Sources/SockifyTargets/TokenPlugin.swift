// The one shape every token plugin has, so the CLI can call them uniformly, and the pieces websockify's plugins share:
// the messages they log before answering "not found", and how `websocketproxy.py:51-57` turns their `(host, port)`
// answer into a target.

/// A websockify token plugin: maps a token to a target (`BasePlugin.lookup`, `token_plugins.py:29-34`).
///
/// The three answers websockify distinguishes (reference §2.2):
/// - a ``TargetAddress``: connect to it;
/// - `nil`: the CLI logs `<ip>: Token '<token>' not found` and closes the connection. A plugin that logs its own
///   message first (JWTTokenApi's `Token has expired!`) sends it to the log it was created with, then returns `nil`;
/// - a thrown ``TokenLookupError``: ``TokenLookupError/pluginFailure(_:)`` is logged as `handler exception: <message>`;
///   ``TokenLookupError/unresolvableTarget(host:port:)`` fails at connect time (101, then Close 1011).
///
/// Lookups may block on file I/O; call them off the reactor threads.
public protocol TokenPlugin: Sendable {
    /// Resolves one token.
    ///
    /// - Parameter token: the token from ``TokenQuery``.
    /// - Returns: the target, or `nil` for "not found".
    /// - Throws: ``TokenLookupError`` where websockify's plugin raises.
    func lookup(_ token: String) throws(TokenLookupError) -> TargetAddress?
}

extension TokenFileTable: TokenPlugin {}

/// websockify's `BasePlugin`: every token is "not found".
public struct BaseTokenPlugin: TokenPlugin {
    public init() {}

    /// Always `nil`.
    public func lookup(_ token: String) throws(TokenLookupError) -> TargetAddress? { nil }
}

/// A line a token plugin logs, at the level websockify's plugin logs it.
public struct TokenPluginMessage: Hashable, Sendable, CustomStringConvertible {
    /// Python `logging` levels the plugins use.
    public enum Level: Hashable, Sendable, Comparable {
        case debug, info, warning, error
    }

    public var level: Level
    /// The text, e.g. `Token has expired!`.
    public var text: String

    public init(_ level: Level, _ text: String) {
        self.level = level
        self.text = text
    }

    public var description: String { text }
}

/// Where a plugin sends the lines it logs.
public typealias TokenPluginLog = @Sendable (TokenPluginMessage) -> Void

/// Why a token format produced no target: either websockify's plugin logs a message and answers "not found", or
/// it fails the lookup.
public enum TokenPluginError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The plugin logs the message and returns `None` (then `Token '<t>' not found` is logged too).
    case declined(TokenPluginMessage)
    /// The plugin raises, or its target cannot be resolved.
    case failed(TokenLookupError)

    public var description: String {
        switch self {
        case .declined(let message): message.text
        case .failed(let error): error.description
        }
    }

    /// The answer a ``TokenPlugin`` gives for this error: logs a declined message and returns `nil`, or rethrows.
    ///
    /// - Parameter log: receives the declined message.
    /// - Returns: `nil` for ``declined(_:)``.
    /// - Throws: the ``TokenLookupError`` of ``failed(_:)``.
    public func answer(log: TokenPluginLog) throws(TokenLookupError) -> TargetAddress? {
        switch self {
        case .declined(let message):
            log(message)
            return nil
        case .failed(let error):
            throw error
        }
    }
}

/// How websockify turns a plugin's `(host, port)` into a connection (`websocketproxy.py:51-57`, `socket()`).
public enum PluginTarget {
    /// The target for a textual `(host, port)` pair: host `unix_socket` means the port is a socket path
    /// (compared by scalars, as Python does); otherwise the port must be a numeric service (see
    /// ``TokenFileTarget``), or the lookup fails at connect time.
    ///
    /// - Parameters:
    ///   - host: the host text, used as is (no brackets removed).
    ///   - port: the port text.
    /// - Returns: the target.
    /// - Throws: ``TokenLookupError/unresolvableTarget(host:port:)`` for a port that is not a number in 0…65535.
    public static func address(host: String, port: String) throws(TokenLookupError) -> TargetAddress {
        if host.unicodeScalars.elementsEqual("unix_socket".unicodeScalars) { return .unixSocket(path: port) }
        guard let number = TokenFileTarget.numericService(port) else {
            throw .unresolvableTarget(host: host, port: port)
        }
        return .tcp(host: host, port: number)
    }

    /// The target for JSON `host` and `port` values (JSONTokenApi, JWTTokenApi), which websockify passes to
    /// `getaddrinfo` as the Python objects they decode to.
    ///
    /// - A string port is read as in ``address(host:port:)``; an integer port must be in 0…65535; `true`/`false`
    ///   are Python's `1`/`0`.
    /// - Anything else (a fractional port, a non-string host, `null`) cannot be resolved. websockify differs only
    ///   for a `null` host, which `getaddrinfo` reads as the loopback address; Sockify refuses it.
    ///
    /// - Throws: ``TokenLookupError/unresolvableTarget(host:port:)``.
    public static func address(host: JSONValue, port: JSONValue) throws(TokenLookupError) -> TargetAddress {
        let portText: String
        switch port {
        case .string(let text): portText = text
        case .bool(let flag): portText = flag ? "1" : "0"
        case .number(let number) where number.integer != nil: portText = number.text
        default: throw .unresolvableTarget(host: render(host), port: render(port))
        }
        guard case .string(let hostText) = host else {
            throw .unresolvableTarget(host: render(host), port: portText)
        }
        if case .string = port {
        } else if hostText.unicodeScalars.elementsEqual("unix_socket".unicodeScalars) {
            throw .unresolvableTarget(host: hostText, port: portText)  // connect(5900) on AF_UNIX: TypeError
        }
        return try address(host: hostText, port: portText)
    }

    /// A JSON value as a short text for messages.
    static func render(_ value: JSONValue) -> String {
        switch value {
        case .null: "None"
        case .bool(let flag): flag ? "True" : "False"
        case .number(let number): number.text
        case .string(let text): text
        case .array: "<list>"
        case .object: "<dict>"
        }
    }
}
