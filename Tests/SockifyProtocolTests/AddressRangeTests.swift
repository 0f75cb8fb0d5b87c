// IPAddress text parsing and formatting (checked against glibc's inet_pton/inet_ntop) and AddressRange (CIDR).
import Glibc
import SockifyProtocol
import Testing

/// glibc's reading of `text`: 4 or 16 bytes, or nil.
func glibcParse(_ text: String) -> [UInt8]? {
    var v4 = in_addr()
    if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
    var v6 = in6_addr()
    if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
    return nil
}

/// glibc's text for network-order `bytes`.
func glibcFormat(_ bytes: [UInt8]) -> String {
    var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
    let family = bytes.count == 4 ? AF_INET : AF_INET6
    let written = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
    precondition(written != nil, "inet_ntop failed")
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

@Suite("IPAddress")
struct IPAddressTests {
    @Test(
        "Valid text parses and prints in inet_ntop's form (RFC 5952)",
        arguments: [
            ("127.0.0.1", "127.0.0.1"),
            ("0.0.0.0", "0.0.0.0"),
            ("255.255.255.255", "255.255.255.255"),
            ("::1", "::1"),
            ("::", "::"),
            ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),  // first of two equal runs
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),  // a single zero group is not compressed
            ("2001:0db8:0000:0000:0000:ff00:0042:8329", "2001:db8::ff00:42:8329"),
            ("1::", "1::"),
            ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
            ("::ffff:10.1.2.3", "::ffff:10.1.2.3"),
            ("::FFFF:0a01:0203", "::ffff:10.1.2.3"),
            ("::1.2.3.4", "::1.2.3.4"),
            ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"),
            ("fe80::", "fe80::"),
        ])
    func roundTrip(text: String, expected: String) throws {
        let address = try #require(IPAddress(text))
        #expect(address.description == expected)
        #expect(address.bytes == glibcParse(text))
        #expect(IPAddress(bytes: address.bytes) == address)
    }

    @Test(
        "Invalid text is rejected, as inet_pton rejects it",
        arguments: [
            "", "1", "1.2.3", "1.2.3.4.5", "1.2.3.256", "01.2.3.4", "1.2.3.04", "1..3.4", ".1.2.3", "1.2.3.",
            "1.2.3.4 ", " 1.2.3.4", "+1.2.3.4", "0x1.2.3.4", "1.2.3.-4",
            ":", ":::", "1:::2", ":1::2", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::", "g::",
            "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "1:", "1:2:3:4:5:6:7:8:", "::ffff:1.2.3", "::ffff:1.2.3.4:5",
            "1:2:3:4:5:6:7:1.2.3.4", "::01.2.3.4", "fe80::1%eth0", "[::1]", "::1/128",
        ])
    func rejects(text: String) {
        #expect(IPAddress(text) == nil)
        #expect(glibcParse(text) == nil, "the oracle disagrees on \(text)")
    }

    @Test("Random text from the address alphabet: accepted exactly when inet_pton accepts, with inet_ntop's text")
    func differential() {
        var generator = SeededGenerator(seed: 0x1B6)
        let alphabet = Array("0123456789abcdefABCDEF:.".utf8)
        let fragments = ["::", "::ffff:", "1.2.3.4", "255.", "0:", "ff:"]
        var accepted = 0
        for _ in 0..<60_000 {
            var text = ""
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                if Bool.random(using: &generator) {
                    text += fragments.randomElement(using: &generator)!
                } else {
                    for _ in 0..<Int.random(in: 1...4, using: &generator) {
                        text.unicodeScalars.append(Unicode.Scalar(alphabet.randomElement(using: &generator)!))
                    }
                }
            }
            let ours = IPAddress(text)
            let theirs = glibcParse(text)
            #expect(ours?.bytes == theirs, "\(text)")
            if let ours {
                accepted += 1
                #expect(ours.description == glibcFormat(ours.bytes), "\(text)")
            }
        }
        #expect(accepted > 1000)
    }

    @Test("Random addresses print as inet_ntop prints them and parse back")
    func formatting() throws {
        var generator = SeededGenerator(seed: 5952)
        for round in 0..<20_000 {
            // Mostly zero groups, so compression runs of every length and position occur.
            var bytes = [UInt8](repeating: 0, count: round % 5 == 0 ? 4 : 16)
            for index in stride(from: 0, to: bytes.count, by: 2) where Int.random(in: 0..<3, using: &generator) == 0 {
                bytes[index] = UInt8.random(in: 0...255, using: &generator)
                bytes[index + 1] = UInt8.random(in: 0...255, using: &generator)
            }
            if round % 7 == 0 && bytes.count == 16 {
                bytes.replaceSubrange(0..<12, with: [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF])
            }
            let address = try #require(IPAddress(bytes: bytes))
            #expect(address.description == glibcFormat(bytes))
            #expect(IPAddress(address.description) == address)
        }
    }

    @Test("RFC 4291 §2.5.5.2: an IPv4-mapped address unmaps to IPv4; others are unchanged")
    func unmapped() {
        #expect(IPAddress("::ffff:10.1.2.3")?.unmapped == IPAddress("10.1.2.3"))
        #expect(IPAddress("::1.2.3.4")?.unmapped == IPAddress("::1.2.3.4"))
        #expect(IPAddress("10.1.2.3")?.unmapped == IPAddress("10.1.2.3"))
        #expect(IPAddress(bytes: [1, 2, 3]) == nil)
    }
}

