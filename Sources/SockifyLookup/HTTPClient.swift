// A minimal blocking HTTP/1.1 client for token APIs (websockify's BaseTokenAPI and JSONTokenApi, reference
// §2.3): one GET per connection, bounded in time and size. It runs on a lookup thread, never on a reactor.
import SockifyReactor

/// Sends `GET` requests to `http://` URLs and returns status and body.
///
/// Each request opens its own connection and sends `Connection: close` (token API calls are rare next to the
/// traffic they unlock). Redirects are not followed: a 3xx comes back as it is, like any other status. websockify
/// accepts only 2xx bodies; that decision belongs to the caller.
public struct HTTPClient: Sendable {
    /// The largest body accepted; a longer one fails the request (default 64 KiB).
    public var maxBodyByteCount: Int
    /// The `User-Agent` header value.
    public var userAgent: String

    /// Size of each receive.
    private static let receiveSize = 16 << 10

    /// Creates a client.
    public init(maxBodyByteCount: Int = 64 << 10, userAgent: String = "sockify") {
        self.maxBodyByteCount = maxBodyByteCount
        self.userAgent = userAgent
    }

    /// `GET url`, giving up after `timeout` (connect, request and the whole response together).
    /// - Parameter url: `http://host[:port]/path?query` (see `HTTPURL`); `https://` fails with `.tlsUnavailable`.
    /// - Returns: the final status code (after any `1xx`) and the body, with chunked transfer coding removed.
    /// - Throws: `HTTPClientError`.
    public func get(url: String, timeout: Duration = .seconds(2)) throws(HTTPClientError) -> (
        status: Int, body: [UInt8]
    ) {
        try get(url: url, deadline: .after(timeout))
    }

    /// `GET url`, giving up at `deadline`.
    public func get(url: String, deadline: Deadline) throws(HTTPClientError) -> (status: Int, body: [UInt8]) {
        let (left, overflowed) = deadline.uptimeMilliseconds.subtractingReportingOverflow(MonotonicClock.milliseconds())
        let budget = Duration.milliseconds(overflowed ? 0 : left)  // for the "timed out after" text
        let parsed = try HTTPURL(parsing: url)
        func failure(_ reason: HTTPClientError.Reason) -> HTTPClientError {
            HTTPClientError(endpoint: parsed.endpoint, reason: reason)
        }
        func socketFailure(_ error: BlockingSocketError) -> HTTPClientError {
            switch error {
            case .timedOut: failure(.timedOut(after: budget))
            case .system(let errno): failure(.system(errno))
            }
        }
        let address: SocketAddress
        do { address = try SocketAddress.resolve(host: parsed.host, port: parsed.port) } catch {
            throw failure(.resolution(error.message))
        }
        let socket: BlockingSocket
        do { socket = try BlockingSocket.connect(to: address, deadline: deadline) } catch { throw socketFailure(error) }
        defer { socket.close() }
        do { try socket.sendAll(request(for: parsed), deadline: deadline) } catch { throw socketFailure(error) }
        var parser = HTTPResponseParser(maxBodyByteCount: maxBodyByteCount)
        // Bounded: each round receives at least one byte (the parser caps head and body) or ends the loop.
        while true {
            let bytes: [UInt8]
            do { bytes = try socket.receive(upTo: Self.receiveSize, deadline: deadline) } catch {
                throw socketFailure(error)
            }
            do {
                if bytes.isEmpty {
                    try parser.consumeEndOfStream()
                    break
                }
                if try parser.consume(bytes) { break }
            } catch {
                throw failure(.response(error))
            }
        }
        // A complete parser always has a status: completion happens only after a final status line.
        return (parser.status ?? 0, parser.body)
    }

    /// The request bytes: `GET <target> HTTP/1.1` with `Host`, `User-Agent`, `Accept` and `Connection: close`.
    private func request(for url: HTTPURL) -> [UInt8] {
        let agent = userAgent.filter { $0 != "\r" && $0 != "\n" }
        let head =
            "GET \(url.target) HTTP/1.1\r\nHost: \(url.hostHeader)\r\nUser-Agent: \(agent)\r\n"
            + "Accept: */*\r\nConnection: close\r\n\r\n"
        return Array(head.utf8)
    }
}
