// Fuzz harness: `HTTPRequestHead.parse(_:maxLength:)` (RFC 9112 §2–§5, Python http.server's rules) and what the
// proxy does next with a head: `OpeningHandshake.isUpgradeRequest/validate`, header lookups, the token query, and
// the error response. Arbitrary bytes in; it must never trap, and it must agree with `ReferenceHead` below, a
// slow line-by-line restatement of the documented rules.
//
// Each input is parsed twice: with a limit far above any input (the head ends where the bytes say) and with a
// limit of three quarters of the input (so 414/431 and the "still arriving" answer get exercised too).
import FuzzSupport
import SockifyProtocol
import SockifyTargets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPHead(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = FuzzInput(data, count)
    let bytes = Array(input.bytes)
    for maxLength in [1 << 16, bytes.count * 3 / 4] {
        checkParse(bytes, maxLength: maxLength)
    }
    return 0
}

private func checkParse(_ bytes: [UInt8], maxLength: Int) {
    let expected = ReferenceHead.parse(bytes, maxLength: maxLength)
    let actual: Result<(head: HTTPRequestHead, length: Int)?, HTTPError> = parse(bytes, maxLength: maxLength)
    switch (actual, expected) {
    case (.failure(let error), .failure(let expectedError)):
        check(error == expectedError, "error \(error) but the reference says \(expectedError) for \(hex(bytes))")
        checkErrorResponse(error)
    case (.success(nil), .success(nil)):
        check(bytes.count < maxLength, "incomplete head reported for \(bytes.count) bytes ≥ limit \(maxLength)")
    case (.success(let parsed?), .success(let reference?)):
        let (head, length) = parsed
        check(length > 0 && length <= min(bytes.count, maxLength), "length \(length) outside the input/limit")
        check(bytes[length - 1] == UInt8(ascii: "\n"), "head of \(length) bytes does not end at a line feed")
        check(length == reference.length, "length \(length) but the reference says \(reference.length)")
        check(head.method == reference.method, "method \(head.method) but \(reference.method)")
        check(head.target == reference.target, "target \(head.target) but \(reference.target)")
        check(
            head.versionMajor == reference.versionMajor && head.versionMinor == reference.versionMinor,
            "version \(head.versionMajor).\(head.versionMinor) but \(reference.versionMajor).\(reference.versionMinor)"
        )
        let fields = head.headers
        check(
            fields.elementsEqual(reference.headers, by: { $0.name == $1.name && $0.value == $1.value }),
            "headers \(fields) but the reference says \(reference.headers)"
        )
        // The head is a function of its own bytes: what follows it must not matter.
        if case .success(let again?) = parse(Array(bytes[..<length]), maxLength: maxLength) {
            check(again.length == length && again.head.headers.count == fields.count, "reparse of the head differs")
        } else {
            check(false, "the head alone (\(length) bytes) does not parse")
        }
        checkLookups(head, reference)
        checkHandshake(head)
    default:
        check(false, "parse gave \(actual) but the reference says \(expected) for \(hex(bytes))")
    }
}

private func parse(_ bytes: [UInt8], maxLength: Int) -> Result<(head: HTTPRequestHead, length: Int)?, HTTPError> {
    bytes.withUnsafeBytes { buffer in
        do throws(HTTPError) {
            return .success(try HTTPRequestHead.parse(buffer.bytes, maxLength: maxLength))
        } catch {
            return .failure(error)
        }
    }
}

