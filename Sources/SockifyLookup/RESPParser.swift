// An incremental RESP2 reply parser: bytes in (in any split), values out. Pure and bounded, so any input, however
// hostile, ends in a value, "need more bytes" or a thrown error, never a trap or unbounded memory.

/// Why a byte stream is not valid RESP2 (or exceeds the parser's limits). The connection it came from is out of
/// step and must be closed.
public enum RESPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The first byte of a value is not one of `+ - : $ *` (RESP3 types included: this parser speaks RESP2).
    case unknownType(UInt8)
    /// A CR not followed by LF, or a bulk string not followed by CRLF.
    case badLineEnd
    /// A length or integer that is not an optional `-` and 1…19 decimal digits within `Int64`.
    case badNumber
    /// A bulk string or array length below −1.
    case negativeLength(Int64)
    /// A simple string, error or number line longer than `Limits.maxLineLength` bytes.
    case lineTooLong(limit: Int)
    /// A bulk string longer than `Limits.maxBulkLength` bytes.
    case bulkStringTooLong(Int64, limit: Int)
    /// An array with more than `Limits.maxArrayCount` elements.
    case arrayTooLong(Int64, limit: Int)
    /// Arrays nested deeper than `Limits.maxDepth`.
    case nestedTooDeep(limit: Int)

    public var description: String {
        switch self {
        case .unknownType(let byte): "unknown RESP type byte 0x\(String(byte, radix: 16))"
        case .badLineEnd: "malformed RESP line ending"
        case .badNumber: "malformed RESP number"
        case .negativeLength(let length): "negative RESP length \(length)"
        case .lineTooLong(let limit): "RESP line longer than \(limit) bytes"
        case .bulkStringTooLong(let length, let limit): "RESP bulk string of \(length) bytes (limit \(limit))"
        case .arrayTooLong(let count, let limit): "RESP array of \(count) elements (limit \(limit))"
        case .nestedTooDeep(let limit): "RESP arrays nested deeper than \(limit)"
        }
    }
}

/// Parses RESP2 replies from a byte stream delivered in arbitrary pieces.
///
/// Feed received bytes with `append(_:)`, then call `next()` until it returns `nil` (more bytes needed). Values
/// come out in order. After a thrown error the parser stays failed (every later `next()` throws again).
///
/// Incomplete values are re-scanned from their start when more bytes arrive; the limits keep that cheap.
public struct RESPParser: Sendable {
    /// Bounds on what one reply may hold, so a hostile server cannot make the client allocate without limit.
    public struct Limits: Hashable, Sendable {
        /// The longest bulk string accepted (default 1 MiB; token values are tiny).
        public var maxBulkLength: Int
        /// The most elements one array may hold (default 1024).
        public var maxArrayCount: Int
        /// The deepest array nesting accepted (default 8).
        public var maxDepth: Int
        /// The longest simple string, error or number line, without its CRLF (default 64 KiB).
        public var maxLineLength: Int

        /// Creates limits; the defaults suit token lookups.
        public init(
            maxBulkLength: Int = 1 << 20, maxArrayCount: Int = 1024, maxDepth: Int = 8, maxLineLength: Int = 64 << 10
        ) {
            self.maxBulkLength = maxBulkLength
            self.maxArrayCount = maxArrayCount
            self.maxDepth = maxDepth
            self.maxLineLength = maxLineLength
        }
    }

    /// The limits this parser enforces.
    public let limits: Limits

    private var buffer: [UInt8] = []
    private var start = 0
    private var failure: RESPParseError?

    /// Creates an empty parser.
    public init(limits: Limits = Limits()) { self.limits = limits }

    /// Bytes received but not yet returned as part of a value.
    public var bufferedByteCount: Int { buffer.count - start }

    /// Adds received bytes.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeSubrange(0..<start)  // compact: keeps the buffer at most twice the unread bytes
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete value, or `nil` if the bytes so far end inside one.
    /// - Throws: `RESPParseError` when the bytes are not RESP2 or exceed `limits`.
    public mutating func next() throws(RESPParseError) -> RESPValue? {
        if let failure { throw failure }
        do {
            var cursor = start
            guard let value = try parseValue(at: &cursor, depth: 0) else { return nil }
            start = cursor
            return value
        } catch {
            failure = error
            throw error
        }
    }

