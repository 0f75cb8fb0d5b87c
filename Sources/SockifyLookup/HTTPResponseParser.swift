// An incremental HTTP/1.x response parser (RFC 9112) for the token API client: status line, headers, and a body
// framed by Content-Length, chunked transfer coding or the end of the connection. Pure and bounded: any input
// ends in a response, "need more bytes" or a thrown error, never a trap or unbounded memory.

/// Why bytes from an HTTP server do not make a usable response.
public enum HTTPResponseParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The status line and headers exceed the head limit.
    case headTooLong(limit: Int)
    /// The first line is not `HTTP/1.x NNN [reason]`.
    case badStatusLine
    /// A header line has no colon, or a name with spaces or controls (RFC 9112 §5.1).
    case badHeaderLine
    /// `Content-Length` is not a decimal number, or several disagree (RFC 9112 §6.3 item 5).
    case badContentLength
    /// A `Transfer-Encoding` other than `chunked` (this client sends no `TE` or `Accept-Encoding`).
    case unsupportedTransferEncoding(String)
    /// A chunk-size line is not hex digits (with optional extensions), or chunk data lacks its CRLF.
    case badChunk
    /// The body is longer than the body limit.
    case bodyTooLarge(limit: Int)
    /// The connection ended before the response was complete.
    case truncated

    public var description: String {
        switch self {
        case .headTooLong(let limit): "response head longer than \(limit) bytes"
        case .badStatusLine: "malformed status line"
        case .badHeaderLine: "malformed header line"
        case .badContentLength: "malformed Content-Length"
        case .unsupportedTransferEncoding(let coding): "unsupported Transfer-Encoding '\(coding)'"
        case .badChunk: "malformed chunked body"
        case .bodyTooLarge(let limit): "response body larger than \(limit) bytes"
        case .truncated: "connection closed before the response was complete"
        }
    }
}

/// Parses one HTTP/1.x response to a `GET`, from bytes delivered in arbitrary pieces.
///
/// Feed bytes with `consume(_:)` until it returns `true`; at end of stream call `consumeEndOfStream()`, which
/// completes a body that runs to the close and throws `.truncated` for anything else. Interim `1xx` responses are
/// skipped. Bytes after a complete response are ignored (the client sends `Connection: close`).
public struct HTTPResponseParser: Sendable {
    /// The most bytes the status line and headers together may take (including line ends).
    public let maxHeadByteCount: Int
    /// The most body bytes accepted.
    public let maxBodyByteCount: Int

    /// The final response's status code, once its head is parsed.
    public private(set) var status: Int?
    /// The body bytes so far (all of them once `isComplete`), transfer coding removed.
    public private(set) var body: [UInt8] = []
    /// Whether the whole response has been parsed.
    public var isComplete: Bool { state == .done }

    private enum State: Hashable, Sendable {
        case head
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        case done
    }

    private var state = State.head
    private var pending: [UInt8] = []
    private var headByteCount = 0
    private var failure: HTTPResponseParseError?

    /// Chunk-size and trailer lines longer than this are rejected.
    private static let maxChunkLineLength = 4096

    /// Creates a parser with the given limits (defaults: 16 KiB head, 64 KiB body).
    public init(maxHeadByteCount: Int = 16 << 10, maxBodyByteCount: Int = 64 << 10) {
        self.maxHeadByteCount = maxHeadByteCount
        self.maxBodyByteCount = maxBodyByteCount
    }

    /// Adds received bytes.
    /// - Returns: whether the response is now complete.
    /// - Throws: `HTTPResponseParseError`; after that the parser stays failed.
    public mutating func consume(_ bytes: some Sequence<UInt8>) throws(HTTPResponseParseError) -> Bool {
        if let failure { throw failure }
        guard state != .done else { return true }
        pending.append(contentsOf: bytes)
        do {
            try advance()
        } catch {
            failure = error
            throw error
        }
        return state == .done
    }

