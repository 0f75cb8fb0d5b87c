import Foundation
import Glibc
import SockifyReactor
import Testing

@Suite("BlockingSocket", .timeLimit(.minutes(1)))
struct BlockingSocketTests {
    @Test("request and reply over loopback TCP, then end of stream")
    func exchange() throws {
        let server = try ScriptedServer { _, connection in
            guard let line = connection.read(through: Array("\n".utf8)) else { return }
            connection.write(line.reversed().dropFirst() + [UInt8(ascii: "\n")])
        }
        defer { server.finish() }
        let address = try SocketAddress.resolve(host: "127.0.0.1", port: server.port)
        let socket = try BlockingSocket.connect(to: address, deadline: .after(.seconds(5)))
        defer { socket.close() }
        try socket.sendAll(Array("hello\n".utf8), deadline: .after(.seconds(5)))
        var reply: [UInt8] = []
        for _ in 0..<10 where !reply.contains(UInt8(ascii: "\n")) {
            reply += try socket.receive(upTo: 3, deadline: .after(.seconds(5)))
        }
        #expect(reply == Array("olleh\n".utf8))
        #expect(try socket.receive(upTo: 16, deadline: .after(.seconds(5))) == [])  // the script ended: EOF
        #expect(socket.hasPendingInputOrHangup)
    }

