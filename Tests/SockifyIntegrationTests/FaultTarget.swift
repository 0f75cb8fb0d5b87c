// Misbehaving TCP targets for the fault suite (reset mid-stream, stall, half-close), the steady-session peer
// runner, a token-file proxy that routes to several targets at once, and /proc CPU sampling.
import Foundation
import Glibc

/// A TCP server on 127.0.0.1:0 whose connections misbehave on purpose. One thread per connection, blocking I/O
/// with the harness timeouts; `stop()` shuts every socket down so all threads end.
final class FaultTarget: @unchecked Sendable {
    // @unchecked Sendable: the fds are immutable after init or guarded by `connections` (an Observed lock).

    enum Behavior: Sendable {
        /// Sends `byteCount` pattern bytes, then closes with `SO_LINGER` 0: the proxy gets a reset, not a FIN.
        case resetAfter(byteCount: Int, trigger: ResetTrigger)
        /// Accepts and never reads or writes until stopped: the proxy's sends to it fill the socket buffers.
        case stall
        /// Sends `byteCount` pattern bytes, shuts down its write side (FIN) and keeps reading until EOF.
        case halfClose(byteCount: Int)
    }

    /// When a `.resetAfter` target sends and resets.
    enum ResetTrigger: Sendable {
        /// Sends at once after accepting and resets right after (possibly before the proxy saw the connect).
        case immediately
        /// Waits for one byte from the client (so the proxy is relaying), sends, resets while data is in flight.
        case afterClientByte
        /// As `afterClientByte`, then waits for a second byte, which the client sends once it has read every
        /// byte: the reset reaches an idle relay.
        case afterClientAck
    }

    struct Stats: Sendable {
        var accepted = 0
        var open = 0
        /// Pattern bytes sent by `.resetAfter`/`.halfClose`.
        var bytesSent = 0
        /// Bytes read by `.halfClose` after its FIN.
        var bytesReceived = 0
        var captured: [UInt8] = []
        /// Connections whose reader saw the proxy's EOF.
        var peerEOFs = 0
        var errors: [String] = []
    }

    let port: UInt16
    let stats = Observed(Stats())
    private let behavior: Behavior
    private let listenFD: Int32
    private let connections = Observed<Set<Int32>>([])
    private let stopped = Observed(false)

    init(_ behavior: Behavior) throws {
        self.behavior = behavior
        (listenFD, port) = try LoopbackSocket.listen()
        Thread { [self] in acceptLoop() }.start()
    }

    func wait(timeout: Duration = .seconds(20), until predicate: @escaping @Sendable (Stats) -> Bool) async throws
        -> Stats
    {
        try await offload { [stats] in stats.wait(timeout: timeout, until: predicate).state }
    }

    func stop() {
        stopped.update { $0 = true }
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
                return
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            LoopbackSocket.applyTimeouts(fd)
            connections.update { $0.insert(fd) }
            stats.update {
                $0.accepted += 1
                $0.open += 1
            }
            Thread { [self] in
                let closedHere = serve(fd)
                connections.update { $0.remove(fd) }
                if !closedHere { close(fd) }
                stats.update { $0.open -= 1 }
            }.start()
        }
    }

    /// Runs the behaviour; true when it already closed `fd` itself (the reset case).
    private func serve(_ fd: Int32) -> Bool {
        switch behavior {
        case .resetAfter(let byteCount, let trigger):
            var byte: UInt8 = 0
            if trigger != .immediately && recv(fd, &byte, 1, 0) != 1 {
                stats.update { $0.errors.append("resetAfter: no first byte") }
                return false
            }
            sendPattern(fd, byteCount: byteCount)
            if trigger == .afterClientAck && recv(fd, &byte, 1, 0) != 1 {
                stats.update { $0.errors.append("resetAfter: no acknowledgement byte") }
                return false
            }
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            connections.update { $0.remove(fd) }
            close(fd)
            return true
        case .stall:
            // Never read: the proxy's writes back up until stop() (bounded by the harness's one-minute limit).
            _ = stopped.wait(timeout: .seconds(60)) { $0 }
            return false
        case .halfClose(let byteCount):
            sendPattern(fd, byteCount: byteCount)
            shutdown(fd, Int32(SHUT_WR))
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
            defer { buffer.deallocate() }
            while true {
                guard let n = LoopbackSocket.receive(fd, into: buffer) else {
                    stats.update { $0.errors.append("halfClose: recv failed: \(String(cString: strerror(errno)))") }
                    return false
                }
                if n == 0 {
                    stats.update { $0.peerEOFs += 1 }
                    return false
                }
                stats.update {
                    $0.bytesReceived += n
                    $0.captured.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                }
            }
        }
    }

    private func sendPattern(_ fd: Int32, byteCount: Int) {
        var offset = 0
        while offset < byteCount {
            let n = min(64 * 1024, byteCount - offset)
            guard PatternStream.withWindow(offset: offset, count: n, { LoopbackSocket.sendAll(fd, $0) }) else {
                stats.update { $0.errors.append("send failed at \(offset): \(String(cString: strerror(errno)))") }
                return
            }
            offset += n
            stats.update { $0.bytesSent += n }
        }
    }
}

