// websockify's token-file format (`token_plugins.py:37-84`, ReadOnlyTokenFile/TokenFile; reference §2.3):
//
//     # comment (only at the start of a stripped line)
//     vm1: 10.0.0.5:5900
//     vm2: ::1:5901                  <- IPv6 without brackets
//     vm3: unix_socket:/run/vnc.sock
//
// Pure: text in, table out. Reading files is `TokenFileSource`'s job, caching is `TokenFileTable`'s.

/// What a token-file line maps its token to, before any resolution.
public enum TokenFileTarget: Hashable, Sendable {
    /// A usable target: `host:port` with a numeric port, or `unix_socket:<path>`.
    case address(TargetAddress)
    /// `host:port` whose port is not a number in 0…65535 (e.g. a service name such as `x11`, or `70000`).
    /// websockify passes the text to `getaddrinfo` at connect time; see ``TokenLookupError/unresolvableTarget(host:port:)``.
    case unresolvable(host: String, port: String)
    /// A target without any `:`. websockify accepts the line but every connection using the token fails with
    /// `handler exception: not enough values to unpack (expected 2, got 1)`.
    case missingPort(String)

    /// Interprets the text after `token: ` the way websockify does: `target.strip().rsplit(':', 1)`, where the
    /// host `unix_socket` selects a Unix socket (`websocketproxy.py:52`).
    ///
    /// - Parameter target: the right-hand side of a token line.
    /// - Returns: the target.
    public init(parsing target: Substring.UnicodeScalarView) {
        let stripped = PythonText.strip(target)
        guard let colon = stripped.lastIndex(of: ":") else {
            self = .missingPort(String(stripped))
            return
        }
        let host = String(stripped[..<colon])
        let port = String(stripped[stripped.index(after: colon)...])
        if host == "unix_socket" {
            self = .address(.unixSocket(path: port))
        } else if let number = Self.numericService(port) {
            self = .address(.tcp(host: host, port: number))
        } else {
            self = .unresolvable(host: host, port: port)
        }
    }

    /// glibc `getaddrinfo`'s numeric service rule (`strtoul(service, &end, 10)` consuming everything), limited
    /// to 0…65535. An empty port is port 0, as in glibc (the connect then fails). glibc would truncate larger
    /// numbers modulo 65536; Sockify refuses them instead.
    static func numericService(_ text: String) -> UInt16? {
        var digits = text.unicodeScalars[...]
        if digits.first == "+" { digits.removeFirst() }
        if digits.isEmpty { return text.isEmpty ? 0 : nil }
        var value: UInt32 = 0
        for scalar in digits {
            guard scalar.value >= 0x30, scalar.value <= 0x39 else { return nil }
            value = value * 10 + (scalar.value - 0x30)
            if value > UInt32(UInt16.max) { return nil }
        }
        return UInt16(value)
    }
}

/// Parses token-file text: `TokenFile`/`ReadOnlyTokenFile` semantics of websockify 0.13.0.
public enum TokenFileFormat {
    /// Adds the entries of one file's text to `entries`.
    ///
    /// Rules, each confirmed against websockify 0.13.0:
    /// - Lines end at `\n`, `\r\n` or `\r` (Python universal newlines).
    /// - Each line is `strip()`ped (Unicode whitespace); empty lines and lines starting with `#` are skipped.
    ///   There are no inline comments: `a: h:1 # x` maps `a` to host `h`, port `1 # x`.
    /// - The line must contain exactly one `:` followed by a whitespace scalar (`re.split(r':\s', line)`),
    ///   otherwise `Syntax error in <sourceName> on line <n>` is logged and the line is skipped. So `a:h:1`
    ///   and `a: b: c` are errors, `a:b: h:1` defines token `a:b`, and `a\t:\th:1` defines token `a\t`.
    /// - A later line for the same token replaces the earlier one.
    ///
    /// - Parameters:
    ///   - text: the decoded file contents.
    ///   - firstLineNumber: the number of the first line; websockify counts lines across all files of a
    ///     directory source, blanks and comments included.
    ///   - sourceName: the name used in syntax-error messages (the configured file or directory).
    ///   - entries: the table to add to.
    ///   - log: receives one message per syntax error.
    /// - Returns: the line number after the last line of `text`.
    public static func parse(
        _ text: String, firstLineNumber: Int, sourceName: String,
        into entries: inout [TokenKey: TokenFileTarget], log: (String) -> Void
    ) -> Int {
        var lineNumber = firstLineNumber
        for line in lines(of: text) {
            defer { lineNumber += 1 }
            let stripped = PythonText.strip(line)
            if stripped.isEmpty || stripped.first == "#" { continue }
            guard let (token, target) = splitOnColonWhitespace(stripped) else {
                log("Syntax error in \(sourceName) on line \(lineNumber)")
                continue
            }
            entries[TokenKey(String(token))] = TokenFileTarget(parsing: target)
        }
        return lineNumber
    }