@Suite("AddressRange")
struct AddressRangeTests {
    static func range(_ text: String) throws -> AddressRange { try AddressRange(text) }

    @Test("CIDR blocks and single addresses parse")
    func parses() throws {
        #expect(try Self.range("10.0.0.0/8").description == "10.0.0.0/8")
        #expect(try Self.range("192.168.1.7").description == "192.168.1.7/32")
        #expect(try Self.range("::1/128").description == "::1/128")
        #expect(try Self.range("::1").description == "::1/128")
        #expect(try Self.range("fd00::/8").description == "fd00::/8")
        #expect(try Self.range("0.0.0.0/0").prefixLength == 0)
        #expect(try Self.range("::/0").network == .v6(0))
        // Written inside ::ffff:0:0/96: stored as the IPv4 range it stands for.
        #expect(try Self.range("::ffff:10.0.0.0/104").description == "10.0.0.0/8")
        #expect(try Self.range("::ffff:0:0/96").description == "0.0.0.0/0")
    }

    @Test(
        "Invalid ranges are rejected",
        arguments: [
            "", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/08", "10.0.0.0/-1", "10.0.0.0/+8",
            "10.0.0.0/8/8", "10.0.0.0/ 8", "10.0.0/8", "localhost", "10.0.0.1/8", "fd00::1/8", "::1/0",
            "10.0.0.0/1000",
        ])
    func rejects(text: String) {
        #expect(throws: AddressRangeError.self) { try AddressRange(text) }
    }

    @Test("Errors name the text and the reason")
    func errorText() {
        #expect(throws: AddressRangeError(text: "10.0.0.1/8", reason: "host bits are set (the network is 10.0.0.0/8)"))
        {
            try AddressRange("10.0.0.1/8")
        }
        #expect(
            AddressRangeError(text: "x", reason: "not an IPv4 or IPv6 address").description
                == "invalid address range 'x': not an IPv4 or IPv6 address")
    }

    @Test("contains: the block's first and last addresses are in, their neighbours out")
    func boundaries() throws {
        let range = try Self.range("192.168.4.0/22")
        #expect(range.contains("192.168.4.0"))
        #expect(range.contains("192.168.7.255"))
        #expect(!range.contains("192.168.3.255"))
        #expect(!range.contains("192.168.8.0"))
        let v6 = try Self.range("fd00::/8")
        #expect(v6.contains("fd12:3456::1"))
        #expect(v6.contains("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"))
        #expect(!v6.contains("fe00::"))
        #expect(!v6.contains("fc00::1"))
        #expect(try Self.range("::1/128").contains("::1"))
        #expect(try !Self.range("::1/128").contains("::2"))
        #expect(try Self.range("0.0.0.0/0").contains("203.0.113.9"))
        #expect(try Self.range("127.0.0.1").contains(IPAddress.v4(0x7F00_0001)))
    }

    @Test("IPv4-mapped IPv6 addresses match IPv4 ranges; otherwise families never mix")
    func families() throws {
        let v4 = try Self.range("10.0.0.0/8")
        #expect(v4.contains("::ffff:10.1.2.3"))
        #expect(v4.contains("::FFFF:a01:203"))
        #expect(!v4.contains("::ffff:11.1.2.3"))
        #expect(!v4.contains("::10.1.2.3"))  // IPv4-compatible is not mapped
        #expect(try Self.range("::ffff:10.0.0.0/104").contains("10.9.9.9"))
        #expect(try !Self.range("::/0").contains("10.1.2.3"))
        #expect(try !Self.range("0.0.0.0/0").contains("::1"))
        #expect(try Self.range("::/0").contains("2001:db8::1"))
    }

    @Test("Text that is not an address is never contained")
    func notAddresses() throws {
        let all = try Self.range("0.0.0.0/0")
        for text in ["", "unix:", "/run/sockify.sock", "localhost", "[::1]", "1.2.3.4:80", "fe80::1%lo"] {
            #expect(!all.contains(text))
        }
    }

    @Test("contains agrees with a bit-by-bit prefix comparison on random addresses")
    func randomMembership() throws {
        var generator = SeededGenerator(seed: 4632)
        for _ in 0..<5_000 {
            let isV4 = Bool.random(using: &generator)
            let bits = isV4 ? 32 : 128
            let prefix = Int.random(in: 0...bits, using: &generator)
            let network = randomBytes(bits / 8, using: &generator)
            var candidate = network
            // Flip one random bit: inside the block exactly when the bit is past the prefix.
            let bit = Int.random(in: 0..<bits, using: &generator)
            candidate[bit / 8] ^= 0x80 >> UInt8(bit % 8)
            let masked = try #require(IPAddress(bytes: maskBytes(network, prefix)))
            guard masked.unmapped == masked || prefix < 96 else { continue }
            let range = try AddressRange(network: masked, prefixLength: prefix)
            let candidateAddress = try #require(
                IPAddress(
                    bytes: maskBytes(network, prefix).enumerated().map {
                        $0.element ^ (network[$0.offset] ^ candidate[$0.offset])
                    }))
            #expect(range.contains(candidateAddress) == (bit >= prefix), "\(range) \(candidateAddress)")
        }
    }

    func maskBytes(_ bytes: [UInt8], _ prefix: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let keep = min(8, max(0, prefix - index * 8))
            return keep == 0 ? 0 : byte & ~UInt8(0) << UInt8(8 - keep)
        }
    }
}
