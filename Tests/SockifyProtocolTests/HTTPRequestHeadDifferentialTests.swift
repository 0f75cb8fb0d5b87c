// The byte-level HTTPRequestHead.parse / OpeningHandshake.validate against the Character-based oracle
// (LegacyHandshakeOracle.swift) on generated requests: valid, malformed, folded, ISO-8859-1, oversized and cut short.
import SockifyProtocol
import Testing

@Suite("HTTPRequestHead differential")
struct HTTPRequestHeadDifferentialTests {
    /// Bytes of `text`, whose scalars must all be ≤ U+00FF (one byte each, as ISO-8859-1).
    static func latin1(_ text: String) -> [UInt8] {
        text.unicodeScalars.map { UInt8($0.value) }
    }

    static let requestLines = [
        "GET /websockify?token=abc HTTP/1.1", "GET / HTTP/1.0", "HEAD / HTTP/1.1", "POST /x HTTP/1.1",
        "GET\t/a \t HTTP/1.1", "  GET / HTTP/1.1  ", "GET / HTTP/2.0", "GET / HTTP/02.1", "GET / HTTP/1.x",
        "GET / HTTP/1", "GET / HTTP/1.", "GET / HTTP/.1", "GET / HTTP/1.1.1", "GET / HTTP/1234567890.1",
        "GET / HTTP/123456789.000000001", "GET / http/1.1", "GET / HTTP/", "GET /", "HELLO", "GET / HTTP/1.1 x",
        "GET /\u{E9}\u{FF} HTTP/1.1", "G\u{E9}T / HTTP/1.1", "GET / HTTP/\u{B9}.1", "GET / HTTP/1.1\r",
        "GET / HTTP/0.9", "GET / HTTP/1.+1", "GET / HTTP/-1.1", "PUT /\u{80}\u{A0} HTTP/1.1",
    ]
    static let names = [
        "Host", "Upgrade", "upgrade", "UPGRADE", "Connection", "Sec-WebSocket-Key", "sec-websocket-key",
        "Sec-WebSocket-Version", "SEC-WEBSOCKET-VERSION", "Sec-WebSocket-Protocol", "Origin", "X-\u{E9}", "X-\u{C9}",
        "X", "If-Modified-Since",
    ]
    static let values = [
        "websocket", "WebSocket", "h2c", "Upgrade", "close", "keep-alive", "Keep-Alive, Close", "upgrade, keep-alive",
        "13", "7", "8", "12", "+13", "013", "-13", "abc", "", "dGhlIHNhbXBsZSBub25jZQ==", "binary", "base64, binary",
        " binary ,", "BINARY", "chat, sip", ",,", ", ,\t,", "localhost:6080", "\u{E9}\u{FF}\u{80}", "a\tb", "a\rb",
        "x: y", "binary\u{E9}", "99999999999999999999",
    ]
    static let separators = [": ", ":", ":  \t", " : ", "\t:", "::", ": \t "]
    static let noise: [UInt8] = Array(" \t:\r\n,aZ./".utf8) + [0xE9, 0xFF, 0x00, 0x80]
    static let base64Symbols = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// A random key: mostly well-formed 16-byte nonces, otherwise near misses.
    static func key(using random: inout SeededGenerator) -> String {
        var symbols = (0..<22).map { _ in Character(Unicode.Scalar(base64Symbols.randomElement(using: &random)!)) }
        symbols += ["=", "="]
        switch Int.random(in: 0..<8, using: &random) {
        case 0: symbols.removeLast(Int.random(in: 1...4, using: &random))
        case 1: symbols += ["A", "A", "A", "A"]
        case 2:
            let replacement: [Character] = ["=", "-", "_", " ", ".", "\u{E9}"]
            symbols[Int.random(in: 0..<symbols.count, using: &random)] = replacement.randomElement(using: &random)!
        case 3: symbols[22] = Character(Unicode.Scalar(base64Symbols.randomElement(using: &random)!))
        case 4: symbols = Array("AAAAAAAAAAAAAAAAAAAA")
        default: break
        }
        return String(symbols)
    }

