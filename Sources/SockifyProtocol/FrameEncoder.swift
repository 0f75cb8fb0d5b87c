// RFC 6455 §5.2 frame headers and whole control frames, written into the caller's buffer.

/// Writes WebSocket frames into caller-provided memory.
///
/// Data frames are framed in place: the proxy receives target bytes at an offset of ``maxServerHeaderLength``
/// into its buffer and ``writeHeader(into:endingAt:opcode:isFinal:payloadLength:maskingKey:)`` puts the header
/// immediately before them, so a header and its payload go out in one send with no payload copy:
///
/// ```
/// 0          start                 end (= payload start)                 end + payloadLength
/// | headroom | header (2, 4 or 10) | payload received from the target ...|
/// ```
///
/// Lengths are always encoded minimally (§5.2: 7 bits up to 125, 16 bits up to 65535, else 64 bits).
public enum FrameEncoder {
    /// The longest unmasked (server) header: 2 bytes + 64-bit length. The headroom the proxy reserves.
    public static let maxServerHeaderLength = 10

    /// The encoded header length for a payload.
    ///
    /// - Parameters:
    ///   - payloadLength: The payload length in bytes (non-negative).
    ///   - masked: Whether a 4-byte masking key follows the length (client frames).
    /// - Returns: 2, 4 or 10, plus 4 if `masked`.
    @inlinable
    public static func headerLength(payloadLength: Int, masked: Bool) -> Int {
        precondition(payloadLength >= 0, "negative payload length \(payloadLength)")
        let base = payloadLength <= 125 ? 2 : (payloadLength <= 0xFFFF ? 4 : 10)
        return masked ? base + 4 : base
    }

    /// Writes a frame header that ends exactly at `end`, i.e. right before a payload already in the buffer.
    ///
    /// The payload itself is not touched: with a `maskingKey`, the caller masks it afterwards with
    /// `Masking.apply(&buffer, in: end..<end + payloadLength, key: maskingKey, phase: 0)`.
    ///
    /// - Parameters:
    ///   - buffer: The buffer; bytes `[end - headerLength, end)` are overwritten.
    ///   - end: The offset where the header ends (the payload's first byte). Needs `headerLength` bytes before it.
    ///   - opcode: The frame's opcode.
    ///   - isFinal: The FIN bit.
    ///   - payloadLength: The payload length to encode.
    ///   - maskingKey: The key (wire bytes loaded little-endian) for a masked frame, or `nil` for a server frame.
    /// - Returns: The offset of the header's first byte.
    @inlinable
    public static func writeHeader(
        into buffer: inout MutableRawSpan,
        endingAt end: Int,
        opcode: Opcode,
        isFinal: Bool,
        payloadLength: Int,
        maskingKey: UInt32?
    ) -> Int {
        let length = headerLength(payloadLength: payloadLength, masked: maskingKey != nil)
        let start = end - length
        precondition(start >= 0 && end <= buffer.byteCount, "header [\(start), \(end)) outside the buffer")
        // Byte 0: FIN | RSV1-3 (0) | opcode. Byte 1: MASK | 7-bit length or 126/127.
        buffer.storeBytes(of: (isFinal ? 0x80 : 0) | opcode.rawValue, toByteOffset: start, as: UInt8.self)
        let maskBit: UInt8 = maskingKey != nil ? 0x80 : 0
        var offset = start + 2
        if payloadLength <= 125 {
            buffer.storeBytes(of: maskBit | UInt8(payloadLength), toByteOffset: start + 1, as: UInt8.self)
        } else if payloadLength <= 0xFFFF {
            buffer.storeBytes(of: maskBit | 126, toByteOffset: start + 1, as: UInt8.self)
            buffer.storeBytes(of: UInt16(payloadLength).bigEndian, toByteOffset: offset, as: UInt16.self)
            offset += 2
        } else {
            buffer.storeBytes(of: maskBit | 127, toByteOffset: start + 1, as: UInt8.self)
            buffer.storeBytes(of: UInt64(payloadLength).bigEndian, toByteOffset: offset, as: UInt64.self)
            offset += 8
        }
        if let maskingKey {
            // The key's little-endian bytes are the wire bytes (see FrameHeader.maskingKey).
            buffer.storeBytes(of: maskingKey.littleEndian, toByteOffset: offset, as: UInt32.self)
        }
        return start
    }

