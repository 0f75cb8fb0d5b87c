// The same proxy on both I/O backends, under the loads where they differ: the io_uring buffer ring running dry under
// many connections, a client that resets while the proxy is sending to it, and ~10,000 concurrent connections.
import Foundation
import Glibc
import SockifyReactor
import Testing

@testable import SockifyLoad

extension SpawnedPeer {
    /// The `sockify` built next to this test bundle, on `backend`, in front of `targetPort`; its log goes to `log`.
    static func sockify(to targetPort: UInt16, backend: String, options: [String] = [], log: String) throws -> SpawnedPeer {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        var directory = URL(fileURLWithPath: me).deletingLastPathComponent()
        var executable = ""
        for _ in 0..<4 where executable.isEmpty {
            let candidate = directory.appendingPathComponent("sockify").path
            if FileManager.default.isExecutableFile(atPath: candidate) { executable = candidate }
            directory.deleteLastPathComponent()
        }
        try #require(!executable.isEmpty, "no sockify binary next to \(me): run swift build first")
        let port = try freePort()
        let peer = try SpawnedPeer(
            "/bin/sh",
            ["-c", "exec \"$0\" \"$@\" 2>\"\(log)\"", executable, "--io-backend", backend] + options
                + ["127.0.0.1:\(port)", "127.0.0.1:\(targetPort)"],
            announcesPort: false)
        peer.port = port
        try peer.waitUntilListening()
        return peer
    }
}

/// A blocking loopback TCP client with 5 s timeouts (a raw peer that can reset its connection).
enum BlockingClient {
    static func connect(port: UInt16, receiveBuffer: CInt? = nil) throws -> CInt {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw UsageError("connect to 127.0.0.1:\(port) failed: errno \(errno)")
        }
        return fd
    }

    static func writeAll(_ fd: CInt, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }

    /// Reads until `count` bytes arrived, the peer closed or a read timed out; returns how many arrived.
    static func read(_ fd: CInt, count: Int) -> Int {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var total = 0
        while total < count {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, min($0.count, count - total)) }
            guard n > 0 else { break }
            total += n
        }
        return total
    }
}

/// Open descriptors of a process (`/proc/PID/fd`).
func openDescriptors(_ pid: Int32) -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
}

@Suite("Both I/O backends under load", .serialized, .timeLimit(.minutes(3)))
struct BackendLoadTests {
    static let backends = ["epoll", "io_uring"]

