// The reactor's io_uring backend on real loopback sockets: completion-mode receives (order, end of stream, stale
// completions after a handler left, an empty buffer ring, cancellation), writability polls, multishot accept, and
// closing a descriptor that has requests in flight.
import Glibc
import SockifyReactor
import Testing

/// Collects what a completion-mode handler is told; gives buffers back unless told to hold them.
final class ReceivingHandler: ReactorHandler {
    var events: [Readiness] = []
    var bytes: [UInt8] = []
    var ends: [ReceiveEnd] = []
    var held: [UnsafeMutableRawPointer] = []
    var holdsBuffers = false
    unowned let reactor: Reactor<ReceivingHandler>

    init(reactor: Reactor<ReceivingHandler>) { self.reactor = reactor }

    func ready(_ readiness: Readiness, tag: UInt8) { events.append(readiness) }

    func received(_ slot: UnsafeMutableRawPointer, count: Int, tag: UInt8) {
        bytes += UnsafeRawBufferPointer(start: slot + 16, count: count)
        if holdsBuffers { held.append(slot) } else { #expect(reactor.recycle(slot)) }
    }

    func receiveEnded(_ end: ReceiveEnd, tag: UInt8) { ends.append(end) }

    func releaseHeld() {
        for slot in held { #expect(reactor.recycle(slot)) }
        held.removeAll()
    }
}

/// An io_uring reactor for a test (a recorded failure when io_uring is unusable: we fail loudly, not skip).
func makeURingReactor(slotSize: Int = 4096 + 16, buffers: Int = 8) throws -> Reactor<ReceivingHandler> {
    let availability = URing.probe()
    guard availability.isAvailable else {
        Issue.record("\(availability); the io_uring reactor tests need it")
        throw Errno(rawValue: ENOSYS)
    }
    return try Reactor<ReceivingHandler>(
        tickInterval: 5, backend: .ioUring, receiveSlotSize: slotSize, receiveBufferCount: buffers)
}

/// Runs the loop on this thread until `condition` holds or `attempts` short rounds pass.
func step(_ reactor: Reactor<ReceivingHandler>, attempts: Int = 100, until condition: () -> Bool) {
    for _ in 0..<attempts where !condition() {
        reactor.execute { [weak reactor] in reactor?.stop() }
        reactor.run()
    }
}

@Suite("Reactor io_uring completions")
struct ReactorCompletionTests {
    @Test("a multishot receive delivers every byte in order across many buffers, then end of stream")
    func bytesInOrderThenEOF() throws {
        let reactor = try makeURingReactor()
        let handler = ReceivingHandler(reactor: reactor)
        let token = reactor.add(handler)
        let (a, b) = try uringTCPPair()
        defer { reactor.close(b, for: token, tag: 1) }
        try reactor.startReceiving(b, for: token, tag: 1)
        let pattern = uringPattern(300_000)
        var sent = 0
        for _ in 0..<2_000 where sent < pattern.count {
            let status = try pattern.withUnsafeBytes { raw throws(Errno) in
                try Sockets.send(a, from: raw.baseAddress! + sent, count: min(32_768, pattern.count - sent))
            }
            if case .transferred(let n) = status { sent += n }
            step(reactor, attempts: 1) { false }
            // The ring may run dry while the loop lags: the handler then reads the rest itself and starts again.
            if handler.ends.last == .noBuffers {
                handler.ends.removeLast()
                try reactor.startReceiving(b, for: token, tag: 1)
            }
        }
        #expect(sent == pattern.count)
        Sockets.close(a)
        step(reactor) { handler.ends.contains(.endOfStream) }
        #expect(handler.bytes.count == pattern.count)
        #expect(handler.bytes == pattern)
        #expect(handler.ends.last == .endOfStream)
        #expect(reactor.receiveBuffersInKernel == 8)
    }

    @Test("completions for a handler that left give their buffers back to the ring, and reach no one")
    func staleCompletionsRecycled() throws {
        let reactor = try makeURingReactor()
        let old = ReceivingHandler(reactor: reactor)
        let oldToken = reactor.add(old)
        let (a, b) = try uringTCPPair()
        defer { Sockets.close(a); Sockets.close(b) }
        try reactor.startReceiving(b, for: oldToken, tag: 0)
        step(reactor, attempts: 2) { false }  // the receive is armed in the kernel
        try uringWriteAll(a, uringPattern(5_000))
        reactor.remove(oldToken)
        let fresh = ReceivingHandler(reactor: reactor)
        let freshToken = reactor.add(fresh)
        #expect(freshToken.slot == oldToken.slot)
        step(reactor, attempts: 20) { false }
        #expect(old.bytes.isEmpty && old.ends.isEmpty)
        #expect(fresh.bytes.isEmpty && fresh.ends.isEmpty && fresh.events.isEmpty)
        #expect(reactor.receiveBuffersInKernel == 8)
    }

    @Test("an empty buffer ring ends the receive with noBuffers and leaves the rest in the socket")
    func ringExhaustion() throws {
        let reactor = try makeURingReactor(slotSize: 1024 + 16, buffers: 8)
        let handler = ReceivingHandler(reactor: reactor)
        handler.holdsBuffers = true
        let token = reactor.add(handler)
        let (a, b) = try uringTCPPair()
        defer { Sockets.close(a); Sockets.close(b) }
        try reactor.startReceiving(b, for: token, tag: 0)
        let pattern = uringPattern(64 * 1024)
        try uringWriteAll(a, pattern)
        step(reactor) { handler.ends.contains(.noBuffers) }
        #expect(handler.ends == [.noBuffers])
        #expect(handler.held.count == 8)
        #expect(reactor.receiveBuffersInKernel == 0)
        handler.releaseHeld()
        let rest = try uringReadExactly(b, pattern.count - handler.bytes.count)
        #expect(handler.bytes + rest == pattern)
        #expect(reactor.receiveBuffersInKernel == 8)
    }

    @Test("stopReceiving ends the receive with stopped; later bytes stay in the socket")
    func cancelled() throws {
        let reactor = try makeURingReactor()
        let handler = ReceivingHandler(reactor: reactor)
        let token = reactor.add(handler)
        let (a, b) = try uringTCPPair()
        defer { Sockets.close(a); Sockets.close(b) }
        try reactor.startReceiving(b, for: token, tag: 0)
        try uringWriteAll(a, [1, 2, 3])
        step(reactor) { handler.bytes.count == 3 }
        reactor.stopReceiving(for: token, tag: 0)
        step(reactor) { !handler.ends.isEmpty }
        #expect(handler.ends == [.stopped])
        try uringWriteAll(a, [4, 5])
        step(reactor, attempts: 10) { false }
        #expect(handler.bytes == [1, 2, 3])
        #expect(try uringReadExactly(b, 2) == [4, 5])
    }

    @Test("awaitWritable reports writability once the peer drains a full socket")
    func writabilityPoll() throws {
        let reactor = try makeURingReactor()
        let handler = ReceivingHandler(reactor: reactor)
        let token = reactor.add(handler)
        let (a, b) = try uringTCPPair()
        defer { Sockets.close(b); Sockets.close(a) }
        let chunk = [UInt8](repeating: 7, count: 65536)
        var filled = 0
        for _ in 0..<10_000 {
            let status = try chunk.withUnsafeBytes { raw throws(Errno) in try Sockets.send(a, from: raw.baseAddress!, count: raw.count) }
            guard case .transferred(let n) = status else { break }
            filled += n
        }
        try reactor.awaitWritable(a, for: token, tag: 0)
        step(reactor, attempts: 5) { false }
        #expect(handler.events.isEmpty)
        #expect(try uringReadExactly(b, filled).count == filled)
        step(reactor) { !handler.events.isEmpty }
        #expect(handler.events.count == 1 && handler.events[0].contains(.writable))
    }

    @Test("multishot accept hands over each connection with its peer address")
    func acceptsWithPeers() throws {
        let reactor = try makeURingReactor()
        let (listener, address) = try uringListener()
        var accepted: [(CInt, SocketAddress)] = []
        try reactor.addListener(listener) { fd, peer in accepted.append((fd, peer)) }
        var clients: [CInt] = []
        for _ in 0..<5 { clients.append(try Sockets.connect(to: address)) }
        defer { for fd in clients + accepted.map(\.0) { Sockets.close(fd) } }
        step(reactor) { accepted.count == 5 }
        #expect(accepted.count == 5)
        let clientPorts = Set(try clients.map { try Sockets.localAddress($0).port })
        #expect(Set(accepted.map(\.1.port)) == clientPorts)
        #expect(accepted.allSatisfy { $0.1.host == "127.0.0.1" })
    }

    @Test("close cancels the requests in flight, so the peer sees end of stream after one loop turn")
    func closeReleasesSocket() throws {
        let reactor = try makeURingReactor()
        let handler = ReceivingHandler(reactor: reactor)
        let token = reactor.add(handler)
        let (a, b) = try uringTCPPair()
        defer { Sockets.close(a) }
        try reactor.register(b, for: token, tag: 0)
        try reactor.startReceiving(b, for: token, tag: 0)
        step(reactor, attempts: 2) { false }
        reactor.close(b, for: token, tag: 0)
        reactor.remove(token)
        step(reactor, attempts: 2) { false }
        #expect(uringWait(a, milliseconds: 2000))
        var byte: UInt8 = 0
        #expect(try Sockets.receive(a, into: &byte, count: 1) == .endOfStream)
    }
}
