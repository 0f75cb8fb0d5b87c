import Glibc
import SockifyReactor
import Testing

@Suite("SocketAddress")
struct SocketAddressTests {
    @Test("IP literals resolve without the resolver and print as websockify does", arguments: [
        ("127.0.0.1", UInt16(5900), "127.0.0.1:5900", AF_INET),
        ("::1", UInt16(80), "[::1]:80", AF_INET6),
        ("fe80::1", UInt16(6080), "[fe80::1]:6080", AF_INET6),
    ])
    func literals(host: String, port: UInt16, printed: String, family: Int32) throws {
        let address = try SocketAddress.resolve(host: host, port: port)
        #expect(address.description == printed)
        #expect(address.family == family)
        #expect(address.port == port)
    }

    @Test("names go through getaddrinfo; IPv4 first unless IPv6 is preferred")
    func names() throws {
        let v4 = try SocketAddress.resolve(host: "localhost", port: 1)
        #expect(v4.family == AF_INET)
        #expect(v4.description == "127.0.0.1:1")
    }

    @Test("an unknown name is a resolution error, not a crash")
    func unknownName() {
        #expect(throws: ResolutionError.self) {
            try SocketAddress.resolve(host: "no-such-host.invalid", port: 1)
        }
    }
}
