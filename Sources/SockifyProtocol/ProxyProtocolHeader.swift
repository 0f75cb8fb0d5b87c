// The HAProxy PROXY protocol header (versions 1 and 2) that a load balancer sends before the client's bytes.
// Spec: haproxy's doc/proxy-protocol.txt (2.9), cited below as "PP §n".

/// A parsed PROXY protocol header: who the load balancer's client was (source) and which address it connected to
/// (destination).
///
/// Parse it with ``parse(_:maxLength:)`` from the first bytes of a connection, before anything else reads them.
/// Only do so on listeners where a PROXY header is expected: PP §7 requires the receiver to accept it only from
/// configured peers, and never to guess whether one is present.
public struct ProxyProtocolHeader: Equatable, Sendable {
    /// The wire format the header arrived in.
    public enum Version: Int, Sendable {
        /// Text: `PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n` (PP §2.1).
        case v1 = 1
        /// Binary: a 16-byte header, an address block and TLVs (PP §2.2).
        case v2 = 2
    }

    /// What the sender says about the connection (PP §2.2, the low nibble of the 13th byte).
    public enum Command: Sendable {
        /// The connection was relayed for a client: the addresses (if any) describe that client.
        case proxy
        /// The sender opened the connection itself (a health check): use the socket's own addresses.
        /// Version 1 has no LOCAL; version 2 sends it for health checks.
        case local
    }

    /// The kind of addresses carried.
    public enum Family: Sendable {
        /// TCP over IPv4: 4-byte addresses.
        case tcp4
        /// TCP over IPv6: 16-byte addresses.
        case tcp6
        /// A stream Unix socket: 108-byte paths (v2 only).
        case unix
        /// No addresses: v1 `UNKNOWN`, v2 `AF_UNSPEC`, or any LOCAL header. Use the socket's own addresses.
        case unknown
    }

    /// One end of the relayed connection.
    public struct Endpoint: Equatable, Sendable {
        /// The address as carried: 4 bytes (IPv4) or 16 (IPv6) in network order, or the 108 bytes of a Unix path
        /// (NUL padded).
        public var addressBytes: [UInt8]
        /// The TCP port; 0 for Unix sockets.
        public var port: UInt16
        /// The address as text: dotted IPv4, IPv6 as `inet_ntop(3)` writes it (RFC 5952), or the Unix path up to
        /// its first NUL (an abstract socket name, which starts with NUL, is written `@name`).
        public var addressText: String

        public init(addressBytes: [UInt8], port: UInt16, addressText: String) {
            self.addressBytes = addressBytes
            self.port = port
            self.addressText = addressText
        }

        /// The IP address, or `nil` for a Unix socket.
        public var ipAddress: IPAddress? { IPAddress(bytes: addressBytes) }
    }

    /// The result of looking at the bytes received so far.
    public enum ParseResult: Equatable, Sendable {
        /// Every byte so far fits a header that is not complete yet: read more and call again with all of them.
        case needMore
        /// A complete header; the connection's own data starts `length` bytes in.
        case parsed(ProxyProtocolHeader, length: Int)
    }

    public var version: Version
    public var command: Command
    public var family: Family
    /// The client's address (the connection's source), or `nil` for ``Family/unknown``.
    public var source: Endpoint?
    /// The address the client connected to, or `nil` for ``Family/unknown``.
    public var destination: Endpoint?

    public init(version: Version, command: Command, family: Family, source: Endpoint?, destination: Endpoint?) {
        self.version = version
        self.command = command
        self.family = family
        self.source = source
        self.destination = destination
    }

