// Sockify's resource limits against the running binary: --max-connections, --max-connections-per-ip, descriptor
// exhaustion, --heartbeat with --pong-timeout, --session-idle-timeout (docs/cli-compat.md "Sockify's own options").
import Foundation
import Glibc
import Testing

extension ProxyBinaryTests {
    @Suite("Limits", .enabled(if: ProxyKind.isSockify))
    struct Limits {
        /// Sends `text` on an upgraded client and reads its echo (an echo target behind the proxy).
        static func echoes(_ client: WireClient, _ text: String) -> Bool {
            let bytes = Array(text.utf8)
            guard client.send(WireFrame.binary(bytes)) else { return false }
            var received: [UInt8] = []
            while received.count < bytes.count, let frame = client.readFrame(timeout: .seconds(5)) {
                guard frame.opcode == WireFrame.binary else { return false }
                received += frame.payload
            }
            return received == bytes
        }

        /// Connects (from `source`), sends an upgrade request and reports whether the proxy closed the connection
        /// within 2 s without sending a single byte: how a refused connection looks.
        static func refusedAtOnce(port: UInt16, source: String? = nil) throws -> Bool {
            let client = try WireClient(port: port, source: source)
            defer { client.close() }
            client.send(WireClient.upgradeRequest())
            return client.waitForClose(timeout: .seconds(2)) && client.bytesReceived == 0
        }

        /// Retries a fresh upgrade plus echo up to 40 times, 100 ms apart: a closed session frees its slot
        /// only once the proxy has seen the client's FIN.
        static func upgradesEventually(port: UInt16, source: String? = nil) -> Bool {
            for _ in 0..<40 {
                if let client = try? WireClient.upgrade(port: port, source: source) {
                    defer { client.close() }
                    if echoes(client, "again") { return true }
                }
                usleep(100_000)  // bounded retry while another process releases a slot, not synchronisation
            }
            return false
        }

        @Test("--max-connections 5: the 6th connection is closed at once, the 5 others keep working")
        func maxConnections() async throws {
            try await withProxy(to: .echo, options: ["--max-connections", "5"]) { proxy, target in
                let port = proxy.port
                let clients = try await offload { try (0..<5).map { _ in try WireClient.upgrade(port: port) } }
                defer { clients.forEach { $0.close() } }
                let refused = try await offload { try Self.refusedAtOnce(port: port) }
                #expect(refused, "a 6th connection must be closed without a response")
                #expect(try await proxy.waitForLog("limit of open connections reached"), "log:\n\(proxy.log)")
                let working = try await offload { clients.enumerated().map { Self.echoes($1, "session \($0)") } }
                #expect(working == Array(repeating: true, count: 5))
                #expect(target.stats.value.accepted == 5)
                // Ending one session frees its place.
                let freed = try await offload { () -> Bool in
                    clients[0].send(WireFrame.close(1000))
                    _ = clients[0].readUntilClosed(answerClose: false)
                    clients[0].close()
                    return Self.upgradesEventually(port: port)
                }
                #expect(freed, "a new connection is admitted after one of the five closed")
            }
        }

        @Test("--max-connections-per-ip 2: a 3rd connection from 127.0.0.2 is refused, 127.0.0.3 still gets 2")
        func maxConnectionsPerAddress() async throws {
            try await withProxy(to: .echo, options: ["--max-connections-per-ip", "2"]) { proxy, _ in
                let port = proxy.port
                typealias Opened = ([WireClient], Bool, [WireClient], WireClient)
                let (first, third, second, local) = try await offload { () -> Opened in
                    let first = try (0..<2).map { _ in try WireClient.upgrade(port: port, source: "127.0.0.2") }
                    let third = try Self.refusedAtOnce(port: port, source: "127.0.0.2")
                    let second = try (0..<2).map { _ in try WireClient.upgrade(port: port, source: "127.0.0.3") }
                    let local = try WireClient.upgrade(port: port, source: "127.0.0.1")
                    return (first, third, second, local)
                }
                let everyone = first + second + [local]
                defer { everyone.forEach { $0.close() } }
                #expect(third, "the 3rd connection from 127.0.0.2 must be closed without a response")
                let refusedAgain = try await offload { try Self.refusedAtOnce(port: port, source: "127.0.0.3") }
                #expect(refusedAgain, "the 3rd connection from 127.0.0.3 too")
                let working = try await offload { everyone.enumerated().map { Self.echoes($1, "client \($0)") } }
                #expect(working == Array(repeating: true, count: 5))
            }
        }

