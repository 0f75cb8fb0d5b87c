// Runs one load plan: starts the worker threads, drives the conns phases, prints progress, enforces the hard
// timeout, and merges what the workers measured.
import Foundation
import Glibc
import SockifyReactor
import Synchronization

/// The outcome of a load run.
struct LoadResult {
    var plan: LoadPlan
    var statistics: WorkerStatistics
    /// conns: PSS of the proxy tree before any connection and with all connections held.
    var memoryBefore: ProcessMemory.Sample?
    var memoryHeld: ProcessMemory.Sample?
    /// conns: connections that answered the re-check after the hold.
    var rechecked = 0
    var isTimedOut = false

    /// The measurement window in seconds (first start to last completion over all workers).
    var elapsed: Double {
        guard statistics.measureEnd > statistics.measureStart else { return 0 }
        return Double(statistics.measureEnd - statistics.measureStart) / 1e9
    }

    var messagesPerSecond: Double { elapsed > 0 ? Double(statistics.messages) / elapsed : 0 }
    var bytesPerSecond: Double { elapsed > 0 ? Double(statistics.bytes) / elapsed : 0 }

    /// conns: connections opened per second, first connect to last open.
    var connectRate: Double {
        guard statistics.lastOpenedAt > statistics.firstConnectAt else { return 0 }
        return Double(statistics.opened) / (Double(statistics.lastOpenedAt - statistics.firstConnectAt) / 1e9)
    }

    /// conns: extra PSS per held connection.
    var memoryPerConnection: Double? {
        guard let before = memoryBefore, let held = memoryHeld, statistics.opened > 0 else { return nil }
        return Double(held.bytes - before.bytes) / Double(statistics.opened)
    }

    var isSuccess: Bool {
        guard statistics.failures == 0, !isTimedOut else { return false }
        switch plan.mode {
        case .conns: return statistics.opened == plan.connectionCount && rechecked == plan.connectionCount
        case .up, .down: return statistics.bytes == plan.byteCount
        case .rtt, .soak: return statistics.messages > 0 || statistics.upJobs + statistics.downJobs > 0
        }
    }
}

enum LoadRun {
    /// Runs `plan` to completion or timeout.
    ///
    /// - Parameter progress: receives a one-line status about twice a second (for a terminal), or `nil`.
    /// - Throws: `UsageError` for a target that does not resolve or is not on loopback; `Errno` when threads or
    ///   reactors cannot be created.
    static func execute(_ plan: LoadPlan, progress report: ((String) -> Void)? = nil) throws -> LoadResult {
        let address: SocketAddress
        do {
            address = try SocketAddress.resolve(host: plan.endpoint.host, port: plan.endpoint.port)
        } catch {
            throw UsageError("cannot resolve \(plan.endpoint.host): \(error)")
        }
        guard plan.allowsRemote || Endpoint.isLoopback(numericHost: address.host) else {
            throw UsageError("\(plan.endpoint) resolves to \(address.host), which is not loopback; add --allow-remote")
        }
        let limit = SystemInfo.raiseDescriptorLimit()
        guard plan.connectionCount + 64 <= limit else {
            throw UsageError("\(plan.connectionCount) connections need more than the descriptor limit of \(limit)")
        }
        var result = LoadResult(plan: plan, statistics: WorkerStatistics())
        if let pid = plan.proxyPID {
            guard let sample = ProcessMemory.sample(tree: pid) else { throw UsageError("cannot read /proc/\(pid)") }
            result.memoryBefore = sample
        }

        let tlsContext = try makeTLSContext(plan)

        let shared = SharedProgress()
        var workers: [LoadWorker] = []
        for index in 0..<plan.threadCount {
            workers.append(
                try LoadWorker(plan: plan, index: index, address: address, tlsContext: tlsContext, progress: shared))
        }
        let started = LoadClock.now()
        var threads: [ReactorThread] = []
        for worker in workers {
            threads.append(try ReactorThread.start(pinnedTo: nil) { worker.run() })
        }

        let hardDeadline = started &+ plan.timeout.nanoseconds
        var connsStage = 0  // 0 opening, 1 holding, 2 rechecking, 3 closing
        var holdEnds: UInt64 = 0
        var lastProgress = started
        // Bounded by the hard deadline (then by a 10 s drain after the abort).
        while shared.finishedWorkers.load(ordering: .acquiring) < workers.count {
            ReactorThread.sleep(milliseconds: 20)
            let now = LoadClock.now()
            if plan.mode == .conns {
                let failures = shared.failures.load(ordering: .relaxed)
                switch connsStage {
                case 0 where shared.ready.load(ordering: .relaxed) + failures >= plan.connectionCount:
                    for worker in workers { worker.post { $0.hold() } }
                    if let pid = plan.proxyPID { result.memoryHeld = ProcessMemory.sample(tree: pid) }
                    holdEnds = now &+ plan.hold.nanoseconds
                    connsStage = 1
                case 1 where now >= holdEnds:
                    for worker in workers { worker.post { $0.recheck() } }
                    connsStage = 2
                case 2 where shared.rechecked.load(ordering: .relaxed) + failures >= plan.connectionCount:
                    result.rechecked = shared.rechecked.load(ordering: .relaxed)
                    for worker in workers { worker.post { $0.closeAll() } }
                    connsStage = 3
                default:
                    break
                }
            }
            if let report, now &- lastProgress >= 500_000_000 {
                lastProgress = now
                report(progressLine(plan, shared, elapsed: Double(now &- started) / 1e9))
            }
            if now >= hardDeadline && !result.isTimedOut {
                result.isTimedOut = true
                let seconds = plan.timeout.seconds
                for worker in workers { worker.post { $0.abort("timed out after \(seconds) s (--timeout)") } }
            }
            if result.isTimedOut && now >= hardDeadline &+ 10_000_000_000 { break }
        }
        if result.isTimedOut && shared.finishedWorkers.load(ordering: .acquiring) < workers.count {
            // A worker that does not answer its abort within 10 s is stuck; leave without joining it.
            var merged = WorkerStatistics()
            merged.failures = 1
            merged.failureMessages = ["a load thread did not stop after the timeout"]
            result.statistics = merged
            return result
        }
        for thread in threads { thread.join() }
        for worker in workers { result.statistics.merge(worker.statistics) }
        if plan.mode == .conns && connsStage < 3 {
            result.rechecked = shared.rechecked.load(ordering: .relaxed)
        }
        return result
    }