    /// The longest version 1 header, CR LF included (PP §2.1).
    public static let v1MaxLength = 107
    /// The default cap on a version 2 header (16 fixed bytes, addresses and TLVs). The format allows 16 + 65,535;
    /// balancers send well under 1 KiB (AWS, GCP and haproxy's own TLVs included).
    public static let defaultMaxLength = 4096
    /// The 12 bytes that start every version 2 header (PP §2.2): `\r\n\r\n\0\r\nQUIT\n`.
    public static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    /// Parses a version 1 or version 2 header at the start of `bytes`.
    ///
    /// Incremental: call it with everything received so far. It returns ``ParseResult/needMore`` while the bytes
    /// are a proper prefix of some valid header, and throws as soon as they cannot be (PP §2: a receiver must not
    /// wait for more bytes once the header is known to be invalid, and must drop the connection).
    ///
    /// Strict, as PP §2.1 and §2.2 ask:
    /// * v1: `PROXY` SP (`TCP4` | `TCP6`) SP source SP destination SP source-port SP destination-port CR LF, with
    ///   single spaces, addresses of the stated family, and ports 0–65535 in decimal without sign or leading zeros;
    ///   or `PROXY UNKNOWN` followed by anything up to CR LF. At most 107 bytes.
    /// * v2: the signature, version 2, command LOCAL or PROXY; for PROXY the family/transport byte must be
    ///   `AF_UNSPEC` (0x00) or TCP over IPv4 (0x11), TCP over IPv6 (0x21) or a stream Unix socket (0x31), and the
    ///   length must cover its address block. TLVs after the addresses are skipped, but must each fit in the header.
    ///   A LOCAL header's block is skipped unread (PP §2.2: "the receiver must … discard the protocol block
    ///   including the family").
    ///
    /// - Parameters:
    ///   - bytes: What the connection has received so far.
    ///   - maxLength: The largest version 2 header accepted (16 + length); larger ones throw before their bytes
    ///     arrive. Version 1 is always capped at ``v1MaxLength``.
    /// - Throws: ``ProxyProtocolError`` with the reason the bytes are not an acceptable header.
    public static func parse(
        _ bytes: RawSpan,
        maxLength: Int = defaultMaxLength
    ) throws(ProxyProtocolError) -> ParseResult {
        try bytes.withUnsafeBytes { (input) throws(ProxyProtocolError) -> ParseResult in
            guard !input.isEmpty else { return .needMore }
            switch input[0] {
            case UInt8(ascii: "P"): return try parseV1(input)
            case v2Signature[0]: return try parseV2(input, maxLength: maxLength)
            default: throw ProxyProtocolError("not a PROXY protocol header")
            }
        }
    }

    // MARK: - Version 1

    private static let space = UInt8(ascii: " ")
    private static let carriageReturn = UInt8(ascii: "\r")
    private static let lineFeed = UInt8(ascii: "\n")

    private static func parseV1(_ input: UnsafeRawBufferPointer) throws(ProxyProtocolError) -> ParseResult {
        let prefix: StaticString = "PROXY "
        let prefixLength = prefix.utf8CodeUnitCount
        let matched = prefix.withUTF8Buffer { expected in
            input.prefix(expected.count).elementsEqual(expected.prefix(input.count))
        }
        guard matched else { throw ProxyProtocolError("not a PROXY protocol header") }
        guard input.count > prefixLength else { return .needMore }
        // The line ends at the first CR LF, which must arrive within 107 bytes (PP §2.1). A CR anywhere else is
        // an error as soon as the byte after it is seen.
        let limit = min(input.count, v1MaxLength)
        var lineEnd: Int? = nil
        for offset in prefixLength..<limit {
            let byte = input[offset]
            if byte == lineFeed { throw ProxyProtocolError("v1 header line ends in a bare LF") }
            guard byte == carriageReturn else { continue }
            guard offset + 1 < input.count else { break }
            guard input[offset + 1] == lineFeed else { throw ProxyProtocolError("v1 header has a CR without LF") }
            guard offset + 1 < v1MaxLength else { break }
            lineEnd = offset
            break
        }
        guard let lineEnd else {
            guard input.count < v1MaxLength else {
                throw ProxyProtocolError("v1 header has no CR LF within \(v1MaxLength) bytes")
            }
            return .needMore
        }
        let header = try parseV1Line(input, prefixLength..<lineEnd)
        return .parsed(header, length: lineEnd + 2)
    }

