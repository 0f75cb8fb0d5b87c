import SockifyLookup
import Testing

/// Deterministic pseudo-random numbers (SplitMix64), so fuzz rounds are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Every value of a RESP byte stream, fed in pieces of `chunk` bytes.
func parseAll(_ bytes: [UInt8], chunk: Int, limits: RESPParser.Limits = .init()) throws -> [RESPValue] {
    var parser = RESPParser(limits: limits)
    var values: [RESPValue] = []
    var offset = 0
    while offset < bytes.count {
        let end = min(bytes.count, offset + chunk)
        parser.append(bytes[offset..<end])
        offset = end
        while let value = try parser.next() { values.append(value) }
    }
    return values
}

@Suite("RESPParser")
struct RESPParserTests {
    /// RESP2 vectors from the protocol specification's examples, with the value each must give.
    static let vectors: [(String, RESPValue)] = [
        ("+OK\r\n", .simpleString("OK")),
        ("-ERR unknown command 'foobar'\r\n", .error("ERR unknown command 'foobar'")),
        (
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
            .error("WRONGTYPE Operation against a key holding the wrong kind of value")
        ),
        (":0\r\n", .integer(0)),
        (":1000\r\n", .integer(1000)),
        (":-1\r\n", .integer(-1)),
        (":9223372036854775807\r\n", .integer(.max)),
        (":-9223372036854775808\r\n", .integer(.min)),
        ("$5\r\nhello\r\n", .bulkString(Array("hello".utf8))),
        ("$0\r\n\r\n", .bulkString([])),
        ("$-1\r\n", .bulkString(nil)),
        ("$4\r\na\r\nb\r\n", .bulkString(Array("a\r\nb".utf8))),
        ("*0\r\n", .array([])),
        ("*-1\r\n", .array(nil)),
        ("*2\r\n$3\r\nfoo\r\n$3\r\nbar\r\n", .array([.bulkString(Array("foo".utf8)), .bulkString(Array("bar".utf8))])),
        ("*3\r\n:1\r\n:2\r\n:3\r\n", .array([.integer(1), .integer(2), .integer(3)])),
        (
            "*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*2\r\n+Hello\r\n-World\r\n",
            .array([
                .array([.integer(1), .integer(2), .integer(3)]), .array([.simpleString("Hello"), .error("World")]),
            ])
        ),
        (
            "*3\r\n$3\r\nfoo\r\n$-1\r\n$3\r\nbar\r\n",
            .array([.bulkString(Array("foo".utf8)), .bulkString(nil), .bulkString(Array("bar".utf8))])
        ),
    ]

    @Test("spec vectors parse to their values whole and in every chunk size", arguments: vectors.indices)
    func vectorsInEverySplit(index: Int) throws {
        let (text, expected) = Self.vectors[index]
        let bytes = Array(text.utf8)
        for chunk in 1...bytes.count {
            #expect(try parseAll(bytes, chunk: chunk) == [expected], "chunk size \(chunk)")
        }
    }

