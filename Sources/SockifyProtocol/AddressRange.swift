// IP addresses and CIDR ranges for `--trusted-proxy`: strict text parsing (RFC 4291 §2.2, RFC 4632 §3.1) and
// formatting as inet_ntop(3) does (RFC 5952 compression), with no dependency on the C library.

/// An IPv4 or IPv6 address, parsed from or formatted to text without the C library.
///
/// Text is parsed strictly, as glibc's `inet_pton(3)` does: IPv4 is exactly four decimal parts 0–255 with no
/// leading zeros (so `010.0.0.1` is not silently octal); IPv6 is up to eight groups of 1–4 hex digits with at most
/// one `::` and an optional dotted IPv4 tail (RFC 4291 §2.2). Zone identifiers (`%eth0`) are not accepted.
///
/// ``description`` matches glibc's `inet_ntop(3)`, so an address read from a PROXY header or a forwarding header
/// prints exactly as the same address read from a socket: lowercase, the longest run of two or more zero groups
/// compressed to `::` (RFC 5952 §4.2), and the dotted tail for IPv4-mapped (`::ffff:192.0.2.1`, RFC 5952 §5) and
/// IPv4-compatible addresses.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// An IPv4 address; `10.0.0.1` is `0x0A00_0001`.
    case v4(UInt32)
    /// An IPv6 address; the first group is the most significant 16 bits.
    case v6(UInt128)

    /// Parses IPv4 or IPv6 text (not bracketed, no port, no zone), or returns `nil`.
    public init?(_ text: String) {
        var text = text
        guard let address = text.withUTF8({ IPAddress.parse(UnsafeRawBufferPointer($0)) }) else { return nil }
        self = address
    }

    /// Parses IPv4 or IPv6 text (not bracketed, no port, no zone), or returns `nil`.
    public init?(_ text: Substring) {
        var text = text
        guard let address = text.withUTF8({ IPAddress.parse(UnsafeRawBufferPointer($0)) }) else { return nil }
        self = address
    }

    /// The address from its network-order bytes: 4 bytes for IPv4, 16 for IPv6; `nil` for any other count.
    public init?(bytes: some Collection<UInt8>) {
        switch bytes.count {
        case 4: self = .v4(bytes.reduce(0) { $0 << 8 | UInt32($1) })
        case 16: self = .v6(bytes.reduce(0) { $0 << 8 | UInt128($1) })
        default: return nil
        }
    }

    /// The address in network byte order: 4 bytes for IPv4, 16 for IPv6.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let value): return (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) }
        case .v6(let value): return (0..<16).map { UInt8(truncatingIfNeeded: value >> (120 - 8 * $0)) }
        }
    }

    /// The IPv4 address an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2) stands for, or `self`.
    ///
    /// A dual-stack listener sees IPv4 clients as mapped addresses; comparisons against IPv4 ranges go through this.
    public var unmapped: IPAddress {
        if case .v6(let value) = self, value >> 32 == 0xFFFF {
            return .v4(UInt32(truncatingIfNeeded: value))
        }
        return self
    }

    /// Dotted-quad IPv4, or IPv6 as glibc's `inet_ntop(3)` writes it (RFC 5952).
    public var description: String {
        switch self {
        case .v4(let value): return Self.dotted(value)
        case .v6(let value): return Self.formatIPv6(value)
        }
    }

    // MARK: - Parsing

    /// Parses `input[range]` (the whole buffer by default) as IPv4 or IPv6 text.
    static func parse(_ input: UnsafeRawBufferPointer, _ range: Range<Int>? = nil) -> IPAddress? {
        let range = range ?? 0..<input.count
        // IPv6 text always has a colon within its first five bytes; IPv4 text never has one.
        var offset = range.lowerBound
        while offset < range.upperBound && offset < range.lowerBound + 5 {
            if input[offset] == UInt8(ascii: ":") { return parseIPv6(input, range).map { .v6($0) } }
            offset += 1
        }
        return parseIPv4(input, range).map { .v4($0) }
    }

    /// Exactly `d.d.d.d`, each part 0–255 in decimal without leading zeros.
    static func parseIPv4(_ input: UnsafeRawBufferPointer, _ range: Range<Int>) -> UInt32? {
        var value: UInt32 = 0
        var part: UInt32 = 0
        var digits = 0
        var parts = 0
        for offset in range {
            let byte = input[offset]
            if byte == UInt8(ascii: ".") {
                guard digits > 0, parts < 3 else { return nil }
                value = value << 8 | part
                parts += 1
                part = 0
                digits = 0
                continue
            }
            let digit = byte &- UInt8(ascii: "0")
            // A leading zero is only allowed as the whole part ("0").
            guard digit < 10, !(digits > 0 && part == 0) else { return nil }
            part = part * 10 + UInt32(digit)
            digits += 1
            guard part <= 255 else { return nil }
        }
        guard digits > 0, parts == 3 else { return nil }
        return value << 8 | part
    }

    /// RFC 4291 §2.2: up to eight groups of 1–4 hex digits, at most one `::` standing for one or more zero groups,
    /// and optionally a dotted IPv4 address as the last 32 bits.
    static func parseIPv6(_ input: UnsafeRawBufferPointer, _ range: Range<Int>) -> UInt128? {
        let end = range.upperBound
        var position = range.lowerBound
        // The groups before `::` (or all of them) go to `head`, the ones after it to `tail`.
        var head: UInt128 = 0
        var tail: UInt128 = 0
        var headCount = 0
        var tailCount = 0
        var hasDoubleColon = false
        let colon = UInt8(ascii: ":")
        if end - position >= 2 && input[position] == colon {
            guard input[position + 1] == colon else { return nil }
            hasDoubleColon = true
            position += 2
        }
        while position < end {
            let groupStart = position
            var group: UInt128 = 0
            while position < end, position - groupStart < 4, let digit = hexValue(input[position]) {
                group = group << 4 | UInt128(digit)
                position += 1
            }
            guard position > groupStart else { return nil }
            if position < end && input[position] == UInt8(ascii: ".") {
                // The dotted IPv4 tail: the rest of the text, counting as two groups.
                guard let ipv4 = parseIPv4(input, groupStart..<end) else { return nil }
                if hasDoubleColon {
                    tail = tail << 32 | UInt128(ipv4)
                    tailCount += 2
                } else {
                    head = head << 32 | UInt128(ipv4)
                    headCount += 2
                }
                position = end
                break
            }
            if hasDoubleColon {
                tail = tail << 16 | group
                tailCount += 1
            } else {
                head = head << 16 | group
                headCount += 1
            }
            guard headCount + tailCount <= 8 else { return nil }
            if position == end { break }
            guard input[position] == colon else { return nil }
            position += 1
            if position < end && input[position] == colon {
                guard !hasDoubleColon else { return nil }
                hasDoubleColon = true
                position += 1
                if position == end { break }
            } else {
                // A single colon must be followed by another group.
                guard position < end else { return nil }
            }
        }
        let count = headCount + tailCount
        if hasDoubleColon {
            // `::` stands for at least one zero group (glibc rejects it among eight explicit groups).
            guard count <= 7 else { return nil }
            return (headCount == 0 ? 0 : head << (16 * (8 - headCount))) | tail
        }
        guard count == 8 else { return nil }
        return head
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    // MARK: - Formatting

    private static func dotted(_ value: UInt32) -> String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }

    /// glibc's `inet_ntop6`: the longest (first on a tie) run of at least two zero groups becomes `::`; the last
    /// 32 bits are dotted when the address is IPv4-compatible (`::a.b.c.d`, six leading zero groups) or IPv4-mapped.
    private static func formatIPv6(_ value: UInt128) -> String {
        let groups = (0..<8).map { UInt16(truncatingIfNeeded: value >> (112 - 16 * $0)) }
        var best = (base: -1, length: 0)
        var current = (base: -1, length: 0)
        for index in 0..<8 {
            if groups[index] == 0 {
                current = current.base == -1 ? (index, 1) : (current.base, current.length + 1)
                if current.length > best.length { best = current }
            } else {
                current = (-1, 0)
            }
        }
        if best.length < 2 { best = (-1, 0) }
        var text = ""
        for index in 0..<8 {
            if best.base != -1 && index >= best.base && index < best.base + best.length {
                if index == best.base { text += ":" }
                continue
            }
            if index != 0 { text += ":" }
            if index == 6 && best.base == 0 && (best.length == 6 || (best.length == 5 && groups[5] == 0xFFFF)) {
                text += dotted(UInt32(truncatingIfNeeded: value))
                return text
            }
            text += String(groups[index], radix: 16)
        }
        if best.base != -1 && best.base + best.length == 8 { text += ":" }
        return text
    }
}

