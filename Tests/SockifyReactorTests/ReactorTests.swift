import Glibc
import SockifyReactor
import Synchronization
import Testing

/// Records readiness events delivered to it.
final class RecordingHandler: ReactorHandler {
    var events: [(Readiness, UInt8)] = []
    func ready(_ readiness: Readiness, tag: UInt8) { events.append((readiness, tag)) }
}

/// A connected loopback TCP pair (client side, accepted side), both non-blocking.
func loopbackPair() throws -> (CInt, CInt) {
    let listenAddress = try SocketAddress.resolve(host: "127.0.0.1", port: 0, passive: true)
    let listener = try Sockets.listen(on: listenAddress, reusePort: false)
    defer { Sockets.close(listener) }
    let bound = try Sockets.localAddress(listener)
    let client = try Sockets.connect(to: bound)
    for _ in 0..<200 {
        if let (server, _) = try Sockets.accept(listener) { return (client, server) }
        ReactorThread.sleep(milliseconds: 5)
    }
    Issue.record("loopback accept timed out")
    throw Errno(rawValue: ETIMEDOUT)
}

/// Runs the reactor loop on this thread until `condition` holds or `attempts` short rounds pass.
func runUntil(_ reactor: Reactor<RecordingHandler>, attempts: Int = 40, _ condition: () -> Bool) {
    for _ in 0..<attempts where !condition() {
        reactor.execute { [weak reactor] in reactor?.stop() }
        reactor.run()
        ReactorThread.sleep(milliseconds: 5)
    }
}

@Suite("Reactor (epoll and io_uring)")
struct ReactorTests {
    @Test("readable and writable edges reach the registered handler with its tag", arguments: IOBackend.allCases)
    func readinessDelivered(_ backend: IOBackend) throws {
        let reactor = try Reactor<RecordingHandler>(tickInterval: 10, backend: backend)
        let handler = RecordingHandler()
        let token = reactor.add(handler)
        let (a, b) = try loopbackPair()
        defer { Sockets.close(a); Sockets.close(b) }
        try reactor.register(b, for: token, tag: 7)
        var byte: UInt8 = 42
        #expect(try Sockets.send(a, from: &byte, count: 1) == .transferred(1))
        runUntil(reactor) { handler.events.contains { $0.0.contains(.readable) } }
        #expect(handler.events.contains { $0.0.contains(.readable) && $0.1 == 7 })
        #expect(handler.events.contains { $0.0.contains(.writable) })
        var received: UInt8 = 0
        #expect(try Sockets.receive(b, into: &received, count: 1) == .transferred(1))
        #expect(received == 42)
        #expect(try Sockets.receive(b, into: &received, count: 1) == .wouldBlock)
    }

    @Test("events for a removed handler are dropped even if its slot is reused", arguments: IOBackend.allCases)
    func staleGenerationDropped(_ backend: IOBackend) throws {
        let reactor = try Reactor<RecordingHandler>(tickInterval: 10, backend: backend)
        let old = RecordingHandler()
        let oldToken = reactor.add(old)
        let (a, b) = try loopbackPair()
        defer { Sockets.close(a); Sockets.close(b) }
        try reactor.register(b, for: oldToken, tag: 0)
        reactor.remove(oldToken)
        let fresh = RecordingHandler()
        let freshToken = reactor.add(fresh)
        #expect(freshToken.slot == oldToken.slot)
        #expect(freshToken.generation != oldToken.generation)
        var byte: UInt8 = 1
        _ = try Sockets.send(a, from: &byte, count: 1)
        runUntil(reactor, attempts: 5) { false }
        #expect(old.events.isEmpty)
        #expect(fresh.events.isEmpty)
    }

    @Test("peer shutdown is reported as hangup and reads end of stream", arguments: IOBackend.allCases)
    func hangup(_ backend: IOBackend) throws {
        let reactor = try Reactor<RecordingHandler>(tickInterval: 10, backend: backend)
        let handler = RecordingHandler()
        let token = reactor.add(handler)
        let (a, b) = try loopbackPair()
        defer { Sockets.close(b) }
        try reactor.register(b, for: token, tag: 1)
        Sockets.close(a)
        runUntil(reactor) { handler.events.contains { $0.0.contains(.hangup) } }
        #expect(handler.events.contains { $0.0.contains(.hangup) })
        var byte: UInt8 = 0
        #expect(try Sockets.receive(b, into: &byte, count: 1) == .endOfStream)
    }

    @Test("execute runs work on the loop and ticks fire", arguments: IOBackend.allCases)
    func executeAndTick(_ backend: IOBackend) throws {
        let reactor = try Reactor<RecordingHandler>(tickInterval: 1, backend: backend)
        let ticks = Atomic<Int>(0)
        reactor.onTick = { _ in ticks.add(1, ordering: .relaxed) }
        let ran = Atomic<Bool>(false)
        reactor.execute { ran.store(true, ordering: .relaxed) }
        let thread = try ReactorThread.start(pinnedTo: nil) { reactor.run() }
        for _ in 0..<200 where !(ran.load(ordering: .relaxed) && ticks.load(ordering: .relaxed) > 1) {
            ReactorThread.sleep(milliseconds: 5)
        }
        reactor.stop()
        thread.join()
        let didRun = ran.load(ordering: .relaxed)
        let tickCount = ticks.load(ordering: .relaxed)
        #expect(didRun)
        #expect(tickCount > 1)
    }

    @Test("connecting to a closed port reports ECONNREFUSED through SO_ERROR", arguments: IOBackend.allCases)
    func connectRefused(_ backend: IOBackend) throws {
        let probe = try Sockets.listen(on: SocketAddress.resolve(host: "127.0.0.1", port: 0, passive: true), reusePort: false)
        let address = try Sockets.localAddress(probe)
        Sockets.close(probe)
        let reactor = try Reactor<RecordingHandler>(tickInterval: 10, backend: backend)
        let handler = RecordingHandler()
        let fd = try Sockets.connect(to: address)
        defer { Sockets.close(fd) }
        try reactor.register(fd, for: reactor.add(handler), tag: 0)
        runUntil(reactor) { !handler.events.isEmpty }
        #expect(Sockets.pendingError(fd) == .connectionRefused)
    }
}
