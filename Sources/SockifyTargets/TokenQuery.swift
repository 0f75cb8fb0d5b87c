// Where websockify finds the token of a WebSocket request (`websocketproxy.py:140-177`, reference §2.1):
// the `token` query parameter, or the `Host` header with `--host-token`.

/// Extracts the token a target plugin is asked about, exactly as websockify 0.13.0 does.
public enum TokenQuery {
    /// The `token` query parameter of a request target, with the semantics of
    /// `parse_qs(urlparse(path).query)['token'][0].rstrip('\n')` (Python 3.11).
    ///
    /// - The path is ignored: `/`, `/websockify` and `/any/thing?token=x` all work; the query is the text after
    ///   the first `?`, up to the first `#`.
    /// - Parameters are split on `&` only (not `;`); a parameter without `=` is skipped.
    /// - Names and values turn `+` into a space and are percent-decoded (`%XX` → byte, invalid UTF-8 → U+FFFD,
    ///   a `%` not followed by two hex digits stays literal), so `tok%65n=a` names `token` too.
    /// - The first `token` parameter with a non-empty *raw* value wins; `token=` counts as absent.
    /// - Trailing `\n` characters are removed from the value (nothing else), so `token=%0A` gives `""`, not nil.
    /// - Like `urlsplit`, leading C0 controls and spaces are ignored and `\t`, `\r`, `\n` are removed first.
    ///
    /// Python decodes the request line as ISO-8859-1, so a raw non-ASCII byte is one scalar U+0000–U+00FF and
    /// is *not* UTF-8-decoded (only percent escapes are). Pass the target decoded that way, or use
    /// ``token(inRequestTargetBytes:)``.
    ///
    /// Not modelled: `urlsplit` raises `ValueError` for a target starting with `//` whose authority has
    /// unbalanced brackets; websockify then logs a handler exception instead of `Token not present`. Both
    /// close the connection without a response.
    ///
    /// - Parameter requestTarget: the request target of the request line, e.g. `/websockify?token=abc`.
    /// - Returns: the token, or `nil` when there is none ("Token not present").
    public static func token(inRequestTarget requestTarget: String) -> String? {
        var scalars = requestTarget.unicodeScalars[...]
        while let first = scalars.first, first.value <= 0x20 { scalars.removeFirst() }
        let cleaned = scalars.filter { $0 != "\t" && $0 != "\r" && $0 != "\n" }
        // The scheme and authority never contain `?` or `#`, so the query is simply what follows the first `?`
        // before the fragment.
        let beforeFragment = cleaned.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
        guard let question = beforeFragment.firstIndex(of: "?") else { return nil }
        let query = beforeFragment[beforeFragment.index(after: question)...]
        for parameter in query.split(separator: "&", omittingEmptySubsequences: true) {
            guard let equals = parameter.firstIndex(of: "=") else { continue }
            let rawValue = parameter[parameter.index(after: equals)...]
            // keep_blank_values=False tests the raw value, before decoding.
            if rawValue.isEmpty { continue }
            guard formDecode(parameter[..<equals]) == "token" else { continue }
            var value = formDecode(rawValue).unicodeScalars[...]
            while value.last == "\n" { value.removeLast() }
            return String(value)
        }
        return nil
    }

    /// ``token(inRequestTarget:)`` for the raw bytes of the request target, each byte read as one ISO-8859-1
    /// scalar, as Python's `http.server` does.
    ///
    /// - Parameter bytes: the request target bytes from the request line.
    /// - Returns: the token, or `nil` when there is none.
    public static func token(inRequestTargetBytes bytes: some Sequence<UInt8>) -> String? {
        var text = String.UnicodeScalarView()
        for byte in bytes { text.append(Unicode.Scalar(byte)) }
        return token(inRequestTarget: String(text))
    }

    /// The `--host-token` token: the `Host` header up to its first `:` (`str.partition(':')[0]`).
    ///
    /// Case-sensitive, and not bracket-aware: `vm1.example.com:6080` gives `vm1.example.com`, `[::1]:6080`
    /// gives `[`. An empty header gives `""` (websockify looks that up and reports it not found).
    ///
    /// - Parameter hostHeader: the first `Host` field value as Python's header parser returns it (leading spaces
    ///   and tabs removed, trailing ones kept), or `nil` when the request has none.
    /// - Returns: the token, or `nil` when there is no `Host` header ("Token not present").
    public static func hostToken(hostHeader: String?) -> String? {
        guard let hostHeader else { return nil }
        let scalars = hostHeader.unicodeScalars
        guard let colon = scalars.firstIndex(of: ":") else { return hostHeader }
        return String(scalars[..<colon])
    }

    /// `unquote(text.replace('+', ' '), 'utf-8', 'replace')`: percent escapes in each ASCII run are decoded to
    /// bytes and then as UTF-8 with replacement; non-ASCII scalars pass through and end a run.
    static func formDecode(_ text: Substring.UnicodeScalarView) -> String {
        var result = String.UnicodeScalarView()
        var pending: [UInt8] = []  // the bytes of the current ASCII run, escapes decoded
        func flush() {
            if pending.isEmpty { return }
            result.append(contentsOf: String(decoding: pending, as: UTF8.self).unicodeScalars)
            pending.removeAll(keepingCapacity: true)
        }
        var index = text.startIndex
        while index < text.endIndex {
            let scalar = text[index]
            guard scalar.isASCII else {
                flush()
                result.append(scalar)
                index = text.index(after: index)
                continue
            }
            if scalar == "%", let byte = hexByte(text, after: index) {
                pending.append(byte)
                index = text.index(index, offsetBy: 3)
                continue
            }
            pending.append(scalar == "+" ? 0x20 : UInt8(scalar.value))
            index = text.index(after: index)
        }
        flush()
        return String(result)
    }

    /// The byte of `%XX` starting at `percent`, if two hex digits follow it.
    private static func hexByte(_ text: Substring.UnicodeScalarView, after percent: Substring.UnicodeScalarView.Index)
        -> UInt8?
    {
        let first = text.index(after: percent)
        guard first < text.endIndex else { return nil }
        let second = text.index(after: first)
        guard second < text.endIndex, let high = hexValue(text[first]), let low = hexValue(text[second]) else {
            return nil
        }
        return high << 4 | low
    }

    private static func hexValue(_ scalar: Unicode.Scalar) -> UInt8? {
        switch scalar.value {
        case 0x30...0x39: UInt8(scalar.value - 0x30)
        case 0x41...0x46: UInt8(scalar.value - 0x41 + 10)
        case 0x61...0x66: UInt8(scalar.value - 0x61 + 10)
        default: nil
        }
    }
}
