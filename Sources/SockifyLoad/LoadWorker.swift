// One load thread: a reactor, its share of the connections, what they run, and the statistics they produce.
import Glibc
import Histogram
import SockifyReactor
import Synchronization

/// Counters the main thread reads for the progress line and the `conns` phases. Relaxed atomics: they are
/// for display and coarse coordination; exact results travel through `WorkerStatistics` after the join.
final class SharedProgress: Sendable {
    let messages = Atomic<Int>(0)
    let bytes = Atomic<Int>(0)
    let opened = Atomic<Int>(0)
    /// conns: connections that answered their first probe.
    let ready = Atomic<Int>(0)
    /// conns: connections that answered the re-check probe.
    let rechecked = Atomic<Int>(0)
    let failures = Atomic<Int>(0)
    let closed = Atomic<Int>(0)
    let finishedWorkers = Atomic<Int>(0)
}

/// What one worker measured. Merged by the main thread after every worker thread has been joined.
struct WorkerStatistics {
    /// Round-trip latency in nanoseconds (coordinated-omission corrected in open-loop runs).
    var latency = WorkerStatistics.makeHistogram()
    /// Connect-to-open time in nanoseconds: TCP connect plus, for wss://, the TLS handshake and, for ws:// and
    /// wss://, the opening handshake.
    var handshake = WorkerStatistics.makeHistogram()
    /// wss://: what the TLS handshakes negotiated.
    var tls = TLSSummary()
    var messages = 0
    /// Payload bytes moved and verified.
    var bytes: Int64 = 0
    var measureStart: UInt64 = .max
    var measureEnd: UInt64 = 0
    var firstConnectAt: UInt64 = .max
    var lastOpenedAt: UInt64 = 0
    var opened = 0
    var failures = 0
    var integrityFailures = 0
    var failureMessages: [String] = []
    /// soak: completed jobs by kind, and connections made.
    var rttJobs = 0
    var upJobs = 0
    var downJobs = 0

    /// 1 ns … 60 s at 3 significant digits (≈ 300 KB).
    static func makeHistogram() -> Histogram<UInt64> {
        Histogram(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    }

    mutating func merge(_ other: WorkerStatistics) {
        latency.add(other.latency)
        handshake.add(other.handshake)
        messages += other.messages
        bytes += other.bytes
        measureStart = min(measureStart, other.measureStart)
        measureEnd = max(measureEnd, other.measureEnd)
        firstConnectAt = min(firstConnectAt, other.firstConnectAt)
        lastOpenedAt = max(lastOpenedAt, other.lastOpenedAt)
        opened += other.opened
        failures += other.failures
        integrityFailures += other.integrityFailures
        failureMessages += other.failureMessages.prefix(max(0, 20 - failureMessages.count))
        tls.merge(other.tls)
        rttJobs += other.rttJobs
        upJobs += other.upJobs
        downJobs += other.downJobs
    }
}

/// What the TLS sessions of a run negotiated: the first session's version and cipher (and whether any differed),
/// and how many sessions the kernel encrypted (kernel TLS send) or decrypted.
struct TLSSummary: Equatable {
    var sessionCount = 0
    var protocolVersion: String?
    var cipher: String?
    /// Some session negotiated another version or cipher than the first one.
    var isMixed = false
    var kernelSendCount = 0
    var kernelReceiveCount = 0

    mutating func record(protocolVersion: String, cipher: String, kernelSend: Bool, kernelReceive: Bool) {
        if sessionCount == 0 {
            self.protocolVersion = protocolVersion
            self.cipher = cipher
        } else if protocolVersion != self.protocolVersion || cipher != self.cipher {
            isMixed = true
        }
        sessionCount += 1
        if kernelSend { kernelSendCount += 1 }
        if kernelReceive { kernelReceiveCount += 1 }
    }

