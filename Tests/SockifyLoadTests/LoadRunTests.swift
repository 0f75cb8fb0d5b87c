// End-to-end runs of every mode: against the in-process targets directly (tcp://), through Python
// `websockets` and through websockify.py (ws://), and through a relay that damages one byte (must fail).
import Foundation
import Testing

@testable import SockifyLoad

@Suite("LoadRun over tcp:// to the targets", .serialized, .timeLimit(.minutes(2)))
struct DirectLoadTests {
    @Test("rtt, closed loop: every echo verified, latency recorded")
    func rtt() throws {
        let targets = try Targets()
        let result = try runLoad("rtt tcp://127.0.0.1:\(targets.echo.port) -c 3 -n 600 -s 100")
        #expect(result.isSuccess, "\(result.statistics.failureMessages)")
        #expect(result.statistics.messages == 600 && result.statistics.latency.totalCount == 600)
    }

    @Test("rtt, open loop: paced sends, coordinated-omission-corrected histogram")
    func openLoop() throws {
        let targets = try Targets()
        let result = try runLoad("rtt tcp://127.0.0.1:\(targets.echo.port) -c 2 -d 0.5 -r 2000")
        #expect(result.isSuccess, "\(result.statistics.failureMessages)")
        #expect(result.statistics.messages > 200 && result.statistics.latency.totalCount >= UInt64(result.statistics.messages))
        let json = LoadReport.json(result).rendered
        #expect(json.contains("\"open_loop\":true") && json.contains("\"p99_9\""))
    }

    @Test("up and down move and verify every byte, over several connections", arguments: ["up", "down"])
    func streams(mode: String) throws {
        let targets = try Targets()
        let result = try runLoad("\(mode) tcp://127.0.0.1:\(targets.port(for: mode)) -c 3 -b 9000001 -s 1000")
        #expect(result.isSuccess, "\(result.statistics.failureMessages)")
        #expect(result.statistics.bytes == 9_000_001)
        #expect(targets.sink.counters.sunk == (mode == "up" ? 9_000_001 : 0))
    }

    @Test("conns opens, re-checks and measures memory of a process tree")
    func conns() throws {
        let targets = try Targets()
        let result = try runLoad("conns tcp://127.0.0.1:\(targets.echo.port) -c 300 -d 0.2 --pid \(getpid())")
        #expect(result.isSuccess, "\(result.statistics.failureMessages)")
        #expect(result.statistics.opened == 300 && result.rechecked == 300 && result.connectRate > 0)
        #expect(result.memoryBefore != nil && result.memoryHeld != nil && result.statistics.handshake.totalCount == 300)
    }

    @Test("conns at a given rate takes about as long as the rate says")
    func connsRate() throws {
        let targets = try Targets()
        let result = try runLoad("conns tcp://127.0.0.1:\(targets.echo.port) -c 100 -r 500 -d 0")
        #expect(result.isSuccess, "\(result.statistics.failureMessages)")
        // 100 connections at 500/s: at least ~0.2 s from first to last, so at most ~500/s (with slack).
        #expect(result.connectRate < 700)
    }

    @Test("soak mixes rtt, up and down with reconnects")
    func soak() throws {
        let targets = try Targets()
        let result = try runLoad("soak tcp://127.0.0.1:\(targets.mixed.port) -c 6 -d 1 -s 3000")
        #expect(result.isSuccess, "\(result.statistics.failureMessages)")
        #expect(result.statistics.rttJobs > 0 && result.statistics.upJobs > 0 && result.statistics.downJobs > 0)
    }

    @Test("a refused connection fails the run")
    func refused() throws {
        let port = try SpawnedPeer.freePort()
        let result = try runLoad("rtt tcp://127.0.0.1:\(port) -n 10")
        #expect(!result.isSuccess && result.statistics.failures == 1)
    }

    @Test("non-loopback targets are refused without --allow-remote")
    func remoteRefused() {
        #expect(throws: UsageError.self) { try runLoad("rtt tcp://192.0.2.1:80 -n 1") }
    }
}

