// The relay path end to end: a client sends masked binary frames through a real in-process ProxyServer
// (127.0.0.1:0, one worker) to a TCP echo thread, and reads the echoed frames back.
//
//   client (this thread) ──ws──▶ ProxyServer reactor ──tcp──▶ echo thread
//                        ◀──ws── (header into headroom) ◀──tcp──
//
// One iteration is one frame out and its payload back. The WebSocket handshake, the first pool slots and a
// warm-up exchange (checked byte for byte) happen in `setup`, outside the measured region. The client, the echo
// thread and the measured loop use only preallocated buffers, so every malloc counted (the interposer counts all
// threads) comes from the proxy: the gate is 0 per frame (docs: "Per-frame allocations").
//
// Throughput is frames per second; multiply by the payload size for bytes per second each way.
//   run:    swift package --disable-sandbox benchmark --target RelayBenchmarks
//   update: swift package --disable-sandbox --allow-writing-to-package-directory benchmark thresholds update \
//           --target RelayBenchmarks --metric mallocCountTotal --path Thresholds/6.3
import Benchmark
import Glibc
import Logging
import SockifyProtocol
import SockifyProxy
import SockifyReactor
import Synchronization

/// Stops the benchmark with a message: the fixture is broken, and numbers from it would be meaningless.
func fail(_ what: String, errno code: CInt = errno) -> Never {
    fatalError("relay benchmark: \(what) (errno \(code))")
}

/// 127.0.0.1:`port` as a `sockaddr_in`.
func loopback(port: UInt16) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    return address
}

func setNoDelay(_ fd: CInt) {
    var one: CInt = 1
    _ = setsockopt(fd, CInt(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<CInt>.size))
}

/// The payload byte at stream position `position` of a frame of `length` bytes (before masking).
@inline(__always)
func patternByte(_ position: Int, length: Int) -> UInt8 {
    UInt8(truncatingIfNeeded: (position % length) &* 31 &+ 7)
}

/// A blocking TCP echo server on 127.0.0.1:0, serving one connection at a time on its own thread.
/// Its loop only calls recv/send on a buffer allocated before the thread starts.
final class EchoTarget: @unchecked Sendable {
    // @unchecked: `listenFD` and `buffer` are set in init and only read afterwards (by the echo thread, then by
    // `stop()` after the thread has been woken and joined).
    let listenFD: CInt
    let port: UInt16
    private let buffer: UnsafeMutableRawBufferPointer
    private var thread: ReactorThread?

    init() {
        let fd = socket(AF_INET, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { fail("echo socket") }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 16) == 0 else { fail("echo bind/listen") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { fail("echo getsockname") }
        listenFD = fd
        port = UInt16(bigEndian: address.sin_port)
        buffer = .allocate(byteCount: 256 * 1024, alignment: 64)
    }

    func start() {
        do {
            thread = try ReactorThread.start(pinnedTo: nil) { [self] in serve() }
        } catch {
            fail("echo thread", errno: error.rawValue)
        }
    }

    private func serve() {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return  // the listener was shut down: stop
            }
            setNoDelay(fd)
            echo(fd)
            close(fd)
        }
    }

    private func echo(_ fd: CInt) {
        while true {
            let received = recv(fd, buffer.baseAddress, buffer.count, 0)
            if received < 0 && errno == EINTR { continue }
            guard received > 0 else { return }
            var sent = 0
            while sent < received {
                let n = send(fd, buffer.baseAddress! + sent, received - sent, CInt(MSG_NOSIGNAL))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return }
                sent += n
            }
        }
    }

    /// Wakes the blocked `accept` (shutdown on a listening socket makes it fail), joins the thread, frees all.
    func stop() {
        _ = shutdown(listenFD, CInt(SHUT_RDWR))
        thread?.join()
        close(listenFD)
        buffer.deallocate()
    }
}

/// A WebSocket client over a non-blocking socket: one masked frame, sent again and again, and a decoder for
/// the server's frames. Nothing in `exchange` allocates.
final class RelayClient {
    let fd: CInt
    let payloadLength: Int
    /// One complete masked binary frame (header + masked payload).
    private let frame: UnsafeMutableRawBufferPointer
    private let receiveBuffer: UnsafeMutableRawBufferPointer
    private var decoder = FrameDecoder(role: .client, maxPayloadLength: 1 << 24)
    /// Payload bytes received over the connection's life (the stream position of the next echoed byte).
    private var streamPosition = 0