    mutating func merge(_ other: TLSSummary) {
        guard other.sessionCount > 0 else { return }
        if sessionCount == 0 {
            protocolVersion = other.protocolVersion
            cipher = other.cipher
        } else if other.protocolVersion != protocolVersion || other.cipher != cipher {
            isMixed = true
        }
        isMixed = isMixed || other.isMixed
        sessionCount += other.sessionCount
        kernelSendCount += other.kernelSendCount
        kernelReceiveCount += other.kernelReceiveCount
    }
}

/// A fast, seedable generator for handshake keys and soak choices (not for anything secret).
struct XorshiftGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
    mutating func next() -> UInt64 {
        state ^= state &<< 13
        state ^= state &>> 7
        state ^= state &<< 17
        return state
    }
}

/// One load thread's state. Everything here runs on the worker's reactor thread.
///
/// `@unchecked Sendable`: the worker is built on the main thread, then touched only by its reactor thread until
/// that thread is joined; the main thread reaches it in between only through `post(_:)` (the reactor's inbox).
final class LoadWorker: @unchecked Sendable {
    let plan: LoadPlan
    let index: Int
    let address: SocketAddress
    /// wss://: the run's client context (one for all workers; `makeStream` is thread-safe).
    let tlsContext: TLSClientContext?
    let reactor: Reactor<LoadHandler>
    let progress: SharedProgress
    private(set) var connections: [LoadConnection] = []
    var statistics = WorkerStatistics()
    var random: XorshiftGenerator

    /// The first connection's global index; this worker owns `firstIndex ..< firstIndex + connectionCount`.
    private let firstIndex: Int
    private let connectionCount: Int
    /// Bytes each up/down connection moves.
    private var streamShares: [UInt64] = []
    private var deadline: UInt64 = .max
    private var messageBudget: Int
    private(set) var isClosedLoop = true
    private var pacer: Pacer?
    /// No new messages, jobs or connections are started.
    private var isStopping = false
    private var live = 0
    private var openedForMeasure = 0
    private var isFinished = false
    private var stoppedAt: UInt64 = 0
    private var lastGraceSweep: UInt64 = 0
    private var lastCloseSweep: UInt64 = 0

    // conns
    enum ConnsPhase { case opening, holding, rechecking, closing }
    private(set) var connsPhase = ConnsPhase.opening
    private var nextToOpen = 0
    private var connectsInFlight = 0
    private var connsStartedAt: UInt64 = 0
    /// Connections whose attempt ended (opened or failed); probing waits for all, so that the connect rate
    /// measures connection establishment alone.
    private var connsSettled = 0
    /// Connects outstanding at once; more than the proxy's listen backlog only buys SYN retransmits.
    static let connectWindow = 128
    static let probeSize = 16
    /// How long in-flight work may take after the deadline before it counts as lost.
    static let grace: UInt64 = 5_000_000_000
    /// How long a closing handshake may take before the socket is closed anyway.
    static let closeTimeout: UInt64 = 2_000_000_000

    init(
        plan: LoadPlan, index: Int, address: SocketAddress, tlsContext: TLSClientContext? = nil,
        progress: SharedProgress
    ) throws(Errno) {
        self.plan = plan
        self.index = index
        self.address = address
        self.tlsContext = tlsContext
        self.progress = progress
        reactor = try Reactor<LoadHandler>(tickInterval: plan.mode == .conns ? 1 : 10)
        random = XorshiftGenerator(seed: plan.seed &+ UInt64(index) &* 0x2545_F491_4F6C_DD1D)
        // Connections are split as evenly as possible; the first workers take the remainder.
        let base = plan.connectionCount / plan.threadCount
        let extra = plan.connectionCount % plan.threadCount
        connectionCount = base + (index < extra ? 1 : 0)
        firstIndex = index * base + min(index, extra)
        let budget = plan.messageCount.map { total in total / plan.threadCount + (index < total % plan.threadCount ? 1 : 0) }
        messageBudget = budget ?? .max
        if plan.mode == .up || plan.mode == .down {
            let total = UInt64(plan.byteCount)
            let count = UInt64(plan.connectionCount)
            streamShares = (0..<connectionCount).map { i in
                let global = UInt64(firstIndex + i)
                return total / count + (global < total % count ? 1 : 0)
            }
        }
    }

