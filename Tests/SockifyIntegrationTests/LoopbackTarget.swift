// In-process TCP targets behind the proxy: echo, pattern source and verifying sink (a thread per connection).
import Foundation
import Glibc

/// A TCP server on 127.0.0.1:0 standing in for a VNC server. Each accepted connection gets its own thread with
/// blocking I/O and the harness timeouts; `stop()` shuts every socket down so all threads end promptly.
final class LoopbackTarget: @unchecked Sendable {
    // @unchecked Sendable: the fds are immutable after init or guarded by `connections` (an Observed lock).

    enum Behavior: Sendable {
        /// Writes back everything it reads.
        case echo
        /// Writes `byteCount` pattern bytes (stream offset 0) as fast as it can, then closes.
        case source(byteCount: Int)
        /// Reads until EOF, verifying the pattern and keeping the first `captureLimit` bytes.
        case sink(captureLimit: Int)
    }

    /// What the target saw, summed over its connections.
    struct Stats: Sendable {
        var accepted = 0
        var open = 0
        var maxOpen = 0
        /// Connections that ended because the proxy closed its side (EOF seen by a reader).
        var peerEOFs = 0
        var finished = 0
        var bytesReceived = 0
        var bytesSent = 0
        /// First stream offset where a sink connection's bytes differed from the pattern.
        var mismatchOffset: Int?
        var captured: [UInt8] = []
        var errors: [String] = []
    }

    let port: UInt16
    let stats = Observed(Stats())
    private let behavior: Behavior
    private let listenFD: Int32
    private let connections = Observed<Set<Int32>>([])

    init(_ behavior: Behavior) throws {
        self.behavior = behavior
        (listenFD, port) = try LoopbackSocket.listen()
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// Waits until `predicate` holds for the stats; returns them (the caller asserts).
    func wait(timeout: Duration = .seconds(20), until predicate: @escaping @Sendable (Stats) -> Bool) async throws
        -> Stats
    {
        try await offload { [stats] in stats.wait(timeout: timeout, until: predicate).state }
    }

    /// Stops accepting and shuts down every open connection.
    func stop() {
        shutdown(listenFD, Int32(SHUT_RDWR))
        connections.update { open in
            for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    deinit { close(listenFD) }

    private func acceptLoop() {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return  // the listener was shut down by stop()
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)  // accept4 is GNU-only in Swift's Glibc module
            LoopbackSocket.applyTimeouts(fd)
            connections.update { $0.insert(fd) }
            stats.update {
                $0.accepted += 1
                $0.open += 1
                $0.maxOpen = max($0.maxOpen, $0.open)
            }
            Thread { [self] in
                serve(fd)
                connections.update { $0.remove(fd) }
                close(fd)
                stats.update {
                    $0.open -= 1
                    $0.finished += 1
                }
            }.start()
        }
    }

    private func serve(_ fd: Int32) {
        switch behavior {
        case .echo: echo(fd)
        case .source(let byteCount): source(fd, byteCount: byteCount)
        case .sink(let captureLimit): sink(fd, captureLimit: captureLimit)
        }
    }

    private func echo(_ fd: Int32) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            guard let n = LoopbackSocket.receive(fd, into: buffer) else { return record("echo: recv failed") }
            if n == 0 { return stats.update { $0.peerEOFs += 1 } }
            stats.update { $0.bytesReceived += n }
            guard LoopbackSocket.sendAll(fd, UnsafeRawBufferPointer(rebasing: buffer[0..<n])) else {
                return record("echo: send failed")
            }
            stats.update { $0.bytesSent += n }
        }
    }

    private func source(_ fd: Int32, byteCount: Int) {
        let chunk = 256 * 1024
        var offset = 0
        while offset < byteCount {
            let n = min(chunk, byteCount - offset)
            let sent = PatternStream.withWindow(offset: offset, count: n) { LoopbackSocket.sendAll(fd, $0) }
            guard sent else { return record("source: send failed at \(offset)") }
            offset += n
            stats.update { $0.bytesSent += n }
        }
        shutdown(fd, Int32(SHUT_WR))
    }

    private func sink(_ fd: Int32, captureLimit: Int) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        var offset = 0
        while true {
            guard let n = LoopbackSocket.receive(fd, into: buffer) else { return record("sink: recv failed") }
            if n == 0 { return stats.update { $0.peerEOFs += 1 } }
            let received = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            let mismatch = PatternStream.firstMismatch(offset: offset, in: received)
            stats.update {
                $0.bytesReceived += n
                if $0.mismatchOffset == nil { $0.mismatchOffset = mismatch }
                let room = captureLimit - $0.captured.count
                if room > 0 { $0.captured.append(contentsOf: received.prefix(room)) }
            }
            offset += n
        }
    }

    private func record(_ error: String) {
        stats.update { $0.errors.append("\(error): \(String(cString: strerror(errno)))") }
    }
}