/// fault_steady.py running in the background: pattern-verified echo sessions that must be untouched by a fault.
final class SteadySessions: Sendable {
    struct Session: Decodable, Sendable {
        var sent: Int
        var received: Int
        var mismatch: Int?
        var closeCode: Int?
        var closeReason: String?
        var endedBy: String?
        var error: String?
    }

    struct Result: Decodable, Sendable {
        var error: String?
        var sessions: [Session]
        var seconds: Double?
    }

    let process: SpawnedProcess

    /// Starts the peer and waits (bounded) until every session has echoed once and it printed `READY`.
    static func start(url: String, _ arguments: [String]) async throws -> SteadySessions {
        let python = try RepositoryLayout.python()
        let script = RepositoryLayout.peers.appendingPathComponent("fault_steady.py").path
        let process = try SpawnedProcess(python, [script, "--url", url] + arguments)
        let ready = try await offload { () -> Bool in
            for _ in 0..<400 {
                if process.stdout.contains("READY") { return true }
                if !process.isRunning { return false }
                usleep(25_000)  // bounded poll of another process's output, not synchronisation
            }
            return false
        }
        guard ready else {
            process.terminate()
            throw HarnessError("fault_steady.py never got ready:\n\(process.stdout)\n\(process.stderr)")
        }
        return SteadySessions(process: process)
    }

    private init(process: SpawnedProcess) { self.process = process }

    /// Waits for the peer to finish (bounded) and decodes its result line.
    func finish(timeout: Duration = .seconds(40)) async throws -> Result {
        let process = self.process
        defer { process.terminate() }
        guard try await offload({ process.waitForExit(timeout: timeout) }) else {
            throw HarnessError("fault_steady.py did not finish within \(timeout):\n\(process.stderr)")
        }
        let line = process.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(Result.self, from: Data(line.utf8))
        } catch {
            throw HarnessError("fault_steady.py printed no result (\(error)):\n\(process.stdout)\n\(process.stderr)")
        }
    }
}

/// Starts the proxy with a token file (`--target-config`) naming several targets, so one proxy carries a faulty
/// session and a healthy one at the same time (`/?token=<name>`).
func withTokenProxy<T: Sendable>(
    targets: [String: UInt16],
    options: [String] = [],
    _ body: (ProxyUnderTest) async throws -> T
) async throws -> T {
    let scratch = try ScratchDirectory()
    defer { scratch.remove() }
    let file = scratch.path("targets.cfg")
    let lines = targets.map { "\($0.key): 127.0.0.1:\($0.value)" }.sorted().joined(separator: "\n") + "\n"
    try lines.write(toFile: file, atomically: true, encoding: .utf8)
    let proxy = try await ProxyUnderTest.start(options: options + ["--target-config", file], target: [])
    defer { proxy.stop() }
    return try await body(proxy)
}

/// CPU time of a process (all threads) from /proc/<pid>/stat: utime + stime, in seconds.
enum ProcessCPU {
    static func seconds(_ pid: pid_t) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let end = text.lastIndex(of: ")")
        else { return nil }
        // Fields after "(comm)": state is field 3, utime field 14, stime field 15 (proc(5)).
        let fields = text[text.index(after: end)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The share of one core `pid` used over `interval` (blocking; call through `offload`).
    static func usage(_ pid: pid_t, over interval: Duration) -> Double? {
        guard let before = seconds(pid) else { return nil }
        let started = ContinuousClock.now
        usleep(UInt32(interval.seconds * 1_000_000))  // the measurement window itself, not synchronisation
        guard let after = seconds(pid) else { return nil }
        return (after - before) / (ContinuousClock.now - started).seconds
    }
}
