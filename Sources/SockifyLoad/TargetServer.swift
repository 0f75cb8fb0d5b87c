// The TCP targets `sockify-load --serve` runs behind a proxy: echo, source (writes the pattern), sink (verifies
// it and reports), and mixed (picks one per connection). They speak plain TCP: the proxy under test does the
// WebSocket side, and the same targets serve the no-proxy baseline.
import Glibc
import SockifyReactor
import Synchronization

/// A running set of target threads listening on one port.
///
/// `@unchecked Sendable`: after `start`, the workers are touched only by their own threads; `stop()` goes
/// through `Reactor.stop()`, which is thread-safe.
final class TargetServer: @unchecked Sendable {
    /// The port actually bound (useful with port 0).
    let port: UInt16
    private let workers: [TargetWorker]
    private var threads: [ReactorThread] = []

    private init(port: UInt16, workers: [TargetWorker]) {
        self.port = port
        self.workers = workers
    }

    /// Binds and starts `plan.threadCount` threads, each with its own `SO_REUSEPORT` listener.
    static func start(_ plan: ServePlan) throws -> TargetServer {
        let address = try SocketAddress.resolve(host: plan.host, port: plan.port, passive: true)
        guard plan.allowsRemote || Endpoint.isLoopback(numericHost: address.host) else {
            throw UsageError("refusing to listen on non-loopback \(address) without --allow-remote")
        }
        var workers: [TargetWorker] = []
        var boundPort = plan.port
        for _ in 0..<plan.threadCount {
            let here = try SocketAddress.resolve(host: plan.host, port: boundPort, passive: true)
            let listener = try Sockets.listen(on: here, reusePort: true)
            boundPort = try Sockets.localAddress(listener).port
            workers.append(try TargetWorker(kind: plan.kind, listener: listener))
        }
        let server = TargetServer(port: boundPort, workers: workers)
        for worker in workers {
            server.threads.append(try ReactorThread.start(pinnedTo: nil) { worker.reactor.run() })
        }
        return server
    }

    /// Stops every thread and waits for them. Open connections are closed.
    func stop() {
        for worker in workers { worker.reactor.stop() }
        for thread in threads { thread.join() }
        threads.removeAll()
        for worker in workers { worker.closeAll() }
    }

    /// Bytes verified by sinks, bytes written by sources, and integrity failures the sinks saw, over all threads.
    var counters: (sunk: Int, sourced: Int, sinkFailures: Int) {
        workers.reduce((0, 0, 0)) { sum, worker in
            (sum.0 + worker.sunk.load(ordering: .relaxed), sum.1 + worker.sourced.load(ordering: .relaxed),
             sum.2 + worker.sinkFailures.load(ordering: .relaxed))
        }
    }
}

/// One target thread: its reactor, its connections and one scratch buffer they all share (the thread runs one
/// handler at a time, so a connection only owns memory while its output is blocked).
final class TargetWorker: @unchecked Sendable {
    // @unchecked: confined to its reactor thread; the atomics are read from other threads.
    let kind: TargetKind
    let reactor: Reactor<TargetConnection>
    let scratch: UnsafeMutableRawPointer
    static let scratchCapacity = 262_144
    /// Which source connection's pattern bytes `scratch` holds, from which stream offset, how many.
    weak var scratchOwner: TargetConnection?
    var scratchStart: UInt64 = 0
    var scratchCount = 0
    private var connections: [ObjectIdentifier: TargetConnection] = [:]
    let sunk = Atomic<Int>(0)
    let sourced = Atomic<Int>(0)
    let sinkFailures = Atomic<Int>(0)

    init(kind: TargetKind, listener: CInt) throws {
        self.kind = kind
        reactor = try Reactor<TargetConnection>(tickInterval: 1000)
        scratch = .allocate(byteCount: Self.scratchCapacity, alignment: 64)
        try reactor.addListener(listener) { [unowned self] fd, _ in accepted(fd) }
    }

    deinit { scratch.deallocate() }

    private func accepted(_ fd: CInt) {
        Sockets.setNoDelay(fd)
        let connection = TargetConnection(worker: self, fd: fd)
        connection.token = reactor.add(connection)
        connections[ObjectIdentifier(connection)] = connection
        do {
            try reactor.register(fd, for: connection.token, tag: 0)
        } catch {
            connection.close()
        }
    }