/// A CIDR block (RFC 4632 §3.1, RFC 4291 §2.3), as given to `--trusted-proxy`: `10.0.0.0/8`, `fd00::/8`, or a
/// single address (`192.168.1.7`, `::1`), which is a /32 or /128.
///
/// IPv4 and IPv6 stay apart: `0.0.0.0/0` is every IPv4 address and `::/0` every IPv6 one. The one bridge is
/// IPv4-mapped IPv6 (RFC 4291 §2.5.5.2): an address `::ffff:10.1.2.3`, as a dual-stack listener reports an IPv4
/// peer, matches IPv4 ranges; and a range written inside `::ffff:0:0/96` (such as `::ffff:10.0.0.0/104`) is stored
/// as the IPv4 range it stands for (`10.0.0.0/8`).
public struct AddressRange: Hashable, Sendable, CustomStringConvertible {
    /// The first address of the block: host bits are zero. IPv4 for IPv4 and IPv4-mapped ranges.
    public let network: IPAddress
    /// The number of leading bits that must match: 0–32 for IPv4, 0–128 for IPv6.
    public let prefixLength: Int

    /// Creates a range from its network address and prefix length.
    ///
    /// - Throws: ``AddressRangeError`` if the prefix is longer than the address or host bits are set.
    public init(network: IPAddress, prefixLength: Int) throws(AddressRangeError) {
        var network = network
        var prefixLength = prefixLength
        let bitCount = network.bitCount
        guard prefixLength >= 0 && prefixLength <= bitCount else {
            throw AddressRangeError(text: "\(network)/\(prefixLength)", reason: "prefix length out of range")
        }
        guard network.masked(prefixLength) == network else {
            // nginx masks silently; a trust list is security configuration, so a likely typo is an error instead.
            throw AddressRangeError(
                text: "\(network)/\(prefixLength)",
                reason: "host bits are set (the network is \(network.masked(prefixLength))/\(prefixLength))")
        }
        if prefixLength >= 96, case .v4(let value) = network.unmapped {
            network = .v4(value)
            prefixLength -= 96
        }
        self.network = network
        self.prefixLength = prefixLength
    }

