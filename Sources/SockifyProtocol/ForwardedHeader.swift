// The client address behind trusted reverse proxies: `Forwarded` (RFC 7239) and `X-Forwarded-For`, walked from the
// right as nginx's realip module does with `real_ip_recursive on`.

/// Finds the address of the client behind a chain of trusted reverse proxies.
///
/// Each proxy appends the address it received the request from to the right of the list, so the list reads
/// `client, proxy1, proxy2` and the socket peer is the last proxy. Only the entries added by proxies we trust can
/// be believed: anything to their left may have been written by the client. So the walk starts at the socket
/// peer and moves left while the current address is a trusted proxy (nginx `real_ip_recursive on`):
///
/// * If the socket peer is not trusted, the headers are ignored entirely: anyone can send them.
/// * The first untrusted address from the right is the client.
/// * If every address is trusted, the leftmost one is the client.
/// * An entry that is not an address (`unknown`, an obfuscated `_hidden` identifier, a hostname, a malformed
///   element) stops the walk: the client is the last trusted hop reached, since nothing further left can be
///   attributed to anyone.
///
/// `Forwarded` is used when the request has it (it is the standard, and a proxy that writes it may leave a stale
/// `X-Forwarded-For` from upstream untouched); `X-Forwarded-For` only when it has no `Forwarded` field.
public enum ForwardedHeader {
    /// One entry of a forwarding list.
    enum Hop: Equatable {
        /// An IP address.
        case address(IPAddress)
        /// Anything else: `unknown`, `_obfuscated`, a missing `for=`, or text that does not parse.
        case opaque
    }

    /// The client address for a request received from `peer`.
    ///
    /// - Parameters:
    ///   - peer: The socket peer's address as text (`127.0.0.1`, `::1`, `::ffff:10.1.2.3`).
    ///   - forwarded: Every `Forwarded` field value of the request, in order (empty if it has none).
    ///   - xForwardedFor: Every `X-Forwarded-For` field value, in order.
    ///   - trustedProxies: The `--trusted-proxy` ranges.
    /// - Returns: `peer` itself when no header is believed, otherwise an address taken from a header, as
    ///   ``IPAddress/description`` writes it.
    public static func clientAddress(
        peer: String,
        forwarded: [String],
        xForwardedFor: [String],
        trustedProxies: [AddressRange]
    ) -> String {
        func isTrusted(_ address: IPAddress) -> Bool { trustedProxies.contains { $0.contains(address) } }
        guard let peerAddress = IPAddress(peer), isTrusted(peerAddress) else { return peer }
        let usesForwarded = forwarded.contains { value in value.utf8.contains { !ASCII.isBlank($0) } }
        let hops = usesForwarded ? forwardedHops(forwarded) : xForwardedForHops(xForwardedFor)
        var client = peer
        for hop in hops.reversed() {
            guard case .address(let address) = hop else { return client }
            client = address.description
            guard isTrusted(address) else { return client }
        }
        return client
    }

    /// The client address for `head` received from `peer`: the other `clientAddress` given every `Forwarded` and
    /// `X-Forwarded-For` field of the head.
    public static func clientAddress(peer: String, head: HTTPRequestHead, trustedProxies: [AddressRange]) -> String {
        guard !trustedProxies.isEmpty else { return peer }
        var forwarded: [String] = []
        var xForwardedFor: [String] = []
        for (name, value) in head.headers {
            var name = name
            name.withUTF8 { name in
                if ASCII.equalsIgnoringCase(name, "forwarded") {
                    forwarded.append(value)
                } else if ASCII.equalsIgnoringCase(name, "x-forwarded-for") {
                    xForwardedFor.append(value)
                }
            }
        }
        return clientAddress(
            peer: peer, forwarded: forwarded, xForwardedFor: xForwardedFor, trustedProxies: trustedProxies)
    }

    // MARK: - X-Forwarded-For

