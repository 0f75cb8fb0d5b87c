// Deferred target decisions (ProxyConfiguration.lookupTarget answering through TargetReply from another thread):
// an in-process proxy, a blocking echo target and a blocking client over loopback. Runs under ASan and TSan in CI.
import Glibc
import Logging
import SockifyProtocol
import SockifyProxy
import SockifyReactor
import Synchronization
import Testing

@Suite("Deferred target lookups", .serialized, .timeLimit(.minutes(1)))
struct DeferredLookupTests {
    @Test("an answer given later from another thread upgrades the connection and relays both ways")
    func deferredConnect() throws {
        let echo = try EchoTarget()
        defer { echo.stop() }
        let port = echo.port
        let answerers = ThreadBag()
        defer { answerers.joinAll() }
        let proxy = try InProcessProxy { _, reply in
            answerers.spawn {
                ReactorThread.sleep(milliseconds: 50)
                reply(.connect(.tcp(host: "127.0.0.1", port: port)))
            }
            return nil
        }
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        let head = try client.upgrade(path: "/websockify?token=later")
        #expect(head.hasPrefix("HTTP/1.1 101 "), "response: \(head)")
        try client.sendMaskedBinary(Array("hello, deferred".utf8))
        #expect(try client.readBinaryPayload() == Array("hello, deferred".utf8))
    }

    @Test("no answer within lookupTimeout closes the connection with no response and a log line")
    func lookupTimeout() throws {
        let proxy = try InProcessProxy(lookupTimeout: .milliseconds(300)) { _, _ in nil }
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        try client.sendRequest(path: "/websockify?token=never")
        #expect(try client.readUntilClose().isEmpty, "no bytes before the close")
        #expect(proxy.waitForLog("target lookup timed out"), "log: \(proxy.lines)")
        #expect(proxy.waitForIdle())
    }

    @Test("a deferred reject closes the connection with zero bytes and logs its line")
    func deferredReject() throws {
        let answerers = ThreadBag()
        defer { answerers.joinAll() }
        let proxy = try InProcessProxy { request, reply in
            let client = request.clientHost
            answerers.spawn { reply(.reject(logLine: "\(client): Token 'x' not found")) }
            return nil
        }
        defer { proxy.stop() }
        let client = try TestClient(port: proxy.port)
        defer { client.close() }
        try client.sendRequest(path: "/websockify?token=x")
        #expect(try client.readUntilClose().isEmpty)
        #expect(proxy.waitForLog("127.0.0.1: Token 'x' not found"), "log: \(proxy.lines)")
    }

    @Test("an answer that arrives after the client left is dropped; a second answer is ignored")
    func staleAnswer() throws {
        let echo = try EchoTarget()
        defer { echo.stop() }
        let replies = Mutex<[TargetReply]>([])
        let proxy = try InProcessProxy(lookupTimeout: .seconds(30)) { _, reply in
            replies.withLock { $0.append(reply) }
            return nil
        }
        // The resolver (held by every worker's configuration) keeps `replies`, whose replies hold the worker: drop
        // them once the proxy has stopped, or the cycle outlives the test (LeakSanitizer).
        defer {
            proxy.stop()
            replies.withLock { $0.removeAll() }
        }
        let client = try TestClient(port: proxy.port)
        try client.sendRequest(path: "/websockify?token=slow")
        for _ in 0..<200 {
            if !replies.withLock({ $0.isEmpty }) { break }
            ReactorThread.sleep(milliseconds: 10)
        }
        let reply = try #require(replies.withLock { $0.first })
        client.close()
        // The proxy notices the close only once it reads again; the answer must not resurrect the connection.
        reply(.connect(.tcp(host: "127.0.0.1", port: echo.port)))
        reply(.reject(logLine: "second answer"))
        #expect(reply.isAnswered)
        #expect(proxy.waitForIdle(), "the connection ends; open: \(proxy.server.activeConnectionCount)")
        #expect(!proxy.lines.contains { $0.contains("second answer") })
    }
}

// MARK: - fixtures

/// A ProxyServer on 127.0.0.1:0 with one reactor, its log lines collected.
final class InProcessProxy: Sendable {
    let server: ProxyServer
    let runThread: ReactorThread
    let collected: LineCollector

    init(
        lookupTimeout: Duration = .seconds(5),
        lookup: @escaping @Sendable (TargetRequest, TargetReply) -> TargetDecision?
    ) throws {
        var configuration = ProxyConfiguration(
            listenHost: "127.0.0.1", listenPort: 0, targetDescription: "test", lookupTarget: lookup)
        configuration.workers = 1
        configuration.lookupTimeout = lookupTimeout
        let collected = LineCollector()
        self.collected = collected
        server = ProxyServer(configuration: configuration, logger: Logger(label: "test") { _ in collected })
        try server.start()
        runThread = try ReactorThread.start(pinnedTo: nil) { [server] in server.run() }
    }