    /// Parses one value starting at `cursor`, advancing it past the value; `nil` if the value is incomplete.
    private func parseValue(at cursor: inout Int, depth: Int) throws(RESPParseError) -> RESPValue? {
        guard cursor < buffer.count else { return nil }
        let type = buffer[cursor]
        var position = cursor + 1
        guard let line = try lineEnd(from: position) else { return nil }
        let text = buffer[position..<line]
        position = line + 2
        switch type {
        case UInt8(ascii: "+"):
            cursor = position
            return .simpleString(String(decoding: text, as: UTF8.self))
        case UInt8(ascii: "-"):
            cursor = position
            return .error(String(decoding: text, as: UTF8.self))
        case UInt8(ascii: ":"):
            let number = try Self.integer(text)
            cursor = position
            return .integer(number)
        case UInt8(ascii: "$"):
            let length = try Self.integer(text)
            if length == -1 {
                cursor = position
                return .bulkString(nil)
            }
            guard length >= 0 else { throw .negativeLength(length) }
            guard length <= limits.maxBulkLength else {
                throw .bulkStringTooLong(length, limit: limits.maxBulkLength)
            }
            // Compared by subtraction, so no length (whatever the limits) can overflow an index.
            guard Int(length) <= buffer.count - position - 2 else { return nil }
            let end = position + Int(length)
            guard buffer[end] == 0x0D, buffer[end + 1] == 0x0A else { throw .badLineEnd }
            cursor = end + 2
            return .bulkString(Array(buffer[position..<end]))
        case UInt8(ascii: "*"):
            let count = try Self.integer(text)
            if count == -1 {
                cursor = position
                return .array(nil)
            }
            guard count >= 0 else { throw .negativeLength(count) }
            guard count <= limits.maxArrayCount else { throw .arrayTooLong(count, limit: limits.maxArrayCount) }
            guard depth < limits.maxDepth else { throw .nestedTooDeep(limit: limits.maxDepth) }
            var elements: [RESPValue] = []
            elements.reserveCapacity(min(Int(count), 64))  // the count is the peer's claim
            for _ in 0..<count {
                guard let element = try parseValue(at: &position, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            cursor = position
            return .array(elements)
        default:
            throw .unknownType(type)
        }
    }

    /// The index of the CR that ends the line starting at `from`, or `nil` if the line is not complete yet.
    /// Lines are CRLF-terminated; a bare CR or LF inside a line is an error, as Redis never sends one.
    private func lineEnd(from: Int) throws(RESPParseError) -> Int? {
        var index = from
        while index < buffer.count {
            if index - from > limits.maxLineLength { throw .lineTooLong(limit: limits.maxLineLength) }
            switch buffer[index] {
            case 0x0D:
                guard index + 1 < buffer.count else { return nil }
                guard buffer[index + 1] == 0x0A else { throw .badLineEnd }
                return index
            case 0x0A:
                throw .badLineEnd
            default:
                index += 1
            }
        }
        if index - from > limits.maxLineLength { throw .lineTooLong(limit: limits.maxLineLength) }
        return nil
    }

    /// A RESP integer: an optional `-`, then 1…19 ASCII digits, within `Int64`.
    private static func integer(_ text: ArraySlice<UInt8>) throws(RESPParseError) -> Int64 {
        var digits = text[...]
        let isNegative = digits.first == UInt8(ascii: "-")
        if isNegative { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.count <= 19 else { throw .badNumber }
        var magnitude: UInt64 = 0
        for byte in digits {
            guard byte >= 0x30, byte <= 0x39 else { throw .badNumber }
            magnitude = magnitude * 10 + UInt64(byte - 0x30)  // 19 digits < 10^19 < UInt64.max: no overflow
        }
        if isNegative {
            guard magnitude <= UInt64(Int64.max) + 1 else { throw .badNumber }
            return magnitude == UInt64(Int64.max) + 1 ? .min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { throw .badNumber }
        return Int64(magnitude)
    }
}