    /// The entries of `X-Forwarded-For` field values: comma-separated, optional whitespace around each, empty
    /// entries skipped (RFC 9110 §5.6.1). An entry is an IPv4 or IPv6 address, optionally with a port as some
    /// proxies write it (`192.0.2.1:4711`, `[2001:db8::1]:4711`, `[2001:db8::1]`).
    static func xForwardedForHops(_ values: [String]) -> [Hop] {
        var hops: [Hop] = []
        for value in values {
            for item in value.utf8.split(separator: ASCII.comma, omittingEmptySubsequences: false) {
                let item = Array(item)
                let range = trimmed(item, 0..<item.count)
                guard !range.isEmpty else { continue }
                hops.append(node(item, range, requireBrackets: false))
            }
        }
        return hops
    }

    // MARK: - Forwarded (RFC 7239)

    /// The `for=` node of each element of `Forwarded` field values (RFC 7239 §4), left to right.
    ///
    /// Elements are split at commas outside quoted strings; one that does not parse, or has no `for=` or two,
    /// becomes ``Hop/opaque`` without affecting its neighbours. Whitespace is allowed around `,` (list syntax)
    /// and, leniently, around `;`; none around `=`. Empty list elements are skipped (RFC 9110 §5.6.1).
    static func forwardedHops(_ values: [String]) -> [Hop] {
        var hops: [Hop] = []
        for value in values {
            let bytes = Array(value.utf8)
            for element in splitOutsideQuotes(bytes, 0..<bytes.count, at: ASCII.comma) {
                let element = trimmed(bytes, element)
                guard !element.isEmpty else { continue }
                hops.append(forwardedElement(bytes, element))
            }
        }
        return hops
    }

    /// The `for=` node of one `forwarded-element`: `[pair] *(";" [pair])`, `pair = token "=" (token / quoted-string)`.
    private static func forwardedElement(_ bytes: [UInt8], _ element: Range<Int>) -> Hop {
        var forNode: Hop? = nil
        for pair in splitOutsideQuotes(bytes, element, at: UInt8(ascii: ";")) {
            let pair = trimmed(bytes, pair)
            guard !pair.isEmpty else { continue }
            var offset = pair.lowerBound
            while offset < pair.upperBound && isTokenByte(bytes[offset]) { offset += 1 }
            guard offset > pair.lowerBound, offset < pair.upperBound, bytes[offset] == UInt8(ascii: "=") else {
                return .opaque
            }
            let name = pair.lowerBound..<offset
            guard let value = pairValue(bytes, (offset + 1)..<pair.upperBound) else { return .opaque }
            let isFor =
                name.count == 3
                && bytes[name].map(ASCII.lowercased).elementsEqual("for".utf8)
            guard isFor else { continue }
            // RFC 7239 §4: a parameter must not occur more than once per element.
            guard forNode == nil else { return .opaque }
            forNode = node(value, 0..<value.count, requireBrackets: true)
        }
        return forNode ?? .opaque
    }

    /// A token, or the unescaped content of a quoted-string (RFC 9110 §5.6.4), or `nil`.
    private static func pairValue(_ bytes: [UInt8], _ range: Range<Int>) -> [UInt8]? {
        guard !range.isEmpty else { return nil }
        if bytes[range.lowerBound] != UInt8(ascii: "\"") {
            return bytes[range].allSatisfy(isTokenByte) ? Array(bytes[range]) : nil
        }
        var value: [UInt8] = []
        var offset = range.lowerBound + 1
        while offset < range.upperBound {
            var byte = bytes[offset]
            if byte == UInt8(ascii: "\"") {
                // The closing quote must end the value.
                return offset + 1 == range.upperBound ? value : nil
            }
            if byte == UInt8(ascii: "\\") {
                offset += 1
                guard offset < range.upperBound else { return nil }
                byte = bytes[offset]
            }
            // qdtext / quoted-pair: HTAB, SP, visible ASCII, obs-text; no other controls.
            guard byte == ASCII.tab || byte >= 0x20 && byte != 0x7F else { return nil }
            value.append(byte)
            offset += 1
        }
        return nil  // unterminated
    }

