// A best-effort message sender for `--syslog`: a local syslog socket (`/dev/log`) or a UDP collector. Modelled on
// Python's `logging.handlers.SysLogHandler` (3.11), which websockify subclasses, except that a send never blocks.
import Glibc
import Synchronization

/// Sends whole messages to a syslog daemon and never blocks the caller: a message that cannot go out at once is
/// dropped and counted.
///
/// Destinations, as Python's `SysLogHandler` reaches them:
/// - a **Unix socket path**: a datagram socket connected to the path; if that fails (the path is a stream socket,
///   `EPROTOTYPE`), a stream socket instead. The first kind that connects is kept for the life of the sender.
///   A failed connect at start is not an error (syslogd may start later): every send first reconnects, and a send
///   that fails (syslogd restarted: `ECONNREFUSED`) reconnects and retries once.
/// - **UDP** `host:port`: resolved once, here, with `getaddrinfo(3)`; the first address whose socket can be
///   created is used, unconnected, with `sendto(2)`.
///
/// A datagram send either takes the whole message or fails (`EAGAIN` when the daemon's queue is full): the message
/// is then dropped. On a stream socket a short write leaves the unsent tail of the message in a bounded queue that
/// goes out before the next message, so messages never interleave or lose their framing; when the queue is full the
/// new message is dropped whole.
///
/// All methods are thread-safe (several reactor threads log at once); sends are serialised by a lock held for one
/// non-blocking syscall or two.
public final class DatagramSocket: Sendable {
    /// How messages currently travel.
    public enum Transport: Sendable, Equatable {
        case unixDatagram
        case unixStream
        case udp
    }

    /// The most bytes waiting on a stream socket; a message that would exceed it is dropped.
    public static let streamQueueLimit = 64 * 1024

    private enum Destination {
        case unixPath(SocketAddress)
        case udp(SocketAddress)
    }

    private struct State {
        var fd: CInt = -1
        /// Set by the first successful connect; later reconnects use the same kind (Python keeps `self.socktype`).
        var transport: Transport?
        /// Stream only: bytes accepted from callers but not yet written, and the end offset of each message in it.
        var queued: [UInt8] = []
        var queuedEnds: [Int] = []
        var dropped = 0
    }

