// One reactor thread's share of the proxy: its reactor, buffer pool, listener and connections.
import Logging
import SockifyBuffers
import SockifyReactor

/// Everything one reactor thread owns. Only touched on that thread, except through `reactor.execute`.
///
/// `@unchecked Sendable`: handed to its thread once at start; afterwards every access happens on that thread
/// (other threads only call `reactor.execute`/`reactor.stop`, which are thread-safe).
final class Worker: @unchecked Sendable {
    let index: Int
    let configuration: ProxyConfiguration
    let reactor: Reactor<Connection>
    let pool: BufferPool
    let webRoot: WebRoot?
    let logger: Logger
    unowned let server: ProxyServer
    /// Scratch space for bytes we discard (lingering close).
    let scratch: UnsafeMutableRawBufferPointer
    let headTimeoutMs: Int64
    let heartbeatMs: Int64?
    let pongTimeoutMs: Int64?
    let sessionIdleMs: Int64?
    let lookupTimeoutMs: Int64
    /// This reactor's counters (read by the metrics endpoint from any thread).
    let metrics = WorkerMetrics()
    private var reportedBusyNanoseconds: Int64 = 0
    /// Connections that yielded while still able to make progress; resumed on the next loop turn.
    private var resumeQueue: [Connection] = []
    private var resuming: [Connection] = []

    init(index: Int, configuration: ProxyConfiguration, server: ProxyServer, logger: Logger) throws(Errno) {
        self.index = index
        self.configuration = configuration
        self.server = server
        self.logger = logger
        let slotSize = configuration.bufferSize + BufferPool.headroom
        reactor = try Reactor<Connection>(
            tickInterval: 250, backend: configuration.ioBackend, receiveSlotSize: slotSize,
            receiveBufferCount: Self.receiveBufferCount(slotSize: slotSize), headroom: BufferPool.headroom)
        pool = BufferPool(slotSize: slotSize)
        webRoot = configuration.webRoot.map { WebRoot(directory: $0, allowsListing: !configuration.fileOnly) }
        scratch = .allocate(byteCount: 16 * 1024, alignment: 16)
        headTimeoutMs = Self.milliseconds(configuration.requestHeadTimeout)
        heartbeatMs = configuration.heartbeat.map(Self.milliseconds)
        pongTimeoutMs = configuration.pongTimeout.map(Self.milliseconds)
        sessionIdleMs = configuration.sessionIdleTimeout.map(Self.milliseconds)
        lookupTimeoutMs = max(1, Self.milliseconds(configuration.lookupTimeout))
        reactor.onTick = { [unowned self] now in self.tick(now: now) }
        reactor.onDeferredWork = { [unowned self] in self.resumeAll() }
    }

    deinit { scratch.deallocate() }

    /// io_uring: buffers in the reactor's receive ring — about 8 MiB of them (a power of two, 8…256), whatever
    /// `--buffer-size` is. Pages are touched only as buffers are used.
    static func receiveBufferCount(slotSize: Int) -> Int {
        var count = 8
        while count < 256 && (count * 2) * slotSize <= 8 << 20 { count *= 2 }
        return count
    }

