// `make install` into a staging directory, then noVNC's own launcher (Debian's novnc_proxy) running the installed
// `websockify -> sockify` link from PATH in front of a real Xvnc.
//
//   swift build --build-tests && swift test --skip-build --filter InstallTests
//
// The release products come from `<scratch>/release` when they are newer than every source file (after
// `make release-products`, `make demo` or `tools/soak.sh` with the same scratch path). Otherwise the first
// `make install` builds them itself, in a scratch path of its own (`<scratch>/install-release`): SwiftPM locks the
// scratch path of the running `swift test`, so a build there would wait forever. That cold release build takes
// about 3.5 minutes on 2 idle cores; later runs rebuild incrementally, and later tests reuse its products.
//
// Time bounds, worst case: make install 330 s (cold release build), then each other make call 60 s; the
// novnc_proxy test: Xvnc 10 s + novnc_proxy 10 s + sockify child 5 s + two Python peers 2 × 55 s + shutdown 15 s.
import Foundation
import Glibc
import Testing

@Suite("make install and noVNC's novnc_proxy (black box)", .serialized, .timeLimit(.minutes(6)))
struct InstallTests {
    /// Debian's noVNC launcher (package novnc 1:1.3.0-1): finds `websockify` with `which` and runs
    /// `websockify --web <dir> <port> <host:port>` (options before and after the positionals).
    static let novncProxy = "/usr/share/novnc/utils/novnc_proxy"

    @Test("make install DESTDIR=… PREFIX=/usr WEBSOCKIFY_LINK=1: files, modes, relative link, FORCE, uninstall")
    func installTree() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let tree = try await StagedInstall.make(into: scratch.path("stage"))
        let fm = FileManager.default

        for (path, what) in [(tree.sockify, "sockify"), (tree.load, "sockify-load"), (tree.rebind, "librebind.so")] {
            let attributes = try fm.attributesOfItem(atPath: path)
            #expect(attributes[.type] as? FileAttributeType == .typeRegular, "\(what) is a regular file")
            #expect((attributes[.posixPermissions] as? Int).map { $0 & 0o777 } == 0o755, "\(what) has mode 0755")
        }
        #expect(try fm.destinationOfSymbolicLink(atPath: tree.websockify) == "sockify", "relative link")
        #expect(URL(fileURLWithPath: tree.websockify).resolvingSymlinksInPath().path == tree.sockify)

