// Wrap mode (`sockify PORT -- COMMAND`, librebind.so, --wrap-mode) and -D/--daemon (reference §1.3, §1.4), black box.
// These run sockify only: websockify's pip install ships no rebind.so (reference §1.3).
import Foundation
import Glibc
import Testing

extension ProxyBinaryTests {
    @Suite("Wrap mode and daemon")
    struct WrapAndDaemon {
        // MARK: wrap mode

        @Test("the wrapped echo server's bind moves to loopback; a WebSocket reaches it", arguments: ["v4", "dual"])
        func wrappedEchoServer(family: String) async throws {
            let wrapped = try await WrappedSockify.start(["-v"], echo: .init(family: family))
            defer { wrapped.stop() }
            let bound = try #require(wrapped.boundAddress, "no bind report; stdout:\n\(wrapped.process.stdout)")
            #expect(bound.host == (family == "v4" ? "127.0.0.1" : "::ffff:127.0.0.1"))
            #expect(bound.port != wrapped.port, "the wrapped program must not hold the proxy's port")
            try await expectEcho(port: wrapped.port, wrapped.process)

            let log = wrapped.process.stderr
            #expect(log.contains("Starting '\(wrapped.commandLine)'"))
            let destination = "'\(wrapped.commandLine)' (port \(bound.port))"
            #expect(log.contains("  - proxying from 127.0.0.1:\(wrapped.port) to \(destination)"))
            #expect(log.contains("connecting to command: \(destination)"), "websockify's per-connection line")

            // SIGTERM to the proxy ends the wrapped command too (websockify would leave it running).
            let children = wrapped.process.descendants()
            #expect(children.count == 1)
            wrapped.process.send(SIGTERM)
            #expect(try await offload { wrapped.process.waitForExit(timeout: .seconds(10)) })
            #expect(wrapped.process.exitStatus == 0)
            for child in children { #expect(!processExists(child), "wrapped command \(child) outlived the proxy") }
            #expect(wrapped.process.stderr.contains("Terminating wrapped command \(children.first ?? 0)"))
        }

        @Test("the command gets LD_PRELOAD=<librebind.so>:<inherited>, REBIND_OLD_PORT and REBIND_NEW_PORT")
        func commandEnvironment() async throws {
            let scratch = try ScratchDirectory()
            defer { scratch.remove() }
            let seen = scratch.path("environment.txt")
            let port = try LoopbackSocket.freePort()
            let script = #"printf '%s %s %s' "$LD_PRELOAD" "$REBIND_OLD_PORT" "$REBIND_NEW_PORT" > "$0""#
            let process = try SpawnedProcess(
                try RepositoryLayout.sockify(), ["127.0.0.1:\(port)", "--", "/bin/sh", "-c", script, seen],
                environment: ["LD_PRELOAD": "libm.so.6"])
            defer { process.terminate() }
            #expect(try await offload { process.waitForExit(timeout: .seconds(15)) })
            #expect(process.exitStatus == 0, "stderr:\n\(process.stderr)")
            let words = ((try? String(contentsOfFile: seen, encoding: .utf8)) ?? "").split(separator: " ")
            try #require(words.count == 3, "the command saw: \(words)")
            let library = URL(fileURLWithPath: try RepositoryLayout.sockify()).deletingLastPathComponent()
                .appendingPathComponent("librebind.so").resolvingSymlinksInPath().path
            #expect(words[0] == "\(library):libm.so.6")
            #expect(words[1] == "\(port)")
            #expect(process.stderr.contains("' (port \(words[2]))"))
        }

        @Test("an IPv6-only bind moves to [::1]; --wrap-mode=exit then exits 0")
        func ipv6OnlyBind() async throws {
            let wrapped = try await WrappedSockify.start([], echo: .init(family: "v6only", connections: -1))
            defer { wrapped.stop() }
            #expect(try await offload { wrapped.process.waitForExit(timeout: .seconds(15)) })
            #expect(wrapped.process.exitStatus == 0, "stderr:\n\(wrapped.process.stderr)")
            let bound = try #require(wrapped.boundAddress, "no bind report; stdout:\n\(wrapped.process.stdout)")
            #expect(bound.host == "::1")
            #expect(bound.port != wrapped.port)
        }

        @Test("--wrap-mode=exit (the default): the proxy exits 0 when the command exits, whatever it returned")
        func exitMode() async throws {
            let wrapped = try await WrappedSockify.start(["-v"], echo: .init(connections: 1, exitStatus: 3))
            defer { wrapped.stop() }
            try await expectEcho(port: wrapped.port, wrapped.process)
            #expect(try await offload { wrapped.process.waitForExit(timeout: .seconds(15)) })
            #expect(wrapped.process.exitStatus == 0)
            let log = wrapped.process.stderr
            #expect(log.contains("Wrapped command exited (or daemon). Returned 3"))
            #expect(log.contains("In exit"))
        }

        @Test("--wrap-mode=respawn: the command is started again and serves the next connection")
        func respawnMode() async throws {
            let wrapped = try await WrappedSockify.start(
                ["-v", "--wrap-mode=respawn"], echo: .init(connections: 1))
            defer { wrapped.stop() }
            try await expectEcho(port: wrapped.port, wrapped.process)
            #expect(try await wrapped.waitForOutput(count: 2), "not restarted; stderr:\n\(wrapped.process.stderr)")
            try await expectEcho(port: wrapped.port, wrapped.process)
            #expect(wrapped.process.isRunning)
            #expect(occurrences(of: "Starting '\(wrapped.commandLine)'", in: wrapped.process.stderr) >= 2)
        }

        @Test("--wrap-mode=respawn: three quick exits make one 'Command respawning too fast' and a pause")
        func respawnTooFast() async throws {
            let wrapped = try await WrappedSockify.start(["--wrap-mode=respawn"], command: ["/bin/sh", "-c", "exit 0"])
            defer { wrapped.stop() }
            let process = wrapped.process
            let warned = try await offload {
                for _ in 0..<300 where !process.stderr.contains("Command respawning too fast") {
                    usleep(50_000)  // bounded poll (15 s) of another process's log
                }
                return process.stderr
            }
            #expect(warned.contains("Command respawning too fast"), "log:\n\(warned)")
            // Starts at about t = 0, 1, 2 s; at t = 3 s their mean is 2 s old (< 10 s): no 4th start until t ≈ 11 s.
            #expect(occurrences(of: "Starting '/bin/sh -c exit 0'", in: warned) == 3)
            #expect(occurrences(of: "Command respawning too fast", in: warned) == 1)
            #expect(process.isRunning)
        }

        @Test("--wrap-mode=ignore: the proxy keeps serving after the command exits")
        func ignoreMode() async throws {
            let wrapped = try await WrappedSockify.start(["-v", "--wrap-mode=ignore"], echo: .init(connections: 1))
            defer { wrapped.stop() }
            try await expectEcho(port: wrapped.port, wrapped.process)
            #expect(try await wrapped.waitForLog("Wrapped command exited (or daemon). Returned 0"))
            // The target is gone, the proxy is not: upgrade accepted, then websockify's 1011.
            let result = try await RawClientResult.websocket(port: wrapped.port)
            #expect(result.status == 101)
            #expect(result.close?.code == 1011)
            #expect(wrapped.process.isRunning)
            #expect(occurrences(of: "Starting '", in: wrapped.process.stderr) == 1)
        }

        @Test("wrap mode without librebind.so next to the binary exits 1 with a clear message")
        func missingRebindLibrary() async throws {
            let scratch = try ScratchDirectory()
            defer { scratch.remove() }
            let copy = scratch.path("sockify")
            try FileManager.default.copyItem(atPath: try RepositoryLayout.sockify(), toPath: copy)
            let process = try SpawnedProcess(copy, ["127.0.0.1:\(try LoopbackSocket.freePort())", "--", "true"])
            defer { process.terminate() }
            #expect(try await offload { process.waitForExit(timeout: .seconds(15)) })
            #expect(process.exitStatus == 1)
            #expect(process.stderr.contains("librebind.so not found"), "stderr:\n\(process.stderr)")
        }

        @Test("wrap mode with --unix-listen is refused with exit status 1")
        func wrapNeedsTCPListener() async throws {
            let scratch = try ScratchDirectory()
            defer { scratch.remove() }
            let process = try SpawnedProcess(
                try RepositoryLayout.sockify(), ["--unix-listen", scratch.path("s"), "--", "sh", "-c", "true"])
            defer { process.terminate() }
            #expect(try await offload { process.waitForExit(timeout: .seconds(15)) })
            #expect(process.exitStatus == 1)
            #expect(process.stderr.contains("needs a TCP listen port"), "stderr:\n\(process.stderr)")
        }

        // MARK: -D/--daemon

        @Test("-D: the parent exits 0 at once; the daemon serves from / with stdio on /dev/null and logs to the file")
        func daemonServes() async throws {
            let target = try LoopbackTarget(.echo)
            defer { target.stop() }
            let scratch = try ScratchDirectory()
            defer { scratch.remove() }
            let logPath = scratch.path("daemon.log")
            let daemon = try await Daemonized.start { port in
                ["-D", "--log-file", logPath, "127.0.0.1:\(port)", "127.0.0.1:\(target.port)"]
            }
            defer { daemon.kill() }
            #expect(daemon.pid != daemon.launcher.pid)
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(daemon.pid)/cwd") == "/")
            for fd in 0...2 {
                let target = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(daemon.pid)/fd/\(fd)")
                #expect(target == "/dev/null")
            }
            // Double fork: a new session, and the daemon is not its leader (it can never get a terminal back).
            let session = try #require(processStat(daemon.pid)?.session)
            #expect(session != getsid(0))
            #expect(session != daemon.pid)

            try await expectEcho(port: daemon.port, nil)
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            #expect(log.contains("  - Backgrounding (daemon)"))
            #expect(log.contains("Plain non-SSL (ws://) WebSocket connection"))
            #expect(daemon.launcher.stderr.isEmpty, "the terminal gets nothing after the bind")
        }

        @Test("-D with a token plugin that runs on lookup threads (TokenFileName): lookups work after the fork")
        func daemonLookupThreads() async throws {
            let target = try LoopbackTarget(.echo)
            defer { target.stop() }
            let scratch = try ScratchDirectory()
            defer { scratch.remove() }
            try FileManager.default.createDirectory(atPath: scratch.path("names"), withIntermediateDirectories: true)
            try "127.0.0.1:\(target.port)".write(toFile: scratch.path("names/vm1"), atomically: true, encoding: .utf8)
            let daemon = try await Daemonized.start { port in
                ["-D", "--token-plugin", "TokenFileName", "--token-source", scratch.path("names"), "127.0.0.1:\(port)"]
            }
            defer { daemon.kill() }
            let result = try await WebSocketClientResult.run(
                "echo", url: "ws://127.0.0.1:\(daemon.port)/websockify?token=vm1", ["--total", "4096"])
            #expect(result.error == nil)
            #expect(result.received == 4096)
        }

        @Test("-D with --web and a wrapped command: the daemon runs in the web root and is the command's parent")
        func daemonWrapsCommand() async throws {
            let scratch = try ScratchDirectory()
            defer { scratch.remove() }
            let web = scratch.url.resolvingSymlinksInPath().path
            let script = try EchoServer.write(in: scratch)
            let path = try WrappedSockify.pathWithVenvPython()
            let daemon = try await Daemonized.start(environment: ["PATH": path]) { port in
                ["-D", "--web", web, "127.0.0.1:\(port)", "--", "python3", script, "\(port)", "0", "v4", "0"]
            }
            defer { daemon.kill() }
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(daemon.pid)/cwd") == web)
            // The wrapped command starts after daemonizing, as the daemon's child.
            let child = try await offload { () -> pid_t? in
                for _ in 0..<200 {
                    if let child = childPIDs(of: daemon.pid).first { return child }
                    usleep(50_000)  // bounded poll of another process's children
                }
                return nil
            }
            let command = try #require(child, "the daemon started no command")
            try await expectEcho(port: daemon.port, nil, attempts: 20)
            #expect(try await offload { daemon.terminate() }, "the daemon did not exit on SIGTERM")
            #expect(!processExists(command), "the wrapped command outlived the daemon")
        }
    }
}

// MARK: - helpers

/// The wrapped echo server's parameters: `echo.py PORT CONNECTIONS FAMILY EXIT_STATUS`.
struct EchoServer {
    /// `v4` (0.0.0.0), `dual` ([::], IPV6_V6ONLY off) or `v6only` ([::], IPV6_V6ONLY on).
    var family = "v4"
    /// Connections to serve before exiting; 0 = until killed (60 s idle bound); -1 = exit right after binding.
    var connections = 0
    /// The status to exit with.
    var exitStatus = 0