@Suite("LoadRun against Python websockets", .serialized, .timeLimit(.minutes(2)))
struct WebsocketsPeerTests {
    @Test("every mode through an independent WebSocket server that fragments and pings",
          arguments: ["rtt", "up", "down", "soak", "conns"])
    func modes(mode: String) throws {
        let targets = try Targets()
        let relay = try SpawnedPeer.websocketsRelay(to: targets.port(for: mode), fragment: 1000, ping: 0.02)
        defer { relay.stop() }
        let bound = ["rtt": "-d 1 -c 2 -s 3000", "up": "-b 3M -c 2", "down": "-b 5M", "soak": "-d 1 -c 3 -s 5000", "conns": "-c 20 -d 0.3"][mode]!
        let result = try runLoad("\(mode) ws://127.0.0.1:\(relay.port)/path?q=1 \(bound) --timeout 30")
        #expect(result.isSuccess, "\(result.statistics.failureMessages)")
    }

    @Test("a rejected handshake (403) fails the run as a connection error")
    func rejected() throws {
        let targets = try Targets()
        let relay = try SpawnedPeer.websocketsRelay(to: targets.echo.port, reject: true)
        defer { relay.stop() }
        let result = try runLoad("rtt ws://127.0.0.1:\(relay.port)/ -n 5")
        #expect(!result.isSuccess && result.statistics.integrityFailures == 0)
        #expect(result.statistics.failureMessages.first?.contains("403") == true)
    }
}

@Suite("LoadRun against websockify.py", .serialized, .timeLimit(.minutes(2)))
struct WebsockifyPeerTests {
    @Test("rtt, up, down and conns through websockify 0.13", arguments: ["rtt", "up", "down", "conns"])
    func modes(mode: String) throws {
        let targets = try Targets()
        let proxy = try SpawnedPeer.websockify(to: targets.port(for: mode))
        defer { proxy.stop() }
        let bound = ["rtt": "-n 300", "up": "-b 4M", "down": "-b 16M", "conns": "-c 10 -d 0.2 --pid \(proxy.pid)"][mode]!
        let result = try runLoad("\(mode) ws://127.0.0.1:\(proxy.port)/ \(bound) --timeout 30")
        #expect(result.isSuccess, "\(result.statistics.failureMessages)")
        if mode == "conns" {
            // One forked Python process per connection: megabytes each, and the tree grew by about 10 processes.
            #expect((result.memoryPerConnection ?? 0) > 100_000)
            #expect((result.memoryHeld?.processCount ?? 0) >= (result.memoryBefore?.processCount ?? 0) + 10)
        }
    }
}

@Suite("Integrity checking through a corrupting relay", .serialized, .timeLimit(.minutes(2)))
struct IntegrityTests {
    @Test("one damaged byte fails the run as an integrity failure", arguments: [
        ("rtt", "t2c", "flip"), ("rtt", "c2t", "flip"), ("up", "c2t", "flip"), ("up", "c2t", "dup"),
        ("down", "t2c", "flip"), ("down", "t2c", "drop"), ("down", "t2c", "dup"),
    ])
    func damaged(mode: String, direction: String, action: String) throws {
        let targets = try Targets()
        let relay = try SpawnedPeer.corruptingRelay(to: targets.port(for: mode), direction: direction, action: action, after: 100_003)
        defer { relay.stop() }
        let bound = mode == "rtt" ? "-n 5000 -s 100" : "-b 1M"
        let result = try runLoad("\(mode) tcp://127.0.0.1:\(relay.port) \(bound) --timeout 20")
        #expect(!result.isSuccess)
        #expect(result.statistics.integrityFailures == 1, "\(result.statistics.failureMessages)")
    }

    @Test("the same relay without damage passes (the failures above are the damage, not the relay)")
    func undamaged() throws {
        let targets = try Targets()
        let relay = try SpawnedPeer.corruptingRelay(to: targets.sink.port, direction: "t2c", action: "flip", after: 1 << 40)
        defer { relay.stop() }
        let result = try runLoad("up tcp://127.0.0.1:\(relay.port) -b 1M")
        #expect(result.isSuccess, "\(result.statistics.failureMessages)")
    }

    @Test("a damaged byte between websockify and the target fails a ws:// run")
    func damagedBehindWebsockify() throws {
        let targets = try Targets()
        let relay = try SpawnedPeer.corruptingRelay(to: targets.source.port, direction: "t2c", action: "flip", after: 77_777)
        defer { relay.stop() }
        let proxy = try SpawnedPeer.websockify(to: relay.port)
        defer { proxy.stop() }
        let result = try runLoad("down ws://127.0.0.1:\(proxy.port)/ -b 1M --timeout 20")
        #expect(!result.isSuccess && result.statistics.integrityFailures == 1, "\(result.statistics.failureMessages)")
    }
}