    /// Parses what follows `PROXY ` up to (not including) the CR LF.
    private static func parseV1Line(
        _ input: UnsafeRawBufferPointer,
        _ line: Range<Int>
    ) throws(ProxyProtocolError) -> ProxyProtocolHeader {
        var fields = V1Fields(input: input, position: line.lowerBound, end: line.upperBound)
        let proto = try fields.next("protocol")
        if equals(input, proto, "UNKNOWN") {
            // PP §2.1: after UNKNOWN "the receiver must ignore anything presented before the CRLF is found".
            return ProxyProtocolHeader(version: .v1, command: .proxy, family: .unknown, source: nil, destination: nil)
        }
        let family: Family
        if equals(input, proto, "TCP4") {
            family = .tcp4
        } else if equals(input, proto, "TCP6") {
            family = .tcp6
        } else {
            throw ProxyProtocolError("v1 protocol is not TCP4, TCP6 or UNKNOWN")
        }
        let sourceText = try fields.next("source address")
        let destinationText = try fields.next("destination address")
        let sourcePortText = try fields.next("source port")
        let destinationPortText = try fields.next("destination port")
        guard fields.position == line.upperBound else { throw ProxyProtocolError("v1 header has extra fields") }
        let source = try v1Address(input, sourceText, family: family, "source")
        let destination = try v1Address(input, destinationText, family: family, "destination")
        let sourcePort = try v1Port(input, sourcePortText, "source")
        let destinationPort = try v1Port(input, destinationPortText, "destination")
        return ProxyProtocolHeader(
            version: .v1,
            command: .proxy,
            family: family,
            source: Endpoint(addressBytes: source.bytes, port: sourcePort, addressText: source.description),
            destination: Endpoint(
                addressBytes: destination.bytes, port: destinationPort, addressText: destination.description)
        )
    }

    /// Splits a v1 line at single spaces: an empty field (two spaces, or a space at either end) is an error.
    private struct V1Fields {
        let input: UnsafeRawBufferPointer
        var position: Int
        let end: Int
        var isFirst = true

        init(input: UnsafeRawBufferPointer, position: Int, end: Int) {
            self.input = input
            self.position = position
            self.end = end
        }

        /// The next field; `position` is left on the space after it (or at the end of the line).
        mutating func next(_ name: String) throws(ProxyProtocolError) -> Range<Int> {
            if !isFirst {
                guard position < end else { throw ProxyProtocolError("v1 header has no \(name)") }
                position += 1  // the separating space
            }
            isFirst = false
            let start = position
            while position < end && input[position] != ProxyProtocolHeader.space { position += 1 }
            guard position > start else {
                throw ProxyProtocolError(start == end ? "v1 header has no \(name)" : "v1 header has an empty \(name)")
            }
            return start..<position
        }
    }

    private static func equals(_ input: UnsafeRawBufferPointer, _ range: Range<Int>, _ word: StaticString) -> Bool {
        word.withUTF8Buffer { $0.elementsEqual(input[range]) }
    }

    private static func v1Address(
        _ input: UnsafeRawBufferPointer,
        _ range: Range<Int>,
        family: Family,
        _ name: String
    ) throws(ProxyProtocolError) -> IPAddress {
        let address: IPAddress? =
            family == .tcp4
            ? IPAddress.parseIPv4(input, range).map { .v4($0) }
            : IPAddress.parseIPv6(input, range).map { .v6($0) }
        guard let address else {
            throw ProxyProtocolError("v1 \(name) address is not a valid \(family == .tcp4 ? "IPv4" : "IPv6") address")
        }
        return address
    }

    /// 0–65535 in decimal: 1–5 digits, no sign, no leading zero unless the port is `0`.
    private static func v1Port(
        _ input: UnsafeRawBufferPointer,
        _ range: Range<Int>,
        _ name: String
    ) throws(ProxyProtocolError) -> UInt16 {
        let invalid = ProxyProtocolError("v1 \(name) port is not a number from 0 to 65535")
        guard range.count <= 5, range.count == 1 || input[range.lowerBound] != UInt8(ascii: "0") else {
            throw invalid
        }
        var value = 0
        for offset in range {
            let digit = input[offset] &- UInt8(ascii: "0")
            guard digit < 10 else { throw invalid }
            value = value * 10 + Int(digit)
        }
        guard value <= 65535 else { throw invalid }
        return UInt16(value)
    }

    // MARK: - Version 2

    /// The fixed part: signature, version/command, family/transport, length.
    private static let v2FixedLength = 16