    /// Runs `work` on this worker's thread (from any thread).
    func post(_ work: @escaping @Sendable (LoadWorker) -> Void) {
        reactor.execute { work(self) }
    }

    // MARK: thread body

    /// Creates the connections, runs the reactor until the worker finishes, and releases everything.
    func run() {
        reactor.onTick = { [unowned self] _ in tick() }
        let (inCapacity, outCapacity) = bufferSizes()
        for i in 0..<connectionCount {
            connections.append(
                LoadConnection(
                    worker: self, slot: i, globalIndex: firstIndex + i, inCapacity: inCapacity,
                    outCapacity: outCapacity, maskSeed: random.next()))
        }
        if let duration = plan.duration { deadline = LoadClock.now() &+ duration.nanoseconds }
        if plan.mode == .conns {
            connsStartedAt = LoadClock.now()
            openMoreConnections(now: connsStartedAt)
        } else {
            for connection in connections {
                live += 1
                connection.connect(to: address)
            }
        }
        checkFinished()
        reactor.run()
        for connection in connections where connection.phase != .closed && connection.phase != .idle {
            connection.fail("still open when the run ended", integrity: false)
        }
        pacer?.cancel()
        pacer = nil
        connections.removeAll()
        progress.finishedWorkers.add(1, ordering: .releasing)
    }

    private func bufferSizes() -> (Int, Int) {
        switch plan.mode {
        case .conns:
            return (4096, 4096)
        case .rtt:
            return (65536, max(65536, plan.messageSize + 1024))
        case .up, .down, .soak:
            return (262_144, max(524_288, plan.messageSize * 2 + 1024))
        }
    }

    // MARK: events from connections

    /// wss://: a TLS handshake completed (the opening handshake starts next).
    func tlsEstablished(_ stream: TLSStream) {
        statistics.tls.record(
            protocolVersion: stream.protocolVersion, cipher: stream.cipher, kernelSend: stream.kernelSend,
            kernelReceive: stream.kernelReceive)
    }

    func connectionOpened(_ connection: LoadConnection) {
        let now = LoadClock.now()
        statistics.handshake.record(min(now &- connection.connectStartedAt, 60_000_000_000))
        statistics.opened += 1
        statistics.firstConnectAt = min(statistics.firstConnectAt, connection.connectStartedAt)
        statistics.lastOpenedAt = max(statistics.lastOpenedAt, now)
        progress.opened.add(1, ordering: .relaxed)
        let seed = PatternStream.seed(run: plan.seed, connection: connection.globalIndex, cycle: connection.cycle)
        switch plan.mode {
        case .rtt:
            connection.startRTT(size: plan.messageSize, seed: seed)
            openedForMeasure += 1
            if openedForMeasure == connectionCount { beginMeasurement(now: now) }
        case .up:
            statistics.measureStart = min(statistics.measureStart, now)
            connection.startUp(
                byteCount: streamShares[connection.slot], frameSize: plan.messageSize, randomSizes: false, seed: seed)
        case .down:
            statistics.measureStart = min(statistics.measureStart, now)
            connection.startDown(byteCount: streamShares[connection.slot], seed: seed)
        case .conns:
            connectsInFlight -= 1
            connsSettled += 1
            openMoreConnections(now: now)
            if connsSettled == connectionCount { probeAll() }
        case .soak:
            statistics.measureStart = min(statistics.measureStart, now)
            startSoakJob(connection, seed: seed)
        }
    }

    /// rtt: every connection of this worker is open; start sending (closed loop) or start the pacer (open loop).
    private func beginMeasurement(now: UInt64) {
        statistics.measureStart = now
        if let rate = plan.rate {
            let workerRate = rate / Double(plan.threadCount)
            isClosedLoop = false
            do {
                pacer = try Pacer(worker: self, interval: UInt64(1e9 / workerRate))
            } catch {
                recordFailure("timerfd: \(error)", integrity: false)
                stopAll()
            }
        } else {
            for connection in connections where connection.phase == .open {
                if takeMessageSlot(now: now) { connection.sendMessage() } else { jobFinished(connection, kind: .rtt) }
            }
        }
    }