    /// Parses `address` or `address/prefix` (prefix in decimal, no sign, no leading zeros).
    ///
    /// - Throws: ``AddressRangeError`` naming the text and what is wrong with it.
    public init(_ text: String) throws(AddressRangeError) {
        let slash = text.utf8.firstIndex(of: UInt8(ascii: "/"))
        let addressText = slash.map { text[..<$0] } ?? text[...]
        guard let address = IPAddress(addressText) else {
            throw AddressRangeError(text: text, reason: "not an IPv4 or IPv6 address")
        }
        var prefixLength = address.bitCount
        if let slash {
            let digits = text.utf8[text.utf8.index(after: slash)...]
            guard !digits.isEmpty, digits.count <= 3,
                digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                digits.count == 1 || digits.first != UInt8(ascii: "0")
            else {
                throw AddressRangeError(text: text, reason: "the prefix length is not a decimal number")
            }
            prefixLength = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            guard prefixLength <= address.bitCount else {
                throw AddressRangeError(
                    text: text, reason: "the prefix length is longer than \(address.bitCount) bits")
            }
        }
        do throws(AddressRangeError) {
            try self.init(network: address, prefixLength: prefixLength)
        } catch {
            throw AddressRangeError(text: text, reason: error.reason)
        }
    }

    /// Whether `address` is inside the block. IPv4-mapped IPv6 addresses are compared as IPv4.
    public func contains(_ address: IPAddress) -> Bool {
        let address = address.unmapped
        switch (address, network) {
        case (.v4, .v4), (.v6, .v6): return address.masked(prefixLength) == network
        default: return false
        }
    }

    /// Whether the address written as `addressText` (`127.0.0.1`, `::1`, `::ffff:10.1.2.3`) is inside the block;
    /// `false` for text that is not an address (a Unix socket peer, a hostname).
    public func contains(_ addressText: String) -> Bool {
        guard let address = IPAddress(addressText) else { return false }
        return contains(address)
    }

    /// `network/prefixLength`, e.g. `10.0.0.0/8` or `fd00::/8`.
    public var description: String { "\(network)/\(prefixLength)" }
}

/// A `--trusted-proxy` value that is not an address or CIDR block.
public struct AddressRangeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The text as given.
    public var text: String
    /// What is wrong with it, e.g. "not an IPv4 or IPv6 address".
    public var reason: String

    public init(text: String, reason: String) {
        self.text = text
        self.reason = reason
    }

    /// `invalid address range '10.0.0.1/8': host bits are set (…)`.
    public var description: String { "invalid address range '\(text)': \(reason)" }
}

extension IPAddress {
    /// 32 or 128.
    var bitCount: Int {
        switch self {
        case .v4: return 32
        case .v6: return 128
        }
    }

    /// The address with all but the first `prefixLength` bits cleared.
    func masked(_ prefixLength: Int) -> IPAddress {
        switch self {
        case .v4(let value):
            return .v4(prefixLength == 0 ? 0 : value & ~UInt32(0) << (32 - prefixLength))
        case .v6(let value):
            return .v6(prefixLength == 0 ? 0 : value & ~UInt128(0) << (128 - prefixLength))
        }
    }
}
