// Fuzz harness: the token-file format (`TokenFileFormat.decode/parse`, websockify's TokenFile) and the token
// query (`TokenQuery`), on arbitrary bytes. The input is one token file; its lines also serve as request targets
// and `host:port` arguments.
//
// Checks: decoding fails exactly where strict UTF-8 fails; parsing agrees with `ReferenceTokenFile`, a plain
// restatement of the documented rules that keys tokens by code points, as Python's dict does; a found token
// survives a percent-encoded round trip; the byte and String entry points of the token query agree.
import FuzzSupport
import SockifyTargets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenFile(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = Array(FuzzInput(data, count).bytes)
    let text = checkDecode(bytes)
    checkParse(text)
    for line in text.split(whereSeparator: \.isNewline).prefix(16) {
        checkTokenQuery(String(line))
        checkHostPort(String(line))
    }
    checkTokenQuery(text)
    return 0
}

/// `decode` accepts exactly valid UTF-8; otherwise its message names the first byte at which a strict decoder
/// stops, as Python's `UnicodeDecodeError` does. Returns the text to parse (replacement characters if invalid).
private func checkDecode(_ bytes: [UInt8]) -> String {
    let valid = String(validating: bytes, as: UTF8.self)
    do throws(TokenLookupError) {
        let text = try TokenFileFormat.decode(bytes, path: "fuzz")
        check(valid == text, "decode accepted invalid UTF-8 \(hex(bytes))")
        return text
    } catch {
        check(valid == nil, "decode rejected valid UTF-8 \(hex(bytes)): \(error)")
        // "… can't decode byte 0xHH in position N: reason"
        let message = error.description
        guard let positionRange = message.firstRange(of: "in position ") else {
            check(false, "unexpected decode message \(message)")
            return ""
        }
        let digits = message[positionRange.upperBound...].prefix { $0.isASCII && $0.isNumber }
        let position = Int(digits) ?? -1
        check(position >= 0 && position < bytes.count, "position \(position) outside \(bytes.count) bytes")
        check(String(validating: bytes[..<position], as: UTF8.self) != nil, "bytes before position \(position) invalid")
        check(
            message.contains("byte 0x\(hex([bytes[position]])) in position \(position):"),
            "message \(message) does not name byte \(hex([bytes[position]]))"
        )
        return String(decoding: bytes, as: UTF8.self)
    }
}

private func checkParse(_ text: String) {
    var entries: [TokenKey: TokenFileTarget] = [:]
    var logged: [String] = []
    let next = TokenFileFormat.parse(text, firstLineNumber: 1, sourceName: "fuzz", into: &entries) {
        logged.append($0)
    }
    let reference = ReferenceTokenFile(text)
    check(next == 1 + reference.lineCount, "next line \(next) after \(reference.lineCount) lines")
    check(logged == reference.errors, "logged \(logged) but the reference says \(reference.errors)")
    // Tokens that differ as code points but are equal as Swift Strings (canonical equivalence) would collapse
    // into one entry here, while websockify keeps both.
    check(
        entries.count == reference.entries.count,
        "\(entries.count) tokens but websockify has \(reference.entries.count): \(reference.entries.map(\.key))"
    )
    for (token, target) in reference.entries {
        let key = TokenKey(String(String.UnicodeScalarView(token)))
        check(entries[key] == target, "token \(key): \(String(describing: entries[key])) not \(target)")
    }
}

/// A token survives `token=<percent-encoded UTF-8>`; `token(inRequestTargetBytes:)` agrees with the String form
/// for targets of ISO-8859-1 scalars; no `?`, no token.
private func checkTokenQuery(_ target: String) {
    let token = TokenQuery.token(inRequestTarget: target)
    if !target.unicodeScalars.contains("?") { check(token == nil, "token \(token ?? "") without a query") }
    if let token {
        check(token.unicodeScalars.last != "\n", "token ends in a line feed")
        if !token.isEmpty {
            var encoded = "/websockify?token="
            for byte in token.utf8 { encoded += "%" + hex([byte]) }
            let again = TokenQuery.token(inRequestTarget: encoded)
            check(again == token, "round trip of \(hex(token.utf8)) gave \(again.map { hex($0.utf8) } ?? "nil")")
        }
    }
    if target.unicodeScalars.allSatisfy({ $0.value <= 0xFF }) {
        let bytes = target.unicodeScalars.map { UInt8($0.value) }
        check(TokenQuery.token(inRequestTargetBytes: bytes) == token, "byte and String token queries disagree")
    }
    if let host = TokenQuery.hostToken(hostHeader: target) {
        check(target.unicodeScalars.starts(with: host.unicodeScalars), "host token \(host) is not a prefix")
    }
}