    var port: UInt16 { server.listenAddress.port }
    var lines: [String] { collected.store.lines.withLock { $0 } }

    func waitForLog(_ text: String) -> Bool {
        for _ in 0..<500 {
            if lines.contains(where: { $0.contains(text) }) { return true }
            ReactorThread.sleep(milliseconds: 10)
        }
        return false
    }

    func waitForIdle() -> Bool {
        for _ in 0..<500 {
            if server.activeConnectionCount == 0 { return true }
            ReactorThread.sleep(milliseconds: 10)
        }
        return false
    }

    func stop() {
        server.shutdown()
        runThread.join()
    }
}

/// The messages a LineCollector kept.
final class LineStore: Sendable {
    let lines = Mutex<[String]>([])
}

/// A swift-log handler that keeps every message.
struct LineCollector: LogHandler, Sendable {
    let store = LineStore()
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) { store.lines.withLock { $0.append("\(event.message)") } }
}

/// Threads a test starts and joins before it ends (ThreadSanitizer reports threads nobody joined).
final class ThreadBag: Sendable {
    private let threads = Mutex<[ReactorThread]>([])

    func spawn(_ body: @escaping @Sendable () -> Void) {
        guard let thread = try? ReactorThread.start(pinnedTo: nil, body) else { return }
        threads.withLock { $0.append(thread) }
    }

    func joinAll() {
        for thread in threads.withLock({ $0 }) { thread.join() }
    }
}

/// A blocking TCP echo server on 127.0.0.1 with one thread per connection.
final class EchoTarget: Sendable {
    let listener: CInt
    let port: UInt16
    private let thread: ReactorThread
    private let connections = ThreadBag()

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                try #require(bind(fd, raw, length) == 0)
                try #require(getsockname(fd, raw, &length) == 0)
            }
        }
        try #require(listen(fd, 16) == 0)
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        let connections = self.connections
        thread = try ReactorThread.start(pinnedTo: nil) {
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 && errno == EINTR { continue }
                guard client >= 0 else { return }
                connections.spawn {
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    while true {
                        let n = buffer.withUnsafeMutableBytes { read(client, $0.baseAddress, $0.count) }
                        if n < 0 && errno == EINTR { continue }
                        if n <= 0 { break }
                        _ = buffer.withUnsafeBytes { write(client, $0.baseAddress, n) }
                    }
                    Glibc.close(client)
                }
            }
        }
    }

    /// Stops accepting and waits for the connection threads (their peers, the proxy's target sockets, are closed by
    /// then: stop the proxy first).
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        Glibc.close(listener)
        thread.join()
        connections.joinAll()
    }
}

/// A blocking WebSocket client with a 5 s receive timeout.
final class TestClient {
    let fd: CInt
    private var closed = false

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        let status = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(status == 0, "connect: errno \(errno)")
    }

    func close() {
        guard !closed else { return }
        closed = true
        Glibc.close(fd)
    }

    func sendRequest(path: String) throws {
        let request =
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        try send(Array(request.utf8))
    }

    /// Sends the upgrade request and returns the response head.
    func upgrade(path: String) throws -> String {
        try sendRequest(path: path)
        var head: [UInt8] = []
        while !head.ends(with: [13, 10, 13, 10]) {
            let byte = try readExactly(1)
            head += byte
            try #require(head.count < 4096)
        }
        return String(decoding: head, as: UTF8.self)
    }

    func sendMaskedBinary(_ payload: [UInt8]) throws {
        precondition(payload.count < 126)
        let key: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        var frame: [UInt8] = [0x82, 0x80 | UInt8(payload.count)] + key
        for (index, byte) in payload.enumerated() { frame.append(byte ^ key[index % 4]) }
        try send(frame)
    }

    func readBinaryPayload() throws -> [UInt8] {
        let header = try readExactly(2)
        try #require(header[0] == 0x82 && header[1] < 126, "frame header \(header)")
        return try readExactly(Int(header[1]))
    }

    /// Reads until EOF (or a reset); returns the bytes seen.
    func readUntilClose() throws -> [UInt8] {
        var seen: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n == 0 || (n < 0 && errno == ECONNRESET) { return seen }
            try #require(n > 0, "recv: errno \(errno) (timeout waiting for the close?)")
            seen += buffer[0..<n]
        }
    }

    private func send(_ bytes: [UInt8]) throws {
        var n = -1
        repeat {
            n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        } while n < 0 && errno == EINTR
        try #require(n == bytes.count, "send: errno \(errno)")
    }

    private func readExactly(_ count: Int) throws -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = result.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, count - got, 0) }
            if n < 0 && errno == EINTR { continue }  // other suites in this process send signals (SIGCHLD…)
            try #require(n > 0, "recv: \(n), errno \(errno)")
            got += n
        }
        return result
    }
}

extension [UInt8] {
    func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}
