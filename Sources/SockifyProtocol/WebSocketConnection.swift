// RFC 6455 message layer over FrameDecoder: fragmentation (§5.4), control frames (§5.5) and the closing
// handshake state (§5.5.1, §7). Server side by default: binary data out as ranges, pings and closes as events.

/// The message-level state machine of one WebSocket connection, fed with received bytes.
///
/// It surfaces what the proxy acts on: payload ranges to forward (`.data`), pings to answer, pongs, and the
/// peer's close. Data frame headers and frame ends are absorbed. Control frame payloads (≤ 125 bytes, §5.5) are
/// the only bytes it copies, into an inline buffer readable through ``withControlPayload(_:)``.
///
/// Rules enforced here, on top of ``FrameDecoder``'s framing rules:
/// - text frames are rejected (1003): Sockify carries binary only, as websockify does;
/// - §5.4: a continuation needs an open fragmented message, and a new data frame may not start while one is open;
///   control frames may arrive between the fragments of a message;
/// - §5.5.1 / §7.4: a Close payload is empty or a valid code followed by a UTF-8 reason.
///
/// An empty binary frame (or an empty fragment) produces no `.data` event. Bytes after the peer's Close frame
/// are discarded (§5.5.1: the peer must not send more data frames). After an error is thrown the connection is
/// failed and every later call throws the same error; the caller sends a Close with the error's code and closes.
public struct WebSocketConnection: Sendable {
    /// The closing handshake state (§7.1).
    public enum State: Sendable {
        /// Neither side has sent a Close frame.
        case open
        /// We sent a Close frame (``didSendClose()``) and wait for the peer's.
        case closeSent
        /// The peer sent a Close frame; we owe one in reply.
        case closeReceived
        /// Both Close frames have been exchanged; the TCP connection may be closed.
        case closed
    }

    /// What the proxy must act on.
    public enum Event: Equatable, Sendable {
        /// Unmasked binary payload in the caller's buffer, to forward to the TCP target. Never empty.
        case data(Range<Int>)
        /// A ping; its payload is available through ``withControlPayload(_:)``. Answer with a pong of that payload.
        case ping
        /// A pong; its payload is available through ``withControlPayload(_:)``.
        case pong
        /// The peer's Close: its code, or `nil` for an empty payload (1005 "no status received"). The reason is
        /// ``withControlPayload(_:)`` after the 2 code bytes. ``state`` is now `.closeReceived` or `.closed`.
        case close(CloseCode?)
    }

    /// The closing handshake state.
    public private(set) var state = State.open

    private var decoder: FrameDecoder
    /// The opcode of the frame being decoded (valid between its `.header` and `.frameEnd`).
    private var frameOpcode = Opcode.continuation
    /// Whether a fragmented data message is open (a non-final binary frame was seen and its final one was not).
    private var isMessageOpen = false
    /// The payload of the current or last control frame; §5.5 bounds it at 125 bytes.
    private var controlPayload = InlineArray<125, UInt8>(repeating: 0)
    private var controlPayloadCount = 0
    private var failure: ProtocolError? = nil

    /// Creates a connection in the `.open` state.
    ///
    /// - Parameters:
    ///   - role: `.server` (the proxy: client frames must be masked) or `.client` (a load generator).
    ///   - maxPayloadLength: The largest frame payload accepted; larger frames fail with 1009.
    public init(role: FrameDecoder.Role = .server, maxPayloadLength: UInt64) {
        decoder = FrameDecoder(role: role, maxPayloadLength: maxPayloadLength)
    }