    /// wss://: the one client context all workers share; nil otherwise.
    /// - Throws: `UsageError` when a file named on the command line cannot be loaded.
    static func makeTLSContext(_ plan: LoadPlan) throws(UsageError) -> TLSClientContext? {
        guard plan.endpoint.isTLS else { return nil }
        // OpenSSL writes to the socket itself, without MSG_NOSIGNAL: a peer's reset must not kill the process.
        // (Also done at start-up; repeated here for callers that run a plan in-process, like the tests.)
        signal(SIGPIPE, SIG_IGN)
        var settings = TLSClientSettings()
        settings.verifyPeer = plan.tls.verifiesPeer
        settings.caFile = plan.tls.caFile
        settings.certificate = plan.tls.certificateFile.map {
            TLSCertificateFiles(certificateFile: $0, keyFile: plan.tls.keyFile)
        }
        settings.kernelTLS = plan.tls.kernelTLS
        do {
            return try TLSClientContext(settings: settings)
        } catch {
            throw UsageError("TLS: \(error)")
        }
    }

    private static func progressLine(_ plan: LoadPlan, _ shared: SharedProgress, elapsed: Double) -> String {
        let failures = shared.failures.load(ordering: .relaxed)
        let time = String(format: "%6.1f s", elapsed)
        switch plan.mode {
        case .rtt:
            let messages = shared.messages.load(ordering: .relaxed)
            return "\(time)  \(messages) messages  \(String(format: "%.0f", Double(messages) / max(elapsed, 1e-3))) msgs/s  \(failures) failures"
        case .up, .down, .soak:
            let bytes = shared.bytes.load(ordering: .relaxed)
            return "\(time)  \(String(format: "%.2f", Double(bytes) / 1e9)) GB  \(String(format: "%.2f", Double(bytes) / 1e9 / max(elapsed, 1e-3))) GB/s  \(failures) failures"
        case .conns:
            return "\(time)  opened \(shared.opened.load(ordering: .relaxed))  ready \(shared.ready.load(ordering: .relaxed))  rechecked \(shared.rechecked.load(ordering: .relaxed))  \(failures) failures"
        }
    }
}
