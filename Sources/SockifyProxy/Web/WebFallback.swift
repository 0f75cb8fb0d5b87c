// Answers to plain HTTP requests when there is no `--web` (reference/websockify.md §4.2): websockify's handler has
// `only_upgrade` set, so GET and HEAD are 405 and every other method is Python's 501 "Unsupported method".
import SockifyProtocol

/// Responses for non-upgrade requests without `--web`.
public enum WebFallback {
    /// The whole response (Python `send_error`, always `Connection: close`) to a request that is not a WebSocket
    /// upgrade when no web root is configured.
    ///
    /// GET gets 405 "Method Not Allowed" with the HTML error page; HEAD gets the same head without the page; any
    /// other method (including POST with `Upgrade: websocket`) gets 501 `Unsupported method ('POST')` with the page.
    /// Method names are case-sensitive, as in Python (`get` is 501).
    /// - Parameters:
    ///   - head: the parsed request head.
    ///   - now: seconds since the epoch, for the `Date` header.
    ///   - serverName: the `Server` header value.
    /// - Returns: the complete response text; the connection closes after it.
    public static func respond(to head: HTTPRequestHead, now: Int64, serverName: String) -> String {
        let date = HTTPDate.format(secondsSinceEpoch: now)
        switch head.method {
        case "GET", "HEAD":
            return HTTPResponse.error(
                status: 405, reason: HTTPResponse.standardReason(405), serverName: serverName, date: date,
                extraHeaders: [], includeBody: head.method == "GET")
        default:
            return unsupportedMethod(head.method, serverName: serverName, date: date)
        }
    }

    /// Python's `send_error(501, "Unsupported method (%r)" % command)`, body included (the method is never HEAD).
    static func unsupportedMethod(_ method: String, serverName: String, date: String) -> String {
        HTTPResponse.error(
            status: 501, reason: "Unsupported method (\(WebPath.pythonRepr(method)))", serverName: serverName,
            date: date, extraHeaders: [], includeBody: true)
    }
}