    /// Splits `bytes[range]` at `separator` bytes that are outside quoted strings. An unterminated quoted string
    /// runs to the end of the range (and then fails to parse as a value).
    private static func splitOutsideQuotes(_ bytes: [UInt8], _ range: Range<Int>, at separator: UInt8) -> [Range<Int>] {
        var parts: [Range<Int>] = []
        var start = range.lowerBound
        var inQuotes = false
        var offset = range.lowerBound
        while offset < range.upperBound {
            let byte = bytes[offset]
            if inQuotes {
                if byte == UInt8(ascii: "\\") {
                    offset += 1
                } else if byte == UInt8(ascii: "\"") {
                    inQuotes = false
                }
            } else if byte == UInt8(ascii: "\"") {
                inQuotes = true
            } else if byte == separator {
                parts.append(start..<offset)
                start = offset + 1
            }
            offset += 1
        }
        parts.append(start..<range.upperBound)
        return parts
    }

    // MARK: - Nodes

    /// A node (RFC 7239 §6): `IPv4 [":" port]`, `"[" IPv6 "]" [":" port]`, `unknown` or `_obfuscated`; in
    /// `X-Forwarded-For` also a bare IPv6 address (`requireBrackets: false`).
    private static func node(_ bytes: [UInt8], _ range: Range<Int>, requireBrackets: Bool) -> Hop {
        guard !range.isEmpty else { return .opaque }
        return bytes.withUnsafeBytes { input -> Hop in
            var host = range
            if input[range.lowerBound] == UInt8(ascii: "[") {
                guard let close = range.firstIndex(where: { input[$0] == UInt8(ascii: "]") }) else { return .opaque }
                guard isPort(input, (close + 1)..<range.upperBound) else { return .opaque }
                guard let address = IPAddress.parseIPv6(input, (range.lowerBound + 1)..<close) else { return .opaque }
                return .address(.v6(address))
            }
            let colons = range.filter { input[$0] == UInt8(ascii: ":") }
            if colons.count == 1 {
                // IPv4 with a port; a bare IPv6 address has at least two colons.
                guard isPort(input, colons[0]..<range.upperBound) else { return .opaque }
                host = range.lowerBound..<colons[0]
                guard let address = IPAddress.parseIPv4(input, host) else { return .opaque }
                return .address(.v4(address))
            }
            if colons.isEmpty {
                guard let address = IPAddress.parseIPv4(input, host) else { return .opaque }
                return .address(.v4(address))
            }
            guard !requireBrackets, let address = IPAddress.parseIPv6(input, host) else { return .opaque }
            return .address(.v6(address))
        }
    }

    /// Empty, or `:` then 1–5 digits or an obfuscated port (`_` then ALPHA / DIGIT / `.` / `_` / `-`).
    private static func isPort(_ input: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        guard !range.isEmpty else { return true }
        guard input[range.lowerBound] == UInt8(ascii: ":"), range.count >= 2 else { return false }
        let port = (range.lowerBound + 1)..<range.upperBound
        if input[port.lowerBound] == UInt8(ascii: "_") {
            return port.dropFirst().allSatisfy { isObfuscatedByte(input[$0]) }
        }
        return port.count <= 5 && port.allSatisfy { input[$0] &- UInt8(ascii: "0") < 10 }
    }

    private static func isObfuscatedByte(_ byte: UInt8) -> Bool {
        byte &- UInt8(ascii: "0") < 10 || ASCII.lowercased(byte) &- UInt8(ascii: "a") < 26
            || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }

    /// RFC 9110 §5.6.2 `tchar`.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        if byte &- UInt8(ascii: "0") < 10 || ASCII.lowercased(byte) &- UInt8(ascii: "a") < 26 { return true }
        switch byte {
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    private static func trimmed(_ bytes: [UInt8], _ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper, ASCII.isBlank(bytes[lower]) { lower += 1 }
        while upper > lower, ASCII.isBlank(bytes[upper - 1]) { upper -= 1 }
        return lower..<upper
    }
}
