// Wrap mode, `sockify [host:]port -- COMMAND…` (reference §1.3, websocketproxy.py:311-411): Sockify listens on the
// port, starts COMMAND with librebind.so preloaded so that COMMAND's own bind() to that port moves to a free
// loopback port, and proxies to that loopback port. `--wrap-mode` says what happens when COMMAND exits.
import Glibc
import Logging
import SockifyReactor
import SockifyTargets

/// Wrap mode's set-up, decided before the proxy binds: where librebind.so is, and which loopback port the
/// wrapped program's listener is moved to (the proxy's target).
struct WrapPlan {
    /// The command line after `--`.
    var command: [String]
    /// `--wrap-mode`.
    var mode: WrapMode
    /// Absolute path of the LD_PRELOAD library.
    var rebindLibrary: String
    /// The port the wrapped program binds (Sockify's listen port): `REBIND_OLD_PORT`.
    var listenPort: Int
    /// The free loopback port the program's listener moves to: `REBIND_NEW_PORT`, and the proxy's target.
    var targetPort: UInt16

    /// The target the proxy connects to: `127.0.0.1:<targetPort>`.
    var target: HostPort { HostPort(host: "127.0.0.1", port: Int(targetPort)) }

    /// The command as websockify prints it: the words joined by spaces.
    var commandLine: String { command.joined(separator: " ") }

    /// The variables set for the command: `LD_PRELOAD=<rebind>[:<previous LD_PRELOAD>]`, `REBIND_OLD_PORT`,
    /// `REBIND_NEW_PORT` (the names websockify's rebind.so reads, so either library works).
    func environment(previousPreload: String?) -> [String: String] {
        let preload = [rebindLibrary, previousPreload ?? ""].filter { !$0.isEmpty }.joined(separator: ":")
        return ["LD_PRELOAD": preload, "REBIND_OLD_PORT": "\(listenPort)", "REBIND_NEW_PORT": "\(targetPort)"]
    }

    /// The plan for `options`, or `nil` without a wrapped command.
    /// - Parameters:
    ///   - argv0: the program path as invoked; librebind.so is looked for next to it.
    ///   - currentDirectory: makes a relative `argv0` absolute (the command starts after a `-D` chdir).
    /// - Throws: `ConfigurationError` (exit 1) when the listen side is not a TCP port, when librebind.so is not
    ///   found, or when no loopback port can be had.
    static func prepare(_ options: WebsockifyOptions, argv0: String, currentDirectory: String)
        throws(ConfigurationError) -> WrapPlan?
    {
        guard let command = options.wrapCommand else { return nil }
        let listenPort: Int
        switch options.listen {
        case .tcp(let listen):
            listenPort = listen.port
        case .inetd, .unixSocket, .systemdSocket:
            // websockify takes `args[1:]` as the command here (dropping its first word) and then dies with a
            // KeyError on REBIND_OLD_PORT: wrap mode needs a TCP port to move. Refusing says so plainly.
            throw ConfigurationError(
                message: "wrap mode (-- COMMAND) needs a TCP listen port; it cannot be used with --inetd or "
                    + "--unix-listen")
        }
        let directories = executableDirectories(argv0: argv0, currentDirectory: currentDirectory)
        guard let library = findRebindLibrary(in: directories, exists: { access($0, R_OK) == 0 }) else {
            throw ConfigurationError(
                message: "librebind.so not found (wrap mode needs it; looked next to the executable in "
                    + "\(directories.joined(separator: ", "))); it is built with sockify by `swift build`")
        }
        let port: UInt16
        do {
            port = try freeLoopbackPort()
        } catch {
            throw ConfigurationError(message: "wrap mode: cannot find a free loopback port: \(error)")
        }
        return WrapPlan(
            command: command, mode: options.wrapMode, rebindLibrary: library, listenPort: listenPort,
            targetPort: port)
    }

    /// The directories librebind.so is looked for in: `dirname(argv0)` (made absolute) when `argv0` names a
    /// path, and the directory of the running executable (`/proc/self/exe`, which also covers a bare `sockify`
    /// found through `PATH`, where websockify would look in the working directory).
    static func executableDirectories(argv0: String, currentDirectory: String) -> [String] {
        var directories: [String] = []
        if argv0.contains("/") {
            let absolute = argv0.hasPrefix("/") ? argv0 : currentDirectory + "/" + argv0
            directories.append(normalized(directoryName(absolute)))
        }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if length > 0 {
            let path = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let directory = directoryName(path)
            if !directories.contains(directory) { directories.append(directory) }
        }
        return directories
    }