    /// A tiny TCP echo server that binds the proxy's own port, so only librebind.so lets it start. It prints
    /// `wrapped-echo bound HOST port N` once bound. Every socket times out after 60 s, so it cannot outlive a test.
    static let source = #"""
        import socket, sys, threading
        socket.setdefaulttimeout(60)
        port, count, family, status = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
        if family == "v4":
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            address = ("0.0.0.0", port)
        else:
            s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if family == "v6only" else 0)
            address = ("::", port)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(address)
        s.listen(8)
        name = s.getsockname()
        print("wrapped-echo bound %s port %d" % (name[0], name[1]), flush=True)
        def serve(c):
            with c:
                while True:
                    data = c.recv(65536)
                    if not data:
                        return
                    c.sendall(data)
        threads, served = [], 0
        while count >= 0 and (count == 0 or served < count):
            c, _ = s.accept()
            t = threading.Thread(target=serve, args=(c,))
            t.start()
            threads.append(t)
            served += 1
        for t in threads:
            t.join()
        sys.exit(status)
        """#

    /// Writes the script into `scratch`; returns its path.
    static func write(in scratch: ScratchDirectory) throws -> String {
        let path = scratch.path("echo.py")
        try source.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

/// `sockify [options] 127.0.0.1:PORT -- COMMAND` started on a free port and ready (listening, and the wrapped echo
/// server bound when there is one). `stop()` it in a `defer`.
struct WrappedSockify {
    let process: SpawnedProcess
    let port: UInt16
    /// The command as sockify logs it.
    let commandLine: String
    let scratch: ScratchDirectory

    /// Starts sockify wrapping the echo server (found as `python3` through `PATH`).
    static func start(_ options: [String], echo: EchoServer) async throws -> WrappedSockify {
        let scratch = try ScratchDirectory()
        let script = try EchoServer.write(in: scratch)
        return try await start(options, scratch: scratch, waitForBind: true) { port in
            ["python3", script, "\(port)", "\(echo.connections)", echo.family, "\(echo.exitStatus)"]
        }
    }

    /// Starts sockify wrapping `command`.
    static func start(_ options: [String], command: [String]) async throws -> WrappedSockify {
        try await start(options, scratch: try ScratchDirectory(), waitForBind: false) { _ in command }
    }

    /// `PATH` with the virtualenv's `bin` first, so that `python3` is the harness Python.
    static func pathWithVenvPython() throws -> String {
        let python = try RepositoryLayout.python()
        let bin = URL(fileURLWithPath: python).deletingLastPathComponent().path
        return bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
    }

    private static func start(
        _ options: [String], scratch: ScratchDirectory, waitForBind: Bool, command: (UInt16) -> [String]
    ) async throws -> WrappedSockify {
        let sockify = try RepositoryLayout.sockify()
        let path = try pathWithVenvPython()
        var lastLog = ""
        for _ in 0..<3 {
            let port = try LoopbackSocket.freePort()
            let words = command(port)
            let process = try SpawnedProcess(
                sockify, options + ["127.0.0.1:\(port)", "--"] + words, environment: ["PATH": path])
            let ready = try await offload { () -> Bool in
                for _ in 0..<300 {  // bounded: 15 s
                    let bound = !waitForBind || process.stdout.contains("wrapped-echo bound")
                    if bound && LoopbackSocket.accepts(port: port) { return true }
                    if !process.isRunning { return waitForBind && process.stdout.contains("wrapped-echo bound") }
                    usleep(50_000)  // bounded readiness poll of a separate process, not synchronisation
                }
                return false
            }
            let wrapped = WrappedSockify(
                process: process, port: port, commandLine: words.joined(separator: " "), scratch: scratch)
            if ready { return wrapped }
            let state = process.exitStatus.map { "exited \($0)" } ?? "not ready"
            lastLog = "sockify \(process.arguments.joined(separator: " ")): \(state)\n"
                + "stdout:\n\(process.stdout)\nstderr:\n\(process.stderr)"
            process.terminate()
            if !process.stderr.contains("in use") { break }
        }
        scratch.remove()
        throw HarnessError(lastLog)
    }

    /// Where the wrapped echo server says it is bound (the last report).
    var boundAddress: (host: String, port: UInt16)? {
        guard let line = process.stdout.split(separator: "\n").last(where: { $0.hasPrefix("wrapped-echo bound ") })
        else { return nil }
        let words = line.split(separator: " ")
        guard words.count == 5, let port = UInt16(words[4]) else { return nil }
        return (String(words[2]), port)
    }

    /// Waits (bounded, 15 s) until the echo server has reported `count` binds.
    func waitForOutput(count: Int) async throws -> Bool {
        let process = self.process
        return try await offload {
            for _ in 0..<300 where occurrences(of: "wrapped-echo bound", in: process.stdout) < count {
                usleep(50_000)  // bounded poll of another process's output
            }
            return occurrences(of: "wrapped-echo bound", in: process.stdout) >= count
        }
    }

    /// Waits (bounded, 15 s) for a log line containing `text`.
    func waitForLog(_ text: String) async throws -> Bool {
        let process = self.process
        return try await offload {
            for _ in 0..<300 where !process.stderr.contains(text) { usleep(50_000) }  // bounded poll
            return process.stderr.contains(text)
        }
    }

    func stop() {
        process.terminate()
        scratch.remove()
    }
}

/// A `sockify -D …` whose launcher has exited and whose daemon was found by its listening port.
struct Daemonized {
    let launcher: SpawnedProcess
    let pid: pid_t
    let port: UInt16

    /// Runs `sockify arguments(port)` on a free port, expects the launcher to exit 0 within 10 s, then finds the
    /// daemon: the process holding the listening socket on that port (bounded, 10 s).
    static func start(environment: [String: String] = [:], _ arguments: (UInt16) -> [String]) async throws
        -> Daemonized
    {
        let sockify = try RepositoryLayout.sockify()
        var lastLog = ""
        for _ in 0..<3 {
            let port = try LoopbackSocket.freePort()
            let launcher = try SpawnedProcess(sockify, arguments(port), environment: environment)
            guard try await offload({ launcher.waitForExit(timeout: .seconds(10)) }) else {
                launcher.terminate()
                throw HarnessError("sockify -D did not return within 10 s; stderr:\n\(launcher.stderr)")
            }
            guard launcher.exitStatus == 0 else {
                lastLog = "sockify -D exited \(launcher.exitStatus ?? -1); stderr:\n\(launcher.stderr)"
                if launcher.stderr.contains("in use") { continue }
                break
            }
            let found = try await offload { () -> pid_t? in
                for _ in 0..<200 {
                    if let pid = listeningProcess(port: port) { return pid }
                    usleep(50_000)  // bounded poll: the daemon binds before it detaches, but /proc may lag
                }
                return nil
            }
            guard let pid = found else { throw HarnessError("no process listens on port \(port) after sockify -D") }
            return Daemonized(launcher: launcher, pid: pid, port: port)
        }
        throw HarnessError(lastLog)
    }

    /// SIGTERM to the daemon by PID; waits (bounded, 10 s) until it is gone. Returns whether it is.
    func terminate() -> Bool {
        Glibc.kill(pid, SIGTERM)
        for _ in 0..<200 where processExists(pid) { usleep(50_000) }  // bounded poll of another process
        return !processExists(pid)
    }

    /// Ends the daemon by PID, whatever it takes (SIGTERM, then SIGKILL), and any child that survives it.
    func kill() {
        guard processExists(pid) else { return }
        let children = childPIDs(of: pid)
        if !terminate() {
            Glibc.kill(pid, SIGKILL)
            for _ in 0..<100 where processExists(pid) { usleep(50_000) }  // bounded: 5 s
        }
        SpawnedProcess.killAll(children.filter(processExists))
    }
}

/// An echo round trip through the proxy on `port` (the independent `websockets` client), retried up to `attempts`
/// times one second apart while the wrapped command may still be starting.
func expectEcho(port: UInt16, _ process: SpawnedProcess?, attempts: Int = 1) async throws {
    var result = WebSocketClientResult()
    for attempt in 1...attempts {
        result = try await WebSocketClientResult.run(
            "echo", url: "ws://127.0.0.1:\(port)/websockify", ["--total", "65536", "--max-frame", "8192"])
        if result.error == nil || attempt == attempts { break }
        _ = try await offload { usleep(1_000_000) }  // bounded retry while the wrapped server binds
    }
    #expect(result.error == nil, "log:\n\(process?.stderr ?? "")")
    #expect(result.received == 65536)
    #expect(result.mismatch == nil)
}

/// Non-overlapping occurrences of `needle` in `haystack`.
func occurrences(of needle: String, in haystack: String) -> Int {
    haystack.components(separatedBy: needle).count - 1
}

/// Whether `pid` is a live process (a zombie counts as gone: it has exited).
func processExists(_ pid: pid_t) -> Bool {
    guard let stat = processStat(pid) else { return false }
    return stat.state != "Z"
}

/// Fields of `/proc/<pid>/stat`: state, parent and session.
func processStat(_ pid: pid_t) -> (state: String, parent: pid_t, session: pid_t)? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = text.lastIndex(of: ")")
    else { return nil }
    // After "pid (comm) ": state ppid pgrp session …
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 4, let parent = pid_t(fields[1]), let session = pid_t(fields[3]) else { return nil }
    return (String(fields[0]), parent, session)
}

/// Live children of `pid`, from /proc/<pid>/task/*/children.
func childPIDs(of pid: pid_t) -> [pid_t] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    return tasks.flatMap { task -> [pid_t] in
        let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? ""
        return text.split(separator: " ").compactMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }.filter(processExists)
}

/// The process holding a listening TCP socket on `port` (IPv4 or IPv6), found through /proc/net/tcp{,6} inodes and
/// /proc/*/fd links, as `ss -ltnp` does.
func listeningProcess(port: UInt16) -> pid_t? {
    var inodes = Set<String>()
    let hexPort = String(format: ":%04X", port)
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = (try? String(contentsOfFile: table, encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            guard fields.count > 9, fields[1].hasSuffix(hexPort), fields[3] == "0A" else { continue }
            inodes.insert("socket:[\(fields[9])]")
        }
    }
    guard !inodes.isEmpty else { return nil }
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    for entry in entries {
        guard let pid = pid_t(entry), pid != getpid() else { continue }
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        for fd in fds {
            if let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                inodes.contains(link)
            {
                return pid
            }
        }
    }
    return nil
}
