// Fuzz harness: `WebSocketConnection` (server role) over `FrameDecoder`, fed client bytes in chunks, as reads
// deliver them (RFC 6455 §5.2 framing, §5.3 masking, §5.4 fragmentation, §5.5 control frames, §7.4 close codes).
//
// Input layout: byte 0 is the chunk plan, uWS-style; the rest is the byte stream from the client.
//
//     bit  7    6    5 ........ 0
//        +----+----+-------------+
//        | R  | S  |    size     |   size 0: one chunk; R=0: chunks of `size` bytes; R=1: chunk sizes
//        +----+----+-------------+   drawn from 1...size², so a piece of payload can exceed 64 bytes (the
//                                     vector width of the unmask) and still be followed by another one;
//                                     S=1: maxPayloadLength 16, else 1 MiB
//
// Each chunk sits in a buffer of its own between guard bytes, at an offset, so the harness can check that the
// connection reads and writes only the range it was given. Invariants: data ranges are non-empty and inside the
// consumed bytes; guard bytes stay intact; an error is sticky; and the events (data bytes concatenated, control
// payloads, the close code) and the error, if any, equal those of `ReferenceDecoder`, which reads the whole
// stream at once, straight from the RFC.
import FuzzSupport
import SockifyProtocol

/// What a connection reports, with data bytes merged across events (chunking splits them arbitrarily).
enum Item: Equatable {
    case data([UInt8])
    case ping([UInt8])
    case pong([UInt8])
    case close(UInt16?, [UInt8])
}

extension Array where Element == Item {
    mutating func appendData(_ bytes: some Collection<UInt8>) {
        if case .data(let earlier) = last {
            self[count - 1] = .data(earlier + bytes)
        } else {
            append(.data([UInt8](bytes)))
        }
    }
}

private let guardByte: UInt8 = 0xA5
private let leadGuardCount = 7
private let trailGuardCount = 9

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrames(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var input = FuzzInput(data, count)
    let plan = input.takeByte()
    let stream = Array(input.remaining)
    let maxPayloadLength: UInt64 = plan & 0x40 != 0 ? 16 : 1 << 20

    let expected = ReferenceDecoder.decode(stream, maxPayloadLength: maxPayloadLength)
    let actual = feed(stream, in: chunks(of: stream.count, plan: plan), maxPayloadLength: maxPayloadLength)
    check(
        actual.items == expected.items,
        "events \(actual.items) but the reference says \(expected.items) (plan \(plan), stream \(hex(stream)))"
    )
    check(
        actual.error == expected.error,
        "error \(String(describing: actual.error)) but the reference says \(String(describing: expected.error)) "
            + "(plan \(plan), stream \(hex(stream)))"
    )
    return 0
}

/// Chunk lengths summing to `count`, every one ≥ 1.
private func chunks(of count: Int, plan: UInt8) -> [Int] {
    let size = Int(plan & 0x3F)
    guard size > 0 else { return count == 0 ? [] : [count] }
    var generator = SplitMix64(seed: UInt64(plan) &+ UInt64(count) << 8)
    var lengths: [Int] = []
    var remaining = count
    while remaining > 0 {
        let length = min(remaining, plan & 0x80 != 0 ? generator.next(in: 1...(size * size)) : size)
        lengths.append(length)
        remaining -= length
    }
    return lengths
}

/// Runs the connection over `stream` split into `lengths`, checking the per-call invariants.
private func feed(
    _ stream: [UInt8],
    in lengths: [Int],
    maxPayloadLength: UInt64
) -> (items: [Item], error: ProtocolError?) {
    var connection = WebSocketConnection(role: .server, maxPayloadLength: maxPayloadLength)
    var items: [Item] = []
    var start = 0
    for length in lengths {
        let chunkRange = leadGuardCount..<(leadGuardCount + length)
        var buffer = [UInt8](repeating: guardByte, count: leadGuardCount + length + trailGuardCount)
        buffer.replaceSubrange(chunkRange, with: stream[start..<(start + length)])
        start += length
        let failure: ProtocolError? = buffer.withUnsafeMutableBytes { raw in
            var span = raw.mutableBytes
            var cursor = chunkRange.lowerBound
            // Each call consumes bytes or completes a frame that an earlier call started, so 2 × length + 2
            // calls always suffice; running out of them means the connection stopped making progress.
            for _ in 0...(2 * length + 2) {
                let step: (event: WebSocketConnection.Event, consumed: Int)?
                do throws(ProtocolError) {
                    step = try connection.next(&span, in: cursor..<chunkRange.upperBound)
                } catch {
                    return error
                }
                guard let step else { return nil }
                check(
                    step.consumed >= 0 && cursor + step.consumed <= chunkRange.upperBound,
                    "consumed \(step.consumed) at \(cursor) of chunk \(chunkRange)"
                )
                switch step.event {
                case .data(let range):
                    // The data is the tail of what this call consumed: inside the caller's range, never empty.
                    check(!range.isEmpty, "empty data range")
                    check(
                        range.lowerBound >= cursor && range.upperBound == cursor + step.consumed,
                        "data range \(range) outside the consumed bytes \(cursor)..<\(cursor + step.consumed)"
                    )
                    items.appendData(raw[range])
                case .ping: items.append(.ping(connection.withControlPayload { Array($0) }))
                case .pong: items.append(.pong(connection.withControlPayload { Array($0) }))
                case .close(let code):
                    items.append(.close(code?.rawValue, connection.withControlPayload { Array($0) }))
                    check(connection.state == .closeReceived, "state \(connection.state) after the peer's Close")
                }
                cursor += step.consumed
            }
            check(false, "no progress within \(2 * length + 3) calls on a chunk of \(length) bytes")
            return nil
        }
        check(
            buffer[..<chunkRange.lowerBound].allSatisfy { $0 == guardByte }
                && buffer[chunkRange.upperBound...].allSatisfy { $0 == guardByte },
            "bytes outside the given range were written"
        )
        if let failure {
            checkSticky(&connection, failure)
            return (items, failure)
        }
    }
    let sawClose = items.contains { if case .close = $0 { true } else { false } }
    check(connection.state == (sawClose ? .closeReceived : .open), "state \(connection.state) at the end")
    if sawClose {
        connection.didSendClose()
        check(connection.state == .closed, "state \(connection.state) after both Close frames")
    }
    return (items, nil)
}

