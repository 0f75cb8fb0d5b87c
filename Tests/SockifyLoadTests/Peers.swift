// Independent peers for the load tool's tests: Python `websockets` (a WebSocket server we did not write),
// websockify.py, and a TCP relay that damages the stream. Each runs as its own process, stopped by PID.
import Foundation
import Glibc
import SockifyReactor
import Testing

@testable import SockifyLoad

/// Paths in the repository this file lives in (the symlink-resolved source path, so a scratch package works).
enum Repository {
    static let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func tool(_ name: String) throws -> String {
        let path = root.appendingPathComponent(".venv/bin/\(name)").path
        try #require(FileManager.default.isExecutableFile(atPath: path), "\(path) is missing: run tools/setup-deps.sh")
        return path
    }
}

/// A child process, terminated (SIGTERM, then SIGKILL) by its PID when the test is done with it.
final class SpawnedPeer {
    let process = Process()
    private let output = Pipe()
    var port: UInt16 = 0

    /// Starts `executable` and, if `announcesPort`, waits (at most 15 s) for its `PORT <n>` line.
    init(_ executable: String, _ arguments: [String], announcesPort: Bool) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        guard announcesPort else { return }
        let line = try readLine(within: 15)
        guard line.hasPrefix("PORT "), let port = UInt16(line.dropFirst(5)) else {
            stop()
            throw UsageError("\(executable) \(arguments) printed \"\(line)\" instead of PORT <n>")
        }
        self.port = port
    }

    var pid: Int32 { process.processIdentifier }

    private func readLine(within seconds: Double) throws -> String {
        let fd = output.fileHandleForReading.fileDescriptor
        var bytes: [UInt8] = []
        let deadline = Date().addingTimeInterval(seconds)
        // Bounded by the deadline: poll for at most 100 ms at a time.
        while Date() < deadline {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 100) == 1 else { continue }
            var byte: UInt8 = 0
            guard read(fd, &byte, 1) == 1 else { break }
            if byte == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
        stop()
        throw UsageError("no line from \(process.executableURL!.path) within \(seconds) s (got \"\(String(decoding: bytes, as: UTF8.self))\")")
    }

    func stop() {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(3)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }

    /// Python `websockets` 17 as a WebSocket-to-TCP relay to `targetPort`, written only against that library.
    /// It fragments target data into `fragment`-byte frames (0: one frame per read), pings every `ping` seconds
    /// (closing with 1011 when a pong is late), or answers every handshake with 403 when `reject` is set.
    static func websocketsRelay(to targetPort: UInt16, fragment: Int = 0, ping: Double = 0, reject: Bool = false) throws -> SpawnedPeer {
        try SpawnedPeer(
            try Repository.tool("python"),
            ["-c", websocketsRelayScript, String(targetPort), String(fragment), String(ping), reject ? "reject" : "accept"],
            announcesPort: true)
    }

    /// A TCP relay to `targetPort` that applies `action` (flip, drop or dup) to the byte at stream offset `after`
    /// in direction `direction` (c2t: towards the target, t2c: back).
    static func corruptingRelay(to targetPort: UInt16, direction: String, action: String, after: Int) throws -> SpawnedPeer {
        try SpawnedPeer(
            try Repository.tool("python"), ["-c", corruptingRelayScript, String(targetPort), direction, action, String(after)],
            announcesPort: true)
    }

    /// websockify 0.13 from the project's virtualenv, listening on a free port, relaying to `targetPort`.
    /// `options` go before the addresses (`--cert`/`--key`: websockify then serves ws and wss on the port).
    static func websockify(to targetPort: UInt16, options: [String] = []) throws -> SpawnedPeer {
        let port = try freePort()
        let peer = try SpawnedPeer(
            try Repository.tool("websockify"), options + ["127.0.0.1:\(port)", "127.0.0.1:\(targetPort)"],
            announcesPort: false)
        peer.port = port
        try peer.waitUntilListening()
        return peer
    }

    /// Waits (at most 15 s) until `port` accepts a TCP connection.
    func waitUntilListening() throws {
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if let fd = try? BlockingClient.connect(port: port) {
                close(fd)
                return
            }
            usleep(50_000)
        }
        throw UsageError("nothing listens on port \(port) after 15 s")
    }

    static func freePort() throws -> UInt16 {
        let fd = try Sockets.listen(on: SocketAddress.resolve(host: "127.0.0.1", port: 0), reusePort: false)
        defer { Sockets.close(fd) }
        return try Sockets.localAddress(fd).port
    }

    static let websocketsRelayScript = #"""
        import asyncio, sys
        from websockets.asyncio.server import serve
        target, fragment, ping, mode = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]

        async def handler(ws):
            reader, writer = await asyncio.open_connection("127.0.0.1", target)
            async def to_target():
                async for message in ws:
                    writer.write(message)
                    await writer.drain()
            async def to_client():
                while True:
                    data = await reader.read(65536)
                    if not data:
                        break
                    if fragment and len(data) > fragment:
                        await ws.send([data[i:i + fragment] for i in range(0, len(data), fragment)])
                    else:
                        await ws.send(data)
            tasks = [asyncio.create_task(to_target()), asyncio.create_task(to_client())]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()
            writer.close()

        def reject(connection, request):
            return connection.respond(403, "Forbidden\n")

        async def main():
            options = dict(max_size=None, compression=None,
                           ping_interval=ping if ping else None, ping_timeout=0.5 if ping else None)
            if mode == "reject":
                options["process_request"] = reject
            async with serve(handler, "127.0.0.1", 0, **options) as server:
                print("PORT", server.sockets[0].getsockname()[1], flush=True)
                await asyncio.Future()

        asyncio.run(main())
        """#

    static let corruptingRelayScript = #"""
        import asyncio, sys
        target, direction, action, after = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])

        async def pipe(reader, writer, corrupt):
            seen, done = 0, False
            try:
                while True:
                    data = await reader.read(65536)
                    if not data:
                        break
                    if corrupt and not done and seen + len(data) > after:
                        i, b = after - seen, bytearray(data)
                        if action == "flip":
                            b[i] ^= 0x01
                        elif action == "drop":
                            del b[i]
                        else:
                            b.insert(i, b[i])
                        data, done = bytes(b), True
                    seen += len(data)
                    writer.write(data)
                    await writer.drain()
            except ConnectionError:
                pass
            finally:
                writer.close()

        async def handle(client_reader, client_writer):
            target_reader, target_writer = await asyncio.open_connection("127.0.0.1", target)
            await asyncio.gather(pipe(client_reader, target_writer, direction == "c2t"),
                                 pipe(target_reader, client_writer, direction == "t2c"), return_exceptions=True)

        async def main():
            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            print("PORT", server.sockets[0].getsockname()[1], flush=True)
            async with server:
                await server.serve_forever()

        asyncio.run(main())
        """#
}

/// In-process targets for one test, stopped when the test is done.
final class Targets {
    let echo: TargetServer
    let source: TargetServer
    let sink: TargetServer
    let mixed: TargetServer

    init() throws {
        func start(_ kind: TargetKind) throws -> TargetServer {
            try TargetServer.start(ServePlan(kind: kind, host: "127.0.0.1", port: 0, threadCount: 1, duration: nil, allowsRemote: false))
        }
        echo = try start(.echo)
        source = try start(.source)
        sink = try start(.sink)
        mixed = try start(.mixed)
    }

    deinit {
        for server in [echo, source, sink, mixed] { server.stop() }
    }

    /// The target a mode needs.
    func port(for mode: String) -> UInt16 {
        switch mode {
        case "up": sink.port
        case "down": source.port
        case "soak": mixed.port
        default: echo.port
        }
    }
}

/// Runs `sockify-load` in-process with a command line, as the binary would.
func runLoad(_ arguments: String) throws -> LoadResult {
    guard case .load(let plan) = try LoadCommandLine.parse(arguments.split(separator: " ").map(String.init), randomSeed: 12345)
    else { throw UsageError("\(arguments) is not a load command") }
    return try LoadRun.execute(plan)
}
