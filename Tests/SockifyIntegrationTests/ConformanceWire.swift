// Hand-built RFC 6455 client bytes (§5.2 framing, §5.3 masking, §5.5.1 close payloads) and a blocking raw-socket
// client that reads the proxy's answers byte by byte. Nothing here uses Sockify's encoder or decoder.
import Foundation
import Glibc

/// Client frames built byte by byte from the RFC 6455 §5.2 diagram:
///
/// ```
///  byte 0: FIN RSV1 RSV2 RSV3 opcode(4)    byte 1: MASK payload-len(7)
///  then 16-bit (len 126) or 64-bit (len 127) length, then the 4-byte masking key, then masked payload
/// ```
enum WireFrame {
    /// How the payload length is written (§5.2).
    enum Length: Sendable {
        /// 7 bits up to 125, else 16 bits up to 65535, else 64 bits (what a conforming sender does).
        case minimal
        /// Always the 16-bit form (non-minimal for short payloads; a receiver accepts it).
        case extended16
        /// Always the 64-bit form.
        case extended64
        /// The 64-bit form holding this value, whatever the payload is (for lying headers: MSB set, huge sizes).
        case declared(UInt64)
    }

    /// The masking key of the RFC 6455 §5.7 examples.
    static let exampleKey: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]

    static let continuation: UInt8 = 0x0
    static let text: UInt8 = 0x1
    static let binary: UInt8 = 0x2
    static let close: UInt8 = 0x8
    static let ping: UInt8 = 0x9
    static let pong: UInt8 = 0xA

    /// One frame. `rsv` is the 3-bit RSV1-3 field; `masked: false` leaves the payload and the MASK bit clear.
    static func build(
        _ opcode: UInt8,
        _ payload: [UInt8] = [],
        fin: Bool = true,
        rsv: UInt8 = 0,
        masked: Bool = true,
        key: [UInt8] = exampleKey,
        length: Length = .minimal
    ) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | (rsv & 7) << 4 | (opcode & 0x0F)]
        let mask: UInt8 = masked ? 0x80 : 0
        func append64(_ value: UInt64) {
            bytes.append(mask | 127)
            for shift in stride(from: 56, through: 0, by: -8) {
                bytes.append(UInt8(truncatingIfNeeded: value >> shift))
            }
        }
        switch length {
        case .minimal where payload.count < 126:
            bytes.append(mask | UInt8(payload.count))
        case .minimal where payload.count < 65536, .extended16:
            bytes += [mask | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        case .minimal, .extended64:
            append64(UInt64(payload.count))
        case .declared(let value):
            append64(value)
        }
        guard masked else { return bytes + payload }
        bytes += key
        for (index, byte) in payload.enumerated() { bytes.append(byte ^ key[index & 3]) }
        return bytes
    }

    static func binary(_ payload: [UInt8], fin: Bool = true) -> [UInt8] { build(binary, payload, fin: fin) }

    static func continuation(_ payload: [UInt8], fin: Bool = true) -> [UInt8] {
        build(continuation, payload, fin: fin)
    }

    /// A Close frame: the 2-byte big-endian code (if any) followed by `reason` (raw bytes, maybe invalid UTF-8).
    static func close(_ code: UInt16?, reason: [UInt8] = []) -> [UInt8] {
        build(close, closePayload(code, reason: reason))
    }

    static func closePayload(_ code: UInt16?, reason: [UInt8] = []) -> [UInt8] {
        guard let code else { return reason }
        return [UInt8(code >> 8), UInt8(code & 0xFF)] + reason
    }
}

/// A frame the proxy sent, decoded by hand.
struct ServerFrame: Sendable, CustomStringConvertible {
    var fin: Bool
    var rsv: UInt8
    var opcode: UInt8
    var masked: Bool
    var payload: [UInt8]

    /// The status code of a Close frame with a payload of 2 bytes or more.
    var closeCode: UInt16? {
        guard opcode == WireFrame.close, payload.count >= 2 else { return nil }
        return UInt16(payload[0]) << 8 | UInt16(payload[1])
    }

    var closeReason: String? {
        guard opcode == WireFrame.close, payload.count >= 2 else { return nil }
        return String(decoding: payload.dropFirst(2), as: UTF8.self)
    }

    var description: String {
        "op=\(opcode) fin=\(fin) rsv=\(rsv) masked=\(masked) len=\(payload.count)"
            + (closeCode.map { " code=\($0) reason=\"\(closeReason ?? "")\"" } ?? "")
    }
}

