// DatagramSocket against real receivers: Unix datagram and stream sockets and UDP on loopback.
import Glibc
import SockifyReactor
import Testing

/// A receiving socket bound in a scratch directory (Unix) or on 127.0.0.1:0 (UDP). Receives time out after 5 s, so
/// a missing message fails the test instead of hanging it.
final class SyslogReceiver {
    let fd: CInt
    let path: String
    let port: UInt16

    /// A Unix socket of `type` bound at `path`; stream sockets listen.
    init(unixPath path: String, type: __socket_type) throws {
        let fd = socket(AF_UNIX, CInt(type.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        try #require(fd >= 0)
        self.fd = fd
        self.path = path
        port = 0
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        try #require(rc == 0, "bind \(path): errno \(errno)")
        if type == SOCK_STREAM { try #require(listen(fd, 16) == 0) }
        Self.setTimeout(fd)
    }

    /// A UDP socket on 127.0.0.1 with a kernel-chosen port.
    init(udp: Void) throws {
        let fd = socket(AF_INET, CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        try #require(fd >= 0)
        self.fd = fd
        path = ""
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(fd, sa, length) == 0 ? getsockname(fd, sa, &length) : -1
            }
        }
        try #require(rc == 0)
        port = UInt16(bigEndian: address.sin_port)
        Self.setTimeout(fd)
    }

    deinit {
        close(fd)
        if !path.isEmpty { unlink(path) }
    }

    static func setTimeout(_ fd: CInt) {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// One datagram, or nil after the timeout.
    func receiveDatagram() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 70000)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n >= 0 ? Array(buffer[..<n]) : nil
    }

    /// Accepts one stream connection (after the timeout: nil).
    func accept() -> CInt? {
        let connection = Glibc.accept(fd, nil, nil)
        guard connection >= 0 else { return nil }
        Self.setTimeout(connection)
        return connection
    }

    /// Reads `count` bytes from a stream connection (fewer if it times out or ends).
    static func read(_ fd: CInt, count: Int) -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while result.count < count {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, min($0.count, count - result.count), 0) }
            if n <= 0 { break }
            result += buffer[..<n]
        }
        return result
    }
}

@discardableResult
private func send(_ socket: DatagramSocket, _ text: String, terminator: UInt8? = UInt8(ascii: "\n")) -> Bool {
    Array(text.utf8).withUnsafeBytes { socket.send($0, streamTerminator: terminator) }
}

@Suite("DatagramSocket")
struct DatagramSocketTests {
    @Test("a Unix datagram socket gets each message as one datagram, without the stream terminator")
    func unixDatagram() throws {
        let directory = try ScratchDirectory()
        let receiver = try SyslogReceiver(unixPath: directory.path("log"), type: SOCK_DGRAM)
        let sender = try DatagramSocket(unixPath: receiver.path)
        #expect(sender.transport == .unixDatagram)
        let fd = try #require(sender.descriptor)
        #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0)
        #expect(send(sender, "<14>first"))
        #expect(send(sender, "<14>second"))
        #expect(receiver.receiveDatagram() == Array("<14>first".utf8))
        #expect(receiver.receiveDatagram() == Array("<14>second".utf8))
        #expect(sender.droppedMessages == 0)
        #expect(sender.address.description == receiver.path)
    }

    @Test("a Unix stream socket is used when the path is one (Python's fallback), with the terminator")
    func unixStreamFallback() throws {
        let directory = try ScratchDirectory()
        let receiver = try SyslogReceiver(unixPath: directory.path("log"), type: SOCK_STREAM)
        let sender = try DatagramSocket(unixPath: receiver.path)
        #expect(sender.transport == .unixStream)
        #expect(send(sender, "one"))
        #expect(send(sender, "two"))
        let connection = try #require(receiver.accept())
        defer { close(connection) }
        #expect(SyslogReceiver.read(connection, count: 8) == Array("one\ntwo\n".utf8))
    }

    @Test("no daemon yet: messages are dropped and counted, and the first send after it appears connects")
    func daemonAppearsLater() throws {
        let directory = try ScratchDirectory()
        let path = directory.path("log")
        let sender = try DatagramSocket(unixPath: path)
        #expect(sender.transport == nil)
        #expect(sender.descriptor == nil)
        #expect(!send(sender, "lost"))
        #expect(sender.droppedMessages == 1)
        let receiver = try SyslogReceiver(unixPath: path, type: SOCK_DGRAM)
        #expect(send(sender, "found"))
        #expect(sender.transport == .unixDatagram)
        #expect(receiver.receiveDatagram() == Array("found".utf8))
        #expect(sender.droppedMessages == 1)
    }