/// The `host:port` positionals never trap; a plain ASCII decimal port reads as Swift's `Int` reads it.
private func checkHostPort(_ argument: String) {
    _ = try? HostPort.parseListen(argument)
    _ = try? HostPort.parseTarget(argument)
    for radix in [10, 16] { _ = PythonText.int(argument, radix: radix) }
    let digits = argument.utf8.drop { $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "+") }
    if argument.utf8.count - digits.count <= 1, !digits.isEmpty, digits.allSatisfy({ (0x30...0x39).contains($0) }) {
        check(PythonText.int(argument, radix: 10) == Int(argument), "int(\(argument)) differs from Swift's Int")
    }
}

/// websockify's TokenFile rules as `TokenFileFormat.parse` documents them, on arrays of code points.
struct ReferenceTokenFile {
    /// Token (code points) → target; a later line replaces an earlier one.
    var entries: [[Unicode.Scalar]: TokenFileTarget] = [:]
    var errors: [String] = []
    var lineCount = 0

    init(_ text: String) {
        let scalars = Array(text.unicodeScalars)
        // Universal newlines: `\n`, `\r\n` and `\r` end a line; a final terminator does not start another.
        var lines: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        var index = 0
        var pending = false
        while index < scalars.count {
            let scalar = scalars[index]
            index += 1
            if scalar == "\n" || scalar == "\r" {
                if scalar == "\r", index < scalars.count, scalars[index] == "\n" { index += 1 }
                lines.append(current)
                current = []
                pending = false
            } else {
                current.append(scalar)
                pending = true
            }
        }
        if pending { lines.append(current) }
        lineCount = lines.count
        for (offset, line) in lines.enumerated() {
            let stripped = Self.strip(line[...])
            if stripped.isEmpty || stripped.first == "#" { continue }
            // re.split(r':\s', line): non-overlapping matches, left to right; exactly one is a valid line.
            var matches: [Int] = []
            var i = stripped.startIndex
            while i + 1 < stripped.endIndex {
                if stripped[i] == ":" && PythonText.isWhitespace(stripped[i + 1]) {
                    matches.append(i)
                    i += 2
                } else {
                    i += 1
                }
            }
            guard matches.count == 1 else {
                errors.append("Syntax error in fuzz on line \(offset + 1)")
                continue
            }
            entries[Array(stripped[..<matches[0]])] = Self.target(Array(stripped[(matches[0] + 2)...]))
        }
    }

    private static func strip(_ scalars: ArraySlice<Unicode.Scalar>) -> ArraySlice<Unicode.Scalar> {
        var slice = scalars
        while let first = slice.first, PythonText.isWhitespace(first) { slice.removeFirst() }
        while let last = slice.last, PythonText.isWhitespace(last) { slice.removeLast() }
        return slice
    }

    /// `target.strip().rsplit(':', 1)`; `unix_socket:` selects a socket path; a port is glibc-numeric in 0…65535.
    private static func target(_ text: [Unicode.Scalar]) -> TokenFileTarget {
        let stripped = strip(text[...])
        func string(_ scalars: ArraySlice<Unicode.Scalar>) -> String { String(String.UnicodeScalarView(scalars)) }
        guard let colon = stripped.lastIndex(of: ":") else { return .missingPort(string(stripped)) }
        let host = string(stripped[..<colon])
        let portScalars = stripped[(colon + 1)...]
        let port = string(portScalars)
        if host == "unix_socket" { return .address(.unixSocket(path: port)) }
        var digits = portScalars
        if digits.first == "+" { digits.removeFirst() }
        var value = 0
        var numeric = portScalars.isEmpty || !digits.isEmpty
        for scalar in digits where numeric {
            if scalar.value < 0x30 || scalar.value > 0x39 {
                numeric = false
            } else {
                value = value * 10 + Int(scalar.value - 0x30)
                if value > 65535 { numeric = false }
            }
        }
        return numeric ? .address(.tcp(host: host, port: UInt16(value))) : .unresolvable(host: host, port: port)
    }
}
