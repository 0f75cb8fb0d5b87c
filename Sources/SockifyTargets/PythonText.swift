// The few pieces of Python text semantics websockify's observable behaviour depends on: `int()`, `repr()`,
// `str.strip()`/`str.isspace()` and `os.path.normpath`/`abspath`. Reimplemented so Sockify's messages and
// accepted inputs match websockify 0.13.0 (Python 3.11) character for character.

/// Python 3.11 text semantics that websockify's command line and token formats inherit.
///
/// Everything here is pure and allocation-light; it exists so that `sockify` accepts exactly the strings
/// `websockify` accepts and prints exactly the messages it prints.
public enum PythonText {
    /// Whether `scalar` is whitespace for Python's `str.isspace()`, `str.strip()` and the regular expression
    /// class `\s` (they share `Py_UNICODE_ISSPACE`): bidirectional class WS, B or S, or category Zs.
    ///
    /// - Parameter scalar: the scalar to test.
    /// - Returns: `true` for `\t \n \v \f \r`, `\x1c`–`\x1f`, space, `\x85`, `\xa0`, `\u1680`, `\u2000`–`\u200a`,
    ///   `\u2028`, `\u2029`, `\u202f`, `\u205f` and `\u3000`.
    public static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F,
            0x3000:
            return true
        default:
            return false
        }
    }

    /// Python's `s.strip()` with no argument: removes leading and trailing ``isWhitespace(_:)`` scalars.
    public static func strip(_ text: Substring.UnicodeScalarView) -> Substring.UnicodeScalarView {
        var view = text
        while let first = view.first, isWhitespace(first) { view.removeFirst() }
        while let last = view.last, isWhitespace(last) { view.removeLast() }
        return view
    }

    /// Python's `int(text, radix)` for a `str` argument, for radix 2, 8, 10 and 16.
    ///
    /// Accepts what CPython accepts: surrounding whitespace, one optional sign, an optional `0b`/`0o`/`0x`
    /// prefix matching `radix` (for 2, 8 and 16), single underscores between digits (and directly after a
    /// prefix), and any Unicode decimal digit (category Nd) in place of an ASCII one.
    ///
    /// - Parameters:
    ///   - text: the text to convert.
    ///   - radix: 2, 8, 10 or 16.
    /// - Returns: the value, or `nil` where Python raises `ValueError`. Values outside `Int`'s range, which
    ///   Python would accept, also give `nil`: no caller needs them and every caller reports them as invalid.
    public static func int(_ text: some StringProtocol, radix: Int) -> Int? {
        precondition([2, 8, 10, 16].contains(radix), "unsupported radix \(radix)")
        var scalars = Substring(text).unicodeScalars[...]
        scalars = strip(scalars)
        var negative = false
        if let sign = scalars.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            scalars.removeFirst()
        }
        // CPython accepts the base prefix only when it names the requested base, then allows one `_`.
        var afterPrefix = false
        if radix != 10, scalars.count >= 2, scalars.first == "0" {
            let marker = scalars[scalars.index(after: scalars.startIndex)]
            let expected: Unicode.Scalar = radix == 16 ? "x" : radix == 8 ? "o" : "b"
            if marker.properties.lowercaseMapping == String(expected) {
                scalars.removeFirst(2)
                afterPrefix = true
            }
        }
        var magnitude = 0
        var digitCount = 0
        var previousWasUnderscore = false
        for scalar in scalars {
            if scalar == "_" {
                // `_` only between digits, or right after a prefix; never twice in a row or at the end.
                if previousWasUnderscore || (digitCount == 0 && !afterPrefix) { return nil }
                previousWasUnderscore = true
                continue
            }
            guard let digit = digitValue(scalar), digit < radix else { return nil }
            previousWasUnderscore = false
            digitCount += 1
            let (shifted, overflowA) = magnitude.multipliedReportingOverflow(by: radix)
            let (sum, overflowB) = shifted.addingReportingOverflow(digit)
            if overflowA || overflowB { return nil }
            magnitude = sum
        }
        if digitCount == 0 || previousWasUnderscore { return nil }
        return negative ? -magnitude : magnitude
    }

    /// The digit value of one scalar as CPython's `int()` sees it: ASCII letters for radix > 10, any Unicode
    /// decimal digit (category Nd) for 0–9.
    private static func digitValue(_ scalar: Unicode.Scalar) -> Int? {
        switch scalar.value {
        case 0x30...0x39: return Int(scalar.value - 0x30)
        case 0x41...0x5A: return Int(scalar.value - 0x41 + 10)
        case 0x61...0x7A: return Int(scalar.value - 0x61 + 10)
        default:
            guard scalar.properties.generalCategory == .decimalNumber,
                let value = scalar.properties.numericValue
            else { return nil }
            return Int(value)
        }
    }

    /// Python's `repr()` of a `str`: the quoting optparse and websockify use in messages such as
    /// `invalid integer value: 'x'` and `No such file or directory: 'tokens'`.
    ///
    /// Single quotes unless the text contains `'` and no `"`; `\\`, `\t`, `\n`, `\r` and the chosen quote are
    /// escaped; other non-printable scalars (categories Cc, Cf, Cs, Co, Cn, Zl, Zp, and Zs except the space)
    /// become `\xhh`, `\uhhhh` or `\Uhhhhhhhh`.
    ///
    /// - Parameter text: the text to quote.
    /// - Returns: the quoted text.
    public static func repr(_ text: some StringProtocol) -> String {
        let quote: Unicode.Scalar = text.contains("'") && !text.contains("\"") ? "\"" : "'"
        var result = String(quote)
        for scalar in text.unicodeScalars {
            switch scalar {
            case quote, "\\": result += "\\" + String(scalar)
            case "\t": result += "\\t"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            default:
                if isPrintable(scalar) {
                    result.unicodeScalars.append(scalar)
                } else {
                    let hex = String(scalar.value, radix: 16)
                    let width = scalar.value < 0x100 ? 2 : scalar.value < 0x10000 ? 4 : 8
                    let marker = width == 2 ? "\\x" : width == 4 ? "\\u" : "\\U"
                    result += marker + String(repeating: "0", count: width - hex.count) + hex
                }
            }
        }
        result.unicodeScalars.append(quote)
        return result
    }

    /// `str.isprintable()` for one scalar (CPython `_PyUnicode_IsPrintable`).
    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == " " { return true }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator,
            .spaceSeparator:
            return false
        default:
            return true
        }
    }

    /// Python's `posixpath.normpath`: collapses `.`, `..`, and repeated `/`, keeping exactly two leading
    /// slashes when the path starts with exactly two (POSIX leaves `//` implementation-defined).
    ///
    /// - Parameter path: any path.
    /// - Returns: the normalised path; `"."` for an empty result.
    public static func normalizePath(_ path: String) -> String {
        if path.isEmpty { return "." }
        let leadingSlashes = path.prefix { $0 == "/" }.count
        let prefix = leadingSlashes == 0 ? "" : leadingSlashes == 2 ? "//" : "/"
        var components: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            if component == "." { continue }
            if component == ".." {
                if let last = components.last, last != ".." {
                    components.removeLast()
                    continue
                }
                // `..` above the root stays at the root; above a relative start it is kept.
                if !prefix.isEmpty { continue }
            }
            components.append(component)
        }
        let joined = prefix + components.joined(separator: "/")
        return joined.isEmpty ? "." : joined
    }

    /// Python's `os.path.abspath(path)` with the current directory passed in rather than read.
    ///
    /// - Parameters:
    ///   - path: an absolute or relative path.
    ///   - currentDirectory: the absolute directory relative paths are resolved against.
    /// - Returns: `normalizePath(path)` for an absolute path, else `normalizePath(currentDirectory + "/" + path)`.
    public static func absolutePath(_ path: String, currentDirectory: String) -> String {
        if path.hasPrefix("/") { return normalizePath(path) }
        if path.isEmpty { return normalizePath(currentDirectory) }
        return normalizePath(currentDirectory.hasSuffix("/") ? currentDirectory + path : currentDirectory + "/" + path)
    }
}