    /// The lines of `text` with universal newlines; a final terminator does not start another line.
    static func lines(of text: String) -> [Substring.UnicodeScalarView] {
        var result: [Substring.UnicodeScalarView] = []
        let scalars = text.unicodeScalars[...]
        var start = scalars.startIndex
        var index = start
        while index < scalars.endIndex {
            let scalar = scalars[index]
            if scalar == "\n" || scalar == "\r" {
                result.append(scalars[start..<index])
                var next = scalars.index(after: index)
                if scalar == "\r", next < scalars.endIndex, scalars[next] == "\n" { next = scalars.index(after: next) }
                start = next
                index = next
            } else {
                index = scalars.index(after: index)
            }
        }
        if start < scalars.endIndex { result.append(scalars[start...]) }
        return result
    }

    /// `re.split(r':\s', line)` when it yields exactly two parts.
    private static func splitOnColonWhitespace(_ line: Substring.UnicodeScalarView)
        -> (Substring.UnicodeScalarView, Substring.UnicodeScalarView)?
    {
        var found: (Substring.UnicodeScalarView.Index, Substring.UnicodeScalarView.Index)?
        var index = line.startIndex
        while index < line.endIndex {
            let next = line.index(after: index)
            if line[index] == ":", next < line.endIndex, PythonText.isWhitespace(line[next]) {
                if found != nil { return nil }
                found = (index, line.index(after: next))
                index = line.index(after: next)  // matches do not overlap
            } else {
                index = next
            }
        }
        guard let (colon, rest) = found else { return nil }
        return (line[..<colon], line[rest...])
    }

    /// Decodes file bytes as strict UTF-8, as Python's `open(f).readlines()` does in a UTF-8 locale.
    ///
    /// - Parameters:
    ///   - bytes: the file contents.
    ///   - path: the file, for the error message.
    /// - Returns: the text.
    /// - Throws: ``TokenLookupError/pluginFailure(_:)`` with Python's `UnicodeDecodeError` message.
    public static func decode(_ bytes: [UInt8], path: String) throws(TokenLookupError) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        let (offset, reason) = firstInvalidUTF8(bytes)
        let hex = String(bytes[offset], radix: 16)
        throw .pluginFailure(
            "'utf-8' codec can't decode byte 0x\(hex.count == 1 ? "0" + hex : hex) in position \(offset): \(reason)")
    }

    /// Where and why strict UTF-8 decoding fails (CPython's reasons).
    private static func firstInvalidUTF8(_ bytes: [UInt8]) -> (Int, String) {
        var index = 0
        while index < bytes.count {
            let lead = bytes[index]
            let length: Int
            var lowerBound: UInt8 = 0x80
            var upperBound: UInt8 = 0xBF
            switch lead {
            case 0x00...0x7F: length = 1
            case 0xC2...0xDF: length = 2
            case 0xE0: (length, lowerBound) = (3, 0xA0)
            case 0xED: (length, upperBound) = (3, 0x9F)
            case 0xE1...0xEF: length = 3
            case 0xF0: (length, lowerBound) = (4, 0x90)
            case 0xF4: (length, upperBound) = (4, 0x8F)
            case 0xF1...0xF3: length = 4
            default: return (index, "invalid start byte")
            }
            for position in 1..<max(length, 1) {
                guard index + position < bytes.count else { return (index, "unexpected end of data") }
                let byte = bytes[index + position]
                let low = position == 1 ? lowerBound : 0x80
                let high = position == 1 ? upperBound : 0xBF
                if byte < low || byte > high { return (index, "invalid continuation byte") }
            }
            index += length
        }
        return (0, "invalid start byte")  // unreachable for invalid input
    }
}