    /// `--buffer-size 1048576` leaves the io_uring reactor 8 receive buffers; 32 connections each way cannot all
    /// have one, so receives end with ENOBUFS and the connections fall back to `recv` until buffers come back.
    @Test("ring exhaustion: 32 connections up and 32 down through 8 receive buffers, every byte verified",
          arguments: backends)
    func ringExhaustion(backend: String) throws {
        let targets = try Targets()
        let logs = FileManager.default.temporaryDirectory.appendingPathComponent("sockify-backend-\(getpid())")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: logs) }
        let options = ["--buffer-size", "1048576"]
        let up = try SpawnedPeer.sockify(
            to: targets.port(for: "up"), backend: backend, options: options, log: logs.appendingPathComponent("up").path)
        defer { up.stop() }
        let down = try SpawnedPeer.sockify(
            to: targets.port(for: "down"), backend: backend, options: options,
            log: logs.appendingPathComponent("down").path)
        defer { down.stop() }
        let sent = try runLoad("up ws://127.0.0.1:\(up.port)/ -c 32 -b 256M -s 100K --timeout 60")
        #expect(sent.isSuccess, "\(sent.statistics.failureMessages)")
        #expect(sent.statistics.bytes == 256 << 20)
        let received = try runLoad("down ws://127.0.0.1:\(down.port)/ -c 32 -b 256M --timeout 60")
        #expect(received.isSuccess, "\(received.statistics.failureMessages)")
        #expect(received.statistics.bytes == 256 << 20)
        let banner = (try? String(contentsOf: logs.appendingPathComponent("up"), encoding: .utf8)) ?? ""
        #expect(banner.contains("reactor thread(s), \(backend)"), "\(banner)")
    }

    /// A client sends 256 KiB through an echo target but reads only a little of the echo (its receive buffer is
    /// 4 KiB), so the proxy is in the middle of sending to it when it resets (SO_LINGER 0): the session ends, nothing
    /// leaks (descriptors back where they were), and the next session is served.
    @Test("a client that resets mid-send: the session ends, descriptors are released, service goes on",
          arguments: backends)
    func clientResetMidSend(backend: String) throws {
        let targets = try Targets()
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("sockify-reset-\(getpid()).log").path
        defer { unlink(log) }
        let proxy = try SpawnedPeer.sockify(to: targets.port(for: "rtt"), backend: backend, log: log)
        defer { proxy.stop() }
        // One session first, so that start-up's short-lived descriptors (the io_uring probe) are gone.
        let warmUp = try runLoad("rtt ws://127.0.0.1:\(proxy.port)/ -n 10 --timeout 30")
        #expect(warmUp.isSuccess)
        usleep(100_000)
        let baseline = openDescriptors(proxy.pid)
        let payload = 256 * 1024
        // FIN + binary, masked, 64-bit length; a zero masking key leaves the payload as is.
        var frame: [UInt8] = [0x82, 0x80 | 127]
        frame += (0..<8).map { UInt8(truncatingIfNeeded: payload >> (56 - 8 * $0)) }
        frame += [0, 0, 0, 0] + [UInt8](repeating: 0x5A, count: payload)
        for round in 0..<20 {
            let fd = try BlockingClient.connect(port: proxy.port, receiveBuffer: 4096)
            let request = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            #expect(BlockingClient.writeAll(fd, Array(request.utf8) + frame))
            // The 101 (129 bytes) and the start of the echo, then reset while the rest is on its way.
            let wanted = 1024 + round * 512
            #expect(BlockingClient.read(fd, count: wanted) == wanted)
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            close(fd)
        }
        var settled = false
        for _ in 0..<100 where !settled {
            settled = openDescriptors(proxy.pid) <= baseline
            if !settled { usleep(50_000) }
        }
        #expect(settled, "descriptors: \(openDescriptors(proxy.pid)), before: \(baseline)")
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(text.components(separatedBy: "session closed").count - 1 == 21, "\(text.suffix(2000))")
        let after = try runLoad("rtt ws://127.0.0.1:\(proxy.port)/ -n 200 --timeout 30")
        #expect(after.isSuccess, "\(after.statistics.failureMessages)")
    }

    /// 9,900 proxied connections held at once: each costs the proxy two descriptors, and this machine's hard
    /// RLIMIT_NOFILE is 20,000 (raising it needs CAP_SYS_RESOURCE), so 10,000 would not fit in one process.
    @Test("9,900 concurrent connections are opened, held and re-checked by echo", arguments: backends)
    func manyConnections(backend: String) throws {
        let targets = try Targets()
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("sockify-many-\(getpid()).log").path
        defer { unlink(log) }
        let proxy = try SpawnedPeer.sockify(to: targets.port(for: "conns"), backend: backend, log: log)
        defer { proxy.stop() }
        let result = try runLoad("conns ws://127.0.0.1:\(proxy.port)/ -c 9900 -d 1 --pid \(proxy.pid) --timeout 120")
        #expect(result.isSuccess, "\(result.statistics.failureMessages.prefix(5))")
        #expect(result.statistics.opened == 9900)
        // Idle consoles own no payload buffer on either backend: well under 64 KiB of proxy memory each.
        #expect((result.memoryPerConnection ?? .infinity) < 64 * 1024, "\(result.memoryPerConnection ?? -1) B")
    }
}
