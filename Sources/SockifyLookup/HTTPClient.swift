// A minimal blocking HTTP/1.1 client for token APIs (websockify's BaseTokenAPI and JSONTokenApi, reference
// §2.3): one GET per connection, bounded in time and size, over TCP or TLS. It runs on a lookup thread, never on a
// reactor.
import SockifyReactor

/// Sends `GET` requests to `http://` and `https://` URLs and returns status and body.
///
/// Each request opens its own connection and sends `Connection: close` (token API calls are rare next to the
/// traffic they unlock). Redirects are not followed: a 3xx comes back as it is, like any other status. websockify
/// accepts only 2xx bodies; that decision belongs to the caller.
///
/// `https://` verifies the server as websockify's `requests.get` does: the chain against the system's CAs
/// (`SSL_CERT_FILE` and `SSL_CERT_DIR` override them, as OpenSSL reads them) and the certificate against the URL's
/// host (a DNS name, or an IP literal against the certificate's IP SANs). TLS writes are OpenSSL's own, which do not
/// pass `MSG_NOSIGNAL`: the process must ignore `SIGPIPE`, as the `sockify` CLI does.
public struct HTTPClient: Sendable {
    /// The largest body accepted; a longer one fails the request (default 64 KiB).
    public var maxBodyByteCount: Int
    /// The `User-Agent` header value.
    public var userAgent: String
    /// The TLS client context for `https://`, made on first use and shared by copies of this client.
    private let tlsContext: HTTPTLSContextCache

    /// Size of each receive.
    private static let receiveSize = 16 << 10

    /// The TLS settings `https://` uses unless told otherwise: verification against the system's CAs, and no
    /// kernel TLS (a request is a few hundred bytes each way; setting up kernel offload would cost more than it
    /// saves).
    public static var defaultTLSSettings: TLSClientSettings {
        var settings = TLSClientSettings()
        settings.kernelTLS = false
        return settings
    }

    /// Creates a client.
    /// - Parameter tls: how `https://` servers are verified (tests pass their own CA file here).
    public init(
        maxBodyByteCount: Int = 64 << 10, userAgent: String = "sockify", tls: TLSClientSettings = defaultTLSSettings
    ) {
        self.maxBodyByteCount = maxBodyByteCount
        self.userAgent = userAgent
        tlsContext = HTTPTLSContextCache(settings: tls)
    }

    /// The settings `https://` requests use.
    public var tlsSettings: TLSClientSettings { tlsContext.settings }

    /// `GET url`, giving up after `timeout` (connect, TLS handshake, request and the whole response together).
    /// - Parameter url: `http[s]://host[:port]/path?query` (see `HTTPURL`).
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
        func transportFailure(_ error: HTTPTransportError) -> HTTPClientError {
            switch error {
            case .socket(.timedOut): failure(.timedOut(after: budget))
            case .socket(.system(let errno)): failure(.system(errno))
            case .tls(let message): failure(.tls(message))
            }
        }
        var tls: (context: TLSClientContext, serverName: String)?
        if parsed.scheme == .https {
            do { tls = (try tlsContext.get(), parsed.host) } catch { throw failure(.tls("TLS setup failed: \(error)")) }
        }
        let address: SocketAddress
        do { address = try SocketAddress.resolve(host: parsed.host, port: parsed.port) } catch {
            throw failure(.resolution(error.message))
        }
        let connection: HTTPConnection
        do { connection = try HTTPConnection.open(to: address, tls: tls, deadline: deadline) } catch {
            throw transportFailure(error)
        }
        defer { connection.close() }
        do { try connection.sendAll(request(for: parsed), deadline: deadline) } catch { throw transportFailure(error) }
        var parser = HTTPResponseParser(maxBodyByteCount: maxBodyByteCount)
        // Bounded: each round receives at least one byte (the parser caps head and body) or ends the loop.
        while true {
            let bytes: [UInt8]
            do { bytes = try connection.receive(upTo: Self.receiveSize, deadline: deadline) } catch {
                throw transportFailure(error)
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