    @Test("a value is reported only once its last byte has arrived")
    func incompleteUntilLastByte() throws {
        for (text, expected) in Self.vectors {
            var parser = RESPParser()
            let bytes = Array(text.utf8)
            for (offset, byte) in bytes.enumerated() {
                parser.append([byte])
                let value = try parser.next()
                #expect((value != nil) == (offset == bytes.count - 1), "\(text.debugDescription) at \(offset)")
                if let value { #expect(value == expected) }
            }
            #expect(parser.bufferedByteCount == 0)
        }
    }

    @Test("back-to-back values come out in order and leave nothing buffered")
    func pipelinedValues() throws {
        let stream = Self.vectors.map(\.0).joined()
        for chunk in [1, 2, 3, 7, 64, stream.utf8.count] {
            #expect(try parseAll(Array(stream.utf8), chunk: chunk) == Self.vectors.map(\.1))
        }
    }

    @Test(
        "malformed replies are rejected with the reason",
        arguments: [
            ("!5\r\nhello\r\n", RESPParseError.unknownType(UInt8(ascii: "!"))),
            ("_\r\n", .unknownType(UInt8(ascii: "_"))),  // RESP3 null: this parser speaks RESP2
            ("+OK\rX\r\n", .badLineEnd),
            ("+OK\n", .badLineEnd),
            ("$3\r\nfooXY", .badLineEnd),
            (":12a\r\n", .badNumber),
            (":\r\n", .badNumber),
            (":-\r\n", .badNumber),
            (":+1\r\n", .badNumber),
            (":9223372036854775808\r\n", .badNumber),
            (":-9223372036854775809\r\n", .badNumber),
            (":99999999999999999999\r\n", .badNumber),
            ("$-2\r\n", .negativeLength(-2)),
            ("*-5\r\n", .negativeLength(-5)),
            ("$ 3\r\nfoo\r\n", .badNumber),
        ])
    func rejections(text: String, expected: RESPParseError) throws {
        let bytes = Array(text.utf8)
        for chunk in 1...bytes.count {
            #expect(throws: expected) { try parseAll(bytes, chunk: chunk) }
        }
    }

    @Test("limits: bulk length, array count, nesting depth and line length")
    func limits() throws {
        let limits = RESPParser.Limits(maxBulkLength: 10, maxArrayCount: 3, maxDepth: 2, maxLineLength: 16)
        #expect(try parseAll(Array("$10\r\n0123456789\r\n".utf8), chunk: 4, limits: limits).count == 1)
        #expect(throws: RESPParseError.bulkStringTooLong(11, limit: 10)) {
            try parseAll(Array("$11\r\n".utf8), chunk: 1, limits: limits)
        }
        #expect(throws: RESPParseError.bulkStringTooLong(Int64.max, limit: 10)) {
            try parseAll(Array("$9223372036854775807\r\n".utf8), chunk: 100, limits: .init(maxBulkLength: 10))
        }
        #expect(throws: RESPParseError.arrayTooLong(4, limit: 3)) {
            try parseAll(Array("*4\r\n".utf8), chunk: 1, limits: limits)
        }
        #expect(try parseAll(Array("*1\r\n*1\r\n:1\r\n".utf8), chunk: 1, limits: limits).count == 1)
        #expect(throws: RESPParseError.nestedTooDeep(limit: 2)) {
            try parseAll(Array("*1\r\n*1\r\n*1\r\n:1\r\n".utf8), chunk: 1, limits: limits)
        }
        // A line that never ends is cut off at the limit, not buffered forever.
        #expect(throws: RESPParseError.lineTooLong(limit: 16)) {
            try parseAll(
                [UInt8(ascii: "+")] + [UInt8](repeating: UInt8(ascii: "a"), count: 40), chunk: 1, limits: limits)
        }
    }

    @Test("after an error the parser stays failed")
    func staysFailed() throws {
        var parser = RESPParser()
        parser.append(Array("?\r\n".utf8))
        #expect(throws: RESPParseError.unknownType(UInt8(ascii: "?"))) { try parser.next() }
        parser.append(Array("+OK\r\n".utf8))
        #expect(throws: RESPParseError.unknownType(UInt8(ascii: "?"))) { try parser.next() }
    }

    @Test("fuzz: random and mutated input in random splits never traps and never yields more than it got")
    func fuzz() {
        var random = SplitMix64(state: 0x5EED)
        let alphabet = Array("+-:$*\r\n0123456789-1abc ".utf8) + [0, 0xFF]
        let seeds = Self.vectors.map { Array($0.0.utf8) }
        let limits = RESPParser.Limits(maxBulkLength: 64, maxArrayCount: 8, maxDepth: 4, maxLineLength: 32)
        for round in 0..<4000 {
            var input: [UInt8]
            if round % 2 == 0 {
                input = (0..<Int.random(in: 0...48, using: &random)).map { _ in alphabet.randomElement(using: &random)!
                }
            } else {
                input = seeds.randomElement(using: &random)! + seeds.randomElement(using: &random)!
                for _ in 0..<Int.random(in: 1...3, using: &random) {
                    let at = Int.random(in: 0..<input.count, using: &random)
                    input[at] = alphabet.randomElement(using: &random)!
                }
            }
            var parser = RESPParser(limits: limits)
            var offset = 0
            var fed = 0
            rounds: while offset < input.count {
                let end = min(input.count, offset + Int.random(in: 1...8, using: &random))
                parser.append(input[offset..<end])
                fed += end - offset
                offset = end
                // Each value consumes at least 3 bytes, so this loop ends.
                for _ in 0...input.count {
                    do {
                        guard try parser.next() != nil else { break }
                    } catch {
                        break rounds
                    }
                }
                #expect(parser.bufferedByteCount <= fed)
            }
        }
    }

    @Test("commands are encoded as arrays of bulk strings, binary-safe")
    func commandEncoding() {
        #expect(RESPCommand.encode(["GET", "key"]) == Array("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n".utf8))
        #expect(
            RESPCommand.encode([Array("SET".utf8), [0x0D, 0x0A], []])
                == Array("*3\r\n$3\r\nSET\r\n$2\r\n\r\n\r\n$0\r\n\r\n".utf8))
        // What the client sends, the parser (acting as a server would) reads back.
        let echoed = try? parseAll(RESPCommand.encode(["AUTH", "p@ss word"]), chunk: 3)
        #expect(echoed == [.array([.bulkString(Array("AUTH".utf8)), .bulkString(Array("p@ss word".utf8))])])
    }
}
