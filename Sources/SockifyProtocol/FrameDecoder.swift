// RFC 6455 §5.2 base framing: walks frame headers in the caller's buffer and unmasks payload in place (§5.3).
// No I/O, no allocation: payload is reported as ranges of the caller's buffer.

/// Decodes WebSocket frames from bytes the caller owns, one event at a time.
///
/// The decoder keeps only scalars and a 14-byte spill for a header split across reads; it never buffers payload.
/// Payload bytes are unmasked in place and reported as ranges of the caller's buffer, so forwarding them needs no
/// copy. It enforces the framing rules of §5.1, §5.2 and §5.5 and the configured size limit; message-level rules
/// (fragmentation, text frames, close payloads) belong to ``WebSocketConnection``.
///
/// Event order for one frame: `.header`, then zero or more `.payload` (possibly across calls, as bytes arrive),
/// then `.frameEnd`. A zero-length frame yields `.header` then `.frameEnd`. Empty `.payload` ranges are never
/// reported.
///
/// After an error is thrown the decoder is failed: every later call throws the same error.
public struct FrameDecoder: Sendable {
    /// Which side of the connection this decoder sits on, which decides the masking rule (§5.1).
    public enum Role: Sendable {
        /// Decodes client frames: they MUST be masked, and are unmasked in place.
        case server
        /// Decodes server frames: they MUST NOT be masked.
        case client
    }

    /// One step of decoding.
    public enum Event: Equatable, Sendable {
        /// A complete, validated frame header. Its payload follows.
        case header(FrameHeader)
        /// Bytes `range` of the input now hold unmasked payload of the current frame.
        case payload(Range<Int>)
        /// The current frame's payload is complete.
        case frameEnd
    }

    private enum State: Sendable {
        /// Collecting header bytes into `spill`.
        case header
        /// Inside a payload: `remaining` bytes to go; `key` is the masking key, `phase` the key byte of the next one.
        case payload(remaining: UInt64, key: UInt32?, phase: Int)
        case failed(ProtocolError)
    }

    private let role: Role
    private let maxPayloadLength: UInt64
    private var state = State.header
    /// Header bytes seen so far; a header is at most 2 + 8 + 4 = 14 bytes.
    private var spill = InlineArray<14, UInt8>(repeating: 0)
    private var spillCount = 0

    /// Creates a decoder.
    ///
    /// - Parameters:
    ///   - role: `.server` to decode (masked) client frames, `.client` to decode (unmasked) server frames.
    ///   - maxPayloadLength: The largest payload length accepted in one data frame; a longer frame is rejected
    ///     with ``ProtocolError/frameTooLarge(_:)`` (1009) as soon as its header is read, before any payload.
    ///     Control frames are bounded by §5.5 (125 bytes) instead.
    public init(role: Role, maxPayloadLength: UInt64) {
        self.role = role
        self.maxPayloadLength = maxPayloadLength
    }

    /// Decodes the next event from `input[range]`, unmasking payload bytes in place.
    ///
    /// - Parameters:
    ///   - input: The caller's buffer. Only bytes in `range` are read, and only payload bytes are written.
    ///   - range: The not yet consumed bytes. May be empty (a pending `.frameEnd` is still reported).
    /// - Returns: The event and how many bytes from `range.lowerBound` it consumed (possibly 0, for `.frameEnd`),
    ///   or `nil` when every byte of `range` went into internal state (e.g. part of a split header) and no event
    ///   is ready. The caller continues at `range.lowerBound + consumed`.
    /// - Throws: ``ProtocolError`` for a frame that breaks §5.1/§5.2/§5.5 or exceeds `maxPayloadLength`.
    public mutating func next(
        _ input: inout MutableRawSpan,
        in range: Range<Int>
    ) throws(ProtocolError) -> (event: Event, consumed: Int)? {
        precondition(
            range.lowerBound >= 0 && range.upperBound <= input.byteCount,
            "decode range \(range) outside buffer of \(input.byteCount) bytes"
        )
        switch state {
        case .failed(let error):
            throw error
        case .payload(let remaining, let key, let phase):
            if remaining == 0 {
                state = .header
                return (.frameEnd, 0)
            }
            if range.isEmpty { return nil }
            let count = UInt64(range.count) < remaining ? range.count : Int(remaining)
            let payload = range.lowerBound..<(range.lowerBound + count)
            var nextPhase = phase
            if let key {
                Masking.apply(&input, in: payload, key: key, phase: phase)
                nextPhase = (phase + count) & 3
            }
            state = .payload(remaining: remaining - UInt64(count), key: key, phase: nextPhase)
            return (.payload(payload), count)
        case .header:
            do {
                return try decodeHeader(&input, in: range)
            } catch {
                state = .failed(error)
                throw error
            }
        }
    }

