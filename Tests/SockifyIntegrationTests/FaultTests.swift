// Injected faults (issue 7 "nothing lost, nothing crashes"): broken targets, half-closes, signals. Each test runs
// pattern-verified sessions (fault_steady.py) through the same proxy and checks that their bytes stay intact.
import Foundation
import Glibc
import Testing

extension ProxyBinaryTests {
    @Suite("Faults", .enabled(if: ProxyKind.isSockify))
    struct Faults {
        /// Every steady session streamed, echoed byte-exact and ended with its own Close 1000.
        static func expectUntouched(_ result: SteadySessions.Result, count: Int) {
            #expect(result.error == nil)
            #expect(result.sessions.count == count)
            for (index, session) in result.sessions.enumerated() {
                #expect(session.error == nil, "steady #\(index): \(session.error ?? "")")
                #expect(session.mismatch == nil, "steady #\(index): first differing offset")
                #expect(session.sent > 0 && session.received == session.sent, "steady #\(index): \(session)")
                #expect(session.endedBy == "self" && session.closeCode == 1000, "steady #\(index): \(session)")
            }
        }

        static let steadyArguments = ["--count", "2", "--seconds", "4", "--max-frame", "65536"]

        @Test("a target that refuses: 20 clients get 101 then close 1011, steady sessions are untouched")
        func targetRefuses() async throws {
            let echo = try LoopbackTarget(.echo)
            defer { echo.stop() }
            let deadPort = try LoopbackSocket.freePort()
            try await withTokenProxy(targets: ["steady": echo.port, "refuse": deadPort]) { proxy in
                let steady = try await SteadySessions.start(url: proxy.url + "/?token=steady", Self.steadyArguments)
                let port = proxy.port
                let transcripts = try await offload {
                    try (0..<20).map { _ in try WireClient.exchange(port: port, path: "/?token=refuse", frames: []) }
                }
                for transcript in transcripts {
                    #expect(transcript.close?.closeCode == 1011, "\(transcript.summary)")
                    #expect(transcript.close?.closeReason == "Failed to connect to downstream server")
                    #expect(transcript.closed)
                }
                Self.expectUntouched(try await steady.finish(), count: 2)
            }
        }

        /// Sends one byte (so the target knows the proxy is relaying), reads until the proxy closes, and with
        /// `acknowledge` sends a second byte once all `byteCount` bytes are in. A healthy proxy closes within
        /// milliseconds of the reset; 3 s is the bound for a hung session.
        static func resetSession(port: UInt16, byteCount: Int, acknowledge: Bool) throws -> WireTranscript {
            let client = try WireClient.upgrade(port: port, path: "/?token=reset")
            defer { client.close() }
            client.send(WireFrame.binary([0x2A]))
            var frames: [ServerFrame] = []
            if acknowledge {
                var received = 0
                while received < byteCount, let frame = client.readFrame(timeout: .seconds(5)) {
                    frames.append(frame)
                    if frame.opcode != WireFrame.binary { break }
                    received += frame.payload.count
                }
                client.send(WireFrame.binary([0x2B]))
            }
            var transcript = client.readUntilClosed(timeout: .seconds(3))
            transcript.frames.insert(contentsOf: frames, at: 0)
            return transcript
        }

        static func expectTargetClosed(_ transcripts: [WireTranscript], byteCount: Int) {
            for transcript in transcripts {
                let data = transcript.data
                #expect(data.count <= byteCount)
                let mismatch = data.withUnsafeBytes { PatternStream.firstMismatch(offset: 0, in: $0) }
                #expect(mismatch == nil, "the bytes before the reset are the target's, in order")
                let last = transcript.frames.last?.description ?? "-"
                #expect(transcript.close?.closeCode == 1000, "\(data.count) bytes, then: \(last)")
                #expect(transcript.close?.closeReason == "Target closed")
                #expect(transcript.closed, "\(data.count) bytes and no close within 3 s: the session hangs")
            }
        }