    /// Reports the end of the stream: completes a close-delimited body.
    /// - Throws: `.truncated` when the response was not complete otherwise.
    public mutating func consumeEndOfStream() throws(HTTPResponseParseError) {
        if let failure { throw failure }
        switch state {
        case .done: return
        case .untilClose: state = .done
        default:
            failure = .truncated
            throw .truncated
        }
    }

    /// Runs the state machine over `pending` as far as it goes.
    private mutating func advance() throws(HTTPResponseParseError) {
        var index = 0
        defer { pending.removeSubrange(0..<index) }
        // Bounded: every round consumes at least one byte of `pending` or returns.
        while index < pending.count {
            switch state {
            case .head:
                guard let end = try headEnd(from: index) else { return }
                let head = pending[index..<end]
                index = end
                try parseHead(head)
            case .fixedBody(let remaining):
                let take = min(remaining, pending.count - index)
                body += pending[index..<(index + take)]
                index += take
                state = remaining == take ? .done : .fixedBody(remaining: remaining - take)
            case .chunkSize:
                guard let (line, next) = try line(from: index, limit: Self.maxChunkLineLength) else { return }
                index = next
                let size = try Self.chunkSize(line)
                if size == 0 {
                    state = .trailers
                } else {
                    guard size <= maxBodyByteCount - body.count else { throw .bodyTooLarge(limit: maxBodyByteCount) }
                    state = .chunkData(remaining: size)
                }
            case .chunkData(let remaining):
                let take = min(remaining, pending.count - index)
                body += pending[index..<(index + take)]
                index += take
                state = remaining == take ? .chunkDataEnd : .chunkData(remaining: remaining - take)
            case .chunkDataEnd:
                guard let (line, next) = try line(from: index, limit: 0) else { return }
                guard line.isEmpty else { throw .badChunk }
                index = next
                state = .chunkSize
            case .trailers:
                guard let (line, next) = try line(from: index, limit: Self.maxChunkLineLength) else { return }
                index = next
                if line.isEmpty { state = .done }
            case .untilClose:
                let take = pending.count - index
                guard take <= maxBodyByteCount - body.count else { throw .bodyTooLarge(limit: maxBodyByteCount) }
                body += pending[index...]
                index += take
            case .done:
                index = pending.count  // trailing bytes after a complete response are ignored
            }
        }
    }

    /// The index just past the blank line that ends the head starting at `from`, or `nil` if not there yet.
    /// Lines end in LF with an optional CR before it (RFC 9112 §2.2 lets a recipient accept a bare LF).
    private mutating func headEnd(from: Int) throws(HTTPResponseParseError) -> Int? {
        var index = from
        var lineStart = from
        while index < pending.count {
            if pending[index] == 0x0A {
                let length = index - lineStart
                if length == 0 || (length == 1 && pending[lineStart] == 0x0D) { return index + 1 }
                lineStart = index + 1
            }
            index += 1
            if headByteCount + (index - from) > maxHeadByteCount { throw .headTooLong(limit: maxHeadByteCount) }
        }
        return nil
    }

    /// One line (without CRLF or LF) starting at `from` and the index after it, or `nil` if not complete yet.
    private func line(from: Int, limit: Int) throws(HTTPResponseParseError) -> (ArraySlice<UInt8>, Int)? {
        guard let newline = pending[from...].firstIndex(of: 0x0A) else {
            if pending.count - from > limit + 1 { throw .badChunk }
            return nil
        }
        var end = newline
        if end > from && pending[end - 1] == 0x0D { end -= 1 }
        guard end - from <= limit else { throw .badChunk }
        return (pending[from..<end], newline + 1)
    }

