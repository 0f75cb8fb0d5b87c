// RFC 6455 §7.4 status codes carried in Close frames.

/// A WebSocket close status code (RFC 6455 §7.4).
///
/// A struct rather than an enum because any 16-bit value can arrive on the wire; validity is a property
/// (``isValidInCloseFrame``), not a type.
public struct CloseCode: RawRepresentable, Hashable, Sendable {
    /// The 16-bit code as sent on the wire (big-endian there).
    public var rawValue: UInt16

    /// Creates a code from its numeric value. Every value is representable.
    @inlinable
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// 1000: the purpose of the connection has been fulfilled.
    public static let normalClosure = CloseCode(rawValue: 1000)
    /// 1001: an endpoint is going away (server shutdown, page navigation).
    public static let goingAway = CloseCode(rawValue: 1001)
    /// 1002: the peer broke the protocol.
    public static let protocolError = CloseCode(rawValue: 1002)
    /// 1003: the peer sent a kind of data we do not accept (text frames here).
    public static let unsupportedData = CloseCode(rawValue: 1003)
    /// 1005: reserved for "the Close frame had no status code"; never sent on the wire.
    public static let noStatusReceived = CloseCode(rawValue: 1005)
    /// 1006: reserved for "the connection closed without a Close frame"; never sent on the wire.
    public static let abnormalClosure = CloseCode(rawValue: 1006)
    /// 1007: data inconsistent with the message type (invalid UTF-8 in a close reason).
    public static let invalidPayloadData = CloseCode(rawValue: 1007)
    /// 1008: a generic policy violation.
    public static let policyViolation = CloseCode(rawValue: 1008)
    /// 1009: a frame or message exceeded our size limit.
    public static let messageTooBig = CloseCode(rawValue: 1009)
    /// 1011: the server hit an unexpected condition (websockify uses it when the target connect fails).
    public static let internalError = CloseCode(rawValue: 1011)

    /// Whether a peer may send this code in a Close frame (RFC 6455 §7.4.1, §7.4.2 and the IANA registry).
    ///
    /// Valid: 1000–1003, 1007–1014 (1012–1014 were registered after the RFC) and 3000–4999 (libraries and
    /// applications). Invalid: below 1000, 1004 (reserved), 1005/1006/1015 (MUST NOT be sent), 1016–2999
    /// (reserved for future protocol use) and 5000 and above.
    public var isValidInCloseFrame: Bool {
        switch rawValue {
        case 1000...1003, 1007...1014, 3000...4999: true
        default: false
        }
    }
}

extension CloseCode: CustomStringConvertible {
    /// The decimal code, e.g. `1002`, as log lines print it.
    public var description: String { String(rawValue) }
}
