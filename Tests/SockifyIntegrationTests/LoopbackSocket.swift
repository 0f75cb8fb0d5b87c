// Blocking loopback TCP sockets for the in-process targets and port probes (Glibc; never a non-loopback address).
import Foundation
import Glibc

/// Thin blocking-socket calls used by the test targets. Every socket gets send/receive timeouts, so no thread in
/// the harness can block forever on a proxy that stopped talking.
enum LoopbackSocket {
    /// The I/O timeout of every harness socket: longer than any test, shorter than forever.
    static let ioTimeoutSeconds = 70

    /// A listening socket on 127.0.0.1 (`port` 0 picks a free one). Returns the fd and the bound port.
    static func listen(port: UInt16 = 0, backlog: Int32 = 512) throws -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = loopback(port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, Glibc.listen(fd, backlog) == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw HarnessError("bind/listen 127.0.0.1:\(port): \(message)")
        }
        return (fd, try localPort(fd))
    }

    /// A port that was free a moment ago (bind 127.0.0.1:0, read it, close). Callers retry on a bind race.
    static func freePort() throws -> UInt16 {
        let (fd, port) = try listen()
        close(fd)
        return port
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port` right now.
    static func accepts(port: UInt16) -> Bool {
        guard let fd = try? connect(port: port) else { return false }
        close(fd)
        return true
    }

    /// Waits (bounded: 200 × 25 ms) until something accepts on 127.0.0.1:`port`; false if it never does or
    /// `process`, the program expected to listen, exits first.
    static func waitUntilAccepting(port: UInt16, while process: SpawnedProcess? = nil) async throws -> Bool {
        try await offload { () -> Bool in
            for _ in 0..<200 {
                if accepts(port: port) { return true }
                if let process, !process.isRunning { return false }
                usleep(25_000)  // bounded readiness poll of a separate process, not synchronisation
            }
            return false
        }
    }

    /// A connected socket to 127.0.0.1:`port`.
    static func connect(port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
        var address = loopback(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw HarnessError("connect 127.0.0.1:\(port): \(message)")
        }
        return fd
    }

    /// Applies the harness I/O timeouts to `fd`.
    static func applyTimeouts(_ fd: Int32) {
        var timeout = timeval(tv_sec: ioTimeoutSeconds, tv_usec: 0)
        let size = socklen_t(MemoryLayout<timeval>.size)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, size)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, size)
    }

    /// Sends all of `bytes`; false on error or timeout. `MSG_NOSIGNAL` keeps a closed peer from raising SIGPIPE.
    static func sendAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }

    /// One `recv`: the byte count, 0 on EOF, or nil on error/timeout (EINTR retried).
    static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        while true {
            let n = recv(fd, buffer.baseAddress!, buffer.count, 0)
            if n < 0 && errno == EINTR { continue }
            return n < 0 ? nil : n
        }
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }

    private static func localPort(_ fd: Int32) throws -> UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard result == 0 else { throw HarnessError("getsockname: \(String(cString: strerror(errno)))") }
        return UInt16(bigEndian: address.sin_port)
    }
}
