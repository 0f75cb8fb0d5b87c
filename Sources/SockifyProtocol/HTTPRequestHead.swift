// An HTTP/1.x request head parser (RFC 9112 §2–§5), shaped after Python's http.server, which websockify runs on.
// It runs once per connection, and a proxy for thousands of consoles accepts tens of thousands per second, so it
// works on bytes: no Character iteration, one allocation for all header fields, Strings only for what the API
// exposes (method, target, and a header's value when asked for).

/// The request line and header fields of one HTTP/1.x request.
///
/// Bytes are decoded as ISO-8859-1, one character per byte, as Python's `http.server` does, so nothing is lost
/// and the proxy sees the same strings websockify would.
public struct HTTPRequestHead: Sendable {
    /// The method token, e.g. `GET` (case-sensitive, §9.1 of RFC 9110).
    public var method: String
    /// The request target as sent: path plus optional `?query`.
    public var target: String
    /// The minor HTTP version (1 for HTTP/1.1).
    public var versionMinor: Int
    /// The major HTTP version (1 for HTTP/1.1).
    public var versionMajor: Int
    /// The header fields, packed; ``header(_:)`` reads them without building the array below.
    var fields: PackedHeaderFields

    /// Header fields in arrival order; names as sent, values trimmed of surrounding spaces and tabs.
    ///
    /// Built on each read (the head stores its fields packed in one buffer); prefer ``header(_:)`` for lookups.
    public var headers: [(name: String, value: String)] {
        get { fields.unpacked }
        set { fields = PackedHeaderFields(newValue) }
    }

    /// The most header lines Python's `http.client` accepts before answering 431.
    public static let maxHeaderCount = 100

    /// Creates a head from its parts (tests and synthetic requests).
    public init(
        method: String,
        target: String,
        versionMajor: Int = 1,
        versionMinor: Int = 1,
        headers: [(name: String, value: String)]
    ) {
        self.init(
            method: method,
            target: target,
            versionMajor: versionMajor,
            versionMinor: versionMinor,
            fields: PackedHeaderFields(headers)
        )
    }

    private init(method: String, target: String, versionMajor: Int, versionMinor: Int, fields: PackedHeaderFields) {
        self.method = method
        self.target = target
        self.versionMajor = versionMajor
        self.versionMinor = versionMinor
        self.fields = fields
    }