    @Test("a Unix-domain socket works the same way")
    func unixSocket() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sockify-lookup-\(getpid()).sock").path
        let listener = try Sockets.listenUnix(path: path, mode: 0o600)
        defer {
            Sockets.close(listener)
            unlink(path)
        }
        let socket = try BlockingSocket.connect(to: SocketAddress(unixPath: path), deadline: .after(.seconds(5)))
        defer { socket.close() }
        #expect(!socket.hasPendingInputOrHangup)
        var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        #expect(poll(&entry, 1, 5000) == 1)
        let (accepted, _) = try #require(try Sockets.accept(listener))
        defer { Sockets.close(accepted) }
        try socket.sendAll(Array("ping".utf8), deadline: .after(.seconds(5)))
        var bytes = [UInt8](repeating: 0, count: 4)
        #expect(recv(accepted, &bytes, 4, 0) == 4 && bytes == Array("ping".utf8))
        #expect(send(accepted, "!", 1, 0) == 1)
        #expect(try socket.receive(upTo: 8, deadline: .after(.seconds(5))) == [UInt8(ascii: "!")])
        #expect(!socket.hasPendingInputOrHangup)
    }

    @Test("connecting to a closed port fails with ECONNREFUSED, worded for a log line")
    func refused() throws {
        let address = try SocketAddress.resolve(host: "127.0.0.1", port: freePort())
        #expect(throws: BlockingSocketError.system(.connectionRefused)) {
            try BlockingSocket.connect(to: address, deadline: .after(.seconds(5)))
        }
        #expect(BlockingSocketError.system(.connectionRefused).description == "connection refused")
        #expect(throws: BlockingSocketError.system(.noSuchFile)) {
            try BlockingSocket.connect(
                to: SocketAddress(unixPath: "/nonexistent/sockify.sock"), deadline: .after(.seconds(1)))
        }
    }

    @Test("a peer that never answers: receive gives up at the deadline, not before")
    func receiveTimesOut() throws {
        let hole = try BlackHole()
        let socket = try BlockingSocket.connect(to: hole.address, deadline: .after(.seconds(5)))
        defer { socket.close() }
        try socket.sendAll(Array("anyone?".utf8), deadline: .after(.seconds(5)))
        let elapsed = elapsedMilliseconds {
            #expect(throws: BlockingSocketError.timedOut) {
                try socket.receive(upTo: 16, deadline: .after(.milliseconds(200)))
            }
        }
        #expect(elapsed >= 200 && elapsed < 2000, "took \(elapsed) ms")
    }

    @Test("a peer that never reads: sendAll gives up at the deadline once the buffers are full")
    func sendTimesOut() throws {
        let hole = try BlackHole()
        let socket = try BlockingSocket.connect(to: hole.address, deadline: .after(.seconds(5)))
        defer { socket.close() }
        let megabyte = [UInt8](repeating: 0x55, count: 1 << 20)
        let elapsed = elapsedMilliseconds {
            #expect(throws: BlockingSocketError.timedOut) {
                for _ in 0..<64 { try socket.sendAll(megabyte, deadline: .after(.milliseconds(200))) }
            }
        }
        #expect(elapsed < 64 * 2000, "took \(elapsed) ms")
    }

    @Test("a listener whose accept queue is full: connect gives up at the deadline")
    func connectTimesOut() throws {
        // backlog 0 lets one handshake complete; later SYNs are dropped, so the next connect hangs in SYN_SENT.
        let listener = try Sockets.listen(
            on: SocketAddress.resolve(host: "127.0.0.1", port: 0), reusePort: false, backlog: 0)
        defer { Sockets.close(listener) }
        let address = try Sockets.localAddress(listener)
        var fillers: [BlockingSocket] = []
        var timedOut = false
        // Fill the queue until a connect times out (bounded: the kernel queue holds backlog + 1).
        for _ in 0..<8 {
            do {
                fillers.append(try BlockingSocket.connect(to: address, deadline: .after(.milliseconds(300))))
            } catch .timedOut {
                timedOut = true
                break
            }
        }
        #expect(timedOut, "\(fillers.count) connects succeeded without one timing out")
    }

    @Test("an expired deadline still lets data that is already there through")
    func expiredDeadlineReadsReadyData() throws {
        let server = try ScriptedServer { _, connection in
            connection.write("ready")
            connection.waitForClose()
        }
        defer { server.finish() }
        let socket = try BlockingSocket.connect(
            to: SocketAddress.resolve(host: "127.0.0.1", port: server.port), deadline: .after(.seconds(5)))
        defer { socket.close() }
        var received: [UInt8] = []
        for _ in 0..<100 where received.count < 5 {  // wait (bounded) until the bytes are in the receive queue
            if socket.hasPendingInputOrHangup {
                received = try socket.receive(upTo: 16, deadline: .after(.milliseconds(-1)))
            } else {
                ReactorThread.sleep(milliseconds: 10)
            }
        }
        #expect(received == Array("ready".utf8))
        #expect(throws: BlockingSocketError.timedOut) { try socket.receive(upTo: 16, deadline: .after(.zero)) }
    }

    @Test("deadlines saturate instead of overflowing, and report what is left")
    func deadlineArithmetic() {
        let far = Deadline.after(.seconds(Int64.max))
        #expect(far.uptimeMilliseconds == .max && !far.hasPassed && far.remainingMilliseconds == CInt.max)
        let past = Deadline.after(.seconds(Int64.min))
        #expect(past.hasPassed && past.remainingMilliseconds == 0)
        let earliest = Deadline(uptimeMilliseconds: .min)
        #expect(earliest.hasPassed && earliest.remainingMilliseconds == 0)
        let soon = Deadline.after(.milliseconds(500))
        #expect(soon.remainingMilliseconds > 0 && soon.remainingMilliseconds <= 500)
        #expect(past < soon && soon < far)
    }

    @Test("Errno.message reads as the continuation of a log line")
    func errnoMessage() {
        #expect(Errno.connectionRefused.message == "connection refused")
        #expect(Errno.connectionReset.message == "connection reset by peer")
        #expect(Errno(rawValue: EIO).message == "input/output error")
    }
}

@Suite("ConditionLock", .timeLimit(.minutes(1)))
struct ConditionLockTests {
    @Test("a waiter wakes when another thread makes its condition true")
    func wakesWaiter() throws {
        let lock = ConditionLock(0)
        let thread = try ReactorThread.start(pinnedTo: nil) {
            for _ in 0..<5 {
                lock.withLock { $0 += 1 }
                lock.broadcast()
            }
        }
        let seen = lock.withLock(waitingUntil: { $0 == 5 }, deadline: .after(.seconds(10))) { $0 }
        thread.join()
        #expect(seen == 5)
    }

    @Test("a timed wait whose condition never holds returns nil at the deadline without running the body")
    func timedWaitExpires() {
        let lock = ConditionLock(false)
        var ran = false
        let elapsed = elapsedMilliseconds {
            let result: Int? = lock.withLock(waitingUntil: { $0 }, deadline: .after(.milliseconds(100))) { _ in
                ran = true
                return 1
            }
            #expect(result == nil)
        }
        #expect(!ran)
        #expect(elapsed >= 100 && elapsed < 5000, "took \(elapsed) ms")
    }
}
