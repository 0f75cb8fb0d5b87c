// Peers for the lookup tests: a real redis-server and Python's http.server (independent implementations), a
// scripted TCP server for byte-exact edge cases, and a black hole (a listener that never accepts).
import Foundation
import Glibc
import SockifyReactor
import Testing

/// Raised by a peer that could not be set up.
struct PeerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A loopback port that was free a moment ago (bound to port 0, then released).
func freePort() throws -> UInt16 {
    let fd = try Sockets.listen(on: SocketAddress.resolve(host: "127.0.0.1", port: 0), reusePort: false)
    defer { Sockets.close(fd) }
    return try Sockets.localAddress(fd).port
}

/// The first executable called `name` on PATH or in /usr/sbin, /usr/bin.
func executable(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/bin", "/usr/local/bin"]
    return directories.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// A child process, killed by its PID when the test is done with it.
final class ChildPeer {
    let process = Process()

    init(_ executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    var isRunning: Bool { process.isRunning }

    /// Kills the process (`SIGKILL`: these peers keep nothing worth a clean shutdown, and a child may inherit a
    /// blocked `SIGTERM` from the test runner) and reaps it.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit { stop() }
}

/// A redis-server of its own on a free loopback port (and optionally a Unix socket), with nothing saved to disk.
final class RedisServer {
    let port: UInt16
    let password: String?
    let unixSocketPath: String?
    private var child: ChildPeer?

    /// Starts redis-server and waits (at most 10 s) until it answers PING.
    init(password: String? = nil, unixSocketPath: String? = nil, port: UInt16? = nil) throws {
        self.password = password
        self.unixSocketPath = unixSocketPath
        self.port = try port ?? freePort()
        try start()
    }

    /// Starts (or restarts) the server on the same port.
    func start() throws {
        let binary = try #require(executable("redis-server"), "redis-server is not installed: run tools/setup-deps.sh")
        var arguments = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        if let password { arguments += ["--requirepass", password] }
        if let unixSocketPath { arguments += ["--unixsocket", unixSocketPath, "--unixsocketperm", "700"] }
        child = try ChildPeer(binary, arguments)
        try waitUntilAnswering()
    }

    /// Kills the server (`SIGKILL`: no goodbye to clients) and waits for it to exit.
    func kill() { child?.stop() }

    deinit { child?.stop() }

    /// PING until any reply (`+PONG`, or `-NOAUTH` when a password is set) arrives.
    private func waitUntilAnswering() throws {
        let address = try SocketAddress.resolve(host: "127.0.0.1", port: port)
        for _ in 0..<500 {
            guard child?.isRunning == true else { throw PeerError("redis-server on port \(port) exited at start-up") }
            if let socket = try? BlockingSocket.connect(to: address, deadline: .after(.milliseconds(500))) {
                defer { socket.close() }
                if (try? socket.sendAll(Array("PING\r\n".utf8), deadline: .after(.seconds(1)))) != nil,
                    let reply = try? socket.receive(upTo: 64, deadline: .after(.seconds(1))), !reply.isEmpty
                {
                    return
                }
            }
            ReactorThread.sleep(milliseconds: 20)
        }
        throw PeerError("redis-server on port \(port) did not answer PING within 10 s")
    }
}

/// Python's `http.server` serving a directory (an HTTP server we did not write).
final class PythonHTTPServer {
    let port: UInt16
    private let child: ChildPeer

    init(directory: String) throws {
        let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let python = root.appendingPathComponent(".venv/bin/python").path
        try #require(
            FileManager.default.isExecutableFile(atPath: python), "\(python) is missing: run tools/setup-deps.sh")
        port = try freePort()
        child = try ChildPeer(
            python, ["-m", "http.server", "--bind", "127.0.0.1", "--directory", directory, String(port)])
        let address = try SocketAddress.resolve(host: "127.0.0.1", port: port)
        for _ in 0..<500 {
            if (try? BlockingSocket.connect(to: address, deadline: .after(.milliseconds(500)))) != nil { return }
            guard child.isRunning else { break }
            ReactorThread.sleep(milliseconds: 20)
        }
        throw PeerError("python http.server on port \(port) did not start within 10 s")
    }

    deinit { child.stop() }
}

/// A listening socket that never accepts: the kernel completes handshakes into its queue and nobody answers.
final class BlackHole {
    let fd: CInt
    let address: SocketAddress

    init() throws {
        fd = try Sockets.listen(on: SocketAddress.resolve(host: "127.0.0.1", port: 0), reusePort: false)
        address = try Sockets.localAddress(fd)
    }

    deinit { Sockets.close(fd) }
}

/// One accepted connection of a `ScriptedServer`, with blocking helpers bounded by a 5 s receive timeout.
final class ScriptedConnection {
    let fd: CInt
    private var buffered: [UInt8] = []

    init(fd: CInt) {
        self.fd = fd
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
        var limit = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Reads until `terminator` has arrived; returns everything up to and including it (nil on EOF/timeout).
    func read(through terminator: [UInt8]) -> [UInt8]? {
        while true {
            if let range = buffered.firstRange(of: terminator) {
                defer { buffered.removeSubrange(..<range.upperBound) }
                return Array(buffered[..<range.upperBound])
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &chunk, chunk.count, 0)
            guard n > 0 else { return nil }
            buffered += chunk[..<n]
        }
    }

    /// Reads one RESP command sent by a client (an array of bulk strings); nil on EOF or timeout.
    func readRESPCommand() -> [String]? {
        guard let header = read(through: Array("\r\n".utf8)), header.first == UInt8(ascii: "*"),
            let count = Int(String(decoding: header.dropFirst().dropLast(2), as: UTF8.self))
        else { return nil }
        var arguments: [String] = []
        for _ in 0..<count {
            guard read(through: Array("\r\n".utf8)) != nil, let value = read(through: Array("\r\n".utf8)) else {
                return nil
            }
            arguments.append(String(decoding: value.dropLast(2), as: UTF8.self))
        }
        return arguments
    }

    func write(_ text: String) { write(Array(text.utf8)) }

    func write(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL)) }
            guard n > 0 else { return }
            offset += n
        }
    }

    /// Waits (at most 5 s) until the client closes its side.
    func waitForClose() {
        var byte: UInt8 = 0
        while recv(fd, &byte, 1, 0) > 0 {}
    }

    deinit { Glibc.close(fd) }
}

