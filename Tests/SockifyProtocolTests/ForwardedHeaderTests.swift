import Testing

// ForwardedHeader.clientAddress: the nginx real_ip_recursive walk over X-Forwarded-For and RFC 7239 Forwarded.
@testable import SockifyProtocol

@Suite("ForwardedHeader")
struct ForwardedHeaderTests {
    static let trusted = [try! AddressRange("10.0.0.0/8"), try! AddressRange("::1"), try! AddressRange("fd00::/8")]

    static func client(
        peer: String = "10.0.0.2",
        forwarded: [String] = [],
        xff: [String] = [],
        trusted: [AddressRange] = trusted
    ) -> String {
        ForwardedHeader.clientAddress(peer: peer, forwarded: forwarded, xForwardedFor: xff, trustedProxies: trusted)
    }

    // MARK: - The walk

    @Test("An untrusted peer's headers are ignored entirely (anyone can send them)")
    func untrustedPeer() {
        #expect(Self.client(peer: "203.0.113.9", xff: ["198.51.100.1"]) == "203.0.113.9")
        #expect(Self.client(peer: "203.0.113.9", forwarded: ["for=198.51.100.1"]) == "203.0.113.9")
        #expect(Self.client(peer: "10.0.0.2", xff: ["198.51.100.1"], trusted: []) == "10.0.0.2")
        #expect(Self.client(peer: "/run/sockify.sock", xff: ["198.51.100.1"]) == "/run/sockify.sock")
    }

    @Test("A trusted peer: the first untrusted address from the right is the client")
    func walksFromTheRight() {
        #expect(Self.client(xff: ["198.51.100.1"]) == "198.51.100.1")
        // The client claims 1.1.1.1, then 198.51.100.1 connected to our proxy 10.0.0.3, which connected to us.
        #expect(Self.client(xff: ["1.1.1.1, 198.51.100.1, 10.0.0.3"]) == "198.51.100.1")
        #expect(Self.client(xff: ["1.1.1.1,198.51.100.1,10.0.0.3"]) == "198.51.100.1")
        #expect(Self.client(peer: "::1", xff: ["2001:db8::1, fd00::5"]) == "2001:db8::1")
    }

    @Test("When every address is trusted, the leftmost is the client")
    func allTrusted() {
        #expect(Self.client(xff: ["10.1.1.1, 10.0.0.3"]) == "10.1.1.1")
    }

    @Test("A dual-stack peer (::ffff:10.0.0.2) is trusted by an IPv4 range")
    func mappedPeer() {
        #expect(Self.client(peer: "::ffff:10.0.0.2", xff: ["198.51.100.1"]) == "198.51.100.1")
        #expect(Self.client(peer: "::ffff:10.0.0.2") == "::ffff:10.0.0.2")
    }

    @Test("No header, or an empty one: the peer")
    func noHeaders() {
        #expect(Self.client() == "10.0.0.2")
        #expect(Self.client(xff: ["", " , ,"]) == "10.0.0.2")
    }

    @Test("An entry that is not an address stops the walk at the last trusted hop")
    func stops() {
        #expect(Self.client(xff: ["198.51.100.1, unknown"]) == "10.0.0.2")
        #expect(Self.client(xff: ["198.51.100.1, garbage, 10.0.0.3"]) == "10.0.0.3")
        #expect(Self.client(xff: ["198.51.100.1, example.com"]) == "10.0.0.2")
        #expect(Self.client(forwarded: ["for=198.51.100.1, for=_hidden"]) == "10.0.0.2")
        #expect(Self.client(forwarded: ["for=198.51.100.1, for=unknown, for=10.0.0.3"]) == "10.0.0.3")
        #expect(Self.client(forwarded: ["for=198.51.100.1, for=UNKNOWN"]) == "10.0.0.2")
    }

    @Test("Header addresses come back in canonical form")
    func canonical() {
        #expect(Self.client(xff: ["2001:DB8:0:0:0:0:0:1"]) == "2001:db8::1")
    }

    @Test("Multiple field lines are one list, in order (RFC 9110 §5.3)")
    func multipleLines() {
        #expect(Self.client(xff: ["1.1.1.1", "198.51.100.1", "10.0.0.3"]) == "198.51.100.1")
        #expect(Self.client(forwarded: ["for=198.51.100.1", "for=10.0.0.3"]) == "198.51.100.1")
    }

    @Test("Forwarded wins over X-Forwarded-For when both are present")
    func prefersForwarded() {
        #expect(Self.client(forwarded: ["for=198.51.100.7"], xff: ["198.51.100.1"]) == "198.51.100.7")
        // A blank Forwarded is not a Forwarded.
        #expect(Self.client(forwarded: ["  "], xff: ["198.51.100.1"]) == "198.51.100.1")
    }

    @Test("X-Forwarded-For entries may carry ports and brackets")
    func xffPorts() {
        #expect(Self.client(xff: ["198.51.100.1:4711"]) == "198.51.100.1")
        #expect(Self.client(xff: ["[2001:db8::1]:4711"]) == "2001:db8::1")
        #expect(Self.client(xff: ["[2001:db8::1]"]) == "2001:db8::1")
        #expect(Self.client(xff: ["198.51.100.1:123456"]) == "10.0.0.2")
        #expect(Self.client(xff: ["[2001:db8::1]x"]) == "10.0.0.2")
        #expect(Self.client(xff: ["[1.2.3.4]"]) == "10.0.0.2")
    }