        /// The proxy raises its own RLIMIT_NOFILE at start-up (and as root it may raise the hard limit), so the
        /// low limit is applied to the running process with `prlimit --pid`, after start-up.
        @Test("64 descriptors, 5 bursts of 150 connections: no busy loop (< 50 % of a core), service resumes after")
        func descriptorExhaustion() async throws {
            let prlimit = try RepositoryLayout.systemTool("prlimit", package: "util-linux")
            // Four reactor threads share one descriptor table: more workers, more chances for the shedding race.
            try await withProxy(to: .echo, options: ["--workers", "4"]) { proxy, _ in
                let pid = proxy.process.pid
                let limiter = try SpawnedProcess(prlimit, ["--pid", "\(pid)", "--nofile=64:64"])
                defer { limiter.terminate() }
                #expect(try await offload { limiter.waitForExit(timeout: .seconds(10)) })
                #expect(limiter.exitStatus == 0, "prlimit: \(limiter.stderr)")
                let limits = (try? String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)) ?? ""
                let openFiles = limits.split(separator: "\n").first { $0.hasPrefix("Max open files") } ?? ""
                #expect(openFiles.split(separator: " ").contains("64"), "\(openFiles)")

                let port = proxy.port
                // Whether a worker loses its spare descriptor depends on how the two workers' accepts interleave,
                // so the burst is repeated (up to 5 rounds); every round must stay calm and end in service.
                for round in 1...5 {
                    let (clients, statuses) = try await offload { () -> ([WireClient], [Int]) in
                        var clients: [WireClient] = []
                        for _ in 0..<150 {
                            let client = try WireClient(port: port)
                            client.send(WireClient.upgradeRequest())
                            clients.append(client)
                        }
                        let deadline = ContinuousClock.now + .seconds(5)
                        let statuses = clients.map { client in
                            let left = max(.milliseconds(10), deadline - ContinuousClock.now)
                            return client.readHead(timeout: left)?.status ?? 0
                        }
                        return (clients, statuses)
                    }
                    defer { clients.forEach { $0.close() } }
                    let upgraded = statuses.filter { $0 == 101 }.count
                    #expect(upgraded > 0 && upgraded < 150, "round \(round): upgraded \(upgraded) of 150")
                    let usage = try await offload { ProcessCPU.usage(pid, over: .seconds(2)) }
                    #expect(usage != nil)
                    let percent = Int((usage ?? 1) * 100)
                    #expect((usage ?? 1) < 0.5, "round \(round): CPU \(percent) % of one core while out of descriptors")
                    #expect(proxy.process.isRunning)

                    clients.forEach { $0.close() }
                    let served = try await offload { Self.upgradesEventually(port: port) }
                    #expect(served, "round \(round): a normal connection is served once the others closed")
                    if (usage ?? 1) >= 0.5 || !served { break }
                }
                let after = try await WebSocketClientResult.run(
                    "echo", url: proxy.url + "/", ["--total", "262144", "--max-frame", "16384"])
                #expect(after.error == nil)
                #expect(after.received == 262_144 && after.mismatch == nil)
            }
        }

        @Test("--heartbeat 1 --pong-timeout 2: a frozen client is dropped within 4 s, a websockets client is kept")
        func pongTimeout() async throws {
            try await withProxy(to: .echo, options: ["--heartbeat", "1", "--pong-timeout", "2"]) { proxy, _ in
                // An idle websockets client for 6 s: it sends nothing, but its library answers every ping.
                let steady = try await SteadySessions.start(url: proxy.url + "/", ["--idle", "6", "--bytes", "65536"])
                let port = proxy.port
                let (shutAfter, transcript) = try await offload { () -> (Duration?, WireTranscript) in
                    let client = try WireClient.upgrade(port: port)
                    defer { client.close() }
                    // Neither reads nor writes (a frozen peer) until the proxy's FIN shows up; then reads the rest.
                    let shutAfter = client.waitForPeerShutdown(timeout: .seconds(10))
                    return (shutAfter, client.readUntilClosed(timeout: .seconds(2), answerClose: false))
                }
                let elapsed = try #require(shutAfter, "the proxy kept a frozen client for 10 s")
                #expect(elapsed > .milliseconds(1500) && elapsed < .seconds(4), "\(elapsed)")
                #expect(transcript.closed, "\(transcript.summary)")
                #expect(transcript.frames.contains { $0.opcode == WireFrame.ping }, "heartbeat pings were sent")
                #expect(transcript.frames.allSatisfy { $0.opcode == WireFrame.ping || $0.opcode == WireFrame.close })
                let result = try await steady.finish()
                #expect(result.error == nil)
                let session = try #require(result.sessions.first)
                #expect(session.error == nil, "\(session.error ?? "")")
                #expect(session.received == 65536 && session.mismatch == nil)
                #expect(session.endedBy == "self" && session.closeCode == 1000, "\(session)")
            }
        }

        @Test("--session-idle-timeout 2: a silent session gets close 1001 \"Idle timeout\", a busy one is kept")
        func sessionIdleTimeout() async throws {
            try await withProxy(to: .echo, options: ["--session-idle-timeout", "2"]) { proxy, _ in
                let steady = try await SteadySessions.start(
                    url: proxy.url + "/", ["--count", "1", "--seconds", "5", "--max-frame", "4096", "--window", "4096"])
                let port = proxy.port
                let transcript = try await offload { () -> WireTranscript in
                    let client = try WireClient.upgrade(port: port)
                    defer { client.close() }
                    return client.readUntilClosed(timeout: .seconds(10))
                }
                #expect(transcript.close?.closeCode == 1001, "\(transcript.summary)")
                #expect(transcript.close?.closeReason == "Idle timeout")
                #expect(transcript.closed)
                let elapsed = transcript.elapsed
                #expect(elapsed > .milliseconds(1500) && elapsed < .seconds(4), "\(elapsed)")
                Faults.expectUntouched(try await steady.finish(), count: 1)
            }
        }
    }
}

extension WireClient {
    /// Waits, without reading, until the peer has shut down its side (`POLLRDHUP`: its FIN arrived, whatever
    /// unread bytes are queued before it); returns how long that took, or nil after `timeout`.
    func waitForPeerShutdown(timeout: Duration) -> Duration? {
        // POLLRDHUP is behind _GNU_SOURCE in <poll.h>, which Swift's Glibc module does not define (Linux: 0x2000).
        let peerShutdown: Int16 = 0x2000
        let started = ContinuousClock.now
        let deadline = started + timeout
        while ContinuousClock.now < deadline {
            var descriptor = pollfd(fd: fd, events: peerShutdown, revents: 0)
            let milliseconds = Int32(max(1, min((deadline - ContinuousClock.now).seconds * 1000, 60_000)))
            let ready = poll(&descriptor, 1, milliseconds)
            if ready > 0 && descriptor.revents & (peerShutdown | Int16(POLLHUP | POLLERR)) != 0 {
                return ContinuousClock.now - started
            }
        }
        return nil
    }
}