    /// The value of the first header named `name` (compared case-insensitively, RFC 9110 §5.1), or `nil`.
    public func header(_ name: String) -> String? {
        fields.withValue(named: name) { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether the connection stays open after the response (RFC 9112 §9.3), decided as Python does:
    /// HTTP/1.1 and later default to keep-alive, HTTP/1.0 to close; a `Connection` token `close` forces close
    /// and `keep-alive` forces keep-alive.
    public var keepAlive: Bool {
        var keepAlive = versionMajor > 1 || (versionMajor == 1 && versionMinor >= 1)
        let forcedClose =
            fields.withValue(named: "Connection") { connection in
                var close = false
                ASCII.forEachListItem(connection) { token in
                    if ASCII.equalsIgnoringCase(token, "close") {
                        close = true
                        return false
                    }
                    if ASCII.equalsIgnoringCase(token, "keep-alive") { keepAlive = true }
                    return true
                }
                return close
            } ?? false
        return keepAlive && !forcedClose
    }

    /// Parses a request head from the start of `bytes`.
    ///
    /// The head ends at the first empty line. Lines may end in CRLF or a bare LF (RFC 9112 §2.2 lets a recipient
    /// accept LF, and Python does). Empty lines before the request line are skipped (RFC 9112 §2.2). Header lines
    /// that start with a space or tab continue the previous value (obsolete folding, joined with one space).
    ///
    /// - Parameters:
    ///   - bytes: What has been received so far.
    ///   - maxLength: The largest head accepted, in bytes, including the final empty line.
    /// - Returns: The head and its length in bytes (the offset of whatever follows it), or `nil` if the head is
    ///   not complete yet and `bytes` is still within `maxLength`.
    /// - Throws: ``HTTPError``: 414 if the request line alone exceeds `maxLength`; 431 "Request Header Fields Too
    ///   Large" if the head does, 431 "Too many headers" above ``maxHeaderCount`` lines; 400 "Bad request syntax
    ///   (…)", "Bad request version (…)" or "Bad header line (…)" for malformed lines; 505 "Invalid HTTP version
    ///   (…)" for HTTP/2.0 and above.
    public static func parse(
        _ bytes: RawSpan,
        maxLength: Int
    ) throws(HTTPError) -> (head: HTTPRequestHead, length: Int)? {
        let limit = min(bytes.byteCount, maxLength)
        return try bytes.withUnsafeBytes { (input) throws(HTTPError) -> (head: HTTPRequestHead, length: Int)? in
            // Completeness and the count limit come first: a head that is still arriving is never judged by its
            // content, only by its size.
            var lineCount = 0
            guard let (start, end) = try findHead(input, limit: limit, lineCount: &lineCount) else {
                guard input.count >= maxLength else { return nil }
                // No end of head within the limit: blame the request line if it never ended.
                throw HTTPError(status: lineCount == 0 ? 414 : 431)
            }
            var lines = LineCursor(input: input, position: start)
            // `start` is the first non-empty line: findHead skipped the empty ones.
            guard let requestLine = lines.next() else { preconditionFailure("head without a request line") }
            let (method, target, major, minor) = try parseRequestLine(input, requestLine)
            let fieldsStart = lines.position
            let recordBytes = try measureFields(input, from: fieldsStart)
            let records = [UInt8](unsafeUninitializedCapacity: recordBytes) { buffer, initialized in
                initialized = writeFields(input, from: fieldsStart, into: UnsafeMutableRawBufferPointer(buffer))
                assert(initialized == recordBytes, "measureFields and writeFields disagree")
            }
            let head = HTTPRequestHead(
                method: method,
                target: target,
                versionMajor: major,
                versionMinor: minor,
                fields: PackedHeaderFields(records: records)
            )
            return (head, end)
        }
    }

    // MARK: - Byte-level parsing

    private static let lineFeed = UInt8(ascii: "\n")
    private static let carriageReturn = UInt8(ascii: "\r")
    private static let colon = UInt8(ascii: ":")

    /// Finds the head in `input[..<limit]`: the offset of the request line (after skipped empty lines) and the
    /// offset just past the empty line that ends the head, or `nil` if that empty line has not arrived.
    /// `lineCount` is set to the number of non-empty lines seen.
    ///
    /// - Throws: 431 "Too many headers" as soon as more than ``maxHeaderCount`` header lines are seen.
    private static func findHead(
        _ input: UnsafeRawBufferPointer,
        limit: Int,
        lineCount: inout Int
    ) throws(HTTPError) -> (Int, Int)? {
        var lineStart = 0
        var headStart = 0
        var offset = 0
        while offset < limit {
            if input[offset] == lineFeed {
                var lineEnd = offset
                if lineEnd > lineStart && input[lineEnd - 1] == carriageReturn { lineEnd -= 1 }
                if lineEnd == lineStart {
                    // An empty line: skipped before the request line, the end of the head after it.
                    if lineCount > 0 { return (headStart, offset + 1) }
                    headStart = offset + 1
                } else {
                    lineCount += 1
                    if lineCount > maxHeaderCount + 1 { throw HTTPError(status: 431, reason: "Too many headers") }
                }
                lineStart = offset + 1
            }
            offset += 1
        }
        return nil
    }

    /// Walks the non-empty lines of a complete head, without their CR LF / LF, stopping at the empty line.
    /// Only used once ``findHead(_:limit:lineCount:)`` has found that empty line, so every scan for LF ends
    /// inside the head.
    private struct LineCursor {
        let input: UnsafeRawBufferPointer
        /// The start of the next line.
        var position: Int

        mutating func next() -> Range<Int>? {
            var end = position
            while input[end] != HTTPRequestHead.lineFeed { end += 1 }
            let next = end + 1
            if end > position && input[end - 1] == HTTPRequestHead.carriageReturn { end -= 1 }
            guard end > position else { return nil }
            defer { position = next }
            return position..<end
        }
    }

    /// Splits and checks the request line (`method SP target SP HTTP/x.y`), as Python's `parse_request` does.
    private static func parseRequestLine(
        _ input: UnsafeRawBufferPointer,
        _ line: Range<Int>
    ) throws(HTTPError) -> (method: String, target: String, major: Int, minor: Int) {
        // Words separated by runs of spaces and tabs; Python accepts 3 words; 2 would be HTTP/0.9 (GET only),
        // which nobody speaks any more: rejected here.
        var words: (Range<Int>, Range<Int>, Range<Int>) = (0..<0, 0..<0, 0..<0)
        var wordCount = 0
        var offset = line.lowerBound
        while offset < line.upperBound {
            if ASCII.isBlank(input[offset]) {
                offset += 1
                continue
            }
            let wordStart = offset
            while offset < line.upperBound && !ASCII.isBlank(input[offset]) { offset += 1 }
            wordCount += 1
            switch wordCount {
            case 1: words.0 = wordStart..<offset
            case 2: words.1 = wordStart..<offset
            case 3: words.2 = wordStart..<offset
            default: break
            }
        }
        guard wordCount == 3 else {
            throw HTTPError(status: 400, reason: "Bad request syntax ('\(latin1(input, line))')")
        }
        let version = words.2
        guard let (major, minor) = parseVersion(input, version) else {
            throw HTTPError(status: 400, reason: "Bad request version ('\(latin1(input, version))')")
        }
        guard major < 2 else { throw HTTPError(status: 505, reason: "Invalid HTTP version (\(major).\(minor))") }
        return (latin1(input, words.0), latin1(input, words.1), major, minor)
    }

    /// `HTTP/` then two dot-separated runs of 1–9 ASCII digits, or `nil`.
    private static func parseVersion(_ input: UnsafeRawBufferPointer, _ word: Range<Int>) -> (Int, Int)? {
        let prefix: StaticString = "HTTP/"
        guard word.count > prefix.utf8CodeUnitCount,
            prefix.withUTF8Buffer({ $0.elementsEqual(input[word.lowerBound..<(word.lowerBound + $0.count)]) })
        else { return nil }
        var numbers = (0, 0)
        var digits = 0
        var part = 0
        for offset in (word.lowerBound + prefix.utf8CodeUnitCount)..<word.upperBound {
            let byte = input[offset]
            if byte == UInt8(ascii: ".") {
                guard part == 0, digits > 0 else { return nil }
                part = 1
                digits = 0
                continue
            }
            let digit = byte &- UInt8(ascii: "0")
            guard digit < 10, digits < 9 else { return nil }
            digits += 1
            if part == 0 {
                numbers.0 = numbers.0 * 10 + Int(digit)
            } else {
                numbers.1 = numbers.1 * 10 + Int(digit)
            }
        }
        guard part == 1, digits > 0 else { return nil }
        return numbers
    }

    /// Checks the header lines from `start` to the end of the head and returns the bytes their records need.
    private static func measureFields(_ input: UnsafeRawBufferPointer, from start: Int) throws(HTTPError) -> Int {
        var lines = LineCursor(input: input, position: start)
        var size = 0
        var fieldCount = 0
        var lastValueLength = 0
        while let line = lines.next() {
            if ASCII.isBlank(input[line.lowerBound]) {
                // Obsolete line folding (RFC 9112 §5.2): a continuation of the previous field's value.
                guard fieldCount > 0 else { throw badHeaderLine(input, line) }
                let continuation = trimmed(input, line)
                if !continuation.isEmpty {
                    let added = (lastValueLength == 0 ? 0 : 1) + latin1Length(input, continuation)
                    lastValueLength += added
                    size += added
                }
                continue
            }
            guard let colon = firstColon(input, line), colon != line.lowerBound else {
                throw badHeaderLine(input, line)
            }
            // RFC 9112 §5.1: no whitespace between the field name and the colon.
            for offset in line.lowerBound..<colon where ASCII.isBlank(input[offset]) {
                throw badHeaderLine(input, line)
            }
            fieldCount += 1
            lastValueLength = latin1Length(input, trimmed(input, (colon + 1)..<line.upperBound))
            size += PackedHeaderFields.recordOverhead + latin1Length(input, line.lowerBound..<colon) + lastValueLength
        }
        return size
    }

    /// Writes the records of the header lines checked by ``measureFields(_:from:)`` and returns their size.
    private static func writeFields(
        _ input: UnsafeRawBufferPointer,
        from start: Int,
        into output: UnsafeMutableRawBufferPointer
    ) -> Int {
        var lines = LineCursor(input: input, position: start)
        var size = 0
        var valueLengthOffset = 0
        while let line = lines.next() {
            if ASCII.isBlank(input[line.lowerBound]) {
                let continuation = trimmed(input, line)
                guard !continuation.isEmpty else { continue }
                let valueLength = output.loadUnaligned(fromByteOffset: valueLengthOffset, as: Int.self)
                var added = 0
                if valueLength > 0 {
                    output[size] = ASCII.space
                    added = 1
                }
                added += copyLatin1(input, continuation, into: output, at: size + added)
                size += added
                output.storeBytes(of: valueLength + added, toByteOffset: valueLengthOffset, as: Int.self)
                continue
            }
            let colon = firstColon(input, line)!
            let recordStart = size
            valueLengthOffset = recordStart + MemoryLayout<Int>.size
            size += PackedHeaderFields.recordOverhead
            let nameLength = copyLatin1(input, line.lowerBound..<colon, into: output, at: size)
            size += nameLength
            let valueLength = copyLatin1(input, trimmed(input, (colon + 1)..<line.upperBound), into: output, at: size)
            size += valueLength
            output.storeBytes(of: nameLength, toByteOffset: recordStart, as: Int.self)
            output.storeBytes(of: valueLength, toByteOffset: valueLengthOffset, as: Int.self)
        }
        return size
    }

    private static func badHeaderLine(_ input: UnsafeRawBufferPointer, _ line: Range<Int>) -> HTTPError {
        HTTPError(status: 400, reason: "Bad header line ('\(latin1(input, line))')")
    }

    private static func firstColon(_ input: UnsafeRawBufferPointer, _ line: Range<Int>) -> Int? {
        var offset = line.lowerBound
        while offset < line.upperBound {
            if input[offset] == colon { return offset }
            offset += 1
        }
        return nil
    }

    private static func trimmed(_ input: UnsafeRawBufferPointer, _ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper, ASCII.isBlank(input[lower]) { lower += 1 }
        while upper > lower, ASCII.isBlank(input[upper - 1]) { upper -= 1 }
        return lower..<upper
    }

    // MARK: - ISO-8859-1

    /// The UTF-8 length of `input[range]` read as ISO-8859-1: bytes from 0x80 take two.
    private static func latin1Length(_ input: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int {
        var length = range.count
        for offset in range where input[offset] >= 0x80 { length += 1 }
        return length
    }

    /// Writes `input[range]` read as ISO-8859-1 into `output` at `start` as UTF-8, and returns the bytes written.
    private static func copyLatin1(
        _ input: UnsafeRawBufferPointer,
        _ range: Range<Int>,
        into output: UnsafeMutableRawBufferPointer,
        at start: Int
    ) -> Int {
        var position = start
        for offset in range {
            let byte = input[offset]
            if byte < 0x80 {
                output[position] = byte
                position += 1
            } else {
                // U+0080…U+00FF: 110000xx 10xxxxxx.
                output[position] = 0xC0 | byte >> 6
                output[position + 1] = 0x80 | byte & 0x3F
                position += 2
            }
        }
        return position - start
    }

    /// `input[range]` read as ISO-8859-1.
    private static func latin1(_ input: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        String(unsafeUninitializedCapacity: latin1Length(input, range)) { buffer in
            copyLatin1(input, range, into: UnsafeMutableRawBufferPointer(buffer), at: 0)
        }
    }
}
