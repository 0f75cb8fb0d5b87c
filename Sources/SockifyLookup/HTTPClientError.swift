// Why a token API request failed, worded for one log line: `HTTP server at 127.0.0.1:8080: timed out after 2s`.
import SockifyReactor

/// A failed HTTP request: which server (when one was reached for), and what went wrong.
public struct HTTPClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Reason: Hashable, Sendable, CustomStringConvertible {
        /// The URL is not `http[s]://host[:port][/path][?query]`; carries the URL and what is wrong with it.
        case invalidURL(String, String)
        /// An `https://` request failed in TLS: the client context could not be set up (an unreadable CA file), the
        /// handshake failed (`TLS handshake failed: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed
        /// (unable to get local issuer certificate)`), or a read or write under TLS did. Carries the whole text.
        case tls(String)
        /// The host name did not resolve (getaddrinfo's message).
        case resolution(String)
        /// The kernel refused or failed the connection (`connection refused`, `connection reset by peer`, …).
        case system(Errno)
        /// The request's deadline passed (covering connect, request and the whole response).
        case timedOut(after: Duration)
        /// The response was malformed, too large, or cut short.
        case response(HTTPResponseParseError)

        public var description: String {
            switch self {
            case .invalidURL(let url, let why): "invalid URL '\(url)': \(why)"
            case .tls(let message): message
            case .resolution(let message): "cannot resolve host: \(message)"
            case .system(let errno): errno.message
            case .timedOut(let budget): "timed out after \(timeoutText(budget))"
            case .response(let error): error.description
            }
        }
    }

    /// The server as `host:port`, or `nil` when the URL was rejected before any connection.
    public var endpoint: String?
    /// What went wrong.
    public var reason: Reason

    /// Creates an error.
    public init(endpoint: String?, reason: Reason) {
        self.endpoint = endpoint
        self.reason = reason
    }

    /// `HTTP server at <endpoint>: <reason>`, or the reason alone for a rejected URL.
    public var description: String { endpoint.map { "HTTP server at \($0): \(reason)" } ?? reason.description }
}