    // MARK: - RFC 7239 syntax

    static func hops(_ value: String) -> [ForwardedHeader.Hop] { ForwardedHeader.forwardedHops([value]) }
    static func address(_ text: String) -> ForwardedHeader.Hop { .address(IPAddress(text)!) }

    @Test("RFC 7239 §4 and §7.4 examples")
    func rfcExamples() {
        #expect(Self.hops("for=\"_gazonk\"") == [.opaque])
        #expect(Self.hops("For=\"[2001:db8:cafe::17]:4711\"") == [Self.address("2001:db8:cafe::17")])
        #expect(Self.hops("for=192.0.2.60;proto=http;by=203.0.113.43") == [Self.address("192.0.2.60")])
        #expect(
            Self.hops("for=192.0.2.43, for=198.51.100.17") == [
                Self.address("192.0.2.43"), Self.address("198.51.100.17"),
            ])
        #expect(
            Self.hops("for=192.0.2.43,for=\"[2001:db8:cafe::17]\",for=unknown") == [
                Self.address("192.0.2.43"), Self.address("2001:db8:cafe::17"), .opaque,
            ])
        #expect(Self.hops("for=\"192.0.2.43:47011\"") == [Self.address("192.0.2.43")])
        #expect(Self.hops("for=\"192.0.2.43:_port\"") == [Self.address("192.0.2.43")])
        #expect(Self.hops("for=_hidden, for=\"[::1]:_p-1\"") == [.opaque, Self.address("::1")])
    }

    @Test("Quoted strings may hide commas and semicolons, and use backslash escapes")
    func quoting() {
        #expect(
            Self.hops("by=\"a,b;c\";for=192.0.2.1, for=192.0.2.2") == [
                Self.address("192.0.2.1"), Self.address("192.0.2.2"),
            ])
        #expect(Self.hops("for=\"\\[::1\\]\"") == [Self.address("::1")])
        #expect(Self.hops("for=192.0.2.1 ; proto=https") == [Self.address("192.0.2.1")])
    }

    @Test(
        "Malformed elements become opaque without disturbing their neighbours",
        arguments: [
            "for=[::1]",  // brackets need quoting
            "for=::1",
            "for=\"::1\"",  // IPv6 must be bracketed
            "for=192.0.2.1:80",  // ':' needs quoting
            "for = 192.0.2.1",
            "for=",
            "=192.0.2.1",
            "for=192.0.2.1;for=192.0.2.2",  // duplicate parameter
            "proto=https",  // no for=
            "for=\"192.0.2.1",  // unterminated quote
            "for=\"192.0.2.1\"x",
            "for=\"192.0.2.1:\"",
            "for=\"192.0.2.1:123456\"",
            "for=\"[::1\"",
            "for=\"[::1]:\"",
            "for=\"[1.2.3.4]\"",
            "for=\"\u{7F}\"",
            "for=192.0.2.256",
            "for=example.com",
        ])
    func malformedElement(element: String) {
        let hops = Self.hops("for=198.51.100.1, \(element), for=198.51.100.2")
        if element.hasPrefix("for=\"192.0.2.1\"x") || element == "for=\"192.0.2.1" {
            // An unterminated quote swallows the rest of the field value.
            #expect(hops.first == Self.address("198.51.100.1"))
            #expect(
                hops.count <= 3 && hops.dropFirst().allSatisfy { $0 == .opaque || $0 == Self.address("198.51.100.2") })
        } else {
            #expect(hops == [Self.address("198.51.100.1"), .opaque, Self.address("198.51.100.2")])
        }
    }

    @Test("The HTTPRequestHead overload collects every Forwarded and X-Forwarded-For line, names in any case")
    func fromHead() {
        let head = HTTPRequestHead(
            method: "GET", target: "/",
            headers: [
                ("Host", "example.com"), ("x-forwarded-for", "1.1.1.1"), ("X-FORWARDED-FOR", "198.51.100.1"),
            ])
        #expect(
            ForwardedHeader.clientAddress(peer: "10.0.0.2", head: head, trustedProxies: Self.trusted) == "198.51.100.1")
        #expect(ForwardedHeader.clientAddress(peer: "10.0.0.2", head: head, trustedProxies: []) == "10.0.0.2")
        let both = HTTPRequestHead(
            method: "GET", target: "/",
            headers: [("X-Forwarded-For", "198.51.100.1"), ("forwarded", "for=\"[2001:db8::9]\"")])
        #expect(ForwardedHeader.clientAddress(peer: "::1", head: both, trustedProxies: Self.trusted) == "2001:db8::9")
    }

    @Test("Random header values never trap")
    func randomValues() {
        var generator = SeededGenerator(seed: 7239)
        let alphabet = Array("for=\"[]:;, _\\1.2:3fdunknow\t".utf8)
        for _ in 0..<10_000 {
            let count = Int.random(in: 0...40, using: &generator)
            let value = String(
                decoding: (0..<count).map { _ in alphabet.randomElement(using: &generator)! }, as: UTF8.self)
            _ = Self.client(forwarded: [value])
            _ = Self.client(xff: [value])
        }
    }
}
