// Exit codes and signals of the proxy command (reference §1.2, §1.5).
import Foundation
import Glibc
import Testing

/// An argv that must be refused as a usage error.
struct UsageErrorCase: Sendable, CustomTestStringConvertible {
    var arguments: [String]
    var testDescription: String { arguments.joined(separator: " ") }

    static let all = [
        UsageErrorCase(arguments: ["--bogus", "127.0.0.1:1", "127.0.0.1:2"]),
        UsageErrorCase(arguments: ["127.0.0.1:1"]),
        UsageErrorCase(arguments: []),
        UsageErrorCase(arguments: ["127.0.0.1:1", "no-port-here"]),
    ]
}

extension ProxyBinaryTests {
    @Suite("Command line")
    struct CommandLine {
        static func run(_ arguments: [String]) async throws -> SpawnedProcess {
            let process = try SpawnedProcess(try ProxyUnderTest.executable(try ProxyKind.current()), arguments)
            let exited = try await offload { process.waitForExit(timeout: .seconds(20)) }
            if !exited { process.terminate() }
            #expect(exited, "the proxy must exit on its own")
            return process
        }

        @Test("reference §1.2: a usage error exits 2 with an \"error:\" line on stderr", arguments: UsageErrorCase.all)
        func usageError(_ usage: UsageErrorCase) async throws {
            let process = try await Self.run(usage.arguments)
            defer { process.terminate() }
            #expect(process.exitStatus == 2)
            #expect(process.stderr.contains("error:"), "stderr:\n\(process.stderr)")
        }

        @Test("reference §1.5: a listen port already in use exits 1 (websockify: 0)")
        func portInUse() async throws {
            let (fd, port) = try LoopbackSocket.listen()
            defer { close(fd) }
            let process = try await Self.run(["127.0.0.1:\(port)", "127.0.0.1:1"])
            defer { process.terminate() }
            #expect(process.exitStatus == (try ProxyKind.current().has(.bindFailureExitsZero) ? 0 : 1))
            #expect(process.stderr.contains("in use"), "stderr:\n\(process.stderr)")
        }

        @Test("reference §5.2: SIGTERM stops a listening proxy with exit 0")
        func sigterm() async throws {
            let target = try LoopbackTarget(.echo)
            defer { target.stop() }
            let proxy = try await ProxyUnderTest.start(target: ["127.0.0.1:\(target.port)"])
            defer { proxy.stop() }
            let process = proxy.process
            // websockify's per-connection children (from the readiness probe) outlive the parent briefly.
            let family = process.descendants()
            defer { SpawnedProcess.killAll(family) }
            process.send(SIGTERM)
            #expect(try await offload { process.waitForExit(timeout: .seconds(10)) })
            #expect(process.exitStatus == 0)
            #expect(!LoopbackSocket.accepts(port: proxy.port), "the listener is gone")
        }
    }
}
