// Helpers for the io_uring tests: loopback sockets, bounded waits (poll, never sleep), and completion pumps.
import Glibc
import SockifyReactor
import Testing

/// A ring for a test, or a recorded failure naming why io_uring is unusable here (we fail loudly, not skip).
func makeTestRing(entries: UInt32 = 64) throws -> URing {
    let availability = URing.probe()
    guard availability.isAvailable else {
        Issue.record("\(availability); the io_uring suite needs it (docs/io_uring.md)")
        throw Errno(rawValue: ENOSYS)
    }
    return try URing(entries: entries)
}

/// Waits up to `milliseconds` for `fd` to have `events` (POLLIN/POLLOUT). The corresponding C call is `poll(2)`.
@discardableResult
func uringWait(_ fd: CInt, events: Int16 = Int16(POLLIN), milliseconds: CInt = 2000) -> Bool {
    var entry = pollfd(fd: fd, events: events, revents: 0)
    return poll(&entry, 1, milliseconds) == 1
}

/// A listening socket on 127.0.0.1 with an ephemeral port.
func uringListener() throws -> (fd: CInt, address: SocketAddress) {
    let fd = try Sockets.listen(on: SocketAddress.resolve(host: "127.0.0.1", port: 0, passive: true), reusePort: false)
    return (fd, try Sockets.localAddress(fd))
}

/// A connected loopback TCP pair (client, accepted server side), both non-blocking.
func uringTCPPair() throws -> (client: CInt, server: CInt) {
    let (listener, address) = try uringListener()
    defer { Sockets.close(listener) }
    let client = try Sockets.connect(to: address)
    guard uringWait(listener), let (server, _) = try Sockets.accept(listener) else {
        Sockets.close(client)
        throw Errno(rawValue: ETIMEDOUT)
    }
    return (client, server)
}

/// Writes all of `bytes` to a non-blocking socket, waiting (bounded) for room.
func uringWriteAll(_ fd: CInt, _ bytes: [UInt8]) throws {
    var offset = 0
    for _ in 0..<10_000 where offset < bytes.count {
        let status = try bytes.withUnsafeBytes { raw throws(Errno) in
            try Sockets.send(fd, from: raw.baseAddress! + offset, count: bytes.count - offset)
        }
        switch status {
        case .transferred(let n): offset += n
        case .wouldBlock, .endOfStream: #expect(uringWait(fd, events: Int16(POLLOUT)))
        }
    }
    #expect(offset == bytes.count)
}

/// Reads exactly `count` bytes from a non-blocking socket (bounded), or fewer if the peer closes.
func uringReadExactly(_ fd: CInt, _ count: Int) throws -> [UInt8] {
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    for _ in 0..<10_000 where result.count < count {
        let status = try chunk.withUnsafeMutableBytes { raw throws(Errno) in
            try Sockets.receive(fd, into: raw.baseAddress!, count: min(raw.count, count - result.count))
        }
        switch status {
        case .transferred(let n): result += chunk[0..<n]
        case .wouldBlock: guard uringWait(fd) else { return result }
        case .endOfStream: return result
        }
    }
    return result
}

/// Submits and collects completions until `done` says so or `attempts` waits of 100 ms pass.
func uringCollect(
    _ ring: URing, attempts: Int = 40, into completions: inout [URingCompletion],
    until done: ([URingCompletion]) -> Bool
) throws {
    for _ in 0..<attempts where !done(completions) {
        try ring.submitAndWait(minimumCompletions: 1, timeout: .milliseconds(100))
        ring.drainCompletions { completions.append($0) }
    }
}

/// Submits and collects completions until at least `count` have arrived (bounded).
func uringCollect(_ ring: URing, count: Int, attempts: Int = 40) throws -> [URingCompletion] {
    var completions: [URingCompletion] = []
    try uringCollect(ring, attempts: attempts, into: &completions) { $0.count >= count }
    return completions
}

/// A deterministic byte pattern that exposes reordering and loss (period 251, a prime).
func uringPattern(_ count: Int, seed: Int = 0) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: ($0 &+ seed) % 251) }
}
