// Typed wrappers over the socket syscalls the proxy uses. EINTR is retried here; EAGAIN and EOF are values.
import CSockify
import Glibc

/// Non-blocking socket operations on raw descriptors. Every descriptor this module creates is non-blocking and
/// close-on-exec. Ownership stays with the caller: whoever receives an fd closes it exactly once with `close(_:)`.
public enum Sockets {
    /// Creates a listening TCP socket bound to `address`.
    /// The corresponding C calls are `socket(2)`, `setsockopt(2)`, `bind(2)` and `listen(2)`.
    /// - Parameters:
    ///   - reusePort: set `SO_REUSEPORT` so that every reactor can own a listener on the same port.
    ///   - backlog: the `listen(2)` backlog.
    @inline(never)
    public static func listen(on address: SocketAddress, reusePort: Bool, backlog: CInt = 4096) throws(Errno) -> CInt {
        let fd = socket(address.family, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard fd != -1 else { throw Errno.current }
        var one: CInt = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size))
        if reusePort { setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<CInt>.size)) }
        if address.family != CInt(AF_UNIX) {
            // websockify sets SO_KEEPALIVE on the listener; accepted sockets inherit it.
            setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, socklen_t(MemoryLayout<CInt>.size))
        }
        let bound = address.withSockaddr { Glibc.bind(fd, $0, $1) }
        if bound == -1 {
            let err = Errno.current
            Glibc.close(fd)
            throw err
        }
        if Glibc.listen(fd, backlog) == -1 {
            let err = Errno.current
            Glibc.close(fd)
            throw err
        }
        return fd
    }

    /// Creates a listening Unix-domain stream socket at `path` with permissions `mode`, replacing any file there
    /// (websockify unlinks it first and binds under `umask(0o777 ^ mode)`).
    /// The corresponding C calls are `unlink(2)`, `socket(2)`, `bind(2)`, `chmod(2)` and `listen(2)`.
    public static func listenUnix(path: String, mode: UInt32, backlog: CInt = 4096) throws(Errno) -> CInt {
        let address = try SocketAddress(unixPath: path)
        _ = unlink(path)
        let fd = try listen(on: address, reusePort: false, backlog: backlog)
        if chmod(path, mode_t(mode)) == -1 {
            let err = Errno.current
            Glibc.close(fd)
            throw err
        }
        return fd
    }

    /// Makes an inherited descriptor (inetd mode: a listening socket on standard input) non-blocking and
    /// close-on-exec. The corresponding C call is `fcntl(2)`.
    public static func adoptListener(_ fd: CInt) throws(Errno) {
        let flags = fcntl(fd, F_GETFL)
        guard flags != -1, fcntl(fd, F_SETFL, flags | O_NONBLOCK) != -1 else { throw Errno.current }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        var accepting: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) == 0, accepting != 0 else {
            throw Errno(rawValue: EINVAL)
        }
    }

    /// The address a socket is bound to. The corresponding C call is `getsockname(2)`.
    public static func localAddress(_ fd: CInt) throws(Errno) -> SocketAddress {
        var address = SocketAddress()
        address.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &address.storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &address.length) }
        }
        guard rc == 0 else { throw Errno.current }
        return address
    }

    /// Accepts one connection, non-blocking and close-on-exec. Returns `nil` when the queue is empty.
    /// The corresponding C call is `accept4(2)`.
    /// - Throws: per-connection errors (`ECONNABORTED`, `EMFILE`, …); the caller logs and keeps listening.
    @inline(never)
    public static func accept(_ listener: CInt) throws(Errno) -> (fd: CInt, peer: SocketAddress)? {
        var peer = SocketAddress()
        peer.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let flags = CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue)
        let fd = withUnsafeMutablePointer(to: &peer.storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                retryingOnInterrupt { CSockify_accept4(listener, sa, &peer.length, flags) }
            }
        }
        if fd == -1 {
            let err = errno
            if err == EAGAIN || err == EWOULDBLOCK { return nil }
            preconditionIsNotProgrammerError(err, "accept4")
            throw Errno(rawValue: err)
        }
        return (fd, peer)
    }

    /// The peer of a connected socket (`getpeername(2)`); an empty address when the call fails. Used for sockets
    /// accepted by io_uring's multishot accept, which reports only the descriptor.
    public static func peerAddress(_ fd: CInt) -> SocketAddress {
        var peer = SocketAddress()
        peer.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &peer.storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &peer.length) }
        }
        if rc != 0 { peer = SocketAddress() }
        return peer
    }

    /// Starts a non-blocking connect. Returns the socket; completion is signalled by writability, then
    /// `pendingError(_:)` tells the outcome. The corresponding C calls are `socket(2)` and `connect(2)`.
    @inline(never)
    public static func connect(to address: SocketAddress) throws(Errno) -> CInt {
        let fd = socket(address.family, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard fd != -1 else { throw Errno.current }
        let rc = address.withSockaddr { Glibc.connect(fd, $0, $1) }
        if rc == -1 && errno != EINPROGRESS && errno != EINTR {
            let err = Errno.current
            Glibc.close(fd)
            throw err
        }
        return fd
    }

    /// The socket's pending error (`SO_ERROR`), used to learn how a non-blocking connect ended.
    public static func pendingError(_ fd: CInt) -> Errno? {
        var value: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) == 0 else { return Errno.current }
        return value == 0 ? nil : Errno(rawValue: value)
    }

    /// Disables Nagle's algorithm (websockify sets it on both sides of a TCP relay).
    public static func setNoDelay(_ fd: CInt) {
        var one: CInt = 1
        setsockopt(fd, CInt(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<CInt>.size))
    }

    /// Enables TCP keepalive with the kernel's default timers (websockify does this for targets).
    public static func setKeepAlive(_ fd: CInt) {
        var one: CInt = 1
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, socklen_t(MemoryLayout<CInt>.size))
    }

    /// Reads up to `count` bytes. The corresponding C call is `recv(2)`.
    @inline(never)
    public static func receive(_ fd: CInt, into buffer: UnsafeMutableRawPointer, count: Int) throws(Errno) -> IOStatus {
        try receive(fd, into: buffer, count: count, flags: 0)
    }

    /// `recv(2)` with `flags`, its result as an `IOStatus`.
    @inline(__always)
    private static func receive(
        _ fd: CInt, into buffer: UnsafeMutableRawPointer, count: Int, flags: CInt
    ) throws(Errno) -> IOStatus {
        let n = retryingOnInterrupt { recv(fd, buffer, count, flags) }
        if n > 0 { return .transferred(n) }
        if n == 0 { return .endOfStream }
        let err = errno
        if err == EAGAIN || err == EWOULDBLOCK { return .wouldBlock }
        preconditionIsNotProgrammerError(err, "recv")
        throw Errno(rawValue: err)
    }

    /// Copies up to `count` waiting bytes without consuming them. The corresponding C call is `recv(2)` with
    /// `MSG_PEEK`.
    public static func peek(_ fd: CInt, into buffer: UnsafeMutableRawPointer, count: Int) throws(Errno) -> IOStatus {
        try receive(fd, into: buffer, count: count, flags: CInt(MSG_PEEK))
    }

    /// Looks at the next byte without consuming it (how one port tells TLS from plain HTTP).
    /// The corresponding C call is `recv(2)` with `MSG_PEEK`.
    public static func peekByte(_ fd: CInt) throws(Errno) -> (status: IOStatus, byte: UInt8) {
        var byte: UInt8 = 0
        let status = try peek(fd, into: &byte, count: 1)
        return (status, byte)
    }

    /// Writes up to `count` bytes without raising SIGPIPE. The corresponding C call is `send(2)` with `MSG_NOSIGNAL`.
    @inline(never)
    public static func send(_ fd: CInt, from buffer: UnsafeRawPointer, count: Int) throws(Errno) -> IOStatus {
        let n = retryingOnInterrupt { Glibc.send(fd, buffer, count, CInt(MSG_NOSIGNAL)) }
        if n >= 0 { return .transferred(n) }
        let err = errno
        if err == EAGAIN || err == EWOULDBLOCK { return .wouldBlock }
        preconditionIsNotProgrammerError(err, "send")
        throw Errno(rawValue: err)
    }

    /// Writes the given ranges in one call without raising SIGPIPE.
    /// The corresponding C call is `sendmsg(2)` with `MSG_NOSIGNAL` (a `writev(2)` that cannot raise SIGPIPE).
    @inline(never)
    public static func send(_ fd: CInt, vectors: UnsafeMutablePointer<iovec>, count: Int) throws(Errno) -> IOStatus {
        var message = msghdr()
        message.msg_iov = vectors
        message.msg_iovlen = count
        let n = retryingOnInterrupt { sendmsg(fd, &message, CInt(MSG_NOSIGNAL)) }
        if n >= 0 { return .transferred(n) }
        let err = errno
        if err == EAGAIN || err == EWOULDBLOCK { return .wouldBlock }
        preconditionIsNotProgrammerError(err, "sendmsg")
        throw Errno(rawValue: err)
    }

    /// Writes the byte ranges `base[starts[i]..<ends[i]]` for `i` in `indices` (at most 16) with one `sendmsg`.
    /// This is how client payload leaves for the target without being copied together first.
    @inline(__always)
    public static func send(
        _ fd: CInt, base: UnsafeMutableRawPointer, starts: UnsafeBufferPointer<Int32>, ends: UnsafeBufferPointer<Int32>,
        indices: Range<Int>
    ) throws(Errno) -> IOStatus {
        precondition(indices.count <= 16 && indices.upperBound <= starts.count, "gather list of \(indices) ranges")
        return try withUnsafeTemporaryAllocation(of: iovec.self, capacity: 16) { vectors throws(Errno) in
            for (slot, i) in indices.enumerated() {
                let start = Int(starts[i])
                vectors[slot] = iovec(iov_base: base + start, iov_len: Int(ends[i]) - start)
            }
            return try send(fd, vectors: vectors.baseAddress!, count: indices.count)
        }
    }

    /// Copies up to `count` bytes of `file` from `offset` to the socket inside the kernel, advancing `offset`.
    /// The corresponding C call is `sendfile(2)`.
    @inline(never)
    public static func sendFile(_ fd: CInt, file: CInt, offset: inout Int, count: Int) throws(Errno) -> IOStatus {
        var off = off_t(offset)
        let n = retryingOnInterrupt { sendfile(fd, file, &off, count) }
        if n >= 0 {
            offset = Int(off)
            return n == 0 ? .endOfStream : .transferred(n)
        }
        let err = errno
        if err == EAGAIN || err == EWOULDBLOCK { return .wouldBlock }
        preconditionIsNotProgrammerError(err, "sendfile")
        throw Errno(rawValue: err)
    }

    /// Half-closes the write side, so the peer reads EOF after what was sent. The corresponding C call is `shutdown(2)`.
    public static func shutdownWrite(_ fd: CInt) {
        _ = Glibc.shutdown(fd, CInt(SHUT_WR))
    }

    /// Closes a descriptor. EINTR is not retried: on Linux the fd is released either way.
    /// The corresponding C call is `close(2)`.
    public static func close(_ fd: CInt) {
        let rc = Glibc.close(fd)
        if rc == -1 { preconditionIsNotProgrammerError(errno, "close") }
    }
}
