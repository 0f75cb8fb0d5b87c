// The running proxy: one listener and reactor per worker thread, lifecycle rules (--run-once, --timeout,
// --idle-timeout, graceful shutdown) and the start-up banner.
import Logging
import SockifyReactor
import Synchronization

/// Why the proxy could not start.
public struct StartError: Error, CustomStringConvertible {
    public let description: String
}

/// A Sockify proxy. `start()` binds and spawns the reactors; `run()` blocks until the proxy should exit.
///
/// `@unchecked Sendable`: the mutable members set in `start()` are written before any worker thread exists and
/// only read afterwards; the counters shared with workers are atomics.
public final class ProxyServer: @unchecked Sendable {
    public let configuration: ProxyConfiguration
    let logger: Logger
    private var workers: [Worker] = []
    private var threads: [ReactorThread] = []
    /// The bound listen address (useful with port 0).
    public private(set) var listenAddress = SocketAddress()
    /// The listener all workers share (`--unix-listen`, `--inetd`), or -1; closed after the workers stop.
    private var sharedListenerFD: CInt = -1

    private let activeConnections = Atomic<Int>(0)
    private let finishedWebSockets = Atomic<Int>(0)
    private let startedWebSockets = Atomic<Int>(0)
    private let idleSince = Atomic<Int64>(0)
    private let shutdownRequested = Atomic<Bool>(false)
    private let handlerIDs = Atomic<Int>(0)
    /// Open connections per client address, kept only with `maxConnectionsPerAddress` (touched on accept and
    /// close, never per byte).
    private let perAddress = Mutex<[String: Int]>([:])