    func closed(_ connection: TargetConnection) {
        reactor.remove(connection.token)
        connections[ObjectIdentifier(connection)] = nil
    }

    func closeAll() {
        for connection in connections.values { connection.close() }
    }
}

/// One accepted target connection. Its role is fixed by the server kind, or by the first bytes for `mixed`.
final class TargetConnection: ReactorHandler {
    enum Role { case sniffing, echo, source, sink, draining, closed }

    private unowned let worker: TargetWorker
    private let fd: CInt
    var token = Token(slot: 0, generation: 0)
    private var role: Role
    /// The first bytes of the stream while the role is not known yet (a `StreamRequest` is 24 bytes).
    private var head = InlineArray<24, UInt8>(repeating: 0)
    private var headCount = 0
    private var pattern = PatternStream(seed: 0)
    private var streamOffset: UInt64 = 0
    private var streamLength: UInt64 = 0
    /// Bytes that could not be written yet (echo backlog, a report); reading pauses while there are any.
    private var pending: UnsafeMutableRawPointer?
    private var pendingStart = 0
    private var pendingEnd = 0
    private var closeAfterPending = false

    init(worker: TargetWorker, fd: CInt) {
        self.worker = worker
        self.fd = fd
        role = worker.kind == .echo ? .echo : .sniffing
    }

    deinit { pending?.deallocate() }

    func ready(_ readiness: Readiness, tag: UInt8) {
        if role != .closed && readiness.contains(.writable) { writable() }
        if role != .closed && !readiness.isDisjoint(with: [.readable, .hangup, .error]) { readable() }
    }

    func close() {
        guard role != .closed else { return }
        role = .closed
        Sockets.close(fd)
        worker.closed(self)
    }

    private func readable() {
        // Bounded: each read moves bytes or ends the loop; reading pauses while output is blocked (backpressure).
        while role != .closed && pending == nil {
            let status: IOStatus
            // The read overwrites the shared scratch, so the source bytes cached there are gone: without this, a
            // source connection resumed after a blocked send re-sent another connection's received bytes
            // (docs/reliability.md finding 8).
            worker.scratchOwner = nil
            do {
                status = try Sockets.receive(fd, into: worker.scratch, count: TargetWorker.scratchCapacity)
            } catch {
                close()
                return
            }
            switch status {
            case .wouldBlock:
                return
            case .endOfStream:
                close()
                return
            case .transferred(let n):
                handle(worker.scratch, count: n)
                if n < TargetWorker.scratchCapacity { return }
            }
        }
    }