        /// Runs `sessions` reset sessions against a `.resetAfter` target next to two steady sessions.
        static func checkReset(_ trigger: FaultTarget.ResetTrigger, byteCount: Int, sessions: Int) async throws {
            let echo = try LoopbackTarget(.echo)
            defer { echo.stop() }
            let resetting = try FaultTarget(.resetAfter(byteCount: byteCount, trigger: trigger))
            defer { resetting.stop() }
            try await withTokenProxy(targets: ["steady": echo.port, "reset": resetting.port]) { proxy in
                let steady = try await SteadySessions.start(url: proxy.url + "/?token=steady", Self.steadyArguments)
                let port = proxy.port
                let acknowledge = trigger == .afterClientAck
                let transcripts = try await offload {
                    try (0..<sessions).map { _ in
                        try Self.resetSession(port: port, byteCount: byteCount, acknowledge: acknowledge)
                    }
                }
                Self.expectTargetClosed(transcripts, byteCount: byteCount)
                if acknowledge {
                    #expect(transcripts.allSatisfy { $0.data.count == byteCount }, "all bytes before an idle reset")
                }
                #expect(resetting.stats.value.errors.isEmpty, "\(resetting.stats.value.errors)")
                Self.expectUntouched(try await steady.finish(), count: 2)
                // And the proxy still takes new sessions.
                let after = try await WebSocketClientResult.run(
                    "echo", url: proxy.url + "/?token=steady", ["--total", "65536", "--max-frame", "8192"])
                #expect(after.error == nil)
                #expect(after.received == 65536 && after.mismatch == nil)
                #expect(proxy.process.isRunning)
            }
        }

        @Test("a target that resets after the client read everything: close 1000 \"Target closed\" within 3 s")
        func targetResetsWhenIdle() async throws {
            try await Self.checkReset(.afterClientAck, byteCount: 1 << 20, sessions: 5)
        }

        @Test("a target that resets mid-stream: a prefix of its bytes, then close 1000 \"Target closed\" within 3 s")
        func targetResetsMidStream() async throws {
            try await Self.checkReset(.afterClientByte, byteCount: 1 << 20, sessions: 10)
        }

        /// The connect succeeded and data arrived, so the client must not be told "Failed to connect" (1011).
        @Test("a target that sends and resets right after accepting: close 1000 \"Target closed\", never 1011")
        func targetResetsAtOnce() async throws {
            try await Self.checkReset(.immediately, byteCount: 256 << 10, sessions: 10)
        }

        /// Eight clients push as fast as they can into targets that never read. Backpressure must stop the proxy
        /// from reading them, so its memory stays put while the steady sessions keep flowing.
        @Test("targets that stall while clients keep sending: RSS stays below 64 MiB, steady sessions flow")
        func targetStalls() async throws {
            let echo = try LoopbackTarget(.echo)
            defer { echo.stop() }
            let stalled = try FaultTarget(.stall)
            defer { stalled.stop() }
            try await withTokenProxy(targets: ["steady": echo.port, "stall": stalled.port]) { proxy in
                let sampler = PeakResidentSampler(proxy.process)
                let steady = try await SteadySessions.start(url: proxy.url + "/?token=steady", Self.steadyArguments)
                let port = proxy.port
                let pushed = try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<8 {
                        group.addTask {
                            try await offload { () -> Int in
                                let client = try WireClient.upgrade(port: port, path: "/?token=stall")
                                defer { client.close() }
                                return client.push(for: .seconds(3))
                            }
                        }
                    }
                    return try await group.reduce(into: [Int]()) { $0.append($1) }
                }
                let result = try await steady.finish()
                let peak = sampler.stop()
                Self.expectUntouched(result, count: 2)
                #expect(pushed.allSatisfy { $0 > 0 }, "every stalled client got some bytes out: \(pushed)")
                // The bytes a stalled client gets out are bounded by socket buffers plus one proxy slot, not by time.
                #expect(pushed.allSatisfy { $0 < 64 << 20 }, "pushed \(pushed.map { $0 >> 20 }) MiB: no backpressure")
                #expect(peak < 64 << 20, "peak RSS \(peak >> 20) MiB")
                #expect(proxy.process.isRunning)
            }
        }

