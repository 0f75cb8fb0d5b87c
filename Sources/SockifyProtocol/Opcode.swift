// RFC 6455 §5.2 frame header fields: the opcode and the decoded header of one frame.

/// A WebSocket frame opcode (RFC 6455 §5.2, §11.8).
///
/// Only the six defined opcodes are representable; a reserved opcode (3–7, 0xB–0xF) never becomes an `Opcode`,
/// the decoder reports it as ``ProtocolError/unknownOpcode(_:)`` instead.
public enum Opcode: UInt8, Sendable {
    /// Continues a fragmented message (§5.4).
    case continuation = 0
    /// A UTF-8 text message. Sockify, like websockify, only carries binary data and rejects it with 1003.
    case text = 1
    /// A binary message.
    case binary = 2
    /// Close control frame (§5.5.1).
    case close = 8
    /// Ping control frame (§5.5.2).
    case ping = 9
    /// Pong control frame (§5.5.3).
    case pong = 10

    /// Whether this is a control opcode. §5.5: control opcodes have the most significant opcode bit set.
    @inlinable
    public var isControl: Bool { rawValue & 0x8 != 0 }
}

/// The decoded header of one frame (RFC 6455 §5.2).
///
/// ```
///  byte 0                 byte 1
///  +-+-+-+-+-------+      +-+-------------+-------------------------------+
///  |F|R|R|R| opcode|      |M| Payload len |    Extended payload length    |
///  |I|S|S|S|  (4)  |      |A|     (7)     |  (16 bits if len == 126,      |
///  |N|V|V|V|       |      |S|             |   64 bits if len == 127)      |
///  | |1|2|3|       |      |K|             |  then 4 masking-key bytes     |
///  +-+-+-+-+-------+      +-+-------------+-------------------------------+
/// ```
public struct FrameHeader: Equatable, Sendable {
    /// FIN: this is the last frame of a message.
    public var isFinal: Bool
    /// The frame's opcode.
    public var opcode: Opcode
    /// The payload length in bytes (the decoded 7, 16 or 64-bit length).
    public var payloadLength: UInt64
    /// The 4 masking-key bytes as they appear on the wire, loaded little-endian (wire byte 0 = the low 8 bits),
    /// or `nil` for an unmasked frame. This is the form ``Masking/apply(_:in:key:phase:)`` takes.
    public var maskingKey: UInt32?

    /// Creates a header from its fields.
    public init(isFinal: Bool, opcode: Opcode, payloadLength: UInt64, maskingKey: UInt32?) {
        self.isFinal = isFinal
        self.opcode = opcode
        self.payloadLength = payloadLength
        self.maskingKey = maskingKey
    }
}
