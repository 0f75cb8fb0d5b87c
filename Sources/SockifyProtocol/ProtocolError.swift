// Why a peer's frames were rejected (RFC 6455 §5, §7), with the close code and reason text we answer with.

/// A violation of RFC 6455 (or of our limits) by the peer's frames.
///
/// Each case knows the close code (``closeCode``) and the reason text (``reason``) to send in our Close frame.
/// Reason texts reproduce websockify's wire texts where it has one, including its "Procotol" typo, because
/// clients and tests match on them (reference §4.6). The codes follow RFC 6455 where websockify deviates
/// (reserved opcodes get 1002, not websockify's 1003; invalid UTF-8 in a close reason gets 1007).
public enum ProtocolError: Error, Equatable, Sendable {
    /// §5.2: RSV1–3 MUST be 0 unless an extension defines them; we negotiate none.
    case reservedBitsSet
    /// §5.2: a reserved opcode (3–7, 0xB–0xF). The associated value is the 4-bit opcode.
    case unknownOpcode(UInt8)
    /// §5.1: a server MUST close the connection on an unmasked client frame.
    case unmaskedClientFrame
    /// §5.1: a client MUST close the connection on a masked server frame.
    case maskedServerFrame
    /// §5.5: control frames MUST NOT be fragmented.
    case fragmentedControlFrame
    /// §5.5: control frame payloads MUST be 125 bytes or less.
    case oversizedControlFrame
    /// §5.2: the most significant bit of a 64-bit length MUST be 0.
    case invalidLength
    /// The frame's payload length exceeds the configured maximum (our limit, not the RFC's). The value is the length.
    case frameTooLarge(UInt64)
    /// A text frame: Sockify, like websockify, carries binary messages only.
    case textFrame
    /// §5.4: a continuation frame arrived with no fragmented message in progress.
    case unexpectedContinuation
    /// §5.4: a new text/binary frame arrived while a fragmented message was still open.
    case unexpectedNewFrame
    /// §7.4.1: the Close frame carried a code that may not be sent. The value is that code.
    case invalidCloseCode(UInt16)
    /// §5.5.1: a Close payload of exactly 1 byte (a code needs 2).
    case invalidClosePayload
    /// §5.5.1: the close reason is not valid UTF-8.
    case invalidUTF8InClose

    /// The code of the Close frame we send in response.
    ///
    /// `frameTooLarge` → 1009, `textFrame` → 1003, `invalidUTF8InClose` → 1007, everything else → 1002.
    public var closeCode: CloseCode {
        switch self {
        case .frameTooLarge: .messageTooBig
        case .textFrame: .unsupportedData
        case .invalidUTF8InClose: .invalidPayloadData
        default: .protocolError
        }
    }

    /// The reason text of the Close frame we send in response (always well under 123 UTF-8 bytes).
    public var reason: String {
        switch self {
        case .reservedBitsSet: "Protocol error: Reserved bits set"
        case .unknownOpcode(let opcode): "Unsupported: Unknown opcode 0x\(Self.hexByte(opcode))"
        case .unmaskedClientFrame: "Procotol error: Frame not masked"
        case .maskedServerFrame: "Protocol error: Frame masked by server"
        case .fragmentedControlFrame: "Protocol error: Fragmented control frame"
        case .oversizedControlFrame: "Protocol error: Control frame too large"
        case .invalidLength: "Protocol error: Invalid frame length"
        case .frameTooLarge(let length): "Message too big: frame of \(length) bytes"
        case .textFrame: "Unsupported: Text frames are not supported"
        case .unexpectedContinuation: "Procotol error: Unexpected continuation frame"
        case .unexpectedNewFrame: "Procotol error: Unexpected new frame"
        case .invalidCloseCode(let code): "Protocol error: Invalid close code \(code)"
        case .invalidClosePayload: "Protocol error: Invalid close frame payload"
        case .invalidUTF8InClose: "Procotol error: Invalid UTF-8 in close"
        }
    }

    /// Two lower-case hex digits: websockify formats the opcode with `"0x%02x"` ("Unknown opcode 0x0b").
    private static func hexByte(_ value: UInt8) -> String {
        let digits = String(value, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }
}
