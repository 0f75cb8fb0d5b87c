// Starts the proxy under test (sockify or websockify) on a free loopback port and waits until it accepts.
import Foundation
import Glibc

/// A running proxy. Create it with `start`, always `stop()` it in a `defer`.
final class ProxyUnderTest: Sendable {
    let kind: ProxyKind
    let port: UInt16
    let process: SpawnedProcess

    private init(kind: ProxyKind, port: UInt16, process: SpawnedProcess) {
        self.kind = kind
        self.port = port
        self.process = process
    }

    /// The executable for `kind` (a missing one is a failure with a fix-it message).
    static func executable(_ kind: ProxyKind) throws -> String {
        switch kind {
        case .sockify: return try RepositoryLayout.sockify()
        case .websockify: return try RepositoryLayout.websockify()
        }
    }

    /// Starts `<proxy> options… 127.0.0.1:<free port> positionals…` and waits until the port accepts connections
    /// (bounded: 200 × 50 ms). A lost race for the port (another process took it) is retried with a new port.
    /// `environment` is added to the proxy's (e.g. `SSL_CERT_FILE`, the trust store OpenSSL and Python consult).
    static func start(options: [String] = [], target: [String], environment: [String: String] = [:]) async throws
        -> ProxyUnderTest
    {
        let kind = try ProxyKind.current()
        let executable = try executable(kind)
        var lastLog = ""
        for _ in 0..<3 {
            let port = try LoopbackSocket.freePort()
            let process = try SpawnedProcess(executable, options + ["127.0.0.1:\(port)"] + target, environment: environment)
            let ready = try await offload { () -> Bool in
                for _ in 0..<200 {
                    if LoopbackSocket.accepts(port: port) { return true }
                    if !process.isRunning { return false }
                    usleep(50_000)  // bounded readiness poll of a separate process, not synchronisation
                }
                return false
            }
            if ready { return ProxyUnderTest(kind: kind, port: port, process: process) }
            let exited = process.exitStatus.map { "exited with status \($0)" } ?? "did not listen within 10 s"
            process.terminate()
            lastLog = "\(kind) \(exited): \(executable) \(process.arguments.joined(separator: " "))\n\(process.stderr)"
            if !process.stderr.contains("in use") { break }
        }
        throw HarnessError(lastLog)
    }

    var url: String { "ws://127.0.0.1:\(port)" }

    /// The proxy's log so far (websockify and sockify both log to stderr).
    var log: String { process.stderr }

    /// Waits up to `timeout` for a log line containing `text` (bounded poll of the log file).
    func waitForLog(_ text: String, timeout: Duration = .seconds(10)) async throws -> Bool {
        let process = self.process
        return try await offload {
            let attempts = Int(timeout.seconds / 0.05)
            for _ in 0..<attempts {
                if process.stderr.contains(text) { return true }
                usleep(50_000)  // bounded poll: the log is written by another process
            }
            return process.stderr.contains(text)
        }
    }

    func stop() { process.terminate() }
}
