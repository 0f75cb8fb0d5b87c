// A client socket for request/response exchanges that may wait, but never longer than a deadline. For lookup
// threads (Redis, HTTP token APIs), never for reactor threads.
import CSockify
import Glibc

/// A point in monotonic time (`CLOCK_MONOTONIC`, millisecond resolution) after which an operation gives up.
///
/// One deadline usually covers a whole exchange (connect, request, reply), so the total time is bounded no
/// matter how many syscalls it takes.
public struct Deadline: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// `MonotonicClock.milliseconds()` at which the deadline passes.
    public let uptimeMilliseconds: Int64

    /// A deadline at the given monotonic time.
    public init(uptimeMilliseconds: Int64) { self.uptimeMilliseconds = uptimeMilliseconds }

    /// The deadline `timeout` from now. Negative timeouts give a deadline that has already passed.
    public static func after(_ timeout: Duration) -> Deadline {
        let (sum, overflowed) = MonotonicClock.milliseconds().addingReportingOverflow(wholeMilliseconds(timeout))
        return Deadline(uptimeMilliseconds: overflowed ? (timeout > .zero ? .max : .min) : sum)
    }

    /// `duration` in whole milliseconds, rounded towards zero and saturating at the `Int64` range.
    private static func wholeMilliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (scaled, overflowed) = seconds.multipliedReportingOverflow(by: 1000)
        let (total, carried) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000_000_000)
        if overflowed || carried { return seconds < 0 ? .min : .max }
        return total
    }

    /// Whether the deadline is now or in the past.
    public var hasPassed: Bool { MonotonicClock.milliseconds() >= uptimeMilliseconds }

    /// Milliseconds left (0 once passed), clamped to what `poll(2)` accepts.
    public var remainingMilliseconds: CInt {
        let now = MonotonicClock.milliseconds()
        let (left, overflowed) = uptimeMilliseconds.subtractingReportingOverflow(now)
        if overflowed { return uptimeMilliseconds < now ? 0 : .max }
        return CInt(clamping: max(0, left))
    }

    public static func < (lhs: Deadline, rhs: Deadline) -> Bool { lhs.uptimeMilliseconds < rhs.uptimeMilliseconds }

    public var description: String { "Deadline(in \(uptimeMilliseconds &- MonotonicClock.milliseconds()) ms)" }
}

extension Errno {
    /// `ECONNABORTED`: the connection was aborted locally (a kept-open request/response connection that died).
    public static let connectionAborted = Errno(rawValue: ECONNABORTED)

    /// The `strerror(3)` text alone, starting lower-case as a log line continues it: `connection refused`.
    public var message: String {
        let text = String(cString: strerror(rawValue))
        guard let first = text.first else { return "errno \(rawValue)" }
        // Only "Connection refused"-style capitals are lowered; acronyms such as "I/O error" stay as they are.
        let second = text.dropFirst().first
        if first.isUppercase, second.map({ $0.isLowercase }) ?? true {
            return first.lowercased() + text.dropFirst()
        }
        return text
    }
}

/// Why a `BlockingSocket` operation failed.
public enum BlockingSocketError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The deadline passed before the operation could finish. The exchange is out of step; close the socket.
    case timedOut
    /// The kernel reported an error (`ECONNREFUSED`, `ECONNRESET`, `EPIPE`, …).
    case system(Errno)

    /// `timed out` or the lower-case `strerror` text (`connection refused`).
    public var description: String {
        switch self {
        case .timedOut: "timed out"
        case .system(let errno): errno.message
        }
    }
}

/// A connected stream socket (TCP or Unix) whose operations wait for readiness with `poll(2)`, each bounded by a
/// `Deadline`.
///
/// The descriptor itself stays non-blocking, so no call can outlive its deadline. The socket is for one thread
/// at a time (it is not `Sendable`); it closes its descriptor when closed explicitly or deinitialised.
public final class BlockingSocket {
    /// The descriptor, or −1 once closed.
    public private(set) var fd: CInt
    /// The address this socket was connected to.
    public let peer: SocketAddress

    private init(fd: CInt, peer: SocketAddress) {
        self.fd = fd
        self.peer = peer
    }

    deinit { close() }

    /// Connects to `address`, waiting at most until `deadline`. TCP sockets get `TCP_NODELAY`, since every
    /// exchange is a small request followed by a wait for the answer.
    /// The corresponding C calls are `socket(2)`, `connect(2)`, `poll(2)` and `getsockopt(2)` with `SO_ERROR`.
    /// - Throws: `.timedOut`, or `.system` with the connect error (`ECONNREFUSED`, `ENOENT` for a missing Unix
    ///   socket, `EAGAIN` for a Unix listener whose queue is full, …).
    public static func connect(to address: SocketAddress, deadline: Deadline) throws(BlockingSocketError)
        -> BlockingSocket
    {
        let fd: CInt
        do { fd = try Sockets.connect(to: address) } catch { throw .system(error) }
        let socket = BlockingSocket(fd: fd, peer: address)  // closes fd on every error path below
        try socket.waitFor(CShort(POLLOUT), deadline: deadline)
        if let error = Sockets.pendingError(fd) { throw .system(error) }
        if address.family != CInt(AF_UNIX) { Sockets.setNoDelay(fd) }
        return socket
    }

    /// Whether the socket is still open (not yet closed by `close()`).
    public var isOpen: Bool { fd != -1 }

    /// Closes the descriptor. Calling it again does nothing.
    public func close() {
        guard fd != -1 else { return }
        Sockets.close(fd)
        fd = -1
    }