/// `header(_:)` is the first field whose name matches ignoring ASCII case; `isUpgradeRequest` and the token
/// agree with what the fields say.
private func checkLookups(_ head: HTTPRequestHead, _ reference: ReferenceHead) {
    var names = ["Upgrade", "Host", "Sec-WebSocket-Key", "sec-websocket-version", "CONNECTION", ""]
    names += reference.headers.prefix(8).map(\.name)
    for name in names {
        let expected = reference.headers.first { ReferenceHead.equalsIgnoringASCIICase($0.name, name) }?.value
        check(
            head.header(name) == expected, "header(\(name)) is \(head.header(name) ?? "nil"), not \(expected ?? "nil")")
    }
    // §4.2.1 item 3: `Upgrade` is a list (RFC 9110 §7.8) that must include `websocket`; items are trimmed of
    // spaces and tabs.
    let upgrade =
        head.header("Upgrade").map { list in
            list.split(separator: ",", omittingEmptySubsequences: false).contains { item in
                let trimmed = item.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }
                return ReferenceHead.equalsIgnoringASCIICase(String(trimmed.reversed()), "websocket")
            }
        } ?? false
    check(
        OpeningHandshake.isUpgradeRequest(head) == (head.method == "GET" && upgrade),
        "isUpgradeRequest disagrees with method \(head.method) and Upgrade \(head.header("Upgrade") ?? "nil")"
    )
    _ = head.keepAlive
    // The target was decoded as ISO-8859-1, so its scalars are its bytes: both token entry points must agree.
    let targetBytes = head.target.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
    check(
        TokenQuery.token(inRequestTarget: head.target) == TokenQuery.token(inRequestTargetBytes: targetBytes),
        "token(inRequestTarget:) and token(inRequestTargetBytes:) disagree on \(hex(targetBytes))"
    )
    _ = TokenQuery.hostToken(hostHeader: head.header("Host"))
}

/// `validate` answers with one of its documented statuses, or a handshake websockify would accept.
private func checkHandshake(_ head: HTTPRequestHead) {
    do throws(HTTPError) {
        let handshake = try OpeningHandshake.validate(head)
        check(head.method == "GET", "validate accepted method \(head.method)")
        // §4.2.1 item 1: HTTP/1.1 or higher.
        check(
            head.versionMajor == 1 && head.versionMinor >= 1, "accepted HTTP/\(head.versionMajor).\(head.versionMinor)")
        // §11.3.1: exactly one Sec-WebSocket-Key field.
        let keyFields = head.headers.filter { ReferenceHead.equalsIgnoringASCIICase($0.name, "Sec-WebSocket-Key") }
        check(keyFields.count == 1, "accepted \(keyFields.count) Sec-WebSocket-Key fields")
        check(OpeningHandshake.supportedVersions.contains(handshake.version), "accepted version \(handshake.version)")
        // §4.2.1 item 5: the key is base64 of exactly 16 bytes.
        check(Base64.decode(handshake.key)?.count == 16, "accepted key \(handshake.key)")
        check(handshake.selectedProtocol == nil || handshake.selectedProtocol == "binary", "odd subprotocol")
        let accept = HandshakeResponse.acceptValue(key: handshake.key) { _ in [UInt8](repeating: 0x5A, count: 20) }
        let response = HandshakeResponse.switchingProtocols(
            accept: accept, protocol: handshake.selectedProtocol, serverName: "fuzz", date: "now")
        check(response.hasPrefix("HTTP/1.1 101 ") && response.hasSuffix("\r\n\r\n"), "malformed 101 response")
    } catch {
        check([400, 405, 426, 501].contains(error.status), "validate threw undocumented status \(error.status)")
        checkErrorResponse(error)
    }
}

/// The rendered error response has exactly one status line: a reason taken from the request (e.g. "Bad header
/// line ('…')") must not be able to split it.
private func checkErrorResponse(_ error: HTTPError) {
    let response = HTTPResponse.error(
        status: error.status, reason: error.reason, serverName: "fuzz", date: "now",
        extraHeaders: error.extraHeaders, includeBody: true)
    let utf8 = Array(response.utf8)
    let statusLineEnd = utf8.firstIndex(of: UInt8(ascii: "\n")) ?? utf8.count
    check(statusLineEnd > 0 && utf8[statusLineEnd - 1] == UInt8(ascii: "\r"), "status line does not end in CRLF")
    check(
        !utf8[..<(statusLineEnd - 1)].contains(UInt8(ascii: "\r")),
        "CR inside the status line of \(error.status) \(error.reason)"
    )
    check(response.hasPrefix("HTTP/1.1 \(error.status) "), "status line does not start with the status")
}

/// The request head rules of `HTTPRequestHead.parse`'s documentation, restated one line at a time on arrays.
/// Slow and plain on purpose: it is the oracle, not a second optimised parser.
struct ReferenceHead {
    var method: String
    var target: String
    var versionMajor: Int
    var versionMinor: Int
    var headers: [(name: String, value: String)]
    var length: Int

