// Why a Redis request failed, worded for one log line: `Redis at 127.0.0.1:6379: connection refused`.
import SockifyReactor

/// A failed Redis request: which server, and what went wrong.
public struct RedisError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Reason: Error, Hashable, Sendable, CustomStringConvertible {
        /// The host name did not resolve (getaddrinfo's message).
        case resolution(String)
        /// The kernel refused the connection or failed it (`connection refused`, `connection reset by peer`, …).
        case system(Errno)
        /// The request's deadline passed (covering connect, `AUTH`, `SELECT` and the command itself).
        case timedOut(after: Duration)
        /// The server closed the connection before its reply was complete.
        case connectionClosed
        /// The server answered the command with an error reply (`-ERR …`, `-WRONGPASS …`).
        case server(command: String, message: String)
        /// The reply was not valid RESP2, or exceeded the parser's limits.
        case protocolViolation(String)
        /// A valid reply of a kind the command cannot return (`GET` answered with an integer, say).
        case unexpectedReply(String)

        public var description: String {
            switch self {
            case .resolution(let message): "cannot resolve host: \(message)"
            case .system(let errno): errno.message
            case .timedOut(let budget): "timed out after \(timeoutText(budget))"
            case .connectionClosed: "connection closed by the server"
            case .server(let command, let message): "\(command) failed: \(message)"
            case .protocolViolation(let detail): "protocol error: \(detail)"
            case .unexpectedReply(let detail): "unexpected reply: \(detail)"
            }
        }

        /// Whether a kept-open connection died under the request, so that one retry on a new connection is
        /// worth it (the server restarted, or closed an idle client). Timeouts are not: the server is slow.
        var meansBrokenConnection: Bool {
            switch self {
            case .connectionClosed: true
            case .system(let errno): [.connectionReset, .brokenPipe, .connectionAborted].contains(errno)
            default: false
            }
        }
    }

    /// The server, as `host:port` or a Unix socket path.
    public var endpoint: String
    /// What went wrong.
    public var reason: Reason

    /// Creates an error.
    public init(endpoint: String, reason: Reason) {
        self.endpoint = endpoint
        self.reason = reason
    }

    /// `Redis at <endpoint>: <reason>`.
    public var description: String { "Redis at \(endpoint): \(reason)" }
}