        // The installed programs run; the library is a shared object that exports the interposed bind(2).
        for (program, usage) in [(tree.sockify, "Usage:"), (tree.load, "sockify-load")] {
            let run = try await Self.run(program, ["--help"], timeout: .seconds(10))
            #expect(run.status == 0 && (run.stdout + run.stderr).contains(usage), "\(program) --help:\n\(run.stderr)")
        }
        let library = try #require(
            dlopen(tree.rebind, RTLD_NOW | RTLD_LOCAL),
            "dlopen: \(dlerror().map { String(cString: $0) } ?? "?")"
        )
        #expect(dlsym(library, "bind") != nil, "librebind.so exports bind")
        dlclose(library)

        // A regular websockify (websockify.py) is never replaced without FORCE=1, and the refusal comes before any
        // build: the scratch path given to `make install` is never created.
        try fm.removeItem(atPath: tree.websockify)
        let python = "#!/bin/sh\necho websockify.py\n"
        try python.write(toFile: tree.websockify, atomically: false, encoding: .utf8)
        let unbuilt = scratch.path("never-built")
        let refusedInstall = ["install", "WEBSOCKIFY_LINK=1", "SWIFT_FLAGS=--scratch-path \(unbuilt)"]
        for target in [["install-websockify-link"], refusedInstall] {
            let refused = try await StagedInstall.runMake(target + tree.placement, timeout: .seconds(60))
            #expect(refused.status != 0, "make \(target) must refuse to replace a regular websockify")
            #expect(refused.stderr.contains("FORCE=1"), "the refusal says how to override it:\n\(refused.stderr)")
            #expect(try String(contentsOfFile: tree.websockify, encoding: .utf8) == python, "left untouched")
            #expect((try? fm.destinationOfSymbolicLink(atPath: tree.websockify)) == nil)
        }
        #expect(!fm.fileExists(atPath: unbuilt), "the refused make install started a build")
        let forced = try await StagedInstall.runMake(
            ["install-websockify-link", "FORCE=1"] + tree.placement,
            timeout: .seconds(60)
        )
        #expect(forced.status == 0, "FORCE=1 replaces it:\n\(forced.stderr)")
        #expect(try fm.destinationOfSymbolicLink(atPath: tree.websockify) == "sockify")

        // uninstall removes exactly what install put there; a regular websockify stays.
        let removed = try await StagedInstall.runMake(["uninstall"] + tree.placement, timeout: .seconds(60))
        #expect(removed.status == 0, "make uninstall:\n\(removed.stderr)")
        for path in [tree.sockify, tree.load, tree.rebind, tree.websockify, tree.libraryDirectory] {
            #expect(
                !fm.fileExists(atPath: path) && (try? fm.destinationOfSymbolicLink(atPath: path)) == nil,
                "\(path) removed"
            )
        }
        try python.write(toFile: tree.websockify, atomically: false, encoding: .utf8)
        let kept = try await StagedInstall.runMake(["uninstall"] + tree.placement, timeout: .seconds(60))
        #expect(kept.status == 0)
        #expect(try String(contentsOfFile: tree.websockify, encoding: .utf8) == python, "uninstall keeps websockify.py")
    }

    @Test("wrap mode through the installed websockify link finds ../lib/sockify/librebind.so")
    func installedRebindLibrary() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let tree = try await StagedInstall.make(into: scratch.path("stage"))
        let seen = scratch.path("preload.txt")
        let port = try LoopbackSocket.freePort()
        // --wrap-mode=exit: the proxy exits once the command has written what it was given.
        let run = try await Self.run(
            tree.websockify,
            ["127.0.0.1:\(port)", "--", "/bin/sh", "-c", "printf %s \"$LD_PRELOAD\" > \"$0\"", seen],
            timeout: .seconds(20)
        )
        #expect(run.status == 0, "websockify -- sh exited with \(run.status):\n\(run.stderr)")
        let preload = (try? String(contentsOfFile: seen, encoding: .utf8)) ?? ""
        #expect(preload.split(separator: ":").first.map(String.init) == tree.rebind, "LD_PRELOAD was \(preload)")
    }

    @Test("Debian's novnc_proxy runs the installed websockify link: noVNC's page and Xvnc's RFB greeting via sockify")
    func novncProxyLauncher() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.novncProxy) else {
            throw HarnessError("\(Self.novncProxy) is missing: run tools/setup-deps.sh (Debian package novnc)")
        }
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let tree = try await StagedInstall.make(into: scratch.path("stage"))
        let vnc = try await VirtualVNCServer.start(geometry: "320x240")
        defer { vnc.stop() }

        // An empty working directory: novnc_proxy passes `--cert $PWD/self.pem` when that file exists.
        let workingDirectory = scratch.path("cwd")
        try FileManager.default.createDirectory(atPath: workingDirectory, withIntermediateDirectories: true)
        let launcher = try await NoVNCProxy.start(
            binDirectory: tree.binDirectory,
            vncPort: vnc.port,
            workingDirectory: workingDirectory
        )
        defer { launcher.stop() }
        let context = Comment(rawValue: launcher.diagnostics)

        // The process serving the port is the installed sockify, started by novnc_proxy through the link.
        #expect(launcher.process.stdout.contains("Using installed websockify at \(tree.websockify)"), context)
        let server = try #require(await launcher.waitForChild(executable: tree.sockify), context)
        #expect(try await launcher.waitForLog("reactor thread(s)"), context)
        #expect(launcher.process.stderr.contains("to localhost:\(vnc.port)"), context)
        #expect(launcher.process.stderr.contains("Web server. Web root: /usr/share/novnc"), context)

        let page = try await RawClientResult.run(port: launcher.port, ["--path", "/vnc.html"])
        #expect(page.error == nil, context)
        #expect(page.status == 200, context)
        #expect(page.body?.contains("noVNC") == true, context)

        let rfb = try await WebSocketClientResult.run("rfb", url: "ws://127.0.0.1:\(launcher.port)/websockify")
        #expect(rfb.error == nil, context)
        #expect(rfb.version == "RFB 003.008\n", context)
        #expect(rfb.width == 320 && rfb.height == 240, context)

        // novnc_proxy's trap sends SIGTERM to its websockify: the sockify process must be gone afterwards.
        launcher.stop()
        #expect(try await NoVNCProxy.waitUntilGone(server), "sockify \(server) still running after novnc_proxy ended")
    }

    /// Runs `program arguments…` to completion (bounded), capturing its output.
    static func run(_ program: String, _ arguments: [String], timeout: Duration) async throws -> CompletedRun {
        let process = try SpawnedProcess(program, arguments)
        defer { process.terminate() }
        guard try await offload({ process.waitForExit(timeout: timeout) }) else {
            throw HarnessError("\(program) \(arguments) did not finish within \(timeout):\n\(process.stderr)")
        }
        return CompletedRun(status: process.exitStatus ?? -1, stdout: process.stdout, stderr: process.stderr)
    }
}