    private let destination: Destination
    private let state: Mutex<State>
    /// Every send: never block, never raise SIGPIPE (a vanished stream peer gives `EPIPE`).
    private static let sendFlags = CInt(MSG_DONTWAIT | MSG_NOSIGNAL)
    private static let socketFlags = CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue)

    /// A sender to the local socket at `path` (made absolute by the caller). Tries to connect at once; failing to is
    /// not an error, because the daemon may appear later.
    /// - Throws: `ENAMETOOLONG` if `path` does not fit a Unix socket address (108 bytes).
    public init(unixPath path: String) throws(Errno) {
        destination = .unixPath(try SocketAddress(unixPath: path))
        state = Mutex(State())
        state.withLock { connectUnix(&$0) }
    }

    private init(udp address: SocketAddress, fd: CInt) {
        destination = .udp(address)
        state = Mutex(State(fd: fd, transport: .udp))
    }

    /// A sender to UDP `host:port`, resolved now and never again.
    ///
    /// `port` is handed to `getaddrinfo(3)` as decimal text, as CPython does, so out-of-range values behave as they
    /// do in websockify (glibc wraps 70000 to 4464; −1 fails). The host is used verbatim: `[::1]` (with brackets) does
    /// not resolve, as in websockify.
    /// - Throws: `ResolutionError` when the name does not resolve or no socket of a resolved family can be created.
    public static func udp(host: String, port: Int) throws(ResolutionError) -> DatagramSocket {
        var hints = addrinfo()
        hints.ai_socktype = CInt(SOCK_DGRAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = host.utf8.contains(0) ? EAI_NONAME : getaddrinfo(host, String(port), &hints, &result)
        guard rc == 0, let first = result else {
            throw ResolutionError(message: String(cString: gai_strerror(rc)), code: rc)
        }
        defer { freeaddrinfo(result) }
        var lastError = Errno(rawValue: EAFNOSUPPORT)
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | socketFlags, info.pointee.ai_protocol)
            if fd != -1 {
                var address = SocketAddress()
                withUnsafeMutableBytes(of: &address.storage) { dst in
                    dst.copyMemory(
                        from: UnsafeRawBufferPointer(start: info.pointee.ai_addr, count: Int(info.pointee.ai_addrlen)))
                }
                address.length = info.pointee.ai_addrlen
                return DatagramSocket(udp: address, fd: fd)
            }
            lastError = Errno.current
            cursor = info.pointee.ai_next
        }
        throw ResolutionError(message: String(cString: strerror(lastError.rawValue)), code: lastError.rawValue)
    }

    deinit {
        state.withLock { state in
            if state.fd != -1 { Sockets.close(state.fd) }
        }
    }

    /// How messages travel now: `nil` while a Unix socket has never connected.
    public var transport: Transport? { state.withLock { $0.transport } }

    /// The socket's descriptor now, or nil while none is connected. A daemonizing fork that closes every other
    /// descriptor must keep this one (`Daemon.daemonize(keeping:)`); if it did not, a later open could reuse the
    /// number and log lines would be written into that file.
    public var descriptor: CInt? { state.withLock { $0.fd == -1 ? nil : $0.fd } }

    /// The messages dropped so far: not sent because the daemon was absent or busy, or queued on a stream that
    /// then failed.
    public var droppedMessages: Int { state.withLock { $0.dropped } }

    /// The address messages go to (`host:port`, `[v6]:port`, or the socket path).
    public var address: SocketAddress {
        switch destination {
        case .unixPath(let address), .udp(let address): return address
        }
    }

    /// Sends one message without blocking.
    ///
    /// - Parameters:
    ///   - message: the whole message.
    ///   - streamTerminator: a byte appended when the transport is a stream (syslog's `\n` framing,
    ///     RFC 6587 §3.4.2); datagrams carry their own boundaries and get nothing.
    /// - Returns: whether the message was sent or queued; `false` means it was dropped (and counted).
    @discardableResult
    public func send(_ message: UnsafeRawBufferPointer, streamTerminator: UInt8? = nil) -> Bool {
        state.withLock { state in
            if state.fd == -1 {
                guard case .unixPath = destination else { return drop(&state) }
                connectUnix(&state)
                if state.fd == -1 { return drop(&state) }
            }
            switch state.transport {
            case .udp?:
                guard case .udp(let address) = destination else { return drop(&state) }
                let n = address.withSockaddr { sa, length in
                    retryingOnInterrupt {
                        sendto(state.fd, message.baseAddress, message.count, Self.sendFlags, sa, length)
                    }
                }
                return n == message.count ? true : drop(&state)
            case .unixDatagram?:
                let err = sendDatagram(state.fd, message)
                if err == 0 { return true }
                // Python reconnects on any send error and tries once more, except that a full queue (EAGAIN) or an
                // oversized message is not the connection's fault and a reconnect would not help.
                if err == EAGAIN || err == EWOULDBLOCK || err == EMSGSIZE { return drop(&state) }
                reconnectUnix(&state)
                if state.fd != -1, sendDatagram(state.fd, message) == 0 { return true }
                return drop(&state)
            case .unixStream?:
                return sendStream(&state, message, terminator: streamTerminator)
            case nil:
                return drop(&state)
            }
        }
    }

    // MARK: - Unix sockets

    /// Sends one datagram; returns 0, or the errno of the failure.
    private func sendDatagram(_ fd: CInt, _ message: UnsafeRawBufferPointer) -> CInt {
        let n = retryingOnInterrupt { Glibc.send(fd, message.baseAddress, message.count, Self.sendFlags) }
        return n == -1 ? errno : 0
    }

    /// Queues the message behind any unsent bytes and writes as much as the socket takes now.
    private func sendStream(_ state: inout State, _ message: UnsafeRawBufferPointer, terminator: UInt8?) -> Bool {
        let length = message.count + (terminator == nil ? 0 : 1)
        guard state.queued.count + length <= Self.streamQueueLimit else { return drop(&state) }
        state.queued.append(contentsOf: message)
        if let terminator { state.queued.append(terminator) }
        state.queuedEnds.append(state.queued.count)
        if flushStream(&state) { return true }
        // The connection failed: what was queued is lost. Reconnect and send this message alone, as Python does.
        state.dropped += max(0, state.queuedEnds.count - 1)
        state.queued.removeAll(keepingCapacity: true)
        state.queuedEnds.removeAll(keepingCapacity: true)
        reconnectUnix(&state)
        guard state.fd != -1, length <= Self.streamQueueLimit else { return drop(&state) }
        state.queued.append(contentsOf: message)
        if let terminator { state.queued.append(terminator) }
        state.queuedEnds.append(state.queued.count)
        if flushStream(&state) { return true }
        state.queued.removeAll(keepingCapacity: true)
        state.queuedEnds.removeAll(keepingCapacity: true)
        return drop(&state)
    }

    /// Writes queued bytes until the queue is empty or the socket is full. Returns `false` on a connection error.
    private func flushStream(_ state: inout State) -> Bool {
        while !state.queued.isEmpty {
            let fd = state.fd
            let (n, err) = state.queued.withUnsafeBytes { bytes in
                let n = retryingOnInterrupt { Glibc.send(fd, bytes.baseAddress, bytes.count, Self.sendFlags) }
                return (n, n == -1 ? errno : 0)
            }
            if n == -1 { return err == EAGAIN || err == EWOULDBLOCK }
            state.queued.removeFirst(n)
            state.queuedEnds = state.queuedEnds.compactMap { $0 > n ? $0 - n : nil }
        }
        return true
    }

    private func reconnectUnix(_ state: inout State) {
        if state.fd != -1 { Sockets.close(state.fd) }
        state.fd = -1
        connectUnix(&state)
    }

    /// Connects to the Unix path with the kept transport, or datagram then stream when none has worked yet.
    private func connectUnix(_ state: inout State) {
        guard case .unixPath(let address) = destination else { return }
        let kinds: [Transport] = state.transport.map { [$0] } ?? [.unixDatagram, .unixStream]
        for kind in kinds {
            let type = kind == .unixStream ? SOCK_STREAM : SOCK_DGRAM
            let fd = socket(AF_UNIX, CInt(type.rawValue) | Self.socketFlags, 0)
            if fd == -1 { continue }
            // A non-blocking Unix connect completes at once or fails (EAGAIN: the listener's backlog is full).
            let rc = address.withSockaddr { sa, length in retryingOnInterrupt { connect(fd, sa, length) } }
            if rc == 0 {
                state.fd = fd
                state.transport = kind
                return
            }
            Sockets.close(fd)
        }
    }

    private func drop(_ state: inout State) -> Bool {
        state.dropped += 1
        return false
    }
}