    /// Reads the status line and headers, and picks the body framing (RFC 9112 §6.3).
    private mutating func parseHead(_ head: ArraySlice<UInt8>) throws(HTTPResponseParseError) {
        headByteCount += head.count
        var lines = head.split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
            line.last == 0x0D ? line.dropLast() : line
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard let statusLine = lines.first else { throw .badStatusLine }
        let code = try Self.statusCode(statusLine)
        var contentLength: Int?
        var transferEncoding: [String] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
                line[..<colon].allSatisfy({ $0 > 0x20 && $0 < 0x7F })
            else { throw .badHeaderLine }
            let name = String(decoding: line[..<colon], as: UTF8.self).lowercased()
            let value = Self.trimmed(line[(colon + 1)...])
            switch name {
            case "content-length":
                // A list of identical values ("5, 5") is allowed; anything else is malformed.
                for item in value.split(separator: UInt8(ascii: ",")) {
                    let digits = Self.trimmed(item)
                    guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                        let number = Int(String(decoding: digits, as: UTF8.self)),
                        contentLength == nil || contentLength == number
                    else { throw .badContentLength }
                    contentLength = number
                }
            case "transfer-encoding":
                for item in value.split(separator: UInt8(ascii: ",")) {
                    transferEncoding.append(String(decoding: Self.trimmed(item), as: UTF8.self).lowercased())
                }
            default:
                break
            }
        }
        if (100..<200).contains(code) && code != 101 {
            return  // interim response (100 Continue, 103 Early Hints): the real one follows; state stays .head
        }
        status = code
        if code == 101 || code == 204 || code == 304 {
            state = .done
        } else if !transferEncoding.isEmpty {
            guard transferEncoding == ["chunked"] else {
                throw .unsupportedTransferEncoding(transferEncoding.joined(separator: ", "))
            }
            state = .chunkSize  // chunked wins over Content-Length (RFC 9112 §6.3 item 3)
        } else if let contentLength {
            guard contentLength <= maxBodyByteCount else { throw .bodyTooLarge(limit: maxBodyByteCount) }
            state = contentLength == 0 ? .done : .fixedBody(remaining: contentLength)
        } else {
            state = .untilClose
        }
    }

    /// `HTTP/1.x NNN[ reason]` → NNN.
    private static func statusCode(_ line: ArraySlice<UInt8>) throws(HTTPResponseParseError) -> Int {
        let prefix = Array("HTTP/1.".utf8)
        guard line.count >= 12, line.starts(with: prefix) else { throw .badStatusLine }
        let rest = line.dropFirst(prefix.count)
        let version = rest[rest.startIndex]
        let digits = rest.dropFirst(2).prefix(3)
        guard version >= 0x30 && version <= 0x39, rest[rest.startIndex + 1] == UInt8(ascii: " "),
            digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), digits.first != 0x30,
            rest.count == 5 || rest[rest.startIndex + 5] == UInt8(ascii: " ")
        else { throw .badStatusLine }
        return digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
    }

    /// A chunk-size line: hex digits, then optional whitespace and `;extensions`, which are ignored.
    private static func chunkSize(_ line: ArraySlice<UInt8>) throws(HTTPResponseParseError) -> Int {
        let digits = line.prefix { isHexDigit($0) }
        let rest = trimmed(line[digits.endIndex...])
        guard !digits.isEmpty, digits.count <= 15, rest.isEmpty || rest.first == UInt8(ascii: ";") else {
            throw .badChunk
        }
        return digits.reduce(0) { $0 * 16 + hexValue($1) }  // ≤ 15 hex digits: fits in Int
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte)
    }

    private static func hexValue(_ byte: UInt8) -> Int {
        switch byte {
        case 0x30...0x39: Int(byte - 0x30)
        case 0x41...0x46: Int(byte - 0x41 + 10)
        default: Int(byte - 0x61 + 10)
        }
    }

    /// `bytes` without leading and trailing spaces and tabs (optional whitespace, RFC 9110 §5.6.3).
    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        let isSpace = { (byte: UInt8) in byte == 0x20 || byte == 0x09 }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }) else { return bytes[bytes.endIndex...] }
        let last = bytes.lastIndex(where: { !isSpace($0) })!  // exists: `first` does
        return bytes[first...last]
    }
}
