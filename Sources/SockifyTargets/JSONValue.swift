// A small strict JSON (RFC 8259) reader for the token formats that carry JSON: JSONTokenApi responses, TokenRedis
// values and JWT claims. Its error messages are Python's `json` module's (3.11), because websockify logs them.

/// A JSON value.
///
/// Objects keep their members in document order, duplicates included; ``subscript(_:)`` returns the *last* member
/// with a name, as Python's `json.loads` does. Names and strings compare by Unicode scalars, as Python `str` does.
public enum JSONValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])

    /// The value of the last member named `name`, if this is an object that has one.
    public subscript(_ name: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.name.unicodeScalars.elementsEqual(name.unicodeScalars) }?.value
    }

    /// The Python type name of the value `json.loads` produces (`dict`, `list`, `str`, `int`, `float`, `bool`,
    /// `NoneType`), for messages such as `argument of type 'int' is not iterable`.
    public var pythonTypeName: String {
        switch self {
        case .null: "NoneType"
        case .bool: "bool"
        case .number(let number): number.isIntegerLiteral ? "int" : "float"
        case .string: "str"
        case .array: "list"
        case .object: "dict"
        }
    }

    /// Parses a complete JSON text.
    ///
    /// Accepts exactly RFC 8259: one value with optional surrounding whitespace (space, tab, CR, LF). Unlike
    /// Python, `NaN`, `Infinity` and `-Infinity` are rejected (RFC 8259 §6), as are `\u` escapes of unpaired
    /// surrogates (a Swift `String` cannot hold them). Never traps, whatever the input.
    ///
    /// - Parameters:
    ///   - text: the document.
    ///   - limits: nesting and size limits.
    /// - Returns: the value.
    /// - Throws: ``JSONParseError`` with Python's message and position.
    public static func parse(_ text: String, limits: JSONLimits = JSONLimits()) throws(JSONParseError) -> JSONValue {
        let bytes = Array(text.utf8)
        guard bytes.count <= limits.maximumByteCount else {
            throw JSONParseError(
                reason: "document larger than \(limits.maximumByteCount) bytes", bytes: bytes, offset: 0)
        }
        var reader = JSONReader(bytes: bytes, maximumDepth: limits.maximumDepth)
        return try reader.document()
    }
}

/// One `"name": value` member of a JSON object.
public struct JSONMember: Hashable, Sendable {
    public var name: String
    public var value: JSONValue

    public init(name: String, value: JSONValue) {
        self.name = name
        self.value = value
    }
}

/// A JSON number: its literal text, its nearest `Double`, and its exact `Int` value when it has one.
public struct JSONNumber: Hashable, Sendable, CustomStringConvertible {
    /// The literal as written, e.g. `5900`, `-1.5e3`.
    public var text: String
    /// The nearest `Double` (may be infinite for literals such as `1e999`, as in Python).
    public var double: Double
    /// The value, if the literal has no fraction or exponent and fits in `Int`.
    public var integer: Int?

    /// Whether the literal has no fraction and no exponent (Python reads it as `int`, whatever its size).
    public var isIntegerLiteral: Bool {
        !text.utf8.contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
    }

    /// Creates a number from a literal that matches the RFC 8259 `number` production.
    public init?(literal: String) {
        guard let double = Double(literal) else { return nil }
        self.text = literal
        self.double = double
        self.integer = nil
        if isIntegerLiteral { self.integer = Int(literal) }
    }

    public var description: String { text }
}

/// Limits that keep parsing bounded in time and memory on hostile input.
public struct JSONLimits: Hashable, Sendable {
    /// Deepest nesting of arrays and objects accepted. Python stops near 1000 with a `RecursionError`.
    public var maximumDepth: Int
    /// Largest document accepted, in UTF-8 bytes.
    public var maximumByteCount: Int

    public init(maximumDepth: Int = 128, maximumByteCount: Int = 1 << 20) {
        self.maximumDepth = maximumDepth
        self.maximumByteCount = maximumByteCount
    }
}

/// Why a JSON text was rejected, worded like Python's `json.JSONDecodeError`.
public struct JSONParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The reason without position, e.g. `Expecting value`.
    public var reason: String
    /// The position in Unicode scalars from the start (Python's `char`).
    public var offset: Int
    /// 1-based line of the position.
    public var line: Int
    /// 1-based column of the position, in scalars.
    public var column: Int

    /// Python's `str(JSONDecodeError)`: `Expecting value: line 1 column 1 (char 0)`.
    public var message: String { "\(reason): line \(line) column \(column) (char \(offset))" }

    public var description: String { message }

    init(reason: String, bytes: [UInt8], offset byteOffset: Int) {
        self.reason = reason
        var scalars = 0
        var line = 1
        var lineStart = 0  // scalar offset just after the last newline
        for index in 0..<min(byteOffset, bytes.count) where bytes[index] & 0xC0 != 0x80 {
            scalars += 1
            if bytes[index] == 0x0A {
                line += 1
                lineStart = scalars
            }
        }
        self.offset = scalars
        self.line = line
        self.column = scalars - lineStart + 1
    }
}

/// The recursive-descent reader over UTF-8 bytes (always valid UTF-8: they come from a `String`).
private struct JSONReader {
    let bytes: [UInt8]
    let maximumDepth: Int
    var index = 0
    var depth = 0