    private static func parseV2(
        _ input: UnsafeRawBufferPointer,
        maxLength: Int
    ) throws(ProxyProtocolError) -> ParseResult {
        let signatureLength = v2Signature.count
        guard input.prefix(signatureLength).elementsEqual(v2Signature.prefix(input.count)) else {
            throw ProxyProtocolError("not a PROXY protocol header")
        }
        // Judge each fixed byte as soon as it arrives.
        var command = Command.local
        if input.count > 12 {
            let versionCommand = input[12]
            guard versionCommand >> 4 == 2 else {
                throw ProxyProtocolError("v2 header has unsupported version \(versionCommand >> 4)")
            }
            switch versionCommand & 0x0F {
            case 0: command = .local
            case 1: command = .proxy
            default: throw ProxyProtocolError("v2 header has unknown command \(versionCommand & 0x0F)")
            }
        }
        var family = Family.unknown
        var addressLength = 0
        if input.count > 13 && command == .proxy {
            // PP §2.2 family (high nibble) and transport (low nibble). Datagram transports cannot reach a TCP
            // listener; UNSPEC transport with a real family is not something any sender produces.
            switch input[13] {
            case 0x00: family = .unknown
            case 0x11: (family, addressLength) = (.tcp4, 12)
            case 0x21: (family, addressLength) = (.tcp6, 36)
            case 0x31: (family, addressLength) = (.unix, 216)
            default:
                throw ProxyProtocolError(
                    "v2 header has unsupported address family and transport 0x\(String(input[13], radix: 16))")
            }
        }
        guard input.count >= v2FixedLength else { return .needMore }
        let blockLength = Int(input[14]) << 8 | Int(input[15])
        let total = v2FixedLength + blockLength
        guard total <= maxLength else {
            throw ProxyProtocolError("v2 header of \(total) bytes exceeds the limit of \(maxLength)")
        }
        guard blockLength >= addressLength else {
            throw ProxyProtocolError(
                "v2 header length \(blockLength) is too short for its \(addressLength) address bytes")
        }
        guard input.count >= total else { return .needMore }
        guard command == .proxy && family != .unknown else {
            return .parsed(
                ProxyProtocolHeader(version: .v2, command: command, family: .unknown, source: nil, destination: nil),
                length: total)
        }
        // TLVs (PP §2.2.7): type (1), length (2, big-endian), value. Skipped, but each must fit.
        var tlv = v2FixedLength + addressLength
        while tlv < total {
            guard total - tlv >= 3 else { throw ProxyProtocolError("v2 header has a truncated TLV") }
            let valueLength = Int(input[tlv + 1]) << 8 | Int(input[tlv + 2])
            guard total - tlv - 3 >= valueLength else { throw ProxyProtocolError("v2 header has a TLV overrunning it") }
            tlv += 3 + valueLength
        }
        let block = v2FixedLength
        let source: Endpoint
        let destination: Endpoint
        switch family {
        case .tcp4, .tcp6:
            let size = family == .tcp4 ? 4 : 16
            source = ipEndpoint(input, address: block, size: size, port: block + 2 * size)
            destination = ipEndpoint(input, address: block + size, size: size, port: block + 2 * size + 2)
        default:
            source = unixEndpoint(input, at: block)
            destination = unixEndpoint(input, at: block + 108)
        }
        let header = ProxyProtocolHeader(
            version: .v2, command: .proxy, family: family, source: source, destination: destination)
        return .parsed(header, length: total)
    }

    private static func ipEndpoint(_ input: UnsafeRawBufferPointer, address: Int, size: Int, port: Int) -> Endpoint {
        let bytes = Array(input[address..<(address + size)])
        let text = IPAddress(bytes: bytes)!.description
        return Endpoint(
            addressBytes: bytes, port: UInt16(input[port]) << 8 | UInt16(input[port + 1]), addressText: text)
    }

    /// A 108-byte `sun_path`: the path runs to the first NUL; an abstract name (leading NUL) runs to the last
    /// non-NUL byte and is written with `@`, as `ss(8)` does.
    private static func unixEndpoint(_ input: UnsafeRawBufferPointer, at start: Int) -> Endpoint {
        let bytes = Array(input[start..<(start + 108)])
        let text: String
        if bytes[0] == 0 {
            let end = (bytes.lastIndex(where: { $0 != 0 }) ?? 0) + 1
            text = end > 1 ? "@" + String(decoding: bytes[1..<end], as: UTF8.self) : ""
        } else {
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            text = String(decoding: bytes[..<end], as: UTF8.self)
        }
        return Endpoint(addressBytes: bytes, port: 0, addressText: text)
    }
}

/// Bytes at the start of a connection that are not an acceptable PROXY protocol header. PP §2 says to drop the
/// connection: send nothing back.
public struct ProxyProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Why, for the log line: e.g. "v1 source port is not a number from 0 to 65535".
    public var reason: String

    public init(_ reason: String) { self.reason = reason }

    public var description: String { reason }
}
