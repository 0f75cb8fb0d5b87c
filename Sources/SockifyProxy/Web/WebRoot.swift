// The `--web DIR` static file server: decides the response to a plain HTTP request the way websockify's
// SimpleHTTPRequestHandler (Python 3.11) does (reference/websockify.md §4.2, §4.8). No socket I/O happens here.
import SockifyProtocol
import SockifyReactor

/// The document root of `--web DIR`, and whether directories without an index get a listing (`--file-only` off).
public struct WebRoot: Sendable {
    /// The absolute root directory, without a trailing slash (unless it is `/`).
    public let directory: String
    /// False under `--file-only`: a directory without `index.html`/`index.htm` is then 404 "Not Found".
    public let allowsListing: Bool

    /// - Parameters:
    ///   - directory: the root, already made absolute by the caller; trailing slashes are ignored.
    ///   - allowsListing: whether to list directories that have no index file.
    public init(directory: String, allowsListing: Bool) {
        var trimmed = Substring(directory)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.directory = String(trimmed)
        self.allowsListing = allowsListing
    }
}

/// What the connection sends for one non-upgrade request.
public enum WebResponse {
    /// Send `head`, then `byteCount` bytes of `file` from offset 0 with `sendfile(2)`; then `close()` the file.
    /// Only a 200 to GET takes this form; `byteCount` is 0 for an empty file.
    case file(head: String, file: FileSystem.OpenFile, byteCount: Int)
    /// Send this whole response (head + body, or only the head for HEAD and 304).
    case complete(String)

    /// True when the response carries `Connection: close`: every error (Python's `send_error` always closes), and
    /// any response built with `keepAlive: false`. The connection must then close after sending, whatever the
    /// request asked for.
    public var closesConnection: Bool {
        let text: String
        switch self {
        case .file(let head, _, _): text = head
        case .complete(let whole): text = whole
        }
        // Only the head is searched; a file name in a listing body cannot fake the header.
        let head = text.utf8.firstRange(of: "\r\n\r\n".utf8).map { text.utf8[..<$0.lowerBound] } ?? text.utf8[...]
        return head.firstRange(of: "\r\nConnection: close".utf8) != nil
    }
}

extension WebRoot {
    /// Decides the response to a non-upgrade request. Never touches sockets.
    ///
    /// The steps are `SimpleHTTPRequestHandler.send_head`'s: methods other than GET and HEAD get 501; the target is
    /// translated (`WebPath.translate`, so no path can leave the root except through a symbolic link inside it); a
    /// directory without a trailing slash gets 301 to the same target with `/` added to its path; a directory serves
    /// `index.html`, then `index.htm`, then a listing (or 404 under `--file-only`); a file that is missing, cannot be
    /// opened, or is named with a trailing slash is 404 "File not found"; `If-Modified-Since` (ignored when
    /// `If-None-Match` is present) not older than the file's mtime gives 304. Unlike Python, a FIFO, socket or
    /// device is 404 rather than served (Python would block on a FIFO or stream `/dev/zero` forever).
    /// - Parameters:
    ///   - head: the parsed request head; its target is used as sent (`//` collapsed to `/` as Python 3.11 does).
    ///   - now: seconds since the epoch, for the `Date` header.
    ///   - serverName: the `Server` header value.
    ///   - keepAlive: whether the caller keeps the connection for another request; written into the `Connection`
    ///     header of non-error responses. Error responses always say `Connection: close` (see
    ///     `WebResponse.closesConnection`).
    /// - Returns: the response; a `.file` owns an open descriptor that the caller must close.
    public func respond(to head: HTTPRequestHead, now: Int64, serverName: String, keepAlive: Bool) -> WebResponse {
        let date = HTTPDate.format(secondsSinceEpoch: now)
        let isHead: Bool
        switch head.method {
        case "GET": isHead = false
        case "HEAD": isHead = true
        default: return .complete(WebFallback.unsupportedMethod(head.method, serverName: serverName, date: date))
        }
        let builder = WebResponseHead(serverName: serverName, date: date, keepAlive: keepAlive)
        func error(_ status: Int, _ reason: String) -> WebResponse {
            .complete(
                HTTPResponse.error(
                    status: status, reason: reason, serverName: serverName, date: date, extraHeaders: [],
                    includeBody: !isHead))
        }

        let target = WebPath.collapsingLeadingSlashes(head.target)
        var path = WebPath.translate(target, root: directory)

        if (try? FileSystem.status(path))?.isDirectory == true {
            guard WebPath.pathPart(target).hasSuffix("/") else {
                // "redirect browser - doing basically what apache does" (http/server.py)
                return .complete(
                    builder.head(
                        status: 301, [("Location", WebPath.addingSlashToPath(target)), ("Content-Length", "0")]))
            }
            let indexPath = ["index.html", "index.htm"].lazy.map { path + $0 }.first {
                (try? FileSystem.status($0))?.isRegularFile == true
            }
            if let indexPath {
                path = indexPath
            } else {
                guard allowsListing else { return error(404, HTTPResponse.standardReason(404)) }
                guard let page = WebDirectoryListing.page(directory: path, target: target) else {
                    return error(404, "No permission to list directory")
                }
                let listingHead = builder.head(
                    status: 200,
                    [("Content-type", "text/html; charset=utf-8"), ("Content-Length", String(page.utf8.count))])
                return .complete(isHead ? listingHead : listingHead + page)
            }
        }

        // Issue17324: a trailing slash on a file name is 404, even where the OS would accept it.
        if path.hasSuffix("/") { return error(404, "File not found") }
        // Python answers every OSError of open() (ENOENT, EACCES, ELOOP, …) with the same 404.
        guard let file = try? FileSystem.openReadOnly(path) else { return error(404, "File not found") }
        guard let status = try? FileSystem.status(of: file), status.isRegularFile else {
            file.close()
            return error(404, "File not found")
        }

        if let modifiedSince = head.header("If-Modified-Since"), head.header("If-None-Match") == nil,
            let since = HTTPDate.parse(modifiedSince), status.modificationTime <= since
        {
            file.close()
            return .complete(builder.head(status: 304, []))
        }

        let okHead = builder.head(
            status: 200,
            [
                ("Content-type", WebMIMEType.guess(path)),
                ("Content-Length", String(status.byteCount)),
                ("Last-Modified", HTTPDate.format(secondsSinceEpoch: status.modificationTime)),
            ])
        if isHead {
            file.close()
            return .complete(okHead)
        }
        return .file(head: okHead, file: file, byteCount: status.byteCount)
    }
}

/// Status line and headers of a non-error response, in Python's order: `Server`, `Date`, then ours.
struct WebResponseHead {
    let serverName: String
    let date: String
    let keepAlive: Bool

    func head(status: Int, _ headers: [(String, String)]) -> String {
        var text = "HTTP/1.1 \(status) \(HTTPResponse.standardReason(status))\r\n"
        text += "Server: \(serverName)\r\nDate: \(date)\r\n"
        text += keepAlive ? "Connection: keep-alive\r\n" : "Connection: close\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        return text + "\r\n"
    }
}