    /// Sends every byte of `bytes`, waiting for buffer space as needed.
    /// The corresponding C calls are `send(2)` with `MSG_NOSIGNAL` and `poll(2)`.
    /// - Throws: `.timedOut` if bytes are still unsent at `deadline`; `.system(EPIPE/ECONNRESET/…)`.
    public func sendAll(_ bytes: UnsafeRawBufferPointer, deadline: Deadline) throws(BlockingSocketError) {
        precondition(isOpen, "sendAll on a closed BlockingSocket")
        var offset = 0
        while offset < bytes.count {
            let status: IOStatus
            do {
                status = try Sockets.send(fd, from: bytes.baseAddress! + offset, count: bytes.count - offset)
            } catch { throw .system(error) }
            switch status {
            case .transferred(let n): offset += n
            case .wouldBlock: try waitFor(CShort(POLLOUT), deadline: deadline)
            case .endOfStream: throw .system(.brokenPipe)  // send(2) does not report EOF; kept for exhaustiveness
            }
        }
    }

    /// Sends every byte of `bytes` (see `sendAll(_:deadline:)` for a buffer).
    public func sendAll(_ bytes: [UInt8], deadline: Deadline) throws(BlockingSocketError) {
        let outcome = bytes.withUnsafeBytes { raw in
            Result { () throws(BlockingSocketError) in try sendAll(raw, deadline: deadline) }
        }
        try outcome.get()
    }

    /// Receives at least one and at most `buffer.count` bytes, waiting until some arrive.
    /// The corresponding C calls are `recv(2)` and `poll(2)`.
    /// - Returns: the number of bytes received; 0 means the peer closed its side (end of stream), or that
    ///   `buffer` is empty.
    /// - Throws: `.timedOut` if nothing arrived by `deadline`; `.system(ECONNRESET/…)`.
    public func receive(into buffer: UnsafeMutableRawBufferPointer, deadline: Deadline) throws(BlockingSocketError)
        -> Int
    {
        precondition(isOpen, "receive on a closed BlockingSocket")
        guard buffer.count > 0 else { return 0 }
        while true {
            let status: IOStatus
            do { status = try Sockets.receive(fd, into: buffer.baseAddress!, count: buffer.count) } catch {
                throw .system(error)
            }
            switch status {
            case .transferred(let n): return n
            case .endOfStream: return 0
            case .wouldBlock: try waitFor(CShort(POLLIN), deadline: deadline)
            }
        }
    }

    /// Receives at least one and at most `maxCount` bytes, waiting until some arrive.
    /// - Returns: the bytes; an empty array means end of stream.
    public func receive(upTo maxCount: Int, deadline: Deadline) throws(BlockingSocketError) -> [UInt8] {
        guard maxCount > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: maxCount)
        // Array's pointer accessors only rethrow untyped errors; carrying a Result keeps the throw typed.
        let outcome = bytes.withUnsafeMutableBytes { raw in
            Result { () throws(BlockingSocketError) in try receive(into: raw, deadline: deadline) }
        }
        bytes.removeSubrange(try outcome.get()...)
        return bytes
    }

    /// Whether the peer has closed, reset or sent unsolicited bytes since the last exchange. A request/response
    /// connection kept for reuse is stale when this is true: send nothing on it, reconnect instead.
    /// The corresponding C call is `poll(2)` with a zero timeout.
    public var hasPendingInputOrHangup: Bool {
        guard isOpen else { return true }
        var entry = pollfd(fd: fd, events: CShort(POLLIN), revents: 0)
        let rc = retryingOnInterrupt { poll(&entry, 1, 0) }
        return rc != 0  // readable, hung up, in error, or poll itself failed: none of them is a healthy idle socket
    }

    /// Waits until the socket is writable (`writable`) or readable, or in error or hung up (which the next call on
    /// it reports), giving up at `deadline`. For protocols layered on the descriptor that do their own reads and
    /// writes, such as a `TLSStream` that returned `.wouldBlock` (pass its `wantsWritable`).
    /// The corresponding C call is `poll(2)`.
    /// - Throws: `.timedOut` if the socket is not ready by `deadline` (readiness already there still counts).
    public func waitUntilReady(writable: Bool, deadline: Deadline) throws(BlockingSocketError) {
        precondition(isOpen, "waitUntilReady on a closed BlockingSocket")
        try waitFor(CShort(writable ? POLLOUT : POLLIN), deadline: deadline)
    }

    /// Waits until `events` (or an error/hang-up, which the next syscall reports) or the deadline.
    private func waitFor(_ events: CShort, deadline: Deadline) throws(BlockingSocketError) {
        var entry = pollfd(fd: fd, events: events, revents: 0)
        while true {
            // Time is re-read on every round, so EINTR and spurious wake-ups cannot stretch the deadline.
            let remaining = deadline.remainingMilliseconds
            if remaining == 0 {
                // One last non-waiting look: readiness that is already there still counts.
                if poll(&entry, 1, 0) > 0 { return }
                throw .timedOut
            }
            let rc = poll(&entry, 1, remaining)
            if rc > 0 { return }
            if rc == -1 {
                let err = errno
                if err == EINTR { continue }
                preconditionIsNotProgrammerError(err, "poll")
                throw .system(Errno(rawValue: err))
            }
            // rc == 0: poll's own timeout ran out; the loop re-checks the deadline (ms rounding can end it early).
        }
    }
}
