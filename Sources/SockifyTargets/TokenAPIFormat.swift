// The pure halves of websockify's HTTP token plugins (`token_plugins.py:104-133`): `BaseTokenAPI` builds the URL with
// `source % token`, GETs it (`requests`, no timeout), and on a 2xx reads `host:port` from the body; `JSONTokenApi`
// reads `{"host": …, "port": …}` instead. The HTTP request itself is SockifyLookup's job.

/// URL building and response parsing for `BaseTokenAPI` and `JSONTokenApi`.
public enum TokenAPIFormat {
    /// Python's `template % token` for one `str` argument (printf-style formatting, Python 3.11).
    ///
    /// The token is inserted verbatim: websockify does not URL-encode it. Supported, as in Python: `%s`, `%r`
    /// (``PythonText/repr(_:)``), `%a` (ASCII-only repr), `%c` (a one-scalar token), `%%`, flags (only `-`
    /// matters for strings), a width, a `.precision` (truncates) and the ignored length modifiers `h`, `l`, `L`.
    ///
    /// - Parameters:
    ///   - template: the `--token-source` URL, e.g. `http://127.0.0.1:8000/token/%s`.
    ///   - token: the token.
    /// - Returns: the URL.
    /// - Throws: ``TokenLookupError/pluginFailure(_:)`` with Python's `TypeError`/`ValueError` message, e.g.
    ///   `not all arguments converted during string formatting` for a template without `%s`, `not enough arguments
    ///   for format string` for two, `incomplete format`, or `unsupported format character 'y' (0x79) at index 10`.
    public static func url(template: String, token: String) throws(TokenLookupError) -> String {
        let scalars = Array(template.unicodeScalars)
        var result = String.UnicodeScalarView()
        var argumentUsed = false
        var index = 0
        func fail(_ message: String) -> TokenLookupError { .pluginFailure(message) }
        while index < scalars.count {
            let scalar = scalars[index]
            index += 1
            guard scalar == "%" else {
                result.append(scalar)
                continue
            }
            guard index < scalars.count else { throw fail("incomplete format") }
            if scalars[index] == "%" {
                result.append("%")
                index += 1
                continue
            }
            if scalars[index] == "(" { throw fail("format requires a mapping") }
            var leftAlign = false
            while index < scalars.count, "-+ #0".unicodeScalars.contains(scalars[index]) {
                if scalars[index] == "-" { leftAlign = true }
                index += 1
            }
            func number() throws(TokenLookupError) -> Int? {
                if index < scalars.count, scalars[index] == "*" { throw fail("* wants int") }
                var value: Int?
                while index < scalars.count, let digit = asciiDigit(scalars[index]) {
                    let (shifted, overflow1) = (value ?? 0).multipliedReportingOverflow(by: 10)
                    let (sum, overflow2) = shifted.addingReportingOverflow(digit)
                    if overflow1 || overflow2 { throw fail("width too big") }
                    value = sum
                    index += 1
                }
                return value
            }
            let width = try number() ?? 0
            var precision: Int?
            if index < scalars.count, scalars[index] == "." {
                index += 1
                precision = try number() ?? 0
            }
            while index < scalars.count, "hlL".unicodeScalars.contains(scalars[index]) { index += 1 }
            guard index < scalars.count else { throw fail("incomplete format") }
            let conversion = scalars[index]
            let position = index
            index += 1
            var text: [Unicode.Scalar]
            switch conversion {
            case "s", "r", "a", "c", "d", "i", "u", "x", "X", "o", "e", "E", "f", "F", "g", "G":
                if argumentUsed { throw fail("not enough arguments for format string") }
                argumentUsed = true
                switch conversion {
                case "s": text = Array(token.unicodeScalars)
                case "r": text = Array(PythonText.repr(token).unicodeScalars)
                case "a": text = Array(asciiRepr(token).unicodeScalars)
                case "c":
                    guard token.unicodeScalars.count == 1 else { throw fail("%c requires int or char") }
                    text = Array(token.unicodeScalars)
                case "d", "i", "u": throw fail("%\(conversion) format: a real number is required, not str")
                case "x", "X", "o": throw fail("%\(conversion) format: an integer is required, not str")
                default: throw fail("must be real number, not str")
                }
            default:
                let shown = conversion.value > 32 && conversion.value < 127 ? String(conversion) : "?"
                var hex = String(conversion.value, radix: 16)
                if hex.count < 2 { hex = "0" + hex }
                throw fail("unsupported format character '\(shown)' (0x\(hex)) at index \(position)")
            }
            if let precision, precision < text.count, conversion != "c" { text = Array(text.prefix(precision)) }
            let padding = Array(repeating: Unicode.Scalar(" "), count: max(0, width - text.count))
            if leftAlign {
                result.append(contentsOf: text + padding)
            } else {
                result.append(contentsOf: padding + text)
            }
        }
        if !argumentUsed { throw fail("not all arguments converted during string formatting") }
        return String(result)
    }