    /// Writes a whole control frame (close, ping or pong) at `offset`, masking its payload if a key is given.
    ///
    /// - Parameters:
    ///   - buffer: The buffer; needs `headerLength + payload.count` bytes from `offset`.
    ///   - offset: Where the frame starts.
    ///   - opcode: `.close`, `.ping` or `.pong`.
    ///   - payload: At most 125 bytes (§5.5).
    ///   - maskingKey: A key for a client frame, `nil` for a server frame.
    /// - Returns: The number of bytes written.
    public static func writeControlFrame(
        into buffer: inout MutableRawSpan,
        at offset: Int,
        opcode: Opcode,
        payload: UnsafeRawBufferPointer,
        maskingKey: UInt32?
    ) -> Int {
        precondition(opcode.isControl, "\(opcode) is not a control opcode")
        precondition(payload.count <= 125, "control payload of \(payload.count) bytes exceeds 125 (§5.5)")
        let payloadStart = offset + headerLength(payloadLength: payload.count, masked: maskingKey != nil)
        precondition(payloadStart + payload.count <= buffer.byteCount, "control frame does not fit the buffer")
        _ = writeHeader(
            into: &buffer,
            endingAt: payloadStart,
            opcode: opcode,
            isFinal: true,
            payloadLength: payload.count,
            maskingKey: maskingKey
        )
        for (i, byte) in payload.enumerated() {
            buffer.storeBytes(of: byte, toByteOffset: payloadStart + i, as: UInt8.self)
        }
        let payloadRange = payloadStart..<(payloadStart + payload.count)
        if let maskingKey { Masking.apply(&buffer, in: payloadRange, key: maskingKey, phase: 0) }
        return payloadRange.upperBound - offset
    }

    /// The largest close reason that fits a control frame: 125 bytes minus the 2-byte code.
    public static let maxCloseReasonLength = 123

    /// Writes a Close frame at `offset`: the 2-byte code (network byte order) and the UTF-8 `reason`.
    ///
    /// The reason is truncated to ``maxCloseReasonLength`` bytes at a Unicode scalar boundary, so it stays valid
    /// UTF-8. With `code == nil` the payload is empty (the peer then sees 1005) and `reason` is ignored (§5.5.1:
    /// a reason requires a code).
    ///
    /// - Returns: The number of bytes written (at most 4 + 2 + 123 masked, 2 + 2 + 123 unmasked).
    public static func writeCloseFrame(
        into buffer: inout MutableRawSpan,
        at offset: Int,
        code: CloseCode?,
        reason: String,
        maskingKey: UInt32?
    ) -> Int {
        var payload = InlineArray<125, UInt8>(repeating: 0)
        var count = 0
        if let code {
            payload[0] = UInt8(truncatingIfNeeded: code.rawValue >> 8)
            payload[1] = UInt8(truncatingIfNeeded: code.rawValue)
            count = 2
            for scalar in reason.unicodeScalars {
                // Stop at the first scalar that would not fit whole, so the reason stays valid UTF-8.
                guard count + UTF8.width(scalar) <= 125, let encoded = UTF8.encode(scalar) else { break }
                for byte in encoded {
                    payload[count] = byte
                    count += 1
                }
            }
        }
        return payload.span.withUnsafeBytes { bytes in
            writeControlFrame(
                into: &buffer,
                at: offset,
                opcode: .close,
                payload: UnsafeRawBufferPointer(rebasing: bytes[0..<count]),
                maskingKey: maskingKey
            )
        }
    }
}