    static let request = Array(
        ("GET /websockify HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            + "Sec-WebSocket-Protocol: binary\r\n\r\n").utf8
    )

    /// Connects to the proxy on `port`, completes the opening handshake, and builds the frame.
    init(port: UInt16, payloadLength: Int) {
        self.payloadLength = payloadLength
        let fd = socket(AF_INET, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { fail("client socket") }
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { fail("client connect") }
        setNoDelay(fd)
        self.fd = fd

        // Masked binary frame: header from our encoder, payload masked with our kernel (the proxy unmasks its copy).
        let key: UInt32 = 0x3D21_FA37
        let headerLength = FrameEncoder.headerLength(payloadLength: payloadLength, masked: true)
        frame = .allocate(byteCount: headerLength + payloadLength, alignment: 64)
        for index in 0..<payloadLength { frame[headerLength + index] = patternByte(index, length: payloadLength) }
        var span = frame.mutableBytes
        _ = FrameEncoder.writeHeader(
            into: &span,
            endingAt: headerLength,
            opcode: .binary,
            isFinal: true,
            payloadLength: payloadLength,
            maskingKey: key
        )
        Masking.apply(&span, in: headerLength..<frame.count, key: key, phase: 0)
        receiveBuffer = .allocate(byteCount: 256 * 1024, alignment: 64)

        handshake()
        let flags = fcntl(fd, F_GETFL)
        guard fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else { fail("O_NONBLOCK") }
    }

    /// Sends the upgrade request and reads the 101 response (blocking; nothing else is in flight yet).
    private func handshake() {
        let sent = Self.request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL)) }
        guard sent == Self.request.count else { fail("handshake send") }
        var count = 0
        let terminator = Array("\r\n\r\n".utf8)
        while !(count >= 4 && (0..<4).allSatisfy { receiveBuffer[count - 4 + $0] == terminator[$0] }) {
            let n = recv(fd, receiveBuffer.baseAddress! + count, 1, 0)  // byte by byte: stop exactly at the end
            guard n == 1, count < 4096 else { fail("handshake response cut short or too long at \(count) bytes") }
            count += 1
        }
        let response = String(decoding: receiveBuffer[..<count], as: UTF8.self)
        guard response.hasPrefix("HTTP/1.1 101 "),
            response.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        else { fail("unexpected handshake response: \(response)") }
    }

    /// Sends `count` frames and reads until all their payload has come back, keeping at most `window` frames'
    /// payload in flight (1: strict ping-pong). With `verify`, every echoed byte is checked against the pattern.
    /// - Returns: payload bytes received.
    func exchange(count: Int, window: Int, verify: Bool = false) -> Int {
        let expected = count * payloadLength
        var received = 0
        var framesSent = 0
        var frameOffset = 0
        while received < expected {
            var progressed = false
            while framesSent < count && (framesSent - received / payloadLength) < window {
                let n = send(fd, frame.baseAddress! + frameOffset, frame.count - frameOffset, CInt(MSG_NOSIGNAL))
                if n < 0 {
                    guard errno == EAGAIN || errno == EINTR else { fail("client send") }
                    break
                }
                progressed = true
                frameOffset += n
                if frameOffset == frame.count {
                    frameOffset = 0
                    framesSent += 1
                }
            }
            let n = recv(fd, receiveBuffer.baseAddress, receiveBuffer.count, 0)
            if n > 0 {
                received += decode(n, verify: verify)
                progressed = true
            } else if n == 0 {
                fail("the proxy closed the connection")
            } else if errno != EAGAIN && errno != EINTR {
                fail("client recv")
            }
            if !progressed {
                let canSend = framesSent < count && (framesSent - received / payloadLength) < window
                var watch = pollfd(fd: fd, events: Int16(POLLIN) | (canSend ? Int16(POLLOUT) : 0), revents: 0)
                // 10 s without a byte moving means the relay is stuck: fail loudly instead of hanging.
                guard poll(&watch, 1, 10_000) > 0 else { fail("relay stalled at \(received)/\(expected) bytes") }
            }
        }
        return received
    }

    /// Decodes the server frames in `receiveBuffer[..<count]`; returns their payload bytes.
    private func decode(_ count: Int, verify: Bool) -> Int {
        var span = receiveBuffer.mutableBytes
        var offset = 0
        var payload = 0
        while true {
            let step: (event: FrameDecoder.Event, consumed: Int)?
            do {
                step = try decoder.next(&span, in: offset..<count)
            } catch {
                fail("bad frame from the proxy: \(error)")
            }
            guard let step else { break }
            offset += step.consumed
            switch step.event {
            case .header(let header):
                guard header.opcode == .binary else { fail("unexpected \(header.opcode) frame from the proxy") }
            case .payload(let range):
                if verify {
                    for index in range
                    where receiveBuffer[index]
                        != patternByte(streamPosition + index - range.lowerBound, length: payloadLength)
                    {
                        fail("echoed byte \(streamPosition + index - range.lowerBound) differs")
                    }
                }
                streamPosition += range.count
                payload += range.count
            case .frameEnd:
                break
            }
            if step.consumed == 0 && offset >= count { break }
        }
        return payload
    }

    func close() {
        _ = Glibc.close(fd)
        frame.deallocate()
        receiveBuffer.deallocate()
    }
}