    init(bytes: [UInt8], maximumDepth: Int) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth
    }

    func failure(_ reason: String, at offset: Int) -> JSONParseError {
        JSONParseError(reason: reason, bytes: bytes, offset: offset)
    }

    mutating func skipWhitespace() {
        while index < bytes.count,
            bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x0A || bytes[index] == 0x0D
        {
            index += 1
        }
    }

    mutating func document() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        let value = try value()
        skipWhitespace()
        if index < bytes.count { throw failure("Extra data", at: index) }
        return value
    }

    mutating func value() throws(JSONParseError) -> JSONValue {
        guard index < bytes.count else { throw failure("Expecting value", at: index) }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            return try nested { (reader: inout JSONReader) throws(JSONParseError) in try reader.object() }
        case UInt8(ascii: "["):
            return try nested { (reader: inout JSONReader) throws(JSONParseError) in try reader.array() }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "n") where literal("null"): return .null
        case UInt8(ascii: "t") where literal("true"): return .bool(true)
        case UInt8(ascii: "f") where literal("false"): return .bool(false)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            if let number = number() { return .number(number) }
            throw failure("Expecting value", at: index)
        default: throw failure("Expecting value", at: index)
        }
    }

    mutating func nested(_ body: (inout JSONReader) throws(JSONParseError) -> JSONValue) throws(JSONParseError)
        -> JSONValue
    {
        guard depth < maximumDepth else { throw failure("nesting deeper than \(maximumDepth) levels", at: index) }
        depth += 1
        defer { depth -= 1 }
        return try body(&self)
    }

    /// Consumes `word` if the input continues with it.
    mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard bytes.count - index >= count else { return false }
        let matches = word.withUTF8Buffer { buffer in
            buffer.indices.allSatisfy { bytes[index + $0] == buffer[$0] }
        }
        if matches { index += count }
        return matches
    }

    /// The longest prefix matching Python's `-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?`; the caller reports what follows.
    mutating func number() -> JSONNumber? {
        let start = index
        var end = index
        func digits(from position: Int) -> Int {
            var position = position
            while position < bytes.count, bytes[position] >= 0x30, bytes[position] <= 0x39 { position += 1 }
            return position
        }
        if end < bytes.count, bytes[end] == UInt8(ascii: "-") { end += 1 }
        guard end < bytes.count, bytes[end] >= 0x30, bytes[end] <= 0x39 else { return nil }
        end = bytes[end] == UInt8(ascii: "0") ? end + 1 : digits(from: end)
        if end + 1 < bytes.count, bytes[end] == UInt8(ascii: "."), bytes[end + 1] >= 0x30, bytes[end + 1] <= 0x39 {
            end = digits(from: end + 1)
        }
        if end < bytes.count, bytes[end] == UInt8(ascii: "e") || bytes[end] == UInt8(ascii: "E") {
            var exponent = end + 1
            if exponent < bytes.count, bytes[exponent] == UInt8(ascii: "+") || bytes[exponent] == UInt8(ascii: "-") {
                exponent += 1
            }
            if exponent < bytes.count, bytes[exponent] >= 0x30, bytes[exponent] <= 0x39 { end = digits(from: exponent) }
        }
        index = end
        return JSONNumber(literal: String(decoding: bytes[start..<end], as: UTF8.self))
    }

    mutating func string() throws(JSONParseError) -> String {
        let quote = index
        index += 1
        var scalars = String.UnicodeScalarView()
        var runStart = index  // start of the current run of plain bytes
        func flush(upTo end: Int) {
            if end > runStart {
                scalars.append(contentsOf: String(decoding: bytes[runStart..<end], as: UTF8.self).unicodeScalars)
            }
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                flush(upTo: index)
                index += 1
                return String(scalars)
            }
            if byte < 0x20 { throw failure("Invalid control character at", at: index) }
            guard byte == UInt8(ascii: "\\") else {
                index += 1
                continue
            }
            flush(upTo: index)
            let backslash = index
            guard index + 1 < bytes.count else { throw failure("Unterminated string starting at", at: quote) }
            let escape = bytes[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "/"): scalars.append("/")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                guard let high = hex4(at: index) else { throw failure("Invalid \\uXXXX escape", at: backslash + 1) }
                index += 4
                var value = high
                if (0xD800...0xDBFF).contains(high), index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                    bytes[index + 1] == UInt8(ascii: "u")
                {
                    guard let low = hex4(at: index + 2) else { throw failure("Invalid \\uXXXX escape", at: index + 1) }
                    if (0xDC00...0xDFFF).contains(low) {
                        value = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                        index += 6
                    }
                }
                guard let scalar = Unicode.Scalar(value) else {
                    throw failure("Unpaired surrogate in \\uXXXX escape", at: backslash + 1)
                }
                scalars.append(scalar)
            default:
                throw failure("Invalid \\escape", at: backslash)
            }
            runStart = index
        }
        throw failure("Unterminated string starting at", at: quote)
    }

    func hex4(at position: Int) -> UInt32? {
        guard position + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for byte in bytes[position..<position + 4] {
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x41...0x46: digit = byte - 0x41 + 10
            case 0x61...0x66: digit = byte - 0x61 + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    mutating func array() throws(JSONParseError) -> JSONValue {
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try value())
            skipWhitespace()
            guard index < bytes.count else { throw failure("Expecting ',' delimiter", at: index) }
            if bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            guard bytes[index] == UInt8(ascii: ",") else { throw failure("Expecting ',' delimiter", at: index) }
            index += 1
        }
    }

    mutating func object() throws(JSONParseError) -> JSONValue {
        index += 1
        var members: [JSONMember] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw failure("Expecting property name enclosed in double quotes", at: index)
            }
            let name = try string()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                throw failure("Expecting ':' delimiter", at: index)
            }
            index += 1
            skipWhitespace()
            members.append(JSONMember(name: name, value: try value()))
            skipWhitespace()
            guard index < bytes.count else { throw failure("Expecting ',' delimiter", at: index) }
            if bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            guard bytes[index] == UInt8(ascii: ",") else { throw failure("Expecting ',' delimiter", at: index) }
            index += 1
        }
    }
}
