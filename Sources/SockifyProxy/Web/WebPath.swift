// URL path handling for `--web`, byte-for-byte the rules of Python 3.11's `http.server` and `urllib.parse` that
// websockify inherits (reference/websockify.md §4.8): translate_path, quote, unquote, urlsplit, html.escape.

/// Pure string functions that turn a request target into a file-system path and back into HTML and URLs.
enum WebPath {
    /// The request target as Python 3.11 stores it in `self.path`: a leading run of slashes becomes one (gh-87389),
    /// so `//evil.example/` can never be echoed into a `Location` as a scheme-relative URL.
    static func collapsingLeadingSlashes(_ target: String) -> String {
        guard target.hasPrefix("//") else { return target }
        return "/" + target.drop { $0 == "/" }
    }

    /// Maps a request target to a path under `root`, like `SimpleHTTPRequestHandler.translate_path`.
    ///
    /// The query and fragment are dropped, the rest is percent-decoded and normalized: empty and `.` components are
    /// skipped and `..` removes the previous component, never climbing above `root`. A trailing slash in the target
    /// (before decoding) is kept, so that `/file.txt/` can be refused as Python refuses it.
    /// - Parameters:
    ///   - target: the request target, after `collapsingLeadingSlashes(_:)`.
    ///   - root: an absolute directory without a trailing slash (or `/`).
    /// - Returns: `root` joined with the remaining components.
    static func translate(_ target: String, root: String) -> String {
        let withoutQuery = target.prefix { $0 != "?" }
        let withoutFragment = withoutQuery.prefix { $0 != "#" }
        var trimmed = withoutFragment[...]
        while let last = trimmed.last, last.isWhitespace { trimmed.removeLast() }
        let trailingSlash = trimmed.hasSuffix("/")
        // posixpath.normpath followed by dropping "", "." and ".." words: a ".." only ever cancels a real name, and
        // a ".." with nothing left to cancel is dropped (it can never reach above the root).
        var words: [Substring] = []
        for word in percentDecoded(withoutFragment).split(separator: "/", omittingEmptySubsequences: true) {
            switch word {
            case ".": continue
            case "..": if !words.isEmpty { words.removeLast() }
            default: words.append(word)
            }
        }
        var path = root
        for word in words {
            if !path.hasSuffix("/") { path += "/" }
            path += word
        }
        if trailingSlash && !path.hasSuffix("/") { path += "/" }
        return path
    }

    /// `urllib.parse.unquote`: `%XX` escapes become bytes and the bytes are read as UTF-8; a malformed escape stays
    /// as it is and bytes that are not UTF-8 become U+FFFD (Python's fallback with `errors='replace'`).
    static func percentDecoded(_ text: some StringProtocol) -> String {
        let utf8 = Array(text.utf8)
        guard utf8.contains(UInt8(ascii: "%")) else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "%"), index + 2 < utf8.count,
                let high = hexValue(utf8[index + 1]), let low = hexValue(utf8[index + 2])
            {
                bytes.append(high << 4 | low)
                index += 3
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `urllib.parse.quote(text)` with its default `safe='/'`: letters, digits, `_.-~` and `/` stay, every other
    /// UTF-8 byte becomes `%XX` with upper-case hex.
    static func percentEncoded(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"),
                UInt8(ascii: "~"), UInt8(ascii: "/"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                result += "%"
                result.unicodeScalars.append(Unicode.Scalar(hexDigits[Int(byte >> 4)]))
                result.unicodeScalars.append(Unicode.Scalar(hexDigits[Int(byte & 0xF)]))
            }
        }
        return result
    }

    /// The target with `/` appended to its path part, the way `send_head` builds the 301 `Location` through
    /// `urlsplit`/`urlunsplit`: the fragment is split off first, then the query; an empty query or fragment (a bare
    /// `?` or `#`) is dropped. Targets are origin-form here, so there is no scheme or authority to keep.
    static func addingSlashToPath(_ target: String) -> String {
        var rest = target[...]
        var fragment: Substring = ""
        if let hash = rest.firstIndex(of: "#") {
            fragment = rest[rest.index(after: hash)...]
            rest = rest[..<hash]
        }
        var query: Substring = ""
        if let question = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: question)...]
            rest = rest[..<question]
        }
        var result = String(rest) + "/"
        if !query.isEmpty { result += "?" + query }
        if !fragment.isEmpty { result += "#" + fragment }
        return result
    }

    /// The path part of a target as `urlsplit(target).path` sees it: everything before the first `?` or `#`.
    static func pathPart(_ target: String) -> Substring {
        target.prefix { $0 != "?" && $0 != "#" }
    }

    /// `html.escape(text, quote=False)`: only `&`, `<` and `>` are replaced.
    static func htmlEscaped(_ text: String) -> String {
        guard text.contains(where: { $0 == "&" || $0 == "<" || $0 == ">" }) else { return text }
        var result = ""
        result.reserveCapacity(text.utf8.count + 16)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// Python's `repr()` of a `str`, used in `Unsupported method (%r)`: single quotes unless the text contains a
    /// single quote and no double quote; backslash, the chosen quote and control characters are escaped.
    static func pythonRepr(_ text: String) -> String {
        let quote: Unicode.Scalar = text.contains("'") && !text.contains("\"") ? "\"" : "'"
        var result = String(quote)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": result += "\\\\"
            case quote: result += "\\" + String(quote)
            case "\t": result += "\\t"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case _ where scalar.value < 0x20 || (0x7F..<0xA0).contains(scalar.value):
                result += "\\x"
                result.unicodeScalars.append(Unicode.Scalar(hexDigitsLower[Int(scalar.value >> 4)]))
                result.unicodeScalars.append(Unicode.Scalar(hexDigitsLower[Int(scalar.value & 0xF)]))
            default: result.unicodeScalars.append(scalar)
            }
        }
        result.unicodeScalars.append(quote)
        return result
    }

    /// `posixpath.splitext(path)[1]`: the last `.suffix` of the last component, ignoring the leading dots of a
    /// name (`.bashrc` has none), or "" when there is none.
    static func fileExtension(_ path: Substring) -> Substring {
        let name = path.lastIndex(of: "/").map { path[path.index(after: $0)...] } ?? path
        guard let dot = name.lastIndex(of: "."),
            name[..<dot].contains(where: { $0 != "." })
        else { return "" }
        return name[dot...]
    }

    private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)
    private static let hexDigitsLower: [UInt8] = Array("0123456789abcdef".utf8)

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
