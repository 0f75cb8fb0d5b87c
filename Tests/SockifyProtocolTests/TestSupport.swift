// Shared test helpers: spans over arrays, a seeded generator, and drip-feed drivers for the decoders.
import SockifyProtocol

/// Runs `body` with a `MutableRawSpan` over `bytes`.
func withSpan<R>(_ bytes: inout [UInt8], _ body: (inout MutableRawSpan) throws -> R) rethrows -> R {
    try bytes.withUnsafeMutableBytes { buffer in
        var span = buffer.mutableBytes
        return try body(&span)
    }
}

/// SplitMix64: a tiny seeded generator, so randomized tests are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func randomBytes(_ count: Int, using generator: inout SeededGenerator) -> [UInt8] {
    (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
}

/// Parses "81 05 48 65" into bytes.
func hex(_ text: String) -> [UInt8] {
    text.split(separator: " ").map { UInt8($0, radix: 16)! }
}

/// A frame as the decoder reported it, with its payload bytes gathered from all `.payload` events.
struct DecodedFrame: Equatable {
    var header: FrameHeader
    var payload: [UInt8]
}

/// Feeds `input` to a fresh decoder in chunks of `chunkSize` bytes, each chunk in a fresh buffer (so the decoder
/// cannot rely on earlier bytes still being there), and collects whole frames.
func dripFeedFrames(
    _ input: [UInt8],
    chunkSize: Int,
    role: FrameDecoder.Role,
    maxPayloadLength: UInt64 = .max
) throws(ProtocolError) -> [DecodedFrame] {
    var decoder = FrameDecoder(role: role, maxPayloadLength: maxPayloadLength)
    var frames: [DecodedFrame] = []
    var open: DecodedFrame? = nil
    var start = 0
    while start < input.count {
        var chunk = Array(input[start..<min(start + chunkSize, input.count)])
        start += chunk.count
        let result: Result<Void, ProtocolError> = chunk.withUnsafeMutableBytes { buffer in
            var span = buffer.mutableBytes
            var cursor = 0
            // Bounded: every event either consumes bytes or is a frameEnd, and a frameEnd follows a header.
            for _ in 0...(2 * buffer.count + 2) {
                let step: (event: FrameDecoder.Event, consumed: Int)?
                do throws(ProtocolError) { step = try decoder.next(&span, in: cursor..<buffer.count) } catch {
                    return .failure(error)
                }
                guard let step else { return .success(()) }
                cursor += step.consumed
                switch step.event {
                case .header(let header):
                    precondition(open == nil, "header inside a frame")
                    open = DecodedFrame(header: header, payload: [])
                case .payload(let range):
                    precondition(!range.isEmpty, "empty payload event")
                    open!.payload += buffer[range]
                case .frameEnd:
                    frames.append(open!)
                    open = nil
                }
            }
            preconditionFailure("decoder made no progress")
        }
        try result.get()
    }
    precondition(open == nil, "input ended inside a frame")
    return frames
}

/// What a WebSocketConnection reported, with data gathered into bytes and control payloads captured.
enum ConnectionOutput: Equatable {
    case data([UInt8])
    case ping([UInt8])
    case pong([UInt8])
    case close(CloseCode?, reason: [UInt8])
}

/// Feeds `input` to `connection` in chunks (fresh buffer each) and collects its events; adjacent data is merged.
func dripFeedConnection(
    _ input: [UInt8],
    chunkSize: Int,
    connection: inout WebSocketConnection
) throws(ProtocolError) -> [ConnectionOutput] {
    var outputs: [ConnectionOutput] = []
    var start = 0
    while start < input.count {
        var chunk = Array(input[start..<min(start + chunkSize, input.count)])
        start += chunk.count
        let result: Result<Void, ProtocolError> = chunk.withUnsafeMutableBytes { buffer in
            var span = buffer.mutableBytes
            var cursor = 0
            for _ in 0...(2 * buffer.count + 2) {
                let step: (event: WebSocketConnection.Event, consumed: Int)?
                do throws(ProtocolError) { step = try connection.next(&span, in: cursor..<buffer.count) } catch {
                    return .failure(error)
                }
                guard let step else { return .success(()) }
                cursor += step.consumed
                let control = connection.withControlPayload { Array($0) }
                switch step.event {
                case .data(let range):
                    precondition(!range.isEmpty, "empty data event")
                    if case .data(let previous) = outputs.last {
                        outputs[outputs.count - 1] = .data(previous + buffer[range])
                    } else {
                        outputs.append(.data(Array(buffer[range])))
                    }
                case .ping: outputs.append(.ping(control))
                case .pong: outputs.append(.pong(control))
                case .close(let code): outputs.append(.close(code, reason: Array(control.dropFirst(2))))
                }
            }
            preconditionFailure("connection made no progress")
        }
        try result.get()
    }
    return outputs
}

/// A masked client frame built by hand (independently of FrameEncoder).
func maskedFrame(_ byte0: UInt8, payload: [UInt8], key: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]) -> [UInt8] {
    var frame = [byte0]
    if payload.count <= 125 {
        frame.append(0x80 | UInt8(payload.count))
    } else if payload.count <= 0xFFFF {
        frame += [0xFE, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
    } else {
        frame.append(0xFF)
        frame += (0..<8).reversed().map { UInt8(truncatingIfNeeded: payload.count >> ($0 * 8)) }
    }
    frame += key
    frame += payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
    return frame
}