/// A finished child: exit status (128+signal when killed) and its output.
struct CompletedRun: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// The tree `make install DESTDIR=<root> PREFIX=/usr WEBSOCKIFY_LINK=1` produced.
struct StagedInstall: Sendable {
    let root: String

    var binDirectory: String { root + "/usr/bin" }
    var libraryDirectory: String { root + "/usr/lib/sockify" }
    var sockify: String { binDirectory + "/sockify" }
    var load: String { binDirectory + "/sockify-load" }
    var websockify: String { binDirectory + "/websockify" }
    var rebind: String { libraryDirectory + "/librebind.so" }
    /// The make variables that address this tree.
    var placement: [String] { ["DESTDIR=\(root)", "PREFIX=/usr"] }

    /// Runs `make install DESTDIR=<root> PREFIX=/usr WEBSOCKIFY_LINK=1`, with the release products chosen by
    /// `releaseArguments()`; a failure throws with make's output.
    static func make(into root: String) async throws -> StagedInstall {
        let tree = StagedInstall(root: root)
        let arguments = ["install", "WEBSOCKIFY_LINK=1"] + tree.placement + (try releaseArguments())
        let result = try await runMake(arguments, timeout: .seconds(330))
        guard result.status == 0 else {
            throw HarnessError("make \(arguments) exited with \(result.status):\n\(result.stdout)\n\(result.stderr)")
        }
        return tree
    }

    /// `RELEASE_DIR=<dir>` for the first of `<scratch>/release` and `<scratch>/install-release/release` whose three
    /// release products are all newer than every source file; otherwise
    /// `SWIFT_FLAGS=--scratch-path <scratch>/install-release`, a build directory of the test's own (so only the
    /// first `make install` of a run builds; the next ones find its products fresh).
    static func releaseArguments() throws -> [String] {
        let scratch = try scratchPath()
        let own = "\(scratch)/install-release"
        let newest = newestSource()
        for directory in ["\(scratch)/release", "\(own)/release"] {
            let built = ["sockify", "sockify-load", "librebind.so"].compactMap {
                modificationDate("\(directory)/\($0)")
            }
            if built.count == 3, let oldest = built.min(), oldest >= newest {
                return ["RELEASE_DIR=\(directory)"]
            }
        }
        try seedDependencies(from: scratch, into: own)
        return ["SWIFT_FLAGS=--scratch-path \(own)"]
    }

    /// Runs `make -C <repository> arguments…`, bounded by `timeout`. The outer make's MAKEFLAGS (a `make test
    /// SWIFT_FLAGS=…` override, its jobserver) are not passed on: this make must use the arguments given here.
    static func runMake(_ arguments: [String], timeout: Duration) async throws -> CompletedRun {
        let make = try RepositoryLayout.systemTool("make", package: "make")
        let process = try SpawnedProcess(
            make,
            ["-C", RepositoryLayout.root.path] + arguments,
            environment: ["MAKEFLAGS": "", "MFLAGS": "", "MAKEOVERRIDES": ""]
        )
        defer { process.terminate() }
        guard try await offload({ process.waitForExit(timeout: timeout) }) else {
            throw HarnessError(
                "make \(arguments) did not finish within \(timeout):\n\(process.stdout)\n\(process.stderr)"
            )
        }
        return CompletedRun(status: process.exitStatus ?? -1, stdout: process.stdout, stderr: process.stderr)
    }