    /// Gives a relay slot back: to the reactor's receive ring when it came from there (io_uring), else to the pool.
    @inline(__always)
    func release(_ slot: UnsafeMutableRawPointer) {
        if !reactor.recycle(slot) { pool.release(slot) }
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Accepts a connection onto this reactor.
    func accept(fd: CInt, peer: SocketAddress) {
        // A Unix-domain client has no address of its own; websockify logs the listening socket's path.
        let isUnix = peer.family == 1
        var address = peer.host
        if isUnix, case .unixSocket(let path, _)? = configuration.sharedListener { address = path }
        guard server.admit(address: address) else {
            log("\(address): connection refused: limit of open connections reached")
            metrics.handshakeFailed(.limitRefused)
            Sockets.close(fd)
            return
        }
        metrics.connectionAccepted()
        if !isUnix { Sockets.setNoDelay(fd) }
        let connection = Connection(
            worker: self, fd: fd, peer: peer, peerHost: address, now: MonotonicClock.milliseconds(),
            handlerID: configuration.recordPath == nil && !configuration.structuredLogs ? 0 : server.nextHandlerID())
        connection.token = reactor.add(connection)
        do {
            try reactor.register(fd, for: connection.token, tag: Connection.clientTag)
        } catch {
            log("\(peer.host): cannot watch connection: \(error)")
            connection.finish(reason: "register failed")
        }
        // With edge-triggered epoll the first bytes may already be there; the registration reports them.
    }

    /// Accepts a connection on the `--metrics` listener: it only ever gets `/metrics` or `/healthz` answered, and
    /// does not count as a client (a scraper must not keep `--idle-timeout` from firing).
    func acceptMetrics(fd: CInt, peer: SocketAddress) {
        let connection = Connection(
            worker: self, fd: fd, peer: peer, peerHost: peer.host, now: MonotonicClock.milliseconds(), handlerID: 0)
        connection.servesMetrics = true
        connection.token = reactor.add(connection)
        do {
            try reactor.register(fd, for: connection.token, tag: Connection.clientTag)
        } catch {
            connection.finish(reason: "register failed")
        }
    }

    func connectionFinished(_ connection: Connection, wasWebSocket: Bool) {
        reactor.remove(connection.token)
        guard !connection.servesMetrics else { return }
        metrics.connectionClosed()
        if wasWebSocket { metrics.sessionFinished() }
        server.connectionClosed(address: connection.peerHost, wasWebSocket: wasWebSocket)
    }

    /// A deferred target decision arrived for `token`'s connection; dropped if that connection is gone.
    func lookupFinished(_ token: Token, _ decision: TargetDecision) {
        reactor.handler(for: token)?.lookupFinished(decision)
    }

    func webSocketStarted() {
        metrics.sessionStarted()
        server.webSocketStarted()
    }

    /// Resumes `connection` after the reactor's current batch of events (fairness: see `Connection.pump`).
    func scheduleResume(_ connection: Connection) {
        resumeQueue.append(connection)
        reactor.requestDeferredWork()
    }

    /// Two arrays swapped in turn, so resuming allocates nothing once they have grown.
    private func resumeAll() {
        swap(&resumeQueue, &resuming)
        for connection in resuming { connection.pump() }
        resuming.removeAll(keepingCapacity: true)
    }

    private func tick(now: Int64) {
        let busy = reactor.busyNanoseconds
        metrics.addBusyTime(nanoseconds: Int(busy - reportedBusyNanoseconds))
        reportedBusyNanoseconds = busy
        reactor.forEachHandler { $0.tick(now: now) }
    }

    /// Resolves a target host. Numeric hosts never block; names go through getaddrinfo (see docs/architecture.md).
    func resolve(host: String, port: UInt16) throws(ResolutionError) -> SocketAddress {
        try SocketAddress.resolve(host: host, port: port)
    }

    /// `25/Nov/2026 08:24:31`, formatted at most once per second per reactor (`localtime_r` takes a
    /// process-wide lock; a connection logs several lines).
    func logTimestamp() -> String {
        let now = WallClock.secondsSinceEpoch()
        if now != timestampSecond {
            timestampSecond = now
            timestamp = WallClock.logTimestamp()
        }
        return timestamp
    }

    private var timestampSecond: Int64 = -1
    private var timestamp = ""

    /// One websockify-style log line (`%(message)s`).
    func log(_ message: String) {
        logger.info("\(message)")
    }

    /// Graceful stop: WebSockets get Close 1001, everything else is closed.
    func shutdownConnections() {
        reactor.closeListeners()
        reactor.forEachHandler { $0.shutdown() }
    }
}