/// The status line and headers of an HTTP response.
struct WireResponseHead: Sendable {
    var status: Int
    var reason: String
    var headers: [(name: String, value: String)]

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// Everything a raw client saw after its last send: frames, then how the connection ended.
struct WireTranscript: Sendable {
    var frames: [ServerFrame] = []
    /// The proxy closed the TCP connection (FIN, or a reset after it closed).
    var closed = false
    /// The connection ended with a reset rather than a FIN.
    var reset = false
    /// Time from the start of reading to the end of the connection (or the give-up point).
    var elapsed: Duration = .zero

    /// The first Close frame.
    var close: ServerFrame? { frames.first { $0.opcode == WireFrame.close } }
    /// The concatenated payload of every data frame.
    var data: [UInt8] { frames.filter { $0.opcode == WireFrame.binary || $0.opcode == 0 }.flatMap(\.payload) }
    var summary: String { frames.map(\.description).joined(separator: "; ") + (closed ? " | closed" : " | open") }
}

/// A blocking TCP client on loopback that speaks hand-built HTTP and WebSocket bytes.
///
/// `@unchecked Sendable`: a test hands one client from one `offload` closure to the next, never to two threads at
/// once. Every read is bounded by a deadline (`poll`), so no call blocks longer than asked.
final class WireClient: @unchecked Sendable {
    /// RFC 6455 §1.3 sample nonce and its accept value (§4.2.2): no SHA-1 needed in the test target.
    static let sampleKey = "dGhlIHNhbXBsZSBub25jZQ=="
    static let sampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

    let fd: Int32
    private var buffer: [UInt8] = []
    private(set) var closed = false
    private(set) var reset = false
    private(set) var bytesReceived = 0
    private var isOpen = true

    /// Connects to 127.0.0.1:`port`, from `source` (another loopback address such as 127.0.0.2) when given.
    init(port: UInt16, source: String? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        if let source {
            var local = Self.address(source, port: 0)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0 else {
                let message = String(cString: strerror(errno))
                Glibc.close(fd)
                throw HarnessError("bind \(source): \(message)")
            }
        }
        var remote = Self.address("127.0.0.1", port: port)
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let message = String(cString: strerror(errno))
            Glibc.close(fd)
            throw HarnessError("connect 127.0.0.1:\(port): \(message)")
        }
        LoopbackSocket.applyTimeouts(fd)
    }

    deinit { if isOpen { Glibc.close(fd) } }

    /// Closes the socket now (a FIN, or a reset if unread bytes are pending).
    func close() {
        guard isOpen else { return }
        isOpen = false
        Glibc.close(fd)
    }

