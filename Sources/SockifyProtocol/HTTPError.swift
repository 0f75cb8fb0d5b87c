// An HTTP-level rejection of a request head or an opening handshake (RFC 9110 status codes, RFC 6455 §4.2.1).

/// A request that gets an HTTP error response instead of an upgrade.
///
/// ``reason`` is both the status line's reason phrase and the message in the error page, as in Python's
/// `send_error(status, reason)` which websockify uses (reference §4.3: "the reason phrase is the message").
/// Render it with ``HTTPResponse/error(status:reason:serverName:date:extraHeaders:includeBody:)``.
public struct HTTPError: Error, Equatable, Sendable {
    /// The HTTP status code, e.g. 400.
    public var status: Int
    /// The reason phrase and error-page message, e.g. "Missing Sec-WebSocket-Key header".
    public var reason: String
    /// Headers the response must carry besides the standard ones, e.g. `("Sec-WebSocket-Version", "13")` for 426.
    public var extraHeaders: [(String, String)]

    /// Creates an error; `reason` defaults to the status's standard phrase.
    public init(status: Int, reason: String? = nil, extraHeaders: [(String, String)] = []) {
        self.status = status
        self.reason = reason ?? HTTPResponse.standardReason(status)
        self.extraHeaders = extraHeaders
    }

    /// Equal when status, reason and every extra header (in order) are equal.
    public static func == (lhs: HTTPError, rhs: HTTPError) -> Bool {
        lhs.status == rhs.status && lhs.reason == rhs.reason
            && lhs.extraHeaders.elementsEqual(rhs.extraHeaders, by: { $0.0 == $1.0 && $0.1 == $1.1 })
    }
}