    private static let lineFeed = UInt8(ascii: "\n")
    private static let carriageReturn = UInt8(ascii: "\r")

    static func parse(_ bytes: [UInt8], maxLength: Int) -> Result<ReferenceHead?, HTTPError> {
        // 1. Lines ending in LF (an optional CR before it is not part of the line), only those that end within
        //    the limit. Empty lines before the request line are skipped; the first empty line after it ends the
        //    head. More than 1 + 100 lines is 431 as soon as it is seen.
        let visible = Array(bytes.prefix(maxLength))
        var lines: [[UInt8]] = []
        var position = 0
        var end: Int? = nil
        while let lf = visible[position...].firstIndex(of: lineFeed) {
            var line = Array(visible[position..<lf])
            if line.last == carriageReturn { line.removeLast() }
            position = lf + 1
            if line.isEmpty {
                if lines.isEmpty { continue }
                end = position
                break
            }
            lines.append(line)
            if lines.count > HTTPRequestHead.maxHeaderCount + 1 {
                return .failure(HTTPError(status: 431, reason: "Too many headers"))
            }
        }
        guard let end else {
            if bytes.count < maxLength { return .success(nil) }
            return .failure(HTTPError(status: lines.isEmpty ? 414 : 431))
        }
        // 2. The request line: three words separated by runs of spaces and tabs.
        let words = lines[0].split(whereSeparator: isBlank).map(Array.init)
        guard words.count == 3 else {
            return .failure(HTTPError(status: 400, reason: "Bad request syntax ('\(latin1(lines[0]))')"))
        }
        guard let (major, minor) = version(words[2]) else {
            return .failure(HTTPError(status: 400, reason: "Bad request version ('\(latin1(words[2]))')"))
        }
        guard major < 2 else {
            return .failure(HTTPError(status: 505, reason: "Invalid HTTP version (\(major).\(minor))"))
        }
        // 3. Header lines: `name:value` with no blank in the name, or a continuation starting with a blank.
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            let bad = HTTPError(status: 400, reason: "Bad header line ('\(latin1(line))')")
            if isBlank(line[0]) {
                guard !headers.isEmpty else { return .failure(bad) }
                let continuation = latin1(trimmed(line[...]))
                if continuation.isEmpty { continue }
                let last = headers.count - 1
                headers[last].value += headers[last].value.isEmpty ? continuation : " " + continuation
                continue
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else { return .failure(bad) }
            guard !line[..<colon].contains(where: isBlank) else { return .failure(bad) }
            headers.append((latin1(line[..<colon]), latin1(trimmed(line[(colon + 1)...]))))
        }
        let head = ReferenceHead(
            method: latin1(words[0]), target: latin1(words[1]), versionMajor: major, versionMinor: minor,
            headers: headers, length: end)
        return .success(head)
    }

    /// `HTTP/<1-9 digits>.<1-9 digits>`.
    private static func version(_ word: [UInt8]) -> (Int, Int)? {
        guard word.starts(with: Array("HTTP/".utf8)) else { return nil }
        let parts = word.dropFirst(5).split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        var numbers: [Int] = []
        for part in parts {
            guard (1...9).contains(part.count), part.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
            numbers.append(part.reduce(0) { $0 * 10 + Int($1 - 0x30) })
        }
        return (numbers[0], numbers[1])
    }

    private static func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while let first = slice.first, isBlank(first) { slice.removeFirst() }
        while let last = slice.last, isBlank(last) { slice.removeLast() }
        return slice
    }

    /// ISO-8859-1: each byte is the scalar of the same value.
    static func latin1(_ bytes: some Sequence<UInt8>) -> String {
        var scalars = String.UnicodeScalarView()
        for byte in bytes { scalars.append(Unicode.Scalar(byte)) }
        return String(scalars)
    }

    /// RFC 9110 §5.1 field-name comparison as the parser implements it: A–Z fold to a–z, nothing else does.
    static func equalsIgnoringASCIICase(_ a: String, _ b: String) -> Bool {
        func folded(_ text: String) -> [UInt8] { text.utf8.map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 } }
        return folded(a) == folded(b)
    }
}
