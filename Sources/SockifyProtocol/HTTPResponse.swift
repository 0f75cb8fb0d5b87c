// HTTP error responses in the exact shape of Python's http.server `send_error`, which websockify answers with.

/// Builds HTTP/1.1 error responses byte-compatible with websockify's (reference §4.2).
public enum HTTPResponse {
    /// Python's `DEFAULT_ERROR_MESSAGE` template (http/server.py), with the same indentation and final newline.
    private static func errorPage(status: Int, message: String, explanation: String) -> String {
        """
        <!DOCTYPE HTML>
        <html lang="en">
            <head>
                <meta charset="utf-8">
                <title>Error response</title>
            </head>
            <body>
                <h1>Error response</h1>
                <p>Error code: \(status)</p>
                <p>Message: \(message).</p>
                <p>Error code explanation: \(status) - \(explanation).</p>
            </body>
        </html>

        """
    }

    /// An error response as Python's `send_error(status, reason)` writes it.
    ///
    /// Layout: `HTTP/1.1 <status> <reason>`, `Server`, `Date`, `Connection: close`, `Content-Type:
    /// text/html;charset=utf-8`, `Content-Length`, then `extraHeaders` in order, an empty line, and the HTML page
    /// (message and explanation HTML-escaped). Python sends no body, Content-Type or Content-Length for 1xx, 204,
    /// 205 and 304; neither does this.
    ///
    /// - Parameters:
    ///   - status: The status code.
    ///   - reason: The reason phrase and page message; `nil` for ``standardReason(_:)``.
    ///   - serverName: The `Server` value (websockify sends `WebSockify Python/3.11.7`).
    ///   - date: The `Date` value, an IMF-fixdate (``HTTPDate/format(secondsSinceEpoch:)``).
    ///   - extraHeaders: Further headers, e.g. `("Sec-WebSocket-Version", "13")`.
    ///   - includeBody: `false` for a response to HEAD: the headers still announce the page's length.
    /// - Returns: The whole response; header lines end in CRLF.
    public static func error(
        status: Int,
        reason: String?,
        serverName: String,
        date: String,
        extraHeaders: [(String, String)],
        includeBody: Bool
    ) -> String {
        let message = reason ?? standardReason(status)
        // Python's status line uses the message as the reason phrase; CR/LF in it would split the response.
        let statusReason = String(message.unicodeScalars.map { $0 == "\r" || $0 == "\n" ? " " : Character($0) })
        var response = "HTTP/1.1 \(status) \(statusReason)\r\nServer: \(serverName)\r\nDate: \(date)\r\n"
        response += "Connection: close\r\n"
        var body = ""
        if status >= 200 && status != 204 && status != 205 && status != 304 {
            body = errorPage(status: status, message: escapeHTML(message), explanation: escapeHTML(explanation(status)))
            response += "Content-Type: text/html;charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\n"
        }
        for (name, value) in extraHeaders { response += "\(name): \(value)\r\n" }
        response += "\r\n"
        if includeBody { response += body }
        return response
    }

    /// The answer to a request an auth plugin refused, shaped like websockify's `send_auth_error`: status line,
    /// `Server`, `Date`, `Content-Type: text/html`, the plugin's headers, and no body. Unlike websockify it also says
    /// `Content-Length: 0` and `Connection: close`, so a client need not wait for the close to see the end.
    public static func authenticationError(
        status: Int, reason: String, serverName: String, date: String, extraHeaders: [(String, String)]
    ) -> String {
        let statusReason = String(reason.unicodeScalars.map { $0 == "\r" || $0 == "\n" ? " " : Character($0) })
        var response = "HTTP/1.1 \(status) \(statusReason)\r\nServer: \(serverName)\r\nDate: \(date)\r\n"
        response += "Content-Type: text/html\r\n"
        for (name, value) in extraHeaders { response += "\(name): \(value)\r\n" }
        response += "Content-Length: 0\r\nConnection: close\r\n\r\n"
        return response
    }

    /// The standard reason phrase of a status code (Python's `HTTPStatus` phrases), or `"???"` if unknown.
    public static func standardReason(_ status: Int) -> String { phrases(status).reason }

    /// Python's long explanation of a status code, used in the error page.
    static func explanation(_ status: Int) -> String { phrases(status).explanation }

    private static func phrases(_ status: Int) -> (reason: String, explanation: String) {
        switch status {
        case 101: ("Switching Protocols", "Switching to new protocol; obey Upgrade header")
        case 200: ("OK", "Request fulfilled, document follows")
        case 204: ("No Content", "Request fulfilled, nothing follows")
        case 301: ("Moved Permanently", "Object moved permanently -- see URI list")
        case 302: ("Found", "Object moved temporarily -- see URI list")
        case 304: ("Not Modified", "Document has not changed since given time")
        case 400: ("Bad Request", "Bad request syntax or unsupported method")
        case 401: ("Unauthorized", "No permission -- see authorization schemes")
        case 403: ("Forbidden", "Request forbidden -- authorization will not help")
        case 404: ("Not Found", "Nothing matches the given URI")
        case 405: ("Method Not Allowed", "Specified method is invalid for this resource")
        case 408: ("Request Timeout", "Request timed out; try again later")
        case 413: ("Request Entity Too Large", "Entity is too large")
        case 414: ("Request-URI Too Long", "URI is too long")
        case 426: ("Upgrade Required", "")
        case 429:
            ("Too Many Requests", "The user has sent too many requests in a given amount of time (\"rate limiting\")")
        case 431:
            (
                "Request Header Fields Too Large",
                "The server is unwilling to process the request because its header fields are too large"
            )
        case 500: ("Internal Server Error", "Server got itself in trouble")
        case 501: ("Not Implemented", "Server does not support this operation")
        case 502: ("Bad Gateway", "Invalid responses from another server/proxy")
        case 503: ("Service Unavailable", "The server cannot process the request due to a high load")
        case 504: ("Gateway Timeout", "The gateway server did not receive a timely response")
        case 505: ("HTTP Version Not Supported", "Cannot fulfill request")
        default: ("???", "???")
        }
    }

    /// Python's `html.escape(s, quote=False)`: `&`, `<` and `>`.
    private static func escapeHTML(_ s: String) -> String {
        var escaped = ""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