    public init(configuration: ProxyConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Binds one `SO_REUSEPORT` listener per worker and starts the reactor threads (`bind()` then `launch()`).
    /// - Throws: `StartError` with websockify's wording when the address cannot be resolved or bound.
    public func start() throws(StartError) {
        try bind()
        try launch()
    }

    /// Listeners bound by `bind()`, handed to the workers by `launch()`.
    private var boundListeners: [CInt] = []
    /// The `--metrics` listener (on the first reactor), or -1.
    private var metricsListenerFD: CInt = -1
    /// The bound `--metrics` address.
    public private(set) var metricsAddress: SocketAddress?

    /// Binds the listening sockets only (no threads yet), so a caller can daemonize between `bind()` and `launch()`
    /// and still report a bind failure on the terminal.
    /// - Throws: `StartError` with websockify's wording when the address cannot be resolved or bound.
    public func bind() throws(StartError) {
        let config = configuration
        var listeners: [CInt] = []
        if let shared = config.sharedListener {
            do {
                switch shared {
                case .unixSocket(let path, let mode):
                    sharedListenerFD = try Sockets.listenUnix(path: path, mode: mode)
                case .inherited(let fd):
                    try Sockets.adoptListener(fd)
                    sharedListenerFD = fd
                }
            } catch {
                throw StartError(description: "Openening socket failed: \(error)")
            }
        } else {
            let address: SocketAddress
            do {
                address = try SocketAddress.resolve(
                    host: config.listenHost, port: config.listenPort, passive: true, preferIPv6: config.preferIPv6)
            } catch {
                throw StartError(description: "Openening socket failed: \(error)")
            }
            do {
                let first = try Sockets.listen(on: address, reusePort: true)
                listeners.append(first)
                listenAddress = try Sockets.localAddress(first)
                for _ in 1..<max(1, config.workers) {
                    listeners.append(try Sockets.listen(on: listenAddress, reusePort: true))
                }
            } catch {
                listeners.forEach(Sockets.close)
                throw StartError(description: "Openening socket failed: \(error)")
            }
        }
        boundListeners = listeners
        if let metrics = config.metricsListen {
            do {
                let address = try SocketAddress.resolve(host: metrics.host, port: metrics.port, passive: true)
                metricsListenerFD = try Sockets.listen(on: address, reusePort: false, backlog: 64)
                metricsAddress = try Sockets.localAddress(metricsListenerFD)
            } catch {
                listeners.forEach(Sockets.close)
                throw StartError(description: "cannot listen for --metrics on \(metrics.host):\(metrics.port): \(error)")
            }
        }
    }

    /// The listening descriptors `bind()` opened (a daemonizing caller keeps them open).
    public var listenerDescriptors: [CInt] {
        (sharedListenerFD >= 0 ? [sharedListenerFD] : boundListeners) + (metricsListenerFD >= 0 ? [metricsListenerFD] : [])
    }

    /// Creates the workers and starts the reactor threads on the listeners `bind()` opened.
    /// - Throws: `StartError` when a reactor cannot be created.
    public func launch() throws(StartError) {
        let config = configuration
        let listeners = boundListeners
        idleSince.store(MonotonicClock.milliseconds(), ordering: .relaxed)
        do {
            for index in 0..<max(1, config.workers) {
                let worker = try Worker(index: index, configuration: config, server: self, logger: logger)
                if sharedListenerFD >= 0 {
                    try worker.reactor.addListener(sharedListenerFD, owned: false) { [unowned worker] client, peer in
                        worker.accept(fd: client, peer: peer)
                    }
                } else {
                    try worker.reactor.addListener(listeners[index]) { [unowned worker] client, peer in
                        worker.accept(fd: client, peer: peer)
                    }
                }
                if index == 0 && metricsListenerFD >= 0 {
                    try worker.reactor.addListener(metricsListenerFD, survivesClose: true) { [unowned worker] client, peer in
                        worker.acceptMetrics(fd: client, peer: peer)
                    }
                }
                workers.append(worker)
            }
            let cpus = ReactorThread.onlineProcessorCount
            for worker in workers {
                let pin = workers.count > 1 ? worker.index % cpus : nil
                threads.append(try ReactorThread.start(pinnedTo: pin) { worker.reactor.run() })
            }
        } catch {
            throw StartError(description: "cannot start reactor: \(error)")
        }
    }

    /// The websockify-style start-up banner lines.
    public var bannerLines: [String] {
        let config = configuration
        var lines = ["WebSocket server settings:"]
        let host = config.listenHost ?? ""
        let source: String
        switch config.sharedListener {
        case .unixSocket(let path, _):
            lines.append("  - Listen on unix socket \(path)")
            source = path
        case .inherited(let fd) where fd == 3:
            lines.append("  - Listen on the socket systemd passed (LISTEN_FDS)")
            source = "systemd"
        case .inherited:
            lines.append("  - Listen for inetd connections")
            source = "inetd"
        case nil:
            lines.append("  - Listen on \(host.contains(":") ? "[\(host)]" : host):\(listenAddress.port)")
            source = "\(host):\(listenAddress.port)"
        }
        if let web = config.webRoot {
            lines.append(config.fileOnly ? "  - Web server (no directory listings). Web root: \(web)" : "  - Web server. Web root: \(web)")
        }
        if let tls = config.tls, tls.hasCertificate {
            lines.append("  - SSL/TLS support")
            if config.sslOnly { lines.append("  - Deny non-SSL/TLS connections") }
        } else {
            lines.append("  - No SSL/TLS support (no cert file)")
        }
        if config.daemon { lines.append("  - Backgrounding (daemon)") }
        if let record = config.recordPath { lines.append("  - Recording to '\(record).*'") }
        lines.append("  - \(workers.count) reactor thread(s), \(configuration.ioBackend.rawValue)")
        if let metrics = metricsAddress {
            let host = metrics.host.contains(":") ? "[\(metrics.host)]" : metrics.host
            lines.append("  - Metrics on http://\(host):\(metrics.port)/metrics and /healthz")
        }
        lines.append(
            "  - proxying from \(source) to \(config.targetDescription)\(config.targetTLS == nil ? "" : " (using SSL)")")
        return lines
    }

    /// Blocks until the proxy should exit (shutdown request, --run-once, --timeout, --idle-timeout, or
    /// `housekeeping` returning false), closes connections cleanly and stops the reactors.
    /// - Parameter housekeeping: called about every 100 ms on the calling thread (e.g. to watch a wrapped command);
    ///   returning false makes the proxy exit.
    public func run(housekeeping: (() -> Bool)? = nil) {
        let config = configuration
        let startedAt = MonotonicClock.milliseconds()
        var listening = true
        var lastReloadCheck = startedAt
        while true {
            ReactorThread.sleep(milliseconds: 100)
            let now = MonotonicClock.milliseconds()
            if let tls = config.tls, now - lastReloadCheck >= 1000 {
                lastReloadCheck = now
                switch tls.reloadIfChanged() {
                case .unchanged: break
                case .reloaded:
                    let note = tls.hasCertificate ? "" : " (not found: TLS off until it exists)"
                    logger.info("TLS certificate reloaded: \(tls.settings.certificate.certificateFile)\(note)")
                case .failed(let error):
                    logger.error("TLS certificate reload failed, keeping the previous one: \(error)")
                }
            }
            let active = activeConnections.load(ordering: .acquiring)
            if shutdownRequested.load(ordering: .acquiring) {
                logger.info("In exit")
                break
            }
            if config.runOnce && finishedWebSockets.load(ordering: .acquiring) > 0 {
                break
            }
            if let housekeeping, !housekeeping() { break }
            if listening, let timeout = config.listenTimeout, now - startedAt >= Worker.milliseconds(timeout) {
                logger.info("listener exit due to --timeout \(timeout.components.seconds)")
                listening = false
                draining.store(true, ordering: .releasing)
                for worker in workers { worker.reactor.execute { worker.reactor.closeListeners() } }
            }
            if !listening && active == 0 { break }
            if let idle = config.idleTimeout, active == 0,
                now - idleSince.load(ordering: .acquiring) >= Worker.milliseconds(idle)
            {
                logger.info("listener exit due to --idle-timeout \(idle.components.seconds)")
                break
            }
        }
        stop()
    }

    /// Asks `run()` to return. Safe from any thread (a signal-handling thread calls it).
    public func shutdown() {
        shutdownRequested.store(true, ordering: .releasing)
    }

    private func stop() {
        for worker in workers { worker.reactor.execute { worker.shutdownConnections() } }
        // Give Close frames up to two seconds to leave; connections linger by themselves for that long at most.
        for _ in 0..<40 where activeConnections.load(ordering: .acquiring) > 0 {
            ReactorThread.sleep(milliseconds: 50)
        }
        for worker in workers { worker.reactor.stop() }
        for thread in threads { thread.join() }
        threads.removeAll()
        if sharedListenerFD >= 0 {
            Sockets.close(sharedListenerFD)
            sharedListenerFD = -1
        }
    }

    // MARK: counters (called from worker threads)

    /// Admits a new client connection, or refuses it when `--max-connections` or `--max-connections-per-ip`
    /// would be exceeded (the caller then closes it). Every admitted connection must be released with
    /// `connectionClosed`.
    func admit(address: String) -> Bool {
        let config = configuration
        let total = activeConnections.add(1, ordering: .acquiringAndReleasing).newValue
        if config.maxConnections > 0 && total > config.maxConnections {
            activeConnections.subtract(1, ordering: .acquiringAndReleasing)
            return false
        }
        if config.maxConnectionsPerAddress > 0 {
            let admitted = perAddress.withLock { counts -> Bool in
                let current = counts[address, default: 0]
                guard current < config.maxConnectionsPerAddress else { return false }
                counts[address] = current + 1
                return true
            }
            if !admitted {
                activeConnections.subtract(1, ordering: .acquiringAndReleasing)
                return false
            }
        }
        return true
    }

    func connectionClosed(address: String, wasWebSocket: Bool) {
        if configuration.maxConnectionsPerAddress > 0 {
            perAddress.withLock { counts in
                let left = counts[address, default: 1] - 1
                counts[address] = left > 0 ? left : nil
            }
        }
        if wasWebSocket { finishedWebSockets.add(1, ordering: .acquiringAndReleasing) }
        let left = activeConnections.subtract(1, ordering: .acquiringAndReleasing).newValue
        if left == 0 { idleSince.store(MonotonicClock.milliseconds(), ordering: .releasing) }
    }

    /// websockify's `handler_id`: 1 for the first accepted connection (of any kind), then 2, 3, …
    func nextHandlerID() -> Int {
        handlerIDs.add(1, ordering: .relaxed).newValue
    }

    /// Moves an admitted connection from `old` to `new` (the real client behind a PROXY header or a trusted proxy),
    /// so per-address limits count the real client. False when `new` is at its limit (the caller closes; the
    /// connection stays counted under `old` until then).
    func readdress(from old: String, to new: String) -> Bool {
        let limit = configuration.maxConnectionsPerAddress
        guard limit > 0, old != new else { return true }
        return perAddress.withLock { counts -> Bool in
            guard counts[new, default: 0] < limit else { return false }
            counts[new, default: 0] += 1
            let left = counts[old, default: 1] - 1
            counts[old] = left > 0 ? left : nil
            return true
        }
    }

    /// The `/metrics` page: every reactor's counters, summed, with per-reactor utilisation.
    func metricsText() -> String {
        PrometheusText.render(
            snapshots: workers.map { $0.metrics.snapshot() }, backend: configuration.ioBackend.rawValue, draining: isDraining,
            perWorker: false)
    }

    /// True once the proxy stops taking new connections (shutdown, `--timeout`).
    var isDraining: Bool { shutdownRequested.load(ordering: .acquiring) || draining.load(ordering: .acquiring) }
    private let draining = Atomic<Bool>(false)

    func webSocketStarted() {
        startedWebSockets.add(1, ordering: .acquiringAndReleasing)
    }

    /// Connections currently open (any kind).
    public var activeConnectionCount: Int { activeConnections.load(ordering: .acquiring) }
}