    /// Open loop: the expected interval between one connection's messages, for coordinated-omission correction.
    var expectedInterval: UInt64 {
        guard let rate = plan.rate else { return 0 }
        return UInt64(Double(connectionCount) * Double(plan.threadCount) * 1e9 / rate)
    }

    func messageCompleted(_ connection: LoadConnection, latency: UInt64, now: UInt64) {
        let value = min(latency, 60_000_000_000)
        if isClosedLoop {
            statistics.latency.record(value)
        } else {
            statistics.latency.recordCorrectedValue(value, expectedInterval: expectedInterval)
        }
        statistics.messages += 1
        statistics.measureEnd = now
        progress.messages.add(1, ordering: .relaxed)
    }

    /// Whether another rtt message may start, taking it from the budget if so.
    func takeMessageSlot(now: UInt64) -> Bool {
        if plan.mode == .soak { return true }
        guard !isStopping, now < deadline, messageBudget > 0 else { return false }
        messageBudget -= 1
        return true
    }

    func isPastDeadline(now: UInt64) -> Bool { isStopping || now >= deadline || messageBudget == 0 }

    func countSent(_ byteCount: Int) {
        if plan.mode == .up { progress.bytes.add(byteCount, ordering: .relaxed) }
    }

    func countReceived(_ byteCount: Int) {
        progress.bytes.add(byteCount, ordering: .relaxed)
    }

    func jobFinished(_ connection: LoadConnection, kind: LoadConnection.Job) {
        let now = LoadClock.now()
        switch plan.mode {
        case .up, .down:
            statistics.bytes += Int64(streamShares[connection.slot])
            statistics.measureEnd = max(statistics.measureEnd, now)
            connection.close()
        case .rtt:
            connection.close()
        case .conns:
            switch connsPhase {
            case .opening, .holding:
                progress.ready.add(1, ordering: .relaxed)
            case .rechecking:
                progress.rechecked.add(1, ordering: .relaxed)
            case .closing:
                break
            }
        case .soak:
            switch kind {
            case .rtt: statistics.rttJobs += 1
            case .up:
                statistics.upJobs += 1
                statistics.bytes += Int64(connection.streamByteCount)
            case .down:
                statistics.downJobs += 1
                statistics.bytes += Int64(connection.streamByteCount)
            case .probe, .none: break
            }
            statistics.measureEnd = now
            connection.close()
        }
    }

    func connectionClosed(_ connection: LoadConnection) {
        live -= 1
        progress.closed.add(1, ordering: .relaxed)
        if !connection.hasOpened {
            // A connect or handshake that failed.
            switch plan.mode {
            case .conns:
                connectsInFlight -= 1
                connsSettled += 1
                openMoreConnections(now: LoadClock.now())
                if connsSettled == connectionCount && connsPhase == .opening { probeAll() }
            case .rtt:
                openedForMeasure += 1
                if openedForMeasure == connectionCount { beginMeasurement(now: LoadClock.now()) }
            case .up, .down, .soak:
                break
            }
        }
        if plan.mode == .soak && !isStopping && LoadClock.now() < deadline {
            live += 1
            connection.connect(to: address)
            return
        }
        checkFinished()
    }

    func recordFailure(_ message: String, integrity: Bool) {
        // A soak stops starting new jobs at its first failure, rather than reconnecting into a broken peer.
        if plan.mode == .soak && !isStopping {
            isStopping = true
            stoppedAt = LoadClock.now()
        }
        statistics.failures += 1
        if integrity { statistics.integrityFailures += 1 }
        if statistics.failureMessages.count < 20 { statistics.failureMessages.append(message) }
        progress.failures.add(1, ordering: .relaxed)
    }

    private func checkFinished() {
        guard !isFinished, live == 0 else { return }
        if plan.mode == .conns && nextToOpen < connectionCount && !isStopping { return }
        isFinished = true
        reactor.stop()
    }

    // MARK: soak