    /// The body as `requests`' `Response.text` decodes it: the `charset` of `Content-Type` if it names UTF-8,
    /// ISO-8859-1/Latin-1 or ASCII; otherwise ISO-8859-1 for `text/*` (RFC 2616, as `requests` does) and UTF-8
    /// for everything else (`requests` would guess with `charset_normalizer`; UTF-8 is its usual guess for
    /// these short ASCII bodies). Undecodable bytes become U+FFFD, as with `errors="replace"`.
    ///
    /// - Parameters:
    ///   - body: the response body.
    ///   - contentType: the `Content-Type` header value, if any.
    /// - Returns: the text.
    public static func text(body: [UInt8], contentType: String?) -> String {
        var latin1 = false
        if let contentType {
            let lowered = contentType.lowercased()
            let parameters = lowered.split(separator: ";").map { $0.trimmingSpaces() }
            let charset = parameters.dropFirst().first { $0.hasPrefix("charset=") }
                .map { String($0.dropFirst("charset=".count)).trimmingQuotes() }
            if let charset {
                latin1 = ["iso-8859-1", "latin-1", "latin1", "iso8859-1", "l1"].contains(charset)
                if charset == "ascii" || charset == "us-ascii" {
                    return String(decoding: body.map { $0 < 0x80 ? $0 : 0xFF }, as: UTF8.self)
                }
            } else {
                latin1 = parameters.first?.hasPrefix("text/") ?? false
            }
        }
        if latin1 {
            var scalars = String.UnicodeScalarView()
            for byte in body { scalars.append(Unicode.Scalar(byte)) }
            return String(scalars)
        }
        return String(decoding: body, as: UTF8.self)
    }

    /// `BaseTokenAPI.process_result`: `host, port = text.split(':')`, then `port.encode('ascii', 'ignore')`.
    ///
    /// No stripping: a trailing newline stays in the port, which then does not resolve (as in websockify).
    ///
    /// - Parameter text: the decoded 2xx body.
    /// - Returns: the target.
    /// - Throws: ``TokenLookupError/pluginFailure(_:)`` unless there is exactly one `:`;
    ///   ``TokenLookupError/unresolvableTarget(host:port:)`` for a non-numeric port.
    public static func plainTarget(text: String) throws(TokenLookupError) -> TargetAddress {
        let fields = text.unicodeScalars.split(separator: ":", omittingEmptySubsequences: false).map { String($0) }
        let (host, port) = try TokenFileName.unpackPair(fields)
        var asciiPort = String.UnicodeScalarView()
        asciiPort.append(contentsOf: port.unicodeScalars.filter(\.isASCII))
        return try PluginTarget.address(host: host, port: String(asciiPort))
    }

    /// `JSONTokenApi.process_result`: `j = resp.json(); (j['host'], j['port'])`.
    ///
    /// - Parameter text: the decoded 2xx body.
    /// - Returns: the target (see ``PluginTarget/address(host:port:)-(JSONValue,JSONValue)``).
    /// - Throws: ``TokenLookupError/pluginFailure(_:)`` with Python's message: the `JSONDecodeError` text,
    ///   `'host'` / `'port'` for a missing key (`KeyError`), or the `TypeError` for a body that is not an object
    ///   (`list indices must be integers or slices, not str`); ``TokenLookupError/unresolvableTarget(host:port:)``.
    public static func jsonTarget(text: String) throws(TokenLookupError) -> TargetAddress {
        let document: JSONValue
        do {
            document = try JSONValue.parse(text)
        } catch {
            throw .pluginFailure(error.message)
        }
        let host = try subscriptKey(document, "host")
        let port = try subscriptKey(document, "port")
        return try PluginTarget.address(host: host, port: port)
    }

    /// Python's `value[key]` for a decoded JSON value and a `str` key.
    static func subscriptKey(_ value: JSONValue, _ key: String) throws(TokenLookupError) -> JSONValue {
        switch value {
        case .object:
            guard let member = value[key] else { throw .pluginFailure(PythonText.repr(key)) }
            return member
        case .array: throw .pluginFailure("list indices must be integers or slices, not str")
        case .string: throw .pluginFailure("string indices must be integers, not 'str'")
        default: throw .pluginFailure("'\(value.pythonTypeName)' object is not subscriptable")
        }
    }

    /// Python's `ascii()` of a `str`: ``PythonText/repr(_:)`` with every non-ASCII scalar escaped.
    static func asciiRepr(_ text: String) -> String {
        var result = ""
        for scalar in PythonText.repr(text).unicodeScalars {
            if scalar.isASCII {
                result.unicodeScalars.append(scalar)
                continue
            }
            let hex = String(scalar.value, radix: 16)
            let width = scalar.value < 0x100 ? 2 : scalar.value < 0x10000 ? 4 : 8
            let marker = width == 2 ? "\\x" : width == 4 ? "\\u" : "\\U"
            result += marker + String(repeating: "0", count: width - hex.count) + hex
        }
        return result
    }

    private static func asciiDigit(_ scalar: Unicode.Scalar) -> Int? {
        scalar.value >= 0x30 && scalar.value <= 0x39 ? Int(scalar.value - 0x30) : nil
    }
}

extension StringProtocol {
    fileprivate func trimmingSpaces() -> String {
        var scalars = Substring(self).unicodeScalars[...]
        while scalars.first == " " || scalars.first == "\t" { scalars.removeFirst() }
        while scalars.last == " " || scalars.last == "\t" { scalars.removeLast() }
        return String(scalars)
    }

    fileprivate func trimmingQuotes() -> String {
        var scalars = Substring(self).unicodeScalars[...]
        while scalars.first == "\"" || scalars.first == "'" { scalars.removeFirst() }
        while scalars.last == "\"" || scalars.last == "'" { scalars.removeLast() }
        return String(scalars)
    }
}
