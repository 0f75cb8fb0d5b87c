// The byte stream under one token API request: the TCP socket itself (`http://`) or a TLS session over it
// (`https://`). Every call, the TLS handshake included, waits with poll(2) and gives up at the request's deadline.
import SockifyReactor
import Synchronization

/// Why an `HTTPConnection` call failed.
enum HTTPTransportError: Error {
    /// The deadline passed, or the socket failed (under TLS too: a reset reads as the socket's error).
    case socket(BlockingSocketError)
    /// TLS failed, worded for the log: `TLS handshake failed: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify
    /// failed (unable to get local issuer certificate)`.
    case tls(String)
}

/// One connection to an HTTP server, plain or TLS, for one thread at a time.
///
/// The TLS session reads and writes the non-blocking socket itself; whenever it cannot go on it says which
/// readiness it needs (`TLSStream.wantsWritable`), and the connection polls for that, bounded by the deadline. A
/// server that accepts TCP and then stalls the handshake therefore times out exactly like a plain server that never
/// answers. No close_notify is sent at the end (Python's `requests` sends none either): the request carries
/// `Connection: close` and the response is framed by HTTP, so the TCP close is the end.
final class HTTPConnection {
    private let socket: BlockingSocket
    private let tls: TLSStream?

    private init(socket: BlockingSocket, tls: TLSStream?) {
        self.socket = socket
        self.tls = tls
    }

    /// Connects to `address` and, with `tls`, completes the handshake: SNI for a host name, and (when the context
    /// verifies) the certificate checked against the system's or the given CAs and against `serverName` (a DNS
    /// name, or an IP literal against the certificate's IP SANs).
    /// - Throws: `.socket(.timedOut)` when connect or handshake are not done by `deadline`; `.socket(.system)`;
    ///   `.tls` for a failed handshake.
    static func open(
        to address: SocketAddress, tls: (context: TLSClientContext, serverName: String)?, deadline: Deadline
    ) throws(HTTPTransportError) -> HTTPConnection {
        let socket: BlockingSocket
        do { socket = try BlockingSocket.connect(to: address, deadline: deadline) } catch { throw .socket(error) }
        guard let tls else { return HTTPConnection(socket: socket, tls: nil) }  // the socket closes itself on throws
        let stream: TLSStream
        do { stream = try tls.context.makeStream(fd: socket.fd, serverName: tls.serverName) } catch {
            throw Self.failure("TLS setup failed", error)
        }
        let connection = HTTPConnection(socket: socket, tls: stream)
        // Bounded: each round either advances the handshake or waits, and waiting ends at the deadline.
        while true {
            let progress: TLSStream.Progress
            do { progress = try stream.handshake() } catch { throw Self.failure("TLS handshake failed", error) }
            if progress == .complete { return connection }
            try connection.wait(for: stream, deadline: deadline)
        }
    }

    /// Closes the socket (the TLS session is freed with the connection).
    func close() { socket.close() }

    /// Sends every byte of `bytes`.
    func sendAll(_ bytes: [UInt8], deadline: Deadline) throws(HTTPTransportError) {
        guard let tls else {
            do { try socket.sendAll(bytes, deadline: deadline) } catch { throw .socket(error) }
            return
        }
        var offset = 0
        while offset < bytes.count {
            // Array's pointer accessors only rethrow untyped errors; carrying a Result keeps the throw typed.
            // A `.wouldBlock` write is retried with the same bytes, as TLSStream requires.
            let outcome = bytes.withUnsafeBytes { raw in
                Result { () throws(TLSError) in
                    try tls.send(from: raw.baseAddress! + offset, count: raw.count - offset)
                }
            }
            switch outcome {
            case .success(.transferred(let n)): offset += n
            case .success(.wouldBlock): try wait(for: tls, deadline: deadline)
            case .success(.endOfStream): throw .socket(.system(.brokenPipe))  // the server's close_notify
            case .failure(let error): throw Self.failure("TLS write failed", error)
            }
        }
    }

    /// Receives at least one and at most `maxCount` (> 0) bytes; an empty array means end of stream (under TLS a
    /// close_notify or a bare TCP close: the HTTP framing tells a cut-short response).
    func receive(upTo maxCount: Int, deadline: Deadline) throws(HTTPTransportError) -> [UInt8] {
        guard let tls else {
            do { return try socket.receive(upTo: maxCount, deadline: deadline) } catch { throw .socket(error) }
        }
        var bytes = [UInt8](repeating: 0, count: maxCount)
        while true {
            let outcome = bytes.withUnsafeMutableBytes { raw in
                Result { () throws(TLSError) in try tls.receive(into: raw.baseAddress!, count: raw.count) }
            }
            switch outcome {
            case .success(.transferred(let n)):
                bytes.removeSubrange(n...)
                return bytes
            case .success(.endOfStream): return []
            case .success(.wouldBlock): try wait(for: tls, deadline: deadline)
            case .failure(let error): throw Self.failure("TLS read failed", error)
            }
        }
    }

    /// Waits for the readiness `stream` asked for. A TLS call that could not go on after the deadline has timed
    /// out; checking first also keeps bytes trickling in (each one a partial record) from stretching the exchange.
    private func wait(for stream: TLSStream, deadline: Deadline) throws(HTTPTransportError) {
        if deadline.hasPassed { throw .socket(.timedOut) }
        do { try socket.waitUntilReady(writable: stream.wantsWritable, deadline: deadline) } catch {
            throw .socket(error)
        }
    }

    /// `<stage>: <OpenSSL's reason>`, or the socket error's text (`TLS read failed: connection reset by peer`).
    /// TLSStream's own fallback texts already name the stage and are kept as they are.
    private static func failure(_ stage: String, _ error: TLSError) -> HTTPTransportError {
        if error.description.hasPrefix(stage) { return .tls(error.description) }
        return .tls("\(stage): \(error.errno?.message ?? error.description)")
    }
}

/// The client TLS context of an `HTTPClient`, made on first `https://` use (loading the system's CAs takes a few
/// milliseconds that `http://` users need not pay) and shared by every copy of the client and every thread
/// (`TLSClientContext.makeStream` is thread-safe).
final class HTTPTLSContextCache: Sendable {
    let settings: TLSClientSettings
    private let context = Mutex<TLSClientContext?>(nil)

    init(settings: TLSClientSettings) { self.settings = settings }

    /// The context, made now if need be. A failure (an unreadable CA file) is not cached: the next request retries.
    func get() throws(TLSError) -> TLSClientContext {
        try context.withLock { (slot: inout TLSClientContext?) throws(TLSError) -> TLSClientContext in
            if let made = slot { return made }
            let made = try TLSClientContext(settings: settings)
            slot = made
            return made
        }
    }
}