    private func startSoakJob(_ connection: LoadConnection, seed: UInt64) {
        // Rotate through the kinds so that every connection runs all three; sizes vary to exercise framing.
        switch (connection.globalIndex + connection.cycle) % 3 {
        case 0:
            connection.startRTT(size: plan.messageSize, messages: 50 + Int(random.next() % 200), randomSizes: true, seed: seed)
            connection.sendMessage()
        case 1:
            let bytes = 1 + random.next() % UInt64(4 << 20)
            connection.startUp(byteCount: bytes, frameSize: plan.messageSize, randomSizes: true, seed: seed)
        default:
            let bytes = 1 + random.next() % UInt64(4 << 20)
            connection.startDown(byteCount: bytes, seed: seed)
        }
    }

    // MARK: conns

    private func openMoreConnections(now: UInt64) {
        guard connsPhase == .opening, !isStopping else { return }
        var due = connectionCount
        if let rate = plan.rate {
            let elapsed = Double(now &- connsStartedAt) / 1e9
            due = min(connectionCount, Int(elapsed * rate / Double(plan.threadCount)) + 1)
        }
        while nextToOpen < due && connectsInFlight < Self.connectWindow {
            let connection = connections[nextToOpen]
            nextToOpen += 1
            connectsInFlight += 1
            live += 1
            connection.connect(to: address)
        }
    }

    /// conns: every connection is open (or failed): check that each one relays with a first echo probe.
    private func probeAll() {
        for connection in connections where connection.phase == .open {
            let seed = PatternStream.seed(run: plan.seed, connection: connection.globalIndex, cycle: connection.cycle)
            connection.startProbe(size: Self.probeSize, seed: seed)
        }
    }

    /// conns: probes every held connection again (main thread, after the hold).
    func recheck() {
        connsPhase = .rechecking
        for connection in connections where connection.phase == .open {
            let seed = PatternStream.seed(run: plan.seed, connection: connection.globalIndex, cycle: connection.cycle)
            connection.startProbe(size: Self.probeSize, seed: seed)
        }
    }

    /// conns: the opening phase is over (main thread): holding now.
    func hold() {
        if connsPhase == .opening { connsPhase = .holding }
    }

    /// Closes every connection (the end of conns, or a stop requested by the main thread).
    func closeAll() {
        connsPhase = .closing
        isStopping = true
        stoppedAt = LoadClock.now()
        for connection in connections { connection.close() }
        checkFinished()
    }

    /// Ends the run now: what is still in flight fails with `reason`.
    func abort(_ reason: String) {
        isStopping = true
        for connection in connections where connection.phase != .closed && connection.phase != .idle {
            connection.fail(reason, integrity: false)
        }
        checkFinished()
    }

    private func stopAll() {
        isStopping = true
        stoppedAt = LoadClock.now()
        for connection in connections { connection.close() }
        checkFinished()
    }

    // MARK: time

    private func tick() {
        let now = LoadClock.now()
        if plan.mode == .conns { openMoreConnections(now: now) }
        if !isStopping && now >= deadline && plan.mode != .conns {
            isStopping = true
            stoppedAt = now
            pacer?.cancel()
            pacer = nil
            // Open loop: connections waiting for their next slot end now; the others end on their echo.
            for connection in connections
            where connection.phase == .open && connection.job == .rtt && !connection.isAwaitingEcho {
                jobFinished(connection, kind: .rtt)
            }
        }
        if isStopping && now &- stoppedAt > Self.grace && now &- lastGraceSweep > 100_000_000 {
            lastGraceSweep = now
            for connection in connections where connection.phase == .open || connection.phase == .connecting
                || connection.phase == .securing || connection.phase == .handshaking
            {
                connection.fail("\(connection.job) unfinished \(Self.grace / 1_000_000_000) s after the deadline", integrity: false)
            }
        }
        if now &- lastCloseSweep > 250_000_000 {
            lastCloseSweep = now
            for connection in connections
            where connection.phase == .closing && now &- connection.closingSince > Self.closeTimeout {
                // The server never answered our Close: not an integrity problem, but worth knowing.
                recordFailure("connection \(connection.globalIndex): no Close reply within 2 s", integrity: false)
                connection.finishClose()
            }
        }
    }