/// A TCP server on a loopback port that runs `script` for each of its first `connectionCount` connections, one at a
/// time, on a thread of its own. `finish()` waits for the script (each accept waits at most 5 s).
final class ScriptedServer: @unchecked Sendable {
    // @unchecked: `listener` and `port` are immutable; the thread is joined in finish() before deinit.
    let port: UInt16
    private let listener: CInt
    private var thread: ReactorThread?

    init(connectionCount: Int = 1, _ script: @escaping @Sendable (_ index: Int, ScriptedConnection) -> Void) throws {
        listener = try Sockets.listen(on: SocketAddress.resolve(host: "127.0.0.1", port: 0), reusePort: false)
        port = try Sockets.localAddress(listener).port
        let listener = self.listener
        thread = try ReactorThread.start(pinnedTo: nil) {
            for index in 0..<connectionCount {
                var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
                guard poll(&entry, 1, 5000) == 1, let (fd, _) = try? Sockets.accept(listener) else { return }
                script(index, ScriptedConnection(fd: fd))
            }
        }
    }

    var url: String { "http://127.0.0.1:\(port)" }

    func finish() {
        thread?.join()
        thread = nil
    }

    deinit {
        finish()
        Sockets.close(listener)
    }
}

/// Milliseconds taken by `body`.
func elapsedMilliseconds(_ body: () throws -> Void) rethrows -> Int64 {
    let start = MonotonicClock.milliseconds()
    try body()
    return MonotonicClock.milliseconds() - start
}