    /// One generated request, possibly malformed, possibly followed by pipelined bytes.
    static func request(using random: inout SeededGenerator) -> [UInt8] {
        func pick<T>(_ items: [T]) -> T { items.randomElement(using: &random)! }
        func chance(_ percent: Int) -> Bool { Int.random(in: 0..<100, using: &random) < percent }
        func ending() -> [UInt8] { chance(80) ? Array("\r\n".utf8) : chance(75) ? [0x0A] : Array("\r\r\n".utf8) }

        var bytes: [UInt8] = []
        for _ in 0..<(chance(20) ? Int.random(in: 1...2, using: &random) : 0) { bytes += ending() }
        bytes += latin1(chance(60) ? "GET /websockify?token=abc HTTP/1.1" : pick(requestLines)) + ending()
        if chance(60) {
            // An upgrade that gets as far as the protocol check unless its random parts say otherwise.
            var lines = [
                "Upgrade: " + (chance(80) ? "websocket" : pick(values)),
                "Sec-WebSocket-Version: " + (chance(80) ? pick(["13", "7", "8"]) : pick(values)),
                "Sec-WebSocket-Key: " + key(using: &random),
            ]
            if chance(70) { lines.append("Sec-WebSocket-Protocol: " + pick(values)) }
            lines.shuffle(using: &random)
            for line in lines { bytes += latin1(line) + ending() }
        }
        let lineCount = chance(5) ? Int.random(in: 94...103, using: &random) : Int.random(in: 0...6, using: &random)
        for _ in 0..<lineCount {
            let kind = Int.random(in: 0..<100, using: &random)
            var line: String
            if kind < 8 {
                line = pick([" cont", "\tmore", "  ", " \u{E9} ", "\t\t"])
            } else if kind < 12 {
                line = pick(["NoColon", ":x", "Na me: x", "Name\t: x", "\u{E9}"])
            } else {
                let name = pick(names)
                let value: String
                if name.lowercased() == "sec-websocket-key" && chance(80) {
                    value = key(using: &random)
                } else {
                    value = pick(values)
                }
                let padding = chance(20) ? pick([" ", "\t", "  \t"]) : ""
                line = name + (chance(85) ? ": " : pick(separators)) + value + padding
            }
            bytes += latin1(line) + ending()
        }
        if chance(92) { bytes += ending() }
        if chance(15) { bytes += [0x82, 0x85, 1, 2, 3, 4] }
        if chance(20) {
            for _ in 0..<Int.random(in: 1...3, using: &random) where !bytes.isEmpty {
                let index = Int.random(in: 0..<bytes.count, using: &random)
                if chance(50) { bytes[index] = pick(noise) } else { bytes.insert(pick(noise), at: index) }
            }
        }
        return bytes
    }

    static func parseNew(_ bytes: [UInt8], maxLength: Int) -> Result<(head: HTTPRequestHead, length: Int)?, HTTPError> {
        bytes.withUnsafeBytes { buffer in
            Result { () throws(HTTPError) in try HTTPRequestHead.parse(buffer.bytes, maxLength: maxLength) }
        }
    }

    /// Parses with both implementations and expects the same outcome, head, lookups, keep-alive and handshake.
    static func expectSameOutcome(_ bytes: [UInt8], maxLength: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        let new = parseNew(bytes, maxLength: maxLength)
        let old = Result { () throws(HTTPError) in try LegacyOracle.parse(bytes, maxLength: maxLength) }
        switch (new, old) {
        case (.success(nil), .success(nil)):
            break
        case (.failure(let newError), .failure(let oldError)):
            #expect(newError == oldError, "\(bytes)", sourceLocation: sourceLocation)
        case (.success(let parsed?), .success(let expected?)):
            expectSameHead(parsed.head, expected.head, sourceLocation: sourceLocation)
            #expect(parsed.length == expected.length, sourceLocation: sourceLocation)
        default:
            Issue.record(
                "new \(new) but oracle \(old) for \(bytes) maxLength \(maxLength)",
                sourceLocation: sourceLocation
            )
        }
    }

