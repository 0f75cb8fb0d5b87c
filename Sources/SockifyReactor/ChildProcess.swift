// Child processes for wrap mode (`sockify 6080 -- vncserver :1`): started the way websockify's
// `subprocess.Popen(cmd, env=…, preexec_fn=_subprocess_setup)` starts them, checked without blocking, ended on exit.
import Glibc

/// How a child process ended.
public enum ChildExit: Equatable, Sendable, CustomStringConvertible {
    /// The child called `exit(status)`; `status` is the low 8 bits.
    case exited(CInt)
    /// The child was killed by this signal.
    case signaled(CInt)

    /// Decodes a `waitpid(2)` status. `WIFEXITED`/`WTERMSIG` are function-like macros Swift cannot import; the
    /// layout is the kernel's: the low 7 bits hold the terminating signal (0 for a normal exit), bits 8–15 the
    /// exit status.
    init(waitStatus status: CInt) {
        let signal = status & 0x7F
        self = signal == 0 ? .exited((status >> 8) & 0xFF) : .signaled(signal)
    }

    /// Python's `Popen.returncode`: the exit status, or minus the signal number. websockify logs this number in
    /// `Wrapped command exited (or daemon). Returned N`.
    public var returnCode: Int {
        switch self {
        case .exited(let status): Int(status)
        case .signaled(let signal): -Int(signal)
        }
    }

    public var description: String {
        switch self {
        case .exited(let status): "exit status \(status)"
        case .signaled(let signal): "signal \(signal)"
        }
    }
}

/// A program started with `posix_spawnp(3)`.
///
/// The child inherits standard input, output and error, and the environment plus the given additions. Every other
/// descriptor Sockify opens is close-on-exec, so the child sees none of the proxy's sockets. Two things are reset
/// in the child, because a program expects them at their defaults and Sockify changes them:
/// - `SIGPIPE` (and `SIGXFSZ`) dispositions go back to the default, as websockify's `_subprocess_setup` and
///   Python's `restore_signals` do: Sockify ignores `SIGPIPE`, and an ignored signal stays ignored across `exec`.
/// - the signal mask is emptied: Sockify blocks `SIGINT`/`SIGTERM`/`SIGHUP` in every thread to `sigwait` for them,
///   and a blocked mask is inherited too, which would make the wrapped program deaf to `kill`.
///
/// `posix_spawn` is safe to call while other threads run (glibc uses `clone(CLONE_VM|CLONE_VFORK)`), unlike a raw
/// `fork`. The value is not `Sendable`: one thread owns it and is the only one that waits for the child.
public final class ChildProcess {
    /// The child's process ID (valid until the child has been reaped, i.e. until `exit` is set).
    public let pid: pid_t
    /// The command line: `arguments[0]` is the program, looked up in `PATH` when it has no `/`.
    public let arguments: [String]
    /// How the child ended, once `poll()`, `wait()` or `terminate()` has reaped it.
    public private(set) var exit: ChildExit?

    private init(pid: pid_t, arguments: [String]) {
        self.pid = pid
        self.arguments = arguments
    }

    /// Starts `arguments[0]` with `arguments` as its argv.
    /// The corresponding C call is `posix_spawnp(3)`.
    /// - Parameters:
    ///   - arguments: the command line; must not be empty.
    ///   - environment: variables set in the child on top of this process's environment (replacing any variable
    ///     of the same name).
    /// - Throws: the spawn error, e.g. `ENOENT` when the program is not found in `PATH`, or `EINVAL` for an empty
    ///   command line.
    public static func spawn(_ arguments: [String], environment: [String: String] = [:]) throws(Errno) -> ChildProcess {
        guard let program = arguments.first else { throw Errno(rawValue: EINVAL) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var signals = sigset_t()
        sigemptyset(&signals)
        posix_spawnattr_setsigmask(&attributes, &signals)
        sigaddset(&signals, SIGPIPE)
        sigaddset(&signals, SIGXFSZ)
        posix_spawnattr_setsigdefault(&attributes, &signals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = mergedEnvironment(environment).map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        // posix_spawnp searches PATH as this process sees it; the additions never change PATH in wrap mode.
        let result = posix_spawnp(&pid, program, nil, &attributes, argv, envp)
        guard result == 0 else { throw Errno(rawValue: result) }
        return ChildProcess(pid: pid, arguments: arguments)
    }

    /// This process's environment (`NAME=value` entries) with `additions` replacing or adding variables.
    static func mergedEnvironment(_ additions: [String: String]) -> [String] {
        var entries: [String] = []
        // `environ` is NULL after clearenv(3); the importer does not know that, hence the explicit optional.
        var cursor: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = environ
        while let current = cursor, let entry = current.pointee {
            let text = String(cString: entry)
            let name = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            if additions[String(name)] == nil { entries.append(text) }
            cursor = current + 1
        }
        for (name, value) in additions.sorted(by: { $0.key < $1.key }) { entries.append("\(name)=\(value)") }
        return entries
    }

    /// Reaps the child if it has ended, without blocking (websockify's `Popen.poll()`, about once a second).
    /// The corresponding C call is `waitpid(2)` with `WNOHANG`.
    /// - Returns: how the child ended, or `nil` while it runs.
    @discardableResult
    public func poll() -> ChildExit? {
        reap(options: WNOHANG)
    }

    /// Blocks until the child ends and reaps it. The corresponding C call is `waitpid(2)`.
    @discardableResult
    public func wait() -> ChildExit {
        // Only ECHILD can end a blocking wait without a status, and `reap` turns that into a value.
        reap(options: 0) ?? .exited(0)
    }

    /// Sends `signal` to the child, unless it has already been reaped (its PID may then belong to another
    /// process). The corresponding C call is `kill(2)`.
    public func send(signal: CInt) {
        guard exit == nil else { return }
        _ = kill(pid, signal)
    }

    /// Ends the child: `SIGTERM`, up to `graceMilliseconds` to exit, then `SIGKILL`; reaps it either way.
    /// - Returns: how the child ended (at once if it had already ended).
    @discardableResult
    public func terminate(graceMilliseconds: Int = 2000) -> ChildExit {
        if let exit { return exit }
        send(signal: SIGTERM)
        var waited = 0
        while waited < graceMilliseconds {
            if let exit = poll() { return exit }
            ReactorThread.sleep(milliseconds: 20)
            waited += 20
        }
        send(signal: SIGKILL)
        return wait()
    }

    private func reap(options: CInt) -> ChildExit? {
        if let exit { return exit }
        var status: CInt = 0
        while true {
            let result = waitpid(pid, &status, options)
            if result == pid {
                exit = ChildExit(waitStatus: status)
                return exit
            }
            if result == 0 { return nil }
            if errno == EINTR { continue }
            // ECHILD: someone else reaped it (SIGCHLD set to SIG_IGN). Python's Popen reports 0 then; so do we.
            precondition(errno == ECHILD, "waitpid(\(pid)) failed with errno \(errno): a Sockify bug")
            exit = .exited(0)
            return exit
        }
    }
}