/// Echo target + proxy + connected client for one payload size.
final class RelayFixture: @unchecked Sendable {
    // @unchecked: created in `setup`, used by the benchmark closure, destroyed in `teardown`; the benchmark runner
    // calls these one after another, never concurrently.
    let echo: EchoTarget
    let server: ProxyServer
    let runThread: ReactorThread
    let client: RelayClient

    init(payloadLength: Int) {
        echo = EchoTarget()
        echo.start()
        let targetPort = echo.port
        var configuration = ProxyConfiguration(
            listenHost: "127.0.0.1",
            listenPort: 0,
            targetDescription: "127.0.0.1:\(targetPort)",
            resolveTarget: { _ in .connect(.tcp(host: "127.0.0.1", port: targetPort)) }
        )
        configuration.workers = 1
        server = ProxyServer(
            configuration: configuration,
            logger: Logger(label: "relay-benchmark") { _ in SwiftLogNoOpLogHandler() }
        )
        do {
            try server.start()
        } catch {
            fail("proxy start: \(error)", errno: 0)
        }
        do {
            runThread = try ReactorThread.start(pinnedTo: nil) { [server] in server.run() }
        } catch {
            fail("run thread", errno: error.rawValue)
        }
        client = RelayClient(port: server.listenAddress.port, payloadLength: payloadLength)
        // Warm-up, checked byte for byte: the target connection is up and the pool holds the slots the measured
        // loop reuses (ping-pong and pipelined both use them).
        _ = client.exchange(count: 16, window: 1, verify: true)
        _ = client.exchange(count: 64, window: 8, verify: true)
    }

    /// Closes the client (the proxy then closes the target), stops the proxy and the echo thread.
    func stop() {
        client.close()
        server.shutdown()
        runThread.join()
        echo.stop()
    }
}

let currentFixture = Mutex<RelayFixture?>(nil)

func fixture() -> RelayFixture {
    guard let fixture = currentFixture.withLock({ $0 }) else { fail("no fixture: setup did not run", errno: 0) }
    return fixture
}

let benchmarks: @Sendable () -> Void = {
    /// The relay path must not allocate per frame.
    let noMallocs: [BenchmarkMetric: BenchmarkThresholds] = [.mallocCountTotal: .init(absolute: [.p90: 0])]
    let cases: [(name: String, payload: Int, window: Int)] = [
        ("Relay-echo-1400B", 1400, 1),  // one console update at a time: latency-bound
        ("Relay-echo-64KiB", 64 * 1024, 1),
        ("Relay-stream-1400B", 1400, 64),  // many small frames in flight: long pump() runs
        ("Relay-stream-64KiB", 64 * 1024, 8),  // 8 frames in flight: throughput-bound
    ]
    for relayCase in cases {
        Benchmark(
            relayCase.name,
            configuration: .init(
                metrics: [.wallClock, .throughput, .mallocCountTotal],
                scalingFactor: .kilo,
                maxDuration: .seconds(3),
                thresholds: noMallocs
            ),
            closure: { benchmark in
                let client = fixture().client
                benchmark.startMeasurement()
                let bytes = client.exchange(count: benchmark.scaledIterations.count, window: relayCase.window)
                benchmark.stopMeasurement()
                blackHole(bytes)
            },
            setup: {
                let fixture = RelayFixture(payloadLength: relayCase.payload)
                currentFixture.withLock { $0 = fixture }
            },
            teardown: {
                currentFixture.withLock { $0.take() }?.stop()
            }
        )
    }
}