        @Test("client half-close after its Close: the target gets every byte then EOF, the client the echo")
        func clientHalfCloseAfterClose() async throws {
            let echo = try LoopbackTarget(.echo)
            defer { echo.stop() }
            let sink = try LoopbackTarget(.sink(captureLimit: 1 << 20))
            defer { sink.stop() }
            try await withTokenProxy(targets: ["steady": echo.port, "sink": sink.port]) { proxy in
                let steady = try await SteadySessions.start(url: proxy.url + "/?token=steady", Self.steadyArguments)
                let port = proxy.port
                let payload = PatternStream.bytes(offset: 0, count: 200_000)
                let transcript = try await offload { () -> WireTranscript in
                    let client = try WireClient.upgrade(port: port, path: "/?token=sink")
                    defer { client.close() }
                    client.send(WireFrame.binary(payload))
                    client.send(WireFrame.close(1000, reason: Array("half".utf8)))
                    client.shutdownWrite()
                    return client.readUntilClosed(answerClose: false)
                }
                #expect(transcript.close?.closeCode == 1000, "\(transcript.summary)")
                #expect(transcript.close?.closeReason == "half")
                #expect(transcript.closed)
                let stats = try await sink.wait { $0.peerEOFs == 1 }
                #expect(stats.captured == payload, "target got \(stats.captured.count) of \(payload.count) bytes")
                Self.expectUntouched(try await steady.finish(), count: 2)
            }
        }

        @Test("client half-close without a Close: the target gets every byte then EOF, the client a closed socket")
        func clientHalfCloseWithoutClose() async throws {
            let echo = try LoopbackTarget(.echo)
            defer { echo.stop() }
            let sink = try LoopbackTarget(.sink(captureLimit: 1 << 20))
            defer { sink.stop() }
            try await withTokenProxy(targets: ["steady": echo.port, "sink": sink.port]) { proxy in
                let steady = try await SteadySessions.start(url: proxy.url + "/?token=steady", Self.steadyArguments)
                let port = proxy.port
                let payload = PatternStream.bytes(offset: 0, count: 200_000)
                let transcript = try await offload { () -> WireTranscript in
                    let client = try WireClient.upgrade(port: port, path: "/?token=sink")
                    defer { client.close() }
                    client.send(WireFrame.binary(payload, fin: false))
                    client.shutdownWrite()
                    return client.readUntilClosed(answerClose: false)
                }
                #expect(transcript.closed, "the proxy closes after the client's FIN: \(transcript.summary)")
                #expect(transcript.elapsed < .seconds(5))
                let stats = try await sink.wait { $0.peerEOFs == 1 }
                #expect(stats.captured == payload, "target got \(stats.captured.count) of \(payload.count) bytes")
                Self.expectUntouched(try await steady.finish(), count: 2)
            }
        }