    @Test("a restarted daemon (new socket at the same path) is reconnected to, and the message is not lost")
    func daemonRestarts() throws {
        let directory = try ScratchDirectory()
        let path = directory.path("log")
        var receiver: SyslogReceiver? = try SyslogReceiver(unixPath: path, type: SOCK_DGRAM)
        let sender = try DatagramSocket(unixPath: path)
        #expect(send(sender, "before"))
        #expect(receiver?.receiveDatagram() == Array("before".utf8))
        receiver = nil  // closes and unlinks
        receiver = try SyslogReceiver(unixPath: path, type: SOCK_DGRAM)
        #expect(send(sender, "after"))
        #expect(receiver?.receiveDatagram() == Array("after".utf8))
        #expect(sender.droppedMessages == 0)
    }

    @Test("a daemon that does not read: sends fail at once with the message dropped, never blocking")
    func fullDatagramQueue() throws {
        let directory = try ScratchDirectory()
        let receiver = try SyslogReceiver(unixPath: directory.path("log"), type: SOCK_DGRAM)
        let sender = try DatagramSocket(unixPath: receiver.path)
        var accepted = 0
        var refused = 0
        for _ in 0..<100_000 where refused < 3 {
            if send(sender, String(repeating: "x", count: 1000)) { accepted += 1 } else { refused += 1 }
        }
        #expect(refused == 3)
        #expect(accepted > 0)
        #expect(sender.droppedMessages == 3)
        #expect(sender.transport == .unixDatagram)
        #expect(receiver.receiveDatagram()?.count == 1000)
    }

    @Test("a stream daemon that does not read: the tail waits in a bounded queue, messages keep their framing")
    func fullStreamQueue() throws {
        let directory = try ScratchDirectory()
        let receiver = try SyslogReceiver(unixPath: directory.path("log"), type: SOCK_STREAM)
        let sender = try DatagramSocket(unixPath: receiver.path)
        var expected: [UInt8] = []
        var refused = 0
        var index = 0
        while refused < 2 && index < 100_000 {
            let message = "message \(index) " + String(repeating: "y", count: 3000)
            if send(sender, message) { expected += Array(message.utf8) + [UInt8(ascii: "\n")] } else { refused += 1 }
            index += 1
        }
        #expect(refused == 2)
        #expect(sender.droppedMessages == 2)
        let connection = try #require(receiver.accept())
        defer { close(connection) }
        // Drain what the kernel holds; the sender's queue still holds the rest until its next send.
        var got = SyslogReceiver.read(connection, count: expected.count - DatagramSocket.streamQueueLimit)
        #expect(send(sender, "last"))
        expected += Array("last\n".utf8)
        got += SyslogReceiver.read(connection, count: expected.count - got.count)
        #expect(got.count == expected.count)
        #expect(got == expected)
    }

    @Test("UDP goes to the resolved address with sendto, one datagram per message, no terminator")
    func udp() throws {
        let receiver = try SyslogReceiver(udp: ())
        for host in ["127.0.0.1", "localhost"] {
            let sender = try DatagramSocket.udp(host: host, port: Int(receiver.port))
            #expect(sender.transport == .udp)
            #expect(sender.address.description == "127.0.0.1:\(receiver.port)")
            #expect(send(sender, "<11>over udp from \(host)"))
            #expect(receiver.receiveDatagram() == Array("<11>over udp from \(host)".utf8))
        }
    }

    @Test("UDP names that do not resolve fail at start with getaddrinfo's message, as in websockify")
    func udpResolutionFailure() throws {
        for host in ["", "[::1]"] {
            let error = try #require(throws: ResolutionError.self) { try DatagramSocket.udp(host: host, port: 514) }
            #expect(error.description == "[Errno -2] Name or service not known")
        }
        let error = try #require(throws: ResolutionError.self) { try DatagramSocket.udp(host: "127.0.0.1", port: -1) }
        #expect(error.description == "[Errno -8] Servname not supported for ai_socktype")
    }

    @Test("a socket path too long for sockaddr_un is refused at start")
    func pathTooLong() {
        #expect(throws: Errno(rawValue: ENAMETOOLONG)) {
            try DatagramSocket(unixPath: "/tmp/" + String(repeating: "p", count: 200))
        }
    }
}