    static func expectSameHead(_ head: HTTPRequestHead, _ expected: LegacyHead, sourceLocation: SourceLocation) {
        #expect(head.method == expected.method, sourceLocation: sourceLocation)
        #expect(head.target == expected.target, sourceLocation: sourceLocation)
        #expect(head.versionMajor == expected.versionMajor, sourceLocation: sourceLocation)
        #expect(head.versionMinor == expected.versionMinor, sourceLocation: sourceLocation)
        let names: [String] = head.headers.map(\.name)
        let values: [String] = head.headers.map(\.value)
        #expect(names == expected.headers.map(\.name), sourceLocation: sourceLocation)
        #expect(values == expected.headers.map(\.value), sourceLocation: sourceLocation)
        let lookups: [String] = Self.names + ["missing", "HOST", "x-\u{E9}"]
        for name in lookups {
            #expect(head.header(name) == expected.header(name), sourceLocation: sourceLocation)
        }
        #expect(head.keepAlive == expected.keepAlive, sourceLocation: sourceLocation)
        #expect(
            OpeningHandshake.isUpgradeRequest(head) == LegacyOracle.isUpgradeRequest(expected),
            sourceLocation: sourceLocation
        )
        expectSameHandshake(head, expected, sourceLocation: sourceLocation)
    }

    static func expectSameHandshake(_ head: HTTPRequestHead, _ expected: LegacyHead, sourceLocation: SourceLocation) {
        let new = Result { () throws(HTTPError) in try OpeningHandshake.validate(head) }
        let old = Result { () throws(HTTPError) in try LegacyOracle.validate(expected) }
        switch (new, old) {
        case (.success(let handshake), .success(let reference)):
            #expect(handshake.key == reference.key, sourceLocation: sourceLocation)
            #expect(handshake.version == reference.version, sourceLocation: sourceLocation)
            #expect(handshake.selectedProtocol == reference.selected, sourceLocation: sourceLocation)
        case (.failure(let newError), .failure(let oldError)):
            #expect(newError == oldError, sourceLocation: sourceLocation)
        default:
            Issue.record("validate: new \(new) but oracle \(old)", sourceLocation: sourceLocation)
        }
    }

    @Test("Generated requests parse, look up and validate as the Character-based oracle does", arguments: 0..<8)
    func generated(seed: UInt64) {
        var random = SeededGenerator(seed: 0x5EED_0000 + seed)
        for _ in 0..<250 {
            let bytes = Self.request(using: &random)
            let maxLength = [8192, bytes.count, bytes.count - 1, bytes.count / 2, 40, 1, 0].randomElement(
                using: &random
            )!
            Self.expectSameOutcome(bytes, maxLength: max(0, maxLength))
        }
    }

    @Test("Every prefix of generated requests gives the oracle's outcome", arguments: 0..<4)
    func generatedPrefixes(seed: UInt64) {
        var random = SeededGenerator(seed: 0xC0FF_EE00 + seed)
        for _ in 0..<6 {
            let bytes = Self.request(using: &random)
            let maxLength = Bool.random(using: &random) ? 8192 : max(1, bytes.count - 7)
            for prefix in 0...bytes.count {
                Self.expectSameOutcome(Array(bytes[..<prefix]), maxLength: maxLength)
            }
        }
    }

    @Test("Sec-WebSocket-Key: the no-decode nonce check agrees with Base64.decode on near misses")
    func keys() {
        var random = SeededGenerator(seed: 42)
        for _ in 0..<3000 {
            let key = Self.key(using: &random)
            let headers = [("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Key", key)]
            let head = HTTPRequestHead(method: "GET", target: "/", headers: headers.map { (name: $0.0, value: $0.1) })
            let legacy = LegacyHead(
                method: "GET",
                target: "/",
                versionMajor: 1,
                versionMinor: 1,
                headers: headers.map { (name: $0.0, value: $0.1) }
            )
            Self.expectSameHandshake(head, legacy, sourceLocation: #_sourceLocation)
        }
    }
}
