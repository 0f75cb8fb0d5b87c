// A client that vanishes without FIN or RST (issue 7): the client runs in a network namespace of its own, behind a
// veth pair; taking its link down drops every packet silently, as a crashed laptop or a cut cable would. Sockify's
// heartbeat must notice (--pong-timeout) and free the session while other sessions keep flowing.
import Foundation
import Glibc
import Testing

/// A network namespace with a veth link to the host: host side 10.203.<n>.1/30, namespace side 10.203.<n>.2/30.
/// Created with iproute2 (root), deleted (with its veth pair) by `remove()`.
struct ClientNamespace: Sendable {
    let name: String
    let hostAddress: String
    let clientAddress: String
    let hostInterface: String
    let clientInterface: String

    static func ip(_ arguments: [String]) throws {
        let ip = try RepositoryLayout.systemTool("ip", package: "iproute2")
        let process = try SpawnedProcess(ip, arguments)
        guard process.waitForExit(timeout: .seconds(10)), process.exitStatus == 0 else {
            throw HarnessError("ip \(arguments.joined(separator: " ")) failed: \(process.stderr)")
        }
    }

    init() throws {
        let n = Int(getpid() % 200) + 20
        let tag = "\(getpid() % 100000)"
        name = "sockify-drop-\(tag)"
        hostInterface = "sdh\(tag)"
        clientInterface = "sdc\(tag)"
        hostAddress = "10.203.\(n).1"
        clientAddress = "10.203.\(n).2"
        try? Self.ip(["netns", "del", name])  // a leftover of an interrupted run
        try Self.ip(["netns", "add", name])
        do {
            try Self.ip(["link", "add", hostInterface, "type", "veth", "peer", "name", clientInterface])
            try Self.ip(["link", "set", clientInterface, "netns", name])
            try Self.ip(["addr", "add", "\(hostAddress)/30", "dev", hostInterface])
            try Self.ip(["link", "set", hostInterface, "up"])
            try Self.ip(["-n", name, "addr", "add", "\(clientAddress)/30", "dev", clientInterface])
            try Self.ip(["-n", name, "link", "set", clientInterface, "up"])
            try Self.ip(["-n", name, "link", "set", "lo", "up"])
        } catch {
            remove()
            throw error
        }
    }

    /// Drops every packet to and from the client from now on, without telling either side.
    func cutLink() throws {
        try Self.ip(["-n", name, "link", "set", clientInterface, "down"])
    }

    func remove() {
        try? Self.ip(["netns", "del", name])
        try? Self.ip(["link", "del", hostInterface])
    }
}

extension ProxyBinaryTests {
    @Suite("Silent drop (network namespace)", .enabled(if: ProxyKind.isSockify))
    struct SilentDrop {
        @Test("a client whose packets vanish (no FIN, no RST) is reaped by --pong-timeout; other sessions flow")
        func vanishedClient() async throws {
            let namespace = try ClientNamespace()
            defer { namespace.remove() }
            let target = try LoopbackTarget(.echo)
            defer { target.stop() }
            let port = try LoopbackSocket.freePort()
            let proxy = try SpawnedProcess(
                try RepositoryLayout.sockify(),
                ["--heartbeat", "1", "--pong-timeout", "3", "0.0.0.0:\(port)", "127.0.0.1:\(target.port)"])
            defer { proxy.terminate() }
            let up = try await LoopbackSocket.waitUntilAccepting(port: port, while: proxy)
            try #require(up, "sockify did not start: \(proxy.stderr)")

            // The doomed client: inside the namespace, one idle session (the library answers pings) for 60 s.
            let ip = try RepositoryLayout.systemTool("ip", package: "iproute2")
            let script = RepositoryLayout.peers.appendingPathComponent("fault_steady.py").path
            let doomed = try SpawnedProcess(
                ip,
                ["netns", "exec", namespace.name, try RepositoryLayout.python(), script,
                 "--url", "ws://\(namespace.hostAddress):\(port)/", "--count", "1", "--idle", "60"])
            defer { doomed.terminate() }
            let ready = try await offload { () -> Bool in
                for _ in 0..<400 {
                    if doomed.stdout.contains("READY") { return true }
                    if !doomed.isRunning { return false }
                    usleep(25_000)  // bounded poll of another process's output
                }
                return false
            }
            try #require(ready, "client in the namespace never connected: \(doomed.stdout) \(doomed.stderr)")
            // Survives heartbeats while its pongs come back.
            try await Task.sleep(for: .seconds(2))
            #expect(!proxy.stderr.contains("no data or pong"), "a live client was reaped:\n\(proxy.stderr)")

            let steady = try await SteadySessions.start(
                url: "ws://127.0.0.1:\(port)/", ["--count", "2", "--seconds", "6", "--max-frame", "65536"])
            try namespace.cutLink()
            let reaped = try await offload { () -> Bool in
                for _ in 0..<200 {
                    if proxy.stderr.contains("\(namespace.clientAddress): no data or pong from the client") {
                        return true
                    }
                    usleep(50_000)  // bounded: the pong timeout is 3 s, the heartbeat 1 s
                }
                return false
            }
            #expect(reaped, "log:\n\(proxy.stderr)")
            #expect(proxy.stderr.contains("close 1006"), "the summary line says the session ended abnormally")
            ProxyBinaryTests.Faults.expectUntouched(try await steady.finish(), count: 2)
        }
    }
}