    // MARK: pacer

    /// Open loop: called by the pacer for each expired slot; the round-robin connection sends if it is idle.
    func paceSlots(_ count: UInt64, cursor: inout Int) {
        guard !isStopping, !connections.isEmpty else { return }
        let now = LoadClock.now()
        // Up to two slots per connection: a late idle connection sends, and is then marked due for the next
        // slot it also missed; further missed slots are what the coordinated-omission correction accounts for.
        let handled = Int(min(count, UInt64(2 * connections.count)))
        for _ in 0..<handled {
            let connection = connections[cursor]
            cursor = (cursor + 1) % connections.count
            guard connection.phase == .open, connection.job == .rtt else { continue }
            if connection.isAwaitingEcho {
                connection.isDue = true
            } else if takeMessageSlot(now: now) {
                connection.sendMessage()
            } else {
                jobFinished(connection, kind: .rtt)
            }
        }
        if count > UInt64(handled) {
            cursor = (cursor + Int((count - UInt64(handled)) % UInt64(connections.count))) % connections.count
        }
    }
}

/// A periodic `timerfd` that gives open-loop rtt its send slots at sub-millisecond precision (the reactor's
/// tick is a millisecond at best).
final class Pacer: LoadHandler {
    private unowned let worker: LoadWorker
    private let fd: CInt
    private var token: Token?
    private var cursor = 0

    /// The corresponding C calls are `timerfd_create(2)` and `timerfd_settime(2)`.
    init(worker: LoadWorker, interval: UInt64) throws(Errno) {
        self.worker = worker
        let fd = TimerFD.create(CLOCK_MONOTONIC, O_NONBLOCK | O_CLOEXEC)
        guard fd != -1 else { throw Errno.current }
        self.fd = fd
        super.init()
        let period = max(interval, 1000)
        let spec = timespec(tv_sec: Int(period / 1_000_000_000), tv_nsec: Int(period % 1_000_000_000))
        var setting = itimerspec(it_interval: spec, it_value: timespec(tv_sec: 0, tv_nsec: 1000))
        guard TimerFD.setTime(fd, 0, &setting, nil) == 0 else {
            let error = Errno.current
            Glibc.close(fd)
            throw error
        }
        let token = worker.reactor.add(self)
        self.token = token
        do {
            try worker.reactor.register(fd, for: token, tag: 1)
        } catch {
            cancel()
            throw error
        }
    }

    /// Stops the timer: leaves the reactor (which holds the only other reference) and closes the descriptor.
    func cancel() {
        guard let token else { return }
        self.token = nil
        worker.reactor.remove(token)
        Glibc.close(fd)
    }

    override func ready(_ readiness: Readiness, tag: UInt8) {
        var expirations: UInt64 = 0
        // One read returns every expiration since the last one and re-arms the edge.
        guard read(fd, &expirations, 8) == 8 else { return }
        worker.paceSlots(expirations, cursor: &cursor)
    }
}

/// `timerfd_create(2)`/`timerfd_settime(2)`, looked up in the C library at run time.
///
/// Swift's Glibc module does not include `<sys/timerfd.h>`, and `CSockify` (which does) is private to
/// SockifyReactor. Remove this once SockifyReactor offers a periodic timer descriptor.
private enum TimerFD {
    typealias CreateFunction = @convention(c) (CInt, CInt) -> CInt
    typealias SetTimeFunction = @convention(c) (CInt, CInt, UnsafePointer<itimerspec>?, UnsafeMutablePointer<itimerspec>?) -> CInt

    static let create: CreateFunction = symbol("timerfd_create")
    static let setTime: SetTimeFunction = symbol("timerfd_settime")

    private static func symbol<F>(_ name: String) -> F {
        // glibc has exported both since 2.8; a C library without them cannot run the reactor either.
        guard let address = dlsym(nil, name) else { preconditionFailure("\(name) not found in the C library") }
        return unsafeBitCast(address, to: F.self)
    }
}