    /// Sends every byte; false when the proxy closed or reset the connection.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { LoopbackSocket.sendAll(fd, $0) }
    }

    /// `shutdown(SHUT_WR)`: a FIN to the proxy while this side keeps reading.
    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Waits up to `timeout` for more bytes; false on EOF, reset or time-out.
    private func fill(deadline: ContinuousClock.Instant) -> Bool {
        if closed { return false }
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return false }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(min(left.seconds * 1000 + 1, 60_000))
            let ready = poll(&descriptor, 1, milliseconds)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { continue }  // the deadline check above ends the loop
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 {
                buffer += chunk[0..<n]
                bytesReceived += n
                return true
            }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { continue }
            if n < 0 { reset = true }
            closed = true
            return false
        }
    }

    private func take(_ count: Int, deadline: ContinuousClock.Instant) -> [UInt8]? {
        while buffer.count < count {
            if !fill(deadline: deadline) { return nil }
        }
        let bytes = Array(buffer[0..<count])
        buffer.removeFirst(count)
        return bytes
    }

    /// Reads an HTTP response head (up to the empty line); the bytes after it stay buffered for `readFrame`.
    func readHead(timeout: Duration = .seconds(10)) -> WireResponseHead? {
        let deadline = ContinuousClock.now + timeout
        let terminator: [UInt8] = [13, 10, 13, 10]
        var end: Int?
        while end == nil {
            if buffer.count >= 4 {
                end = (0...(buffer.count - 4)).first { Array(buffer[$0..<$0 + 4]) == terminator }
            }
            if end == nil && !fill(deadline: deadline) { return nil }
        }
        let text = String(decoding: buffer[0..<end!], as: UTF8.self)
        buffer.removeFirst(end! + 4)
        let lines = text.components(separatedBy: "\r\n")
        let parts = lines[0].split(separator: " ", maxSplits: 2).map(String.init)
        guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
        let headers = lines.dropFirst().compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (
                String(line[..<colon]),
                line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            )
        }
        return WireResponseHead(status: status, reason: parts.count > 2 ? parts[2] : "", headers: headers)
    }

    /// Reads an HTTP body of `length` bytes (or to EOF without a length).
    func readBody(length: Int?, timeout: Duration = .seconds(10)) -> [UInt8] {
        let deadline = ContinuousClock.now + timeout
        if let length { return take(length, deadline: deadline) ?? [] }
        while fill(deadline: deadline) {}
        defer { buffer.removeAll() }
        return buffer
    }

    /// Reads one complete frame, or nil on EOF, reset or time-out.
    func readFrame(timeout: Duration = .seconds(10)) -> ServerFrame? {
        let deadline = ContinuousClock.now + timeout
        guard let head = take(2, deadline: deadline) else { return nil }
        var length = UInt64(head[1] & 0x7F)
        if length == 126 {
            guard let bytes = take(2, deadline: deadline) else { return nil }
            length = UInt64(bytes[0]) << 8 | UInt64(bytes[1])
        } else if length == 127 {
            guard let bytes = take(8, deadline: deadline) else { return nil }
            length = bytes.reduce(0) { $0 << 8 | UInt64($1) }
        }
        let masked = head[1] & 0x80 != 0
        var key: [UInt8] = []
        if masked {
            guard let bytes = take(4, deadline: deadline) else { return nil }
            key = bytes
        }
        guard length < 1 << 30, var payload = take(Int(length), deadline: deadline) else { return nil }
        if masked { for index in payload.indices { payload[index] ^= key[index & 3] } }
        return ServerFrame(
            fin: head[0] & 0x80 != 0, rsv: (head[0] >> 4) & 7, opcode: head[0] & 0x0F, masked: masked, payload: payload)
    }

    /// Waits up to `timeout` for the end of the connection, discarding anything that arrives.
    func waitForClose(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        buffer.removeAll()
        while fill(deadline: deadline) { buffer.removeAll() }
        return closed
    }

    /// Reads frames until the proxy closes the connection or `timeout` passes. When a Close arrives and
    /// `answerClose` is set, it is answered with a masked Close echoing its code (§5.5.1), as a browser does.
    func readUntilClosed(timeout: Duration = .seconds(10), answerClose: Bool = true) -> WireTranscript {
        let started = ContinuousClock.now
        let deadline = started + timeout
        var transcript = WireTranscript()
        var answered = !answerClose
        while let frame = readFrame(timeout: deadline - ContinuousClock.now) {
            transcript.frames.append(frame)
            if frame.opcode == WireFrame.close && !answered {
                answered = true
                send(WireFrame.build(WireFrame.close, Array(frame.payload.prefix(2))))
            }
        }
        transcript.closed = closed
        transcript.reset = reset
        transcript.elapsed = ContinuousClock.now - started
        return transcript
    }

    // MARK: requests

    /// An upgrade request with the standard RFC 6455 §4.1 headers, minus `drop`, plus `extra` raw lines.
    static func upgradeRequest(
        path: String = "/",
        requestLine: String? = nil,
        drop: Set<String> = [],
        extra: [String] = []
    ) -> [UInt8] {
        let standard = [
            ("Host", "127.0.0.1"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", sampleKey), ("Sec-WebSocket-Version", "13"),
        ]
        let lines = standard.filter { !drop.contains($0.0) }.map { "\($0.0): \($0.1)" } + extra
        let text = (requestLine ?? "GET \(path) HTTP/1.1") + "\r\n" + lines.map { $0 + "\r\n" }.joined() + "\r\n"
        return Array(text.utf8)
    }

    /// Connects, upgrades with the standard request and checks the 101 (status and §4.2.2 accept value).
    static func upgrade(port: UInt16, path: String = "/", source: String? = nil) throws -> WireClient {
        let client = try WireClient(port: port, source: source)
        guard client.send(upgradeRequest(path: path)) else { throw HarnessError("upgrade request not sent") }
        guard let head = client.readHead() else {
            throw HarnessError("no response head (closed: \(client.closed), reset: \(client.reset))")
        }
        guard head.status == 101, head.header("Sec-WebSocket-Accept") == sampleAccept else {
            let accept = head.header("Sec-WebSocket-Accept") ?? "-"
            throw HarnessError("upgrade answered \(head.status) \(head.reason), accept \(accept)")
        }
        return client
    }

    /// Upgrades, sends `frames` (each in its own write) and reads until the proxy closes the connection.
    static func exchange(port: UInt16, path: String = "/", frames: [[UInt8]], timeout: Duration = .seconds(10)) throws
        -> WireTranscript
    {
        let client = try upgrade(port: port, path: path)
        defer { client.close() }
        for frame in frames where !client.send(frame) { break }
        let sentClose = frames.contains { ($0.first ?? 0) & 0x0F == WireFrame.close }
        return client.readUntilClosed(timeout: timeout, answerClose: !sentClose)
    }

    private static func address(_ host: String, port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        return address
    }
}