    /// Calls `body` with the payload of the last complete control frame (≤ 125 bytes).
    ///
    /// Valid after `.ping`, `.pong` or `.close` and until the next call to ``next(_:in:)``. Do not escape the
    /// pointer from the closure.
    public func withControlPayload<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try controlPayload.span.withUnsafeBytes { all in
            try body(UnsafeRawBufferPointer(rebasing: all[0..<controlPayloadCount]))
        }
    }

    /// Decodes bytes until the next event, unmasking data in place.
    ///
    /// - Parameters:
    ///   - input: The caller's buffer; payload bytes in `range` are unmasked in place.
    ///   - range: The not yet consumed bytes.
    /// - Returns: The event and how many bytes from `range.lowerBound` were consumed up to and including it, or
    ///   `nil` when all of `range` was consumed without producing an event.
    /// - Throws: ``ProtocolError``; its ``ProtocolError/closeCode`` and ``ProtocolError/reason`` are what to send.
    public mutating func next(
        _ input: inout MutableRawSpan,
        in range: Range<Int>
    ) throws(ProtocolError) -> (event: Event, consumed: Int)? {
        if let failure { throw failure }
        // §5.5.1: after its Close the peer sends nothing we act on.
        if state == .closeReceived || state == .closed { return nil }
        var offset = range.lowerBound
        // Each round consumes bytes or ends a frame, so the count of rounds is bounded by 2 × range.count + 2;
        // the loop below stops at the first event or when the decoder has taken everything.
        while true {
            let step: (event: FrameDecoder.Event, consumed: Int)?
            do {
                step = try decoder.next(&input, in: offset..<range.upperBound)
            } catch {
                failure = error
                throw error
            }
            guard let step else { return nil }
            offset += step.consumed
            let event: Event?
            do {
                event = try handle(step.event, in: &input)
            } catch {
                failure = error
                throw error
            }
            if let event { return (event, offset - range.lowerBound) }
        }
    }

    /// Records that we sent a Close frame: `.open` → `.closeSent`, `.closeReceived` → `.closed`.
    public mutating func didSendClose() {
        switch state {
        case .open: state = .closeSent
        case .closeReceived: state = .closed
        case .closeSent, .closed: break
        }
    }

    /// Applies one decoder event; returns the connection event it completes, if any.
    private mutating func handle(
        _ event: FrameDecoder.Event,
        in input: inout MutableRawSpan
    ) throws(ProtocolError) -> Event? {
        switch event {
        case .header(let header):
            frameOpcode = header.opcode
            switch header.opcode {
            case .text:
                throw .textFrame
            case .binary:
                // §5.4: the fragments of one message are not interleaved with another message's frames.
                guard !isMessageOpen else { throw .unexpectedNewFrame }
                isMessageOpen = !header.isFinal
            case .continuation:
                guard isMessageOpen else { throw .unexpectedContinuation }
                isMessageOpen = !header.isFinal
            case .close, .ping, .pong:
                // §5.4: control frames may be injected in the middle of a fragmented message.
                controlPayloadCount = 0
            }
            return nil
        case .payload(let range):
            guard frameOpcode.isControl else { return .data(range) }
            // The decoder enforced §5.5 (≤ 125 bytes per control frame), so the copy stays inside the inline buffer.
            for offset in range {
                controlPayload[controlPayloadCount] = input.unsafeLoad(fromByteOffset: offset, as: UInt8.self)
                controlPayloadCount += 1
            }
            return nil
        case .frameEnd:
            switch frameOpcode {
            case .ping: return .ping
            case .pong: return .pong
            case .close: return .close(try receivedClose())
            case .binary, .continuation, .text: return nil
            }
        }
    }

    /// Validates the Close payload (§5.5.1, §7.4) and advances the closing handshake.
    private mutating func receivedClose() throws(ProtocolError) -> CloseCode? {
        var code: CloseCode? = nil
        switch controlPayloadCount {
        case 0:
            break
        case 1:
            throw .invalidClosePayload
        default:
            let raw = UInt16(controlPayload[0]) << 8 | UInt16(controlPayload[1])
            guard CloseCode(rawValue: raw).isValidInCloseFrame else { throw .invalidCloseCode(raw) }
            guard Self.isValidUTF8(controlPayload, from: 2, to: controlPayloadCount) else {
                throw .invalidUTF8InClose
            }
            code = CloseCode(rawValue: raw)
        }
        state = state == .closeSent ? .closed : .closeReceived
        return code
    }

    /// Strict UTF-8 validation (no overlongs, surrogates or code points above U+10FFFF), without allocating.
    private static func isValidUTF8(_ bytes: InlineArray<125, UInt8>, from start: Int, to end: Int) -> Bool {
        var iterator = InlineBytesIterator(bytes: bytes, offset: start, end: end)
        var decoder = Unicode.UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }
}

/// Iterates `bytes[offset..<end]` of an inline array, for the stdlib's UTF-8 decoder.
private struct InlineBytesIterator: IteratorProtocol {
    let bytes: InlineArray<125, UInt8>
    var offset: Int
    let end: Int

    mutating func next() -> UInt8? {
        guard offset < end else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }
}