    /// The scratch path this test bundle was built in: the nearest ancestor of the running executable that holds
    /// SwiftPM's `workspace-state.json` (`<scratch>/<triple>/debug/<bundle>`).
    private static func scratchPath() throws -> String {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        var directory = URL(fileURLWithPath: me).deletingLastPathComponent()
        for _ in 0..<5 {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("workspace-state.json").path) {
                return directory.path
            }
            directory = directory.deletingLastPathComponent()
        }
        throw HarnessError("cannot find the SwiftPM scratch path above \(me) (no workspace-state.json)")
    }

    /// The newest modification time among the files a release build reads.
    private static func newestSource() -> Date {
        let root = RepositoryLayout.root
        var newest = Date.distantPast
        for name in ["Package.swift", "Package.resolved"] {
            newest = max(newest, modificationDate(root.appendingPathComponent(name).path) ?? .distantPast)
        }
        for folder in ["Sources", "CShims"] {
            let base = root.appendingPathComponent(folder).path
            for relative in FileManager.default.enumerator(atPath: base)?.compactMap({ $0 as? String }) ?? [] {
                newest = max(newest, modificationDate("\(base)/\(relative)") ?? .distantPast)
            }
        }
        return newest
    }

    private static func modificationDate(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }

    /// A new build directory gets the outer one's resolved dependencies (checkouts, mirrors, workspace state), so
    /// its first build does not clone them from the network again.
    private static func seedDependencies(from scratch: String, into own: String) throws {
        let fm = FileManager.default
        guard !fm.fileExists(atPath: "\(own)/workspace-state.json") else { return }
        try fm.createDirectory(atPath: own, withIntermediateDirectories: true)
        for item in ["checkouts", "repositories", "workspace-state.json"]
        where fm.fileExists(atPath: "\(scratch)/\(item)") {
            try? fm.removeItem(atPath: "\(own)/\(item)")
            try fm.copyItem(atPath: "\(scratch)/\(item)", toPath: "\(own)/\(item)")
        }
    }
}

/// Debian's `novnc_proxy --vnc localhost:<vnc port> --listen <port>`, with the installed bin directory first on
/// PATH. `stop()` it in a `defer`: SIGTERM (its trap ends its websockify), then SIGKILL to every descendant.
final class NoVNCProxy: Sendable {
    let port: UInt16
    let process: SpawnedProcess

    private init(port: UInt16, process: SpawnedProcess) {
        self.port = port
        self.process = process
    }

    /// Starts the launcher on a free port and waits until that port accepts (bounded: 200 × 50 ms); a port taken
    /// by someone else in between ("Port … in use") is retried with another.
    static func start(binDirectory: String, vncPort: UInt16, workingDirectory: String) async throws -> NoVNCProxy {
        let env = try RepositoryLayout.systemTool("env", package: "coreutils")
        let path = binDirectory + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        var lastLog = ""
        for _ in 0..<3 {
            let port = try LoopbackSocket.freePort()
            let process = try SpawnedProcess(
                env,
                [
                    "-C", workingDirectory, InstallTests.novncProxy, "--vnc", "localhost:\(vncPort)", "--listen",
                    "\(port)",
                ],
                environment: ["PATH": path]
            )
            let ready = try await offload { () -> Bool in
                for _ in 0..<200 {
                    if LoopbackSocket.accepts(port: port) { return true }
                    if !process.isRunning { return false }
                    usleep(50_000)  // bounded readiness poll of a separate process, not synchronisation
                }
                return false
            }
            if ready { return NoVNCProxy(port: port, process: process) }
            process.terminate()
            lastLog = "novnc_proxy on port \(port):\n\(process.stdout)\n\(process.stderr)"
            if !process.stdout.contains("in use") { break }
        }
        throw HarnessError(lastLog)
    }

    var diagnostics: String { "novnc_proxy stdout:\n\(process.stdout)\nstderr (websockify's log):\n\(process.stderr)" }

    /// The descendant whose /proc/<pid>/exe is `executable` (bounded: 100 × 50 ms), or nil.
    func waitForChild(executable: String) async -> pid_t? {
        let process = self.process
        return try? await offload { () -> pid_t? in
            for _ in 0..<100 {
                for child in process.descendants() {
                    let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(child)/exe")
                    if exe == executable { return child }
                }
                usleep(50_000)  // bounded poll: the child is another process
            }
            return nil
        }
    }

    /// Waits up to 10 s for `text` in the launcher's stderr, where its websockify child logs.
    func waitForLog(_ text: String) async throws -> Bool {
        let process = self.process
        return try await offload {
            for _ in 0..<200 where !process.stderr.contains(text) {
                usleep(50_000)  // bounded poll: the log is written by another process
            }
            return process.stderr.contains(text)
        }
    }

    func stop() { process.terminate() }

    /// Whether `pid` has exited (gone, or a zombie awaiting its reaper) within 10 s; SIGKILLs it if not.
    static func waitUntilGone(_ pid: pid_t) async throws -> Bool {
        let gone = try await offload { () -> Bool in
            for _ in 0..<200 {
                guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
                // The state letter follows the parenthesised command name: "pid (comm) S …".
                if let close = stat.lastIndex(of: ")"), stat[close...].dropFirst(2).first == "Z" { return true }
                usleep(50_000)  // bounded poll: another process's exit
            }
            return false
        }
        if !gone { SpawnedProcess.killAll([pid]) }
        return gone
    }
}
