// A child process started by the harness: output captured to files, bounded waits, kill by PID in teardown.
import Foundation
import Glibc

/// One spawned program, started with `posix_spawn` and reaped by a dedicated thread blocked in `waitpid`.
///
/// Foundation's `Process` is not used: on Linux it learns about the exit through a descriptor the child inherits,
/// so a child that forks (websockify forks one process per connection) is reported as running until its last
/// descendant is gone. Here the exit of the child itself is what counts. stdout and stderr go to files (no pipe
/// can fill up and stall the child); stdin is /dev/null; every descriptor above 2 is closed in the child.
/// Always call `terminate()` (in a `defer`) once started: it ends the child and every descendant, by PID.
final class SpawnedProcess: Sendable {
    let executable: String
    let arguments: [String]
    let pid: pid_t
    /// The raw `waitpid` status once the child has exited.
    private let waitStatus = Observed<Int32?>(nil)
    private let scratch: ScratchDirectory

    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        self.executable = executable
        self.arguments = arguments
        scratch = try ScratchDirectory()
        var env = ProcessInfo.processInfo.environment
        env["PYTHONUNBUFFERED"] = "1"
        env.merge(environment) { _, new in new }
        pid = try Self.spawn(
            executable,
            arguments: arguments,
            environment: env.map { "\($0.key)=\($0.value)" },
            stdout: scratch.path("stdout"),
            stderr: scratch.path("stderr")
        )
        Thread { [pid, waitStatus] in
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            waitStatus.update { $0 = status }
        }.start()
    }

    deinit { scratch.remove() }

    var stdout: String { (try? String(contentsOfFile: scratch.path("stdout"), encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: scratch.path("stderr"), encoding: .utf8)) ?? "" }
    var isRunning: Bool { waitStatus.value == nil }

    /// The exit code, or 128+signal when killed by a signal (shell convention); nil while running.
    var exitStatus: Int32? {
        guard let status = waitStatus.value else { return nil }
        // WIFEXITED/WEXITSTATUS are function-like macros Swift cannot import: low 7 bits = terminating signal.
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }

    /// Waits up to `timeout` for the child to exit (blocking; call through `offload`).
    func waitForExit(timeout: Duration) -> Bool {
        waitStatus.wait(timeout: timeout) { $0 != nil }.satisfied
    }

    /// Sends `signal` to the child itself (not while it could be a reaped, reused PID).
    func send(_ signal: Int32) { if isRunning { Glibc.kill(pid, signal) } }

    /// Every live descendant PID (children of any thread, recursively) from /proc/<pid>/task/*/children.
    func descendants() -> [pid_t] {
        var result: [pid_t] = []
        var frontier = [pid]
        while let next = frontier.popLast(), result.count < 10_000 {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(next)/task")) ?? []
            for task in tasks {
                let text = (try? String(contentsOfFile: "/proc/\(next)/task/\(task)/children", encoding: .utf8)) ?? ""
                let children = text.split(separator: " ").compactMap { pid_t($0.trimmingCharacters(in: .whitespaces)) }
                result += children
                frontier += children
            }
        }
        return result
    }

    /// Resident set size of the child plus all its descendants, in bytes (VmRSS from /proc/<pid>/status).
    func residentBytes() -> Int {
        guard isRunning else { return 0 }
        return ([pid] + descendants()).reduce(0) { total, p in
            let status = (try? String(contentsOfFile: "/proc/\(p)/status", encoding: .utf8)) ?? ""
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else {
                return total
            }
            let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
            return total + kilobytes * 1024
        }
    }

    /// Ends the child: SIGTERM, up to 5 s to exit, then SIGKILL; then SIGKILL to each descendant seen before.
    func terminate() {
        let family = descendants()
        if isRunning {
            Glibc.kill(pid, SIGTERM)
            if !waitForExit(timeout: .seconds(5)) {
                Glibc.kill(pid, SIGKILL)
                _ = waitForExit(timeout: .seconds(5))
            }
        }
        Self.killAll(family)
    }

    /// SIGKILL to each PID in `family` that still exists (descendants recorded by `descendants()`).
    static func killAll(_ family: [pid_t]) {
        for child in family where FileManager.default.fileExists(atPath: "/proc/\(child)") {
            Glibc.kill(child, SIGKILL)
        }
    }

    private static func spawn(
        _ path: String,
        arguments: [String],
        environment: [String],
        stdout: String,
        stderr: String
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        closeInheritedDescriptors(&actions)

        // The child starts with default dispositions and an empty mask, whatever the test runner changed.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var signals = sigset_t()
        sigemptyset(&signals)
        posix_spawnattr_setsigmask(&attributes, &signals)
        sigfillset(&signals)
        sigdelset(&signals, SIGKILL)
        sigdelset(&signals, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &signals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard result == 0 else { throw HarnessError("posix_spawn \(path): \(String(cString: strerror(result)))") }
        return pid
    }

    /// `posix_spawn_file_actions_addclosefrom_np` (glibc ≥ 2.34) is a GNU extension Swift's Glibc module does not
    /// declare, so it is looked up at run time. Without it the harness still marks its own sockets close-on-exec.
    private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        else { return }
        _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
    }
}