    /// Collects header bytes into the spill until the header is complete, validating as early as possible.
    private mutating func decodeHeader(
        _ input: inout MutableRawSpan,
        in range: Range<Int>
    ) throws(ProtocolError) -> (event: Event, consumed: Int)? {
        var offset = range.lowerBound
        // Bytes needed so far: 2 until byte 1 is known, then the full header length.
        var needed = spillCount < 2 ? 2 : headerLength(byte1: spill[1])
        // At most two rounds: the 2 fixed bytes, then the rest.
        for _ in 0..<2 {
            while spillCount < needed && offset < range.upperBound {
                spill[spillCount] = input.unsafeLoad(fromByteOffset: offset, as: UInt8.self)
                spillCount += 1
                offset += 1
            }
            if spillCount < needed { return nil }
            if needed == 2 {
                try validateFixedBytes(spill[0], spill[1])
                needed = headerLength(byte1: spill[1])
                if needed > 2 { continue }
            }
            break
        }
        let header = try completeHeader()
        spillCount = 0
        state = .payload(remaining: header.payloadLength, key: header.maskingKey, phase: 0)
        return (.header(header), offset - range.lowerBound)
    }

    /// The full header length implied by byte 1: 2 + extended length (0, 2 or 8) + masking key (0 or 4).
    private func headerLength(byte1: UInt8) -> Int {
        let length7 = byte1 & 0x7F
        let extended = length7 == 126 ? 2 : (length7 == 127 ? 8 : 0)
        return 2 + extended + (byte1 & 0x80 != 0 ? 4 : 0)
    }

    /// Checks everything bytes 0 and 1 decide, so a bad frame fails before the rest of its header arrives.
    private func validateFixedBytes(_ byte0: UInt8, _ byte1: UInt8) throws(ProtocolError) {
        // §5.2: RSV1-3 MUST be 0 unless an extension defining them was negotiated (we negotiate none).
        guard byte0 & 0x70 == 0 else { throw .reservedBitsSet }
        // §5.2: reserved opcodes MUST fail the connection.
        guard let opcode = Opcode(rawValue: byte0 & 0x0F) else { throw .unknownOpcode(byte0 & 0x0F) }
        if opcode.isControl {
            // §5.5: control frames MUST NOT be fragmented and MUST have a payload of 125 bytes or less.
            guard byte0 & 0x80 != 0 else { throw .fragmentedControlFrame }
            guard byte1 & 0x7F <= 125 else { throw .oversizedControlFrame }
        }
        // §5.1: a server MUST close on an unmasked frame; a client MUST close on a masked frame.
        let isMasked = byte1 & 0x80 != 0
        switch role {
        case .server: guard isMasked else { throw .unmaskedClientFrame }
        case .client: guard !isMasked else { throw .maskedServerFrame }
        }
    }

    /// Decodes the complete header held in the spill (already validated by `validateFixedBytes`).
    private func completeHeader() throws(ProtocolError) -> FrameHeader {
        let byte0 = spill[0]
        let byte1 = spill[1]
        var offset = 2
        var length = UInt64(byte1 & 0x7F)
        // §5.2: 126 means a 16-bit length follows, 127 a 64-bit length, both in network byte order. We accept a
        // non-minimal encoding: "minimal" is a MUST on the sender, and rejecting it buys nothing.
        let extendedCount = length == 126 ? 2 : (length == 127 ? 8 : 0)
        if extendedCount > 0 {
            length = 0
            for _ in 0..<extendedCount {
                length = length << 8 | UInt64(spill[offset])
                offset += 1
            }
            // §5.2: the most significant bit of a 64-bit length MUST be 0.
            guard length >> 63 == 0 else { throw .invalidLength }
        }
        // Our limit, checked before any payload is read or buffered. Control frames are already bounded by §5.5
        // (125 bytes), so a small limit never stops pings or closes.
        let isControl = byte0 & 0x08 != 0
        guard isControl || length <= maxPayloadLength else { throw .frameTooLarge(length) }
        var key: UInt32? = nil
        if byte1 & 0x80 != 0 {
            // Little-endian load of the wire bytes: wire byte 0 becomes the low 8 bits.
            key =
                UInt32(spill[offset]) | UInt32(spill[offset + 1]) << 8
                | UInt32(spill[offset + 2]) << 16 | UInt32(spill[offset + 3]) << 24
        }
        // validateFixedBytes already proved the opcode is defined.
        let opcode = Opcode(rawValue: byte0 & 0x0F) ?? .continuation
        return FrameHeader(isFinal: byte0 & 0x80 != 0, opcode: opcode, payloadLength: length, maskingKey: key)
    }
}
