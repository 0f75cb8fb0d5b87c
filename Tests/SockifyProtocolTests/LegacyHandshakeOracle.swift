// The first, Character-based HTTPRequestHead.parse and OpeningHandshake.validate, kept (renamed) as an oracle: the
// byte-level rewrite must give the same head, the same error and the same handshake for every input. Later rule
// changes are applied here in the same, obvious form (marked "rule:").
import SockifyProtocol

/// The head as the Character-based parser built it.
struct LegacyHead {
    var method: String
    var target: String
    var versionMajor: Int
    var versionMinor: Int
    var headers: [(name: String, value: String)]

    func header(_ name: String) -> String? {
        headers.first(where: { LegacyOracle.equalsIgnoringASCIICase($0.name, name) })?.value
    }

    var keepAlive: Bool {
        var keepAlive = versionMajor > 1 || (versionMajor == 1 && versionMinor >= 1)
        if let connection = header("Connection") {
            for token in connection.split(separator: ",") {
                let trimmed = LegacyOracle.trimmed(Substring(token))
                if LegacyOracle.equalsIgnoringASCIICase(trimmed, "close") { return false }
                if LegacyOracle.equalsIgnoringASCIICase(trimmed, "keep-alive") { keepAlive = true }
            }
        }
        return keepAlive
    }
}

enum LegacyOracle {
    static func parse(_ bytes: [UInt8], maxLength: Int) throws(HTTPError) -> (head: LegacyHead, length: Int)? {
        let limit = min(bytes.count, maxLength)
        var lines: [Range<Int>] = []
        var lineStart = 0
        var offset = 0
        var headEnd: Int? = nil
        while offset < limit {
            if bytes[offset] == UInt8(ascii: "\n") {
                var lineEnd = offset
                if lineEnd > lineStart && bytes[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
                if lineEnd == lineStart {
                    if !lines.isEmpty {
                        headEnd = offset + 1
                        break
                    }
                } else {
                    lines.append(lineStart..<lineEnd)
                    if lines.count > HTTPRequestHead.maxHeaderCount + 1 {
                        throw HTTPError(status: 431, reason: "Too many headers")
                    }
                }
                lineStart = offset + 1
            }
            offset += 1
        }
        guard let headEnd else {
            guard bytes.count >= maxLength else { return nil }
            throw lines.isEmpty ? HTTPError(status: 414) : HTTPError(status: 431)
        }
        let head = try parseLines(lines.map { latin1(bytes[$0]) })
        return (head, headEnd)
    }

    private static func parseLines(_ lines: [String]) throws(HTTPError) -> LegacyHead {
        let requestLine = lines[0]
        let words = requestLine.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard words.count == 3 else { throw HTTPError(status: 400, reason: "Bad request syntax ('\(requestLine)')") }
        let version = words[2]
        guard version.hasPrefix("HTTP/") else {
            throw HTTPError(status: 400, reason: "Bad request version ('\(version)')")
        }
        let numbers = version.dropFirst(5).split(separator: ".", omittingEmptySubsequences: false)
        guard numbers.count == 2,
            numbers.allSatisfy({ !$0.isEmpty && $0.count <= 9 && $0.allSatisfy({ $0.isASCII && $0.isNumber }) }),
            let major = Int(numbers[0]), let minor = Int(numbers[1])
        else { throw HTTPError(status: 400, reason: "Bad request version ('\(version)')") }
        guard major < 2 else { throw HTTPError(status: 505, reason: "Invalid HTTP version (\(major).\(minor))") }

        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            if line.first == " " || line.first == "\t" {
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
            guard !name.contains(where: { $0 == " " || $0 == "\t" }) else {
                throw HTTPError(status: 400, reason: "Bad header line ('\(line)')")
            }
            headers.append((String(name), String(trimmed(line[line.index(after: colon)...]))))
        }
        return LegacyHead(
            method: String(words[0]),
            target: String(words[1]),
            versionMajor: major,
            versionMinor: minor,
            headers: headers
        )
    }

    private static func latin1(_ bytes: ArraySlice<UInt8>) -> String {
        var string = ""
        for byte in bytes { string.unicodeScalars.append(Unicode.Scalar(byte)) }
        return string
    }

    static func trimmed(_ s: Substring) -> Substring {
        var s = s
        while let first = s.first, first == " " || first == "\t" { s.removeFirst() }
        while let last = s.last, last == " " || last == "\t" { s.removeLast() }
        return s
    }

    static func equalsIgnoringASCIICase(_ a: some StringProtocol, _ b: some StringProtocol) -> Bool {
        func lower(_ byte: UInt8) -> UInt8 { byte >= 65 && byte <= 90 ? byte + 32 : byte }
        return a.utf8.elementsEqual(b.utf8, by: { lower($0) == lower($1) })
    }

    static func isUpgradeRequest(_ head: LegacyHead) -> Bool {
        guard head.method == "GET", let upgrade = head.header("Upgrade") else { return false }
        // rule: the Upgrade field is a list that must include "websocket" (RFC 6455 §4.2.1 item 3).
        return upgrade.split(separator: ",").contains { equalsIgnoringASCIICase(trimmed($0), "websocket") }
    }

    /// The old validate: the selected protocol on success.
    static func validate(_ head: LegacyHead) throws(HTTPError) -> (key: String, version: Int, selected: String?) {
        switch head.method {
        case "GET": break
        case "HEAD": throw HTTPError(status: 405, reason: "Method Not Allowed")
        default: throw HTTPError(status: 501, reason: "Unsupported method ('\(head.method)')")
        }
        // rule: HTTP/1.1 or higher (RFC 6455 §4.2.1 item 1).
        guard head.versionMajor > 1 || (head.versionMajor == 1 && head.versionMinor >= 1) else {
            throw HTTPError(status: 400, reason: "WebSocket upgrade needs HTTP/1.1")
        }
        guard let versionText = head.header("Sec-WebSocket-Version"), !versionText.isEmpty else {
            throw HTTPError(status: 400, reason: "Missing Sec-WebSocket-Version header")
        }
        guard let version = Int(versionText), [7, 8, 13].contains(version) else {
            throw HTTPError(
                status: 426,
                reason: "Unsupported protocol version \(versionText)",
                extraHeaders: [("Sec-WebSocket-Version", "13")]
            )
        }
        guard let key = head.header("Sec-WebSocket-Key"), !key.isEmpty else {
            throw HTTPError(status: 400, reason: "Missing Sec-WebSocket-Key header")
        }
        // rule: the key field appears exactly once (RFC 6455 §11.3.1).
        let keyCount = head.headers.filter { equalsIgnoringASCIICase($0.name, "Sec-WebSocket-Key") }.count
        guard let nonce = Base64.decode(key), nonce.count == 16, keyCount == 1 else {
            throw HTTPError(status: 400, reason: "Invalid Sec-WebSocket-Key header")
        }
        var selectedProtocol: String? = nil
        if let protocols = head.header("Sec-WebSocket-Protocol") {
            let items = protocols.split(separator: ",").map { trimmed($0) }.filter { !$0.isEmpty }
            if items.contains("binary") {
                selectedProtocol = "binary"
            } else if !items.isEmpty {
                throw HTTPError(status: 400, reason: "Invalid protocol selected")
            }
        }
        return (key, version, selectedProtocol)
    }
}