        @Test("target half-close (FIN, still reading): the client gets all its data, then close 1000 \"Target closed\"")
        func targetHalfClose() async throws {
            let echo = try LoopbackTarget(.echo)
            defer { echo.stop() }
            let byteCount = 3 << 20
            let halfClosing = try FaultTarget(.halfClose(byteCount: byteCount))
            defer { halfClosing.stop() }
            try await withTokenProxy(targets: ["steady": echo.port, "half": halfClosing.port]) { proxy in
                let steady = try await SteadySessions.start(url: proxy.url + "/?token=steady", Self.steadyArguments)
                let port = proxy.port
                let transcript = try await offload {
                    try WireClient.exchange(port: port, path: "/?token=half", frames: [], timeout: .seconds(20))
                }
                let data = transcript.data
                #expect(data.count == byteCount)
                let mismatch = data.withUnsafeBytes { PatternStream.firstMismatch(offset: 0, in: $0) }
                #expect(mismatch == nil)
                #expect(transcript.close?.closeCode == 1000, "\(transcript.frames.last?.description ?? "no frames")")
                #expect(transcript.close?.closeReason == "Target closed")
                #expect(transcript.frames.last?.opcode == WireFrame.close, "the close comes after all the data")
                #expect(transcript.closed)
                let stats = try await halfClosing.wait { $0.peerEOFs == 1 }
                #expect(stats.peerEOFs == 1, "the proxy closes the target's read side too")
                #expect(stats.errors.isEmpty, "\(stats.errors)")
                Self.expectUntouched(try await steady.finish(), count: 2)
            }
        }

        @Test("SIGTERM during traffic on 4 sessions: each gets close 1001 with intact data, exit 0 within 5 s")
        func sigtermUnderLoad() async throws {
            try await withProxy(to: .echo) { proxy, _ in
                let steady = try await SteadySessions.start(
                    url: proxy.url + "/", ["--count", "4", "--seconds", "30", "--max-frame", "200000"])
                let process = proxy.process
                let started = ContinuousClock.now
                process.send(SIGTERM)
                let exited = try await offload { process.waitForExit(timeout: .seconds(5)) }
                let elapsed = ContinuousClock.now - started
                #expect(exited, "still running 5 s after SIGTERM")
                #expect(process.exitStatus == 0)
                #expect(elapsed < .seconds(5))
                let result = try await steady.finish()
                #expect(result.error == nil)
                #expect(result.sessions.count == 4)
                for (index, session) in result.sessions.enumerated() {
                    #expect(session.error == nil, "#\(index): \(session.error ?? "")")
                    #expect(session.mismatch == nil, "#\(index): first differing offset")
                    #expect(session.received > 0 && session.received <= session.sent)
                    #expect(session.endedBy == "server" && session.closeCode == 1001, "#\(index): \(session)")
                }
            }
        }

        @Test("SIGHUP: the process keeps running, open sessions keep flowing and new ones are served")
        func sighup() async throws {
            try await withProxy(to: .echo) { proxy, _ in
                let steady = try await SteadySessions.start(url: proxy.url + "/", Self.steadyArguments)
                proxy.process.send(SIGHUP)
                #expect(try await proxy.waitForLog("SIGHUP"), "log:\n\(proxy.log)")
                Self.expectUntouched(try await steady.finish(), count: 2)
                #expect(proxy.process.isRunning, "exit status \(proxy.process.exitStatus ?? -1)")
                let after = try await WebSocketClientResult.run(
                    "echo", url: proxy.url + "/", ["--total", "65536", "--max-frame", "8192"])
                #expect(after.error == nil)
                #expect(after.received == 65536 && after.mismatch == nil)
            }
        }
    }
}

extension WireClient {
    /// Sends one 64 KiB binary frame after another, without blocking, for `duration`; returns the bytes the
    /// kernel accepted. Against a target that never reads this stops growing once every buffer is full.
    func push(for duration: Duration) -> Int {
        let frame = WireFrame.build(WireFrame.binary, PatternStream.bytes(offset: 0, count: 65536), key: [0, 0, 0, 0])
        let deadline = ContinuousClock.now + duration
        var total = 0
        var offset = 0
        while ContinuousClock.now < deadline {
            var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&descriptor, 1, 100) > 0 else { continue }
            if descriptor.revents & Int16(POLLERR | POLLHUP) != 0 { break }
            let n = frame.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
            }
            if n > 0 {
                total += n
                offset = (offset + n) % frame.count
            } else if n < 0 && errno != EAGAIN && errno != EINTR {
                break
            }
        }
        return total
    }
}
