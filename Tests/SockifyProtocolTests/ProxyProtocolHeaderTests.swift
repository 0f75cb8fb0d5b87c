// ProxyProtocolHeader.parse: the spec's examples (haproxy doc/proxy-protocol.txt, "PP §n"), every split point,
// strict rejection, limits, and random bytes.
import SockifyProtocol
import Testing

@Suite("ProxyProtocolHeader")
struct ProxyProtocolHeaderTests {
    static func parse(
        _ bytes: [UInt8],
        maxLength: Int = ProxyProtocolHeader.defaultMaxLength
    ) throws(ProxyProtocolError) -> ProxyProtocolHeader.ParseResult {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(ProxyProtocolError) in try ProxyProtocolHeader.parse(buffer.bytes, maxLength: maxLength)
            }
        }
        return try result.get()
    }

    /// The header and its length, failing the test for anything else.
    static func parsed(_ bytes: [UInt8], maxLength: Int = ProxyProtocolHeader.defaultMaxLength) throws
        -> (header: ProxyProtocolHeader, length: Int)
    {
        let result = try parse(bytes, maxLength: maxLength)
        guard case .parsed(let header, let length) = result else {
            Issue.record("expected a header, got \(result)")
            throw ProxyProtocolError("not parsed")
        }
        return (header, length)
    }

    static func error(_ bytes: [UInt8], maxLength: Int = ProxyProtocolHeader.defaultMaxLength) -> ProxyProtocolError? {
        do {
            let result = try parse(bytes, maxLength: maxLength)
            Issue.record("expected an error, got \(result)")
            return nil
        } catch {
            return error
        }
    }

    static func v1(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// A v2 header: signature, version/command, family, length, then `block`.
    static func v2(_ versionCommand: UInt8, _ family: UInt8, _ block: [UInt8], length: Int? = nil) -> [UInt8] {
        let length = length ?? block.count
        return ProxyProtocolHeader.v2Signature + [versionCommand, family, UInt8(length >> 8), UInt8(length & 0xFF)]
            + block
    }

    static let tcp4Block: [UInt8] = [172, 19, 0, 1, 172, 19, 0, 3, 0xA6, 0x52, 0x00, 0x50]
    static let tcp6Block: [UInt8] =
        [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [1]
        + [0x20, 0x01, 0x0D, 0xB8, 0, 1] + [UInt8](repeating: 0, count: 9) + [0x2A] + [0x12, 0x34, 0x01, 0xBB]

    static func unixBlock(_ source: [UInt8], _ destination: [UInt8]) -> [UInt8] {
        source + [UInt8](repeating: 0, count: 108 - source.count) + destination
            + [UInt8](repeating: 0, count: 108 - destination.count)
    }

    /// Valid headers of every kind, for the split and truncation tests.
    static let validHeaders: [[UInt8]] = [
        v1("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"),
        v1("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n"),
        v1(
            "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"
        ),
        v1("PROXY TCP6 2001:db8::1 ::ffff:10.1.2.3 0 80\r\n"),
        v1("PROXY UNKNOWN\r\n"),
        v1(
            "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"
        ),
        v2(0x21, 0x11, tcp4Block),
        v2(0x21, 0x21, tcp6Block),
        v2(0x21, 0x31, unixBlock(Array("/run/a.sock".utf8), Array("/run/b.sock".utf8))),
        v2(0x20, 0x00, []),
        v2(0x21, 0x00, [1, 2, 3]),
        v2(0x21, 0x11, tcp4Block + [0xEA, 0x00, 0x04, 0x01, 0x76, 0x70, 0x63, 0x04, 0x00, 0x00]),
    ]

    // MARK: - Version 1

    @Test("PP §2.1 example: TCP4 header followed by the request; length covers only the header")
    func v1TCP4() throws {
        let header = Self.v1("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n")
        let (parsed, length) = try Self.parsed(header + Array("GET / HTTP/1.1\r\n\r\n".utf8))
        #expect(length == header.count)
        #expect(parsed.version == .v1)
        #expect(parsed.command == .proxy)
        #expect(parsed.family == .tcp4)
        #expect(parsed.source == .init(addressBytes: [192, 168, 0, 1], port: 56324, addressText: "192.168.0.1"))
        #expect(parsed.destination == .init(addressBytes: [192, 168, 0, 11], port: 443, addressText: "192.168.0.11"))
        #expect(parsed.source?.ipAddress == .v4(0xC0A8_0001))
    }

    @Test("PP §2.1: TCP6 with the longest addresses (104 bytes); addresses come back in RFC 5952 form")
    func v1TCP6() throws {
        let longest = Self.validHeaders[2]
        #expect(longest.count == 104)
        #expect(try Self.parsed(longest).length == 104)
        let (parsed, _) = try Self.parsed(Self.v1("PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::FFFF:10.1.2.3 0 80\r\n"))
        #expect(parsed.family == .tcp6)
        #expect(parsed.source?.addressText == "2001:db8::1")
        #expect(parsed.source?.addressBytes == [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [1])
        #expect(parsed.source?.port == 0)
        #expect(parsed.destination?.addressText == "::ffff:10.1.2.3")
        #expect(parsed.destination?.port == 80)
    }

    @Test("PP §2.1: UNKNOWN ignores the rest of the line, up to the 107-byte worst case")
    func v1Unknown() throws {
        let (short, shortLength) = try Self.parsed(Self.v1("PROXY UNKNOWN\r\nGET"))
        #expect(shortLength == 15)
        #expect(
            short == ProxyProtocolHeader(version: .v1, command: .proxy, family: .unknown, source: nil, destination: nil)
        )
        let worst = Self.validHeaders[5]
        #expect(worst.count == ProxyProtocolHeader.v1MaxLength)
        #expect(try Self.parsed(worst).header.family == .unknown)
        #expect(try Self.parsed(Self.v1("PROXY UNKNOWN anything \t at all \r\n")).header.source == nil)
    }

    @Test("PP §2.1: no CR LF within 107 bytes is an error, without waiting for more")
    func v1TooLong() throws {
        let padded = Self.v1("PROXY UNKNOWN " + String(repeating: "x", count: 93))
        #expect(padded.count == 107)
        #expect(Self.error(padded)?.reason == "v1 header has no CR LF within 107 bytes")
        // 106 bytes then CR LF would make 108.
        #expect(Self.error(Array(padded.dropLast()) + [13, 10]) != nil)
        #expect(try Self.parse(Array(padded.dropLast())) == .needMore)
    }

    @Test(
        "PP §2.1: malformed v1 lines are rejected",
        arguments: [
            "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\n",  // bare LF
            "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\rX",  // CR without LF
            "PROXY TCP4 192.168.0.1  192.168.0.11 56324 443\r\n",  // two spaces
            "PROXY  TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
            "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 \r\n",  // trailing space
            "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 7\r\n",  // extra field
            "PROXY TCP4 192.168.0.1 192.168.0.11 56324\r\n",  // missing field
            "PROXY TCP4\r\n",
            "PROXY \r\n",
            "PROXY tcp4 192.168.0.1 192.168.0.11 56324 443\r\n",  // case matters
            "PROXY TCP5 192.168.0.1 192.168.0.11 56324 443\r\n",
            "PROXY UNKNOWNX\r\n",
            "PROXY TCP4 ::1 192.168.0.11 56324 443\r\n",  // family mismatch
            "PROXY TCP6 192.168.0.1 ::1 56324 443\r\n",
            "PROXY TCP4 192.168.0.256 192.168.0.11 56324 443\r\n",
            "PROXY TCP4 192.168.00.1 192.168.0.11 56324 443\r\n",  // leading zero
            "PROXY TCP4 192.168.0 192.168.0.11 56324 443\r\n",
            "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n",
            "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n",
            "PROXY TCP4 192.168.0.1 192.168.0.11 65536 443\r\n",  // port range
            "PROXY TCP4 192.168.0.1 192.168.0.11 056324 443\r\n",  // leading zero
            "PROXY TCP4 192.168.0.1 192.168.0.11 00 443\r\n",
            "PROXY TCP4 192.168.0.1 192.168.0.11 +80 443\r\n",  // sign
            "PROXY TCP4 192.168.0.1 192.168.0.11 -1 443\r\n",
            "PROXY TCP4 192.168.0.1 192.168.0.11 8a 443\r\n",
            "PROXY TCP4 192.168.0.1 192.168.0.11 123456 443\r\n",
            "PROXY\tTCP4 192.168.0.1 192.168.0.11 1 443\r\n",
            "PROXX TCP4 192.168.0.1 192.168.0.11 1 443\r\n",
            "GET / HTTP/1.1\r\n\r\n",
        ])
    func v1Malformed(text: String) {
        #expect(Self.error(Self.v1(text)) != nil)
    }

    @Test("A v1 error names what is wrong")
    func v1Reasons() {
        #expect(
            Self.error(Self.v1("PROXY TCP4 1.2.3.4 5.6.7.8 65536 1\r\n"))?.reason
                == "v1 source port is not a number from 0 to 65535")
        #expect(
            Self.error(Self.v1("PROXY TCP4 1.2.3.4 ::1 1 1\r\n"))?.reason
                == "v1 destination address is not a valid IPv4 address")
        #expect(Self.error(Self.v1("HELLO"))?.reason == "not a PROXY protocol header")
    }

    // MARK: - Version 2

    @Test("PP §2.2: TCP over IPv4 as haproxy sends it (172.19.0.1:42578 → 172.19.0.3:80)")
    func v2TCP4() throws {
        let header = Self.v2(0x21, 0x11, Self.tcp4Block)
        #expect(
            header == hex("0d 0a 0d 0a 00 0d 0a 51 55 49 54 0a 21 11 00 0c ac 13 00 01 ac 13 00 03 a6 52 00 50"))
        let (parsed, length) = try Self.parsed(header + Array("GET / HTTP/1.1\r\n".utf8))
        #expect(length == 28)
        #expect(parsed.version == .v2)
        #expect(parsed.command == .proxy)
        #expect(parsed.family == .tcp4)
        #expect(parsed.source == .init(addressBytes: [172, 19, 0, 1], port: 42578, addressText: "172.19.0.1"))
        #expect(parsed.destination == .init(addressBytes: [172, 19, 0, 3], port: 80, addressText: "172.19.0.3"))
    }

    @Test("PP §2.2: TCP over IPv6")
    func v2TCP6() throws {
        let (parsed, length) = try Self.parsed(Self.v2(0x21, 0x21, Self.tcp6Block))
        #expect(length == 16 + 36)
        #expect(parsed.family == .tcp6)
        #expect(parsed.source?.addressText == "2001:db8::1")
        #expect(parsed.source?.addressBytes.count == 16)
        #expect(parsed.source?.port == 0x1234)
        #expect(parsed.destination?.addressText == "2001:db8:1::2a")
        #expect(parsed.destination?.port == 443)
    }

    @Test("PP §2.2: stream Unix sockets carry 108-byte paths; abstract names print with @")
    func v2Unix() throws {
        let block = Self.unixBlock(Array("/run/a.sock".utf8), [0] + Array("abstract".utf8))
        let (parsed, length) = try Self.parsed(Self.v2(0x21, 0x31, block))
        #expect(length == 16 + 216)
        #expect(parsed.family == .unix)
        #expect(parsed.source?.addressText == "/run/a.sock")
        #expect(parsed.source?.addressBytes.count == 108)
        #expect(parsed.source?.port == 0)
        #expect(parsed.source?.ipAddress == nil)
        #expect(parsed.destination?.addressText == "@abstract")
    }

    @Test("PP §2.2: LOCAL is parsed with no addresses, whatever its family and block")
    func v2Local() throws {
        for family: UInt8 in [0x00, 0x11, 0x21, 0x12, 0xFF] {
            let (parsed, length) = try Self.parsed(Self.v2(0x20, family, [9, 9, 9]))
            #expect(length == 19)
            #expect(parsed.command == .local)
            #expect(parsed.family == .unknown)
            #expect(parsed.source == nil && parsed.destination == nil)
        }
    }

    @Test("PP §2.2: PROXY with AF_UNSPEC is parsed with no addresses; its block is skipped")
    func v2Unspecified() throws {
        let (parsed, length) = try Self.parsed(Self.v2(0x21, 0x00, [1, 2, 3, 4]))
        #expect(length == 20)
        #expect(parsed.command == .proxy)
        #expect(parsed.family == .unknown)
        #expect(parsed.source == nil)
    }

    @Test("PP §2.2.7: TLVs after the addresses are skipped; the length covers them")
    func v2TLVs() throws {
        let tlvs: [UInt8] = [0x01, 0x00, 0x02, 0x68, 0x32, 0x04, 0x00, 0x00, 0xEA, 0x00, 0x03, 1, 2, 3]
        let header = Self.v2(0x21, 0x11, Self.tcp4Block + tlvs)
        let (parsed, length) = try Self.parsed(header + [0x47])
        #expect(length == header.count)
        #expect(parsed.source?.addressText == "172.19.0.1")
        #expect(
            Self.error(Self.v2(0x21, 0x11, Self.tcp4Block + [0x01, 0x00]))?.reason == "v2 header has a truncated TLV")
        #expect(
            Self.error(Self.v2(0x21, 0x11, Self.tcp4Block + [0x01, 0x00, 0x03, 1, 2]))?.reason
                == "v2 header has a TLV overrunning it")
    }

    @Test("v2 headers up to maxLength parse; longer ones are refused from their first 16 bytes")
    func v2Limit() throws {
        let tlv: [UInt8] = [0x04, 0x00, 0x09] + [UInt8](repeating: 0, count: 9)
        let header = Self.v2(0x21, 0x11, Self.tcp4Block + tlv)
        #expect(header.count == 40)
        #expect(try Self.parsed(header, maxLength: 40).length == 40)
        #expect(
            Self.error(Array(header.prefix(16)), maxLength: 39)?.reason
                == "v2 header of 40 bytes exceeds the limit of 39")
        // The largest the format allows is refused by the default cap before any of its block arrives.
        #expect(Self.error(Self.v2(0x21, 0x11, [], length: 0xFFFF)) != nil)
        #expect(try Self.parse(Self.v2(0x21, 0x11, [], length: 0xFFFF), maxLength: 16 + 0xFFFF) == .needMore)
    }

    @Test(
        "PP §2.2: wrong signature, version, command, family or length is an error",
        arguments: [
            [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x55],  // signature
            [0x0D, 0x0A, 0x0D, 0x0B],
            v2(0x11, 0x11, tcp4Block),  // version 1 in the binary format
            v2(0x31, 0x11, tcp4Block),  // version 3
            v2(0x22, 0x11, tcp4Block),  // command 2
            v2(0x2F, 0x11, tcp4Block),
            v2(0x21, 0x12, tcp4Block),  // UDP over IPv4
            v2(0x21, 0x22, tcp6Block),  // UDP over IPv6
            v2(0x21, 0x32, unixBlock([], [])),  // datagram Unix socket
            v2(0x21, 0x10, tcp4Block),  // IPv4, unspecified transport
            v2(0x21, 0x41, tcp4Block),  // family 4
            v2(0x21, 0x01, tcp4Block),
            v2(0x21, 0x11, Array(tcp4Block.prefix(11))),  // too short for IPv4
            v2(0x21, 0x21, tcp4Block),  // too short for IPv6
            v2(0x21, 0x31, tcp6Block),  // too short for Unix
            [0x00],
            [0x16, 0x03, 0x01],  // a TLS ClientHello
        ] as [[UInt8]])
    func v2Malformed(bytes: [UInt8]) {
        #expect(Self.error(bytes) != nil)
    }

    @Test("Fixed v2 bytes are judged as soon as they arrive, before the length")
    func v2EarlyRejection() {
        let header = Self.v2(0x31, 0x11, Self.tcp4Block)
        #expect(Self.error(Array(header.prefix(13)))?.reason == "v2 header has unsupported version 3")
        let udp = Self.v2(0x21, 0x12, Self.tcp4Block)
        #expect(
            Self.error(Array(udp.prefix(14)))?.reason == "v2 header has unsupported address family and transport 0x12")
        #expect(
            Self.error(Self.v2(0x21, 0x11, [], length: 11))?.reason
                == "v2 header length 11 is too short for its 12 address bytes")
    }

    // MARK: - Incremental

    @Test("Every strict prefix of a valid header needs more; the whole header parses", arguments: 0..<12)
    func everyTruncation(index: Int) throws {
        let header = Self.validHeaders[index]
        for prefix in 0..<header.count {
            #expect(try Self.parse(Array(header.prefix(prefix))) == .needMore, "prefix \(prefix) of header \(index)")
        }
        #expect(try Self.parsed(header).length == header.count)
        #expect(try Self.parsed(header + [0x16, 0x03, 0x01, 0x02]).length == header.count)
    }

    @Test("Random bytes never trap, alone or after a valid start; a result's length is within the input")
    func randomInput() {
        var generator = SeededGenerator(seed: 0x5050_524F_5859)
        let starts: [[UInt8]] = [
            [], Array("PROXY ".utf8), Array("PROXY TCP4 ".utf8), Array("PROXY TCP6 ".utf8),
            ProxyProtocolHeader.v2Signature, ProxyProtocolHeader.v2Signature + [0x20],
            ProxyProtocolHeader.v2Signature + [0x21, 0x11],
            ProxyProtocolHeader.v2Signature + [0x21, 0x21, 0x00],
            ProxyProtocolHeader.v2Signature + [0x21, 0x11, 0x00, 0x10],
        ]
        var outcomes = (needMore: 0, parsed: 0, errors: 0)
        for round in 0..<20_000 {
            let start = starts[round % starts.count]
            let count = Int.random(in: 0...(round % 3 == 0 ? 300 : 40), using: &generator)
            var bytes = start + randomBytes(count, using: &generator)
            // Bias towards the v1 alphabet so the text paths get exercised past their first field.
            if round % 2 == 1 {
                let alphabet = Array("0123456789abcdef.: \r\nTCP46UNKOW".utf8)
                for index in start.count..<bytes.count { bytes[index] = alphabet[Int(bytes[index]) % alphabet.count] }
            }
            do {
                switch try Self.parse(bytes, maxLength: 512) {
                case .needMore: outcomes.needMore += 1
                case .parsed(_, let length):
                    outcomes.parsed += 1
                    #expect(length > 0 && length <= bytes.count)
                }
            } catch {
                outcomes.errors += 1
            }
        }
        #expect(outcomes.needMore > 0 && outcomes.parsed > 0 && outcomes.errors > 0)
    }
}