    private func handle(_ bytes: UnsafeMutableRawPointer, count: Int) {
        var bytes = bytes
        var count = count
        if role == .sniffing {
            let taken = min(count, 24 - headCount)
            for i in 0..<taken { head[headCount + i] = bytes.load(fromByteOffset: i, as: UInt8.self) }
            headCount += taken
            bytes += taken
            count -= taken
            let request = head.span.withUnsafeBytes { raw -> StreamRequest? in
                headCount == 24 ? StreamRequest(raw.baseAddress!) : nil
            }
            let couldBeRequest = head.span.withUnsafeBytes { raw in
                StreamRequest.couldStartRequest(UnsafeRawBufferPointer(rebasing: raw[0..<min(headCount, 8)]))
            }
            if let request {
                guard worker.kind == .mixed || (worker.kind == .sink) == (request.direction == .toSink) else {
                    close()
                    return
                }
                pattern = PatternStream(seed: request.seed)
                streamLength = request.byteCount
                streamOffset = 0
                role = request.direction == .toSink ? .sink : .source
                if role == .source {
                    pumpSource()
                    if role == .closed { return }
                }
            } else if couldBeRequest && headCount < 24 {
                return
            } else if worker.kind == .mixed {
                // Not a request: an echo stream. Echo what was held back, then carry on.
                role = .echo
                let held = headCount
                withUnsafeTemporaryAllocation(byteCount: 24, alignment: 8) { raw in
                    head.span.withUnsafeBytes { raw.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<held])) }
                    echo(raw.baseAddress!, count: held)
                }
            } else {
                // A source or sink that did not get its request: nothing sensible to do.
                close()
                return
            }
        }
        guard count > 0 else { return }
        switch role {
        case .echo:
            echo(bytes, count: count)
        case .sink:
            sink(bytes, count: count)
        case .source, .draining:
            // The client sends nothing after its request; anything else is ignored until it closes.
            break
        case .sniffing, .closed:
            break
        }
    }

    // MARK: echo

    private func echo(_ bytes: UnsafeRawPointer, count: Int) {
        guard pending == nil else {
            // Output is already blocked: keep the order by queueing behind the backlog.
            hold(bytes, count: count)
            return
        }
        var sent = 0
        while sent < count {
            do {
                switch try Sockets.send(fd, from: bytes + sent, count: count - sent) {
                case .transferred(let n): sent += n
                case .wouldBlock, .endOfStream:
                    hold(bytes + sent, count: count - sent)
                    return
                }
            } catch {
                close()
                return
            }
        }
    }

    /// Appends `bytes` to the backlog (allocated only while output is blocked).
    private func hold(_ bytes: UnsafeRawPointer, count: Int) {
        let kept = pendingEnd - pendingStart
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: kept + count, alignment: 16)
        if let old = pending {
            buffer.copyMemory(from: old + pendingStart, byteCount: kept)
            old.deallocate()
        }
        (buffer + kept).copyMemory(from: bytes, byteCount: count)
        pending = buffer
        pendingStart = 0
        pendingEnd = kept + count
    }

    private func writable() {
        if let buffer = pending {
            while pendingStart < pendingEnd {
                do {
                    switch try Sockets.send(fd, from: buffer + pendingStart, count: pendingEnd - pendingStart) {
                    case .transferred(let n): pendingStart += n
                    case .wouldBlock, .endOfStream: return
                    }
                } catch {
                    close()
                    return
                }
            }
            buffer.deallocate()
            pending = nil
            pendingStart = 0
            pendingEnd = 0
            if closeAfterPending {
                role = .draining
                return
            }
            // Reading paused while the backlog existed; the edge may have passed, so read now.
            readable()
        }
        if role == .source { pumpSource() }
    }

    // MARK: source

    private func pumpSource() {
        // Bounded by the stream length; stops when the kernel pushes back (the next writable edge resumes).
        while streamOffset < streamLength {
            if worker.scratchOwner !== self || streamOffset < worker.scratchStart
                || streamOffset >= worker.scratchStart + UInt64(worker.scratchCount)
            {
                let count = Int(min(UInt64(TargetWorker.scratchCapacity), streamLength - streamOffset))
                pattern.fill(worker.scratch, count: count, streamOffset: streamOffset)
                worker.scratchOwner = self
                worker.scratchStart = streamOffset
                worker.scratchCount = count
            }
            let skip = Int(streamOffset - worker.scratchStart)
            do {
                switch try Sockets.send(fd, from: worker.scratch + skip, count: worker.scratchCount - skip) {
                case .transferred(let n):
                    streamOffset += UInt64(n)
                    worker.sourced.add(n, ordering: .relaxed)
                case .wouldBlock, .endOfStream:
                    return
                }
            } catch {
                close()
                return
            }
        }
        // Done: the client closes when it has verified everything.
        role = .draining
    }

    // MARK: sink

    private func sink(_ bytes: UnsafeRawPointer, count: Int) {
        let expected = min(UInt64(count), streamLength - streamOffset)
        if let bad = pattern.firstMismatch(bytes, count: Int(expected), streamOffset: streamOffset) {
            report(mismatch: streamOffset + UInt64(bad))
            return
        }
        streamOffset += expected
        worker.sunk.add(Int(expected), ordering: .relaxed)
        if UInt64(count) > expected {
            // More than the request announced: the extra byte is where the stream went wrong.
            report(mismatch: streamOffset)
        } else if streamOffset == streamLength {
            report(mismatch: nil)
        }
    }

    private func report(mismatch: UInt64?) {
        if mismatch != nil { worker.sinkFailures.add(1, ordering: .relaxed) }
        let report = StreamReport(verifiedCount: streamOffset, mismatchOffset: mismatch)
        role = .draining
        withUnsafeTemporaryAllocation(byteCount: StreamReport.byteLength, alignment: 8) { raw in
            report.write(to: raw.baseAddress!)
            echo(raw.baseAddress!, count: StreamReport.byteLength)
        }
        if pending != nil { closeAfterPending = true }
    }
}
