// websockify's other ways in and out: --unix-listen, --inetd and --log-file (reference §1.4), black box.
import Foundation
import Glibc
import Testing

extension ProxyBinaryTests {
    @Suite("Listen modes and log file")
    struct ListenModes {
        /// Runs a Python snippet with `websockets`; returns its stdout.
        static func python(_ script: String, _ arguments: [String]) async throws -> String {
            let process = try SpawnedProcess(try RepositoryLayout.python(), ["-c", script] + arguments)
            defer { process.terminate() }
            let exited = try await offload { process.waitForExit(timeout: .seconds(20)) }
            #expect(exited && process.exitStatus == 0, "python failed:\n\(process.stderr)")
            return process.stdout
        }

        /// Polls (bounded) until `path` exists.
        static func waitForFile(_ path: String) async throws -> Bool {
            try await offload {
                for _ in 0..<200 where access(path, F_OK) != 0 { usleep(50_000) }
                return access(path, F_OK) == 0
            }
        }

        @Test("--unix-listen: a WebSocket over a Unix socket reaches the target; mode and log name as websockify")
        func unixListen() async throws {
            let target = try LoopbackTarget(.echo)
            defer { target.stop() }
            let scratch = try ScratchDirectory()
            defer { scratch.remove() }
            let socketPath = scratch.path("ws.sock")
            let proxy = try SpawnedProcess(
                try ProxyUnderTest.executable(.sockify),
                ["--unix-listen", socketPath, "--unix-listen-mode", "660", "127.0.0.1:\(target.port)"])
            defer { proxy.terminate() }
            #expect(try await Self.waitForFile(socketPath), "no socket file; stderr:\n\(proxy.stderr)")
            var info = stat()
            #expect(stat(socketPath, &info) == 0)
            #expect(info.st_mode & 0o777 == 0o660)
            let script = """
                import asyncio, sys, websockets
                async def main():
                    async with websockets.unix_connect(sys.argv[1], uri="ws://localhost/websockify") as ws:
                        await ws.send(b"over unix")
                        print((await ws.recv()).decode())
                asyncio.run(main())
                """
            let output = try await Self.python(script, [socketPath])
            #expect(output.contains("over unix"))
            #expect(proxy.stderr.contains("Listen on unix socket \(socketPath)"))
            #expect(proxy.stderr.contains("\(socketPath): Plain non-SSL (ws://) WebSocket connection"))
        }

        @Test("--inetd: the listening socket on standard input is served; --log-file gets the same lines")
        func inetdAndLogFile() async throws {
            let target = try LoopbackTarget(.echo)
            defer { target.stop() }
            let scratch = try ScratchDirectory()
            defer { scratch.remove() }
            let logPath = scratch.path("sockify.log")
            // A Python launcher binds the listening socket and execs sockify with it as fd 0, as inetd does.
            let launcher = """
                import os, socket, sys
                s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
                print(s.getsockname()[1], flush=True)
                os.dup2(s.fileno(), 0)
                os.execv(sys.argv[1], [sys.argv[1], "--inetd", "--log-file", sys.argv[2], sys.argv[3]])
                """
            let proxy = try SpawnedProcess(
                try RepositoryLayout.python(),
                ["-c", launcher, try ProxyUnderTest.executable(.sockify), logPath, "127.0.0.1:\(target.port)"])
            defer { proxy.terminate() }
            let port = try await offload { () -> String in
                for _ in 0..<200 {
                    let text = proxy.stdout
                    if text.hasSuffix("\n") { return text.trimmingCharacters(in: .whitespacesAndNewlines) }
                    usleep(50_000)
                }
                return ""
            }
            #expect(!port.isEmpty, "launcher printed no port; stderr:\n\(proxy.stderr)")
            let script = """
                import asyncio, sys, websockets
                async def main():
                    async with websockets.connect(f"ws://127.0.0.1:{sys.argv[1]}/") as ws:
                        await ws.send(b"via inetd")
                        print((await ws.recv()).decode())
                asyncio.run(main())
                """
            let output = try await Self.python(script, [port])
            #expect(output.contains("via inetd"))
            #expect(proxy.stderr.contains("Listen for inetd connections"))
            let logged = try await offload { () -> String in
                for _ in 0..<100 {
                    let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                    if text.contains("session closed") { return text }
                    usleep(50_000)
                }
                return (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            }
            #expect(logged.contains("Listen for inetd connections"))
            #expect(logged.contains("Plain non-SSL (ws://) WebSocket connection"))
            #expect(logged.contains("session closed"))
        }
    }
}
