// An HTTP/1.x request head parser (RFC 9112 §2–§5), shaped after Python's http.server, which websockify runs on.
// Strings are fine here: this runs once per connection, not per frame.

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
    /// Header fields in arrival order; names as sent, values trimmed of surrounding spaces and tabs.
    public var headers: [(name: String, value: String)]

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
        self.method = method
        self.target = target
        self.versionMajor = versionMajor
        self.versionMinor = versionMinor
        self.headers = headers
    }

    /// The value of the first header named `name` (compared case-insensitively, RFC 9110 §5.1), or `nil`.
    public func header(_ name: String) -> String? {
        headers.first(where: { Self.equalsIgnoringASCIICase($0.name, name) })?.value
    }

    /// Whether the connection stays open after the response (RFC 9112 §9.3), decided as Python does:
    /// HTTP/1.1 and later default to keep-alive, HTTP/1.0 to close; a `Connection` token `close` forces close
    /// and `keep-alive` forces keep-alive.
    public var keepAlive: Bool {
        var keepAlive = versionMajor > 1 || (versionMajor == 1 && versionMinor >= 1)
        if let connection = header("Connection") {
            for token in connection.split(separator: ",") {
                let trimmed = Self.trimmed(Substring(token))
                if Self.equalsIgnoringASCIICase(trimmed, "close") { return false }
                if Self.equalsIgnoringASCIICase(trimmed, "keep-alive") { keepAlive = true }
            }
        }
        return keepAlive
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
        var lines: [Range<Int>] = []
        var lineStart = 0
        var offset = 0
        var headEnd: Int? = nil
        while offset < limit {
            if bytes.unsafeLoad(fromByteOffset: offset, as: UInt8.self) == UInt8(ascii: "\n") {
                var lineEnd = offset
                let carriageReturn = UInt8(ascii: "\r")
                if lineEnd > lineStart
                    && bytes.unsafeLoad(fromByteOffset: lineEnd - 1, as: UInt8.self) == carriageReturn
                {
                    lineEnd -= 1
                }
                if lineEnd == lineStart {
                    // An empty line: skipped before the request line, the end of the head after it.
                    if !lines.isEmpty {
                        headEnd = offset + 1
                        break
                    }
                } else {
                    lines.append(lineStart..<lineEnd)
                    if lines.count > maxHeaderCount + 1 { throw HTTPError(status: 431, reason: "Too many headers") }
                }
                lineStart = offset + 1
            }
            offset += 1
        }
        guard let headEnd else {
            guard bytes.byteCount >= maxLength else { return nil }
            // No end of head within the limit: blame the request line if it never ended.
            throw lines.isEmpty ? HTTPError(status: 414) : HTTPError(status: 431)
        }
        let head = try parseLines(lines.map { latin1(bytes, $0) })
        return (head, headEnd)
    }

    private static func parseLines(_ lines: [String]) throws(HTTPError) -> HTTPRequestHead {
        let requestLine = lines[0]
        let words = requestLine.split(whereSeparator: { $0 == " " || $0 == "\t" })
        // Python accepts 3 words; 2 would be HTTP/0.9 (GET only), which nobody speaks any more: rejected here.
        guard words.count == 3 else { throw HTTPError(status: 400, reason: "Bad request syntax ('\(requestLine)')") }
        let version = words[2]
        guard version.hasPrefix("HTTP/") else {
            throw HTTPError(status: 400, reason: "Bad request version ('\(version)')")
        }
        let numbers = version.dropFirst(5).split(separator: ".", omittingEmptySubsequences: false)
        guard numbers.count == 2, numbers.allSatisfy({ !$0.isEmpty && $0.count <= 9 && $0.allSatisfy(\.isASCIIDigit) }),
            let major = Int(numbers[0]), let minor = Int(numbers[1])
        else { throw HTTPError(status: 400, reason: "Bad request version ('\(version)')") }
        guard major < 2 else { throw HTTPError(status: 505, reason: "Invalid HTTP version (\(major).\(minor))") }

        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            if line.first == " " || line.first == "\t" {
                // Obsolete line folding (RFC 9112 §5.2): a continuation of the previous field's value.
                guard !headers.isEmpty else { throw HTTPError(status: 400, reason: "Bad header line ('\(line)')") }
                let continuation = trimmed(Substring(line))
                if !continuation.isEmpty {
                    headers[headers.count - 1].value +=
                        headers[headers.count - 1].value.isEmpty
                        ? String(continuation) : " " + continuation
                }
                continue
            }
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                throw HTTPError(status: 400, reason: "Bad header line ('\(line)')")
            }
            let name = line[..<colon]
            // RFC 9112 §5.1: no whitespace between the field name and the colon.
            guard !name.contains(where: { $0 == " " || $0 == "\t" }) else {
                throw HTTPError(status: 400, reason: "Bad header line ('\(line)')")
            }
            headers.append((String(name), String(trimmed(line[line.index(after: colon)...]))))
        }
        return HTTPRequestHead(
            method: String(words[0]),
            target: String(words[1]),
            versionMajor: major,
            versionMinor: minor,
            headers: headers
        )
    }

    private static func latin1(_ bytes: RawSpan, _ range: Range<Int>) -> String {
        var string = ""
        string.reserveCapacity(range.count)
        for offset in range {
            string.unicodeScalars.append(Unicode.Scalar(bytes.unsafeLoad(fromByteOffset: offset, as: UInt8.self)))
        }
        return string
    }

    static func trimmed(_ s: Substring) -> Substring {
        var s = s
        while let first = s.first, first == " " || first == "\t" { s.removeFirst() }
        while let last = s.last, last == " " || last == "\t" { s.removeLast() }
        return s
    }

    static func equalsIgnoringASCIICase(_ a: some StringProtocol, _ b: some StringProtocol) -> Bool {
        a.utf8.elementsEqual(b.utf8, by: { lowercasedASCII($0) == lowercasedASCII($1) })
    }

    private static func lowercasedASCII(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