/// After an error, every call throws the same error (the caller sends one Close and stops).
private func checkSticky(_ connection: inout WebSocketConnection, _ failure: ProtocolError) {
    var bytes: [UInt8] = [0x82, 0x80, 0, 0, 0, 0]
    bytes.withUnsafeMutableBytes { raw in
        var span = raw.mutableBytes
        do throws(ProtocolError) {
            _ = try connection.next(&span, in: 0..<raw.count)
            check(false, "a failed connection accepted more bytes")
        } catch {
            check(error == failure, "a failed connection threw \(error), not \(failure)")
        }
    }
}

/// RFC 6455's client-to-server framing, read from one array in one pass, as the connection's documentation states
/// the rules. Slow and plain on purpose.
enum ReferenceDecoder {
    static func decode(_ stream: [UInt8], maxPayloadLength: UInt64) -> (items: [Item], error: ProtocolError?) {
        var items: [Item] = []
        var position = 0
        var isMessageOpen = false
        while true {
            // §5.2 bytes 0 and 1, checked as soon as both have arrived.
            guard stream.count - position >= 2 else { return (items, nil) }
            let byte0 = stream[position]
            let byte1 = stream[position + 1]
            let isFinal = byte0 & 0x80 != 0
            let opcode = byte0 & 0x0F
            let isControl = opcode >= 8
            guard byte0 & 0x70 == 0 else { return (items, .reservedBitsSet) }
            guard [0, 1, 2, 8, 9, 10].contains(opcode) else { return (items, .unknownOpcode(opcode)) }
            if isControl {
                guard isFinal else { return (items, .fragmentedControlFrame) }
                guard byte1 & 0x7F <= 125 else { return (items, .oversizedControlFrame) }
            }
            guard byte1 & 0x80 != 0 else { return (items, .unmaskedClientFrame) }
            // The rest of the header: extended length, then the 4-byte key.
            let extendedCount = [126: 2, 127: 8][Int(byte1 & 0x7F)] ?? 0
            let headerLength = 2 + extendedCount + 4
            guard stream.count - position >= headerLength else { return (items, nil) }
            var length = UInt64(byte1 & 0x7F)
            if extendedCount > 0 {
                length = stream[(position + 2)..<(position + 2 + extendedCount)].reduce(0) { $0 << 8 | UInt64($1) }
                guard length >> 63 == 0 else { return (items, .invalidLength) }
            }
            guard isControl || length <= maxPayloadLength else { return (items, .frameTooLarge(length)) }
            let key = Array(stream[(position + 2 + extendedCount)..<(position + headerLength)])
            // §5.4 message rules, decided by the header.
            switch opcode {
            case 1: return (items, .textFrame)
            case 2:
                guard !isMessageOpen else { return (items, .unexpectedNewFrame) }
                isMessageOpen = !isFinal
            case 0:
                guard isMessageOpen else { return (items, .unexpectedContinuation) }
                isMessageOpen = !isFinal
            default: break
            }
            // Payload: as much of it as has arrived, unmasked (§5.3: byte i XOR key[i mod 4]).
            let payloadStart = position + headerLength
            let available = min(length, UInt64(stream.count - payloadStart))
            var payload: [UInt8] = []
            for i in 0..<Int(available) { payload.append(stream[payloadStart + i] ^ key[i % 4]) }
            if !isControl && !payload.isEmpty { items.appendData(payload) }
            guard available == length else { return (items, nil) }
            switch opcode {
            case 9: items.append(.ping(payload))
            case 10: items.append(.pong(payload))
            case 8:
                // §5.5.1, §7.4: empty, or a sendable code and a UTF-8 reason. Nothing after it is read.
                if payload.isEmpty {
                    items.append(.close(nil, payload))
                    return (items, nil)
                }
                guard payload.count >= 2 else { return (items, .invalidClosePayload) }
                let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
                let sendable =
                    (1000...1003).contains(code) || (1007...1014).contains(code) || (3000...4999).contains(code)
                guard sendable else { return (items, .invalidCloseCode(code)) }
                guard String(validating: payload[2...], as: UTF8.self) != nil else {
                    return (items, .invalidUTF8InClose)
                }
                items.append(.close(code, payload))
                return (items, nil)
            default: break
            }
            position = payloadStart + Int(length)
        }
    }
}