    /// The first existing library among, for each directory in turn: Sockify's `librebind.so` next to the
    /// executable and in `../lib/sockify`, then websockify's `rebind.so` locations (`../lib`, `../lib/websockify`,
    /// `..`, and the directory itself).
    static func findRebindLibrary(in directories: [String], exists: (String) -> Bool) -> String? {
        let relative = [
            "librebind.so", "../lib/sockify/librebind.so",
            "../lib/rebind.so", "../lib/websockify/rebind.so", "../rebind.so", "rebind.so",
        ]
        for directory in directories {
            for candidate in relative where exists(directory + "/" + candidate) {
                return normalized(directory + "/" + candidate)
            }
        }
        return nil
    }

    /// An absolute path with `.` and `..` removed lexically, as Python's `os.path.abspath` does (symbolic links are
    /// not resolved: `bin/../lib` is `lib` even when `bin` is a link).
    static func normalized(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") where part != "." {
            if part == ".." {
                _ = parts.popLast()
            } else {
                parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// `path` without its last component (`/` for a file at the root).
    private static func directoryName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// A port that is free on 127.0.0.1 right now: bind port 0, read the port, close (as websockify does; the
    /// wrapped program binds it moments later).
    private static func freeLoopbackPort() throws -> UInt16 {
        let address = try SocketAddress.resolve(host: "127.0.0.1", port: 0)
        let fd = try Sockets.listen(on: address, reusePort: false, backlog: 1)
        defer { Sockets.close(fd) }
        return try Sockets.localAddress(fd).port
    }
}

/// The wrapped command while the proxy runs: started once after the banner, polled about once a second from
/// `ProxyServer.run`'s housekeeping, and ended when the proxy exits.
///
/// Not `Sendable`: only the main thread touches it.
final class WrappedCommand {
    private let plan: WrapPlan
    private let environment: [String: String]
    private let logger: Logger
    private var child: ChildProcess?
    /// The last three start times (monotonic ms), oldest first. websockify starts with `[0, 0, 0]` in epoch
    /// seconds, i.e. "long ago"; a far-past value does the same for a monotonic clock.
    private var startTimes: [Int64] = [-1_000_000_000, -1_000_000_000, -1_000_000_000]
    /// websockify's `spawn_message`: the respawn warning is logged once per burst of fast exits.
    private var warnWhenTooFast = true
    private var lastPoll: Int64 = 0

    /// websockify polls once per pass of its 1 s `select` loop; housekeeping runs every ~100 ms.
    static let pollIntervalMilliseconds: Int64 = 1000
    /// `--wrap-mode=respawn` waits while the mean of the last three start times is less than this long ago.
    static let respawnWindowMilliseconds: Int64 = 10_000

    init(plan: WrapPlan, logger: Logger) {
        self.plan = plan
        self.logger = logger
        environment = plan.environment(previousPreload: getenv("LD_PRELOAD").map { String(cString: $0) })
    }

    /// Starts the command, logging `Starting '<command>'`.
    /// - Returns: false (after logging the error) when it cannot be started, e.g. not found in `PATH`.
    @discardableResult
    func start() -> Bool {
        logger.info("Starting '\(plan.commandLine)'")
        let now = MonotonicClock.milliseconds()
        startTimes.removeFirst()
        startTimes.append(now)
        lastPoll = now
        warnWhenTooFast = true
        do {
            child = try ChildProcess.spawn(plan.command, environment: environment)
            return true
        } catch {
            logger.error("Failed to start '\(plan.commandLine)': \(error)")
            return false
        }
    }

    /// The housekeeping step: reaps the command once it has exited and applies `--wrap-mode`.
    /// - Returns: false when the proxy must exit (`--wrap-mode=exit`; websockify then exits 0 whatever the
    ///   command returned, because its `sys.exit(ret)` is caught by its main loop).
    func poll() -> Bool {
        let now = MonotonicClock.milliseconds()
        guard now - lastPoll >= Self.pollIntervalMilliseconds else { return true }
        lastPoll = now
        if let running = child, let exit = running.poll() {
            logger.debug("Wrapped command exited (or daemon). Returned \(exit.returnCode)")
            child = nil
        }
        guard child == nil else { return true }
        switch plan.mode {
        case .ignore:
            return true
        case .exit:
            logger.info("In exit")
            return false
        case .respawn:
            let mean = startTimes.reduce(0, +) / Int64(startTimes.count)
            if now - mean < Self.respawnWindowMilliseconds {
                if warnWhenTooFast {
                    logger.warning("Command respawning too fast")
                    warnWhenTooFast = false
                }
            } else {
                start()
            }
            return true
        }
    }

    /// Ends a command that is still running when the proxy exits (SIGTERM, then SIGKILL after 2 s). websockify
    /// leaves it running; Sockify does not leave an orphan holding the loopback port behind.
    func stop() {
        guard let running = child, running.poll() == nil else { return }
        logger.info("Terminating wrapped command \(running.pid)")
        running.terminate()
        child = nil
    }
}
