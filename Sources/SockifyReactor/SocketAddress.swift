// IPv4/IPv6/Unix socket addresses: resolution (getaddrinfo) and websockify-style formatting.
import CSockify
import Glibc

/// A socket address of any family Sockify uses, stored inline (no allocation).
public struct SocketAddress: Sendable, CustomStringConvertible {
    var storage = sockaddr_storage()
    var length: socklen_t = 0

    public init() {}

    /// The address family (`AF_INET`, `AF_INET6`, `AF_UNIX`).
    public var family: CInt { CInt(storage.ss_family) }

    /// A Unix-domain stream socket path.
    public init(unixPath: String) throws(Errno) {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(unixPath.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw Errno(rawValue: ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        withUnsafeMutableBytes(of: &storage) { $0.copyBytes(from: withUnsafeBytes(of: addr) { Array($0) }) }
        length = socklen_t(MemoryLayout<sockaddr_un>.size)
    }

    /// Resolves `host:port` for a stream socket with `getaddrinfo(3)`. Results are sorted IPv4 first (IPv6 first
    /// with `preferIPv6`), as websockify does, and the first one is returned.
    ///
    /// - Parameters:
    ///   - host: a name or literal; `nil` or empty means the wildcard address when `passive` is set.
    ///   - passive: resolve for `bind` (`AI_PASSIVE`).
    /// - Throws: `ResolutionError` with getaddrinfo's message.
    /// - Note: this blocks on DNS for names; numeric hosts never touch the network.
    public static func resolve(
        host: String?, port: UInt16, passive: Bool = false, preferIPv6: Bool = false
    ) throws(ResolutionError) -> SocketAddress {
        if let host, !host.isEmpty, let literal = numeric(host: host, port: port) {
            return literal  // an IP literal needs no resolver (the common case for targets)
        }
        var hints = addrinfo()
        hints.ai_socktype = CInt(SOCK_STREAM.rawValue)
        hints.ai_protocol = CInt(IPPROTO_TCP)
        hints.ai_flags = passive ? AI_PASSIVE : 0
        var result: UnsafeMutablePointer<addrinfo>?
        let node = (host?.isEmpty ?? true) ? nil : host
        let rc = getaddrinfo(node, String(port), &hints, &result)
        guard rc == 0, let first = result else {
            throw ResolutionError(message: String(cString: gai_strerror(rc)), code: rc)
        }
        defer { freeaddrinfo(result) }
        var candidates: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            var address = SocketAddress()
            withUnsafeMutableBytes(of: &address.storage) { dst in
                dst.copyMemory(from: UnsafeRawBufferPointer(start: info.pointee.ai_addr, count: Int(info.pointee.ai_addrlen)))
            }
            address.length = info.pointee.ai_addrlen
            candidates.append(address)
            cursor = info.pointee.ai_next
        }
        let preferred = preferIPv6 ? CInt(AF_INET6) : CInt(AF_INET)
        return candidates.first { $0.family == preferred } ?? candidates[0]
    }

    /// An IPv4 or IPv6 literal as an address, or nil when `host` is not one. The corresponding C call is
    /// `inet_pton(3)`.
    static func numeric(host: String, port: UInt16) -> SocketAddress? {
        var address = SocketAddress()
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            sin.sin_addr = v4
            withUnsafeMutableBytes(of: &address.storage) { dst in
                withUnsafeBytes(of: sin) { dst.copyMemory(from: $0) }
            }
            address.length = socklen_t(MemoryLayout<sockaddr_in>.size)
            return address
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            sin6.sin6_addr = v6
            withUnsafeMutableBytes(of: &address.storage) { dst in
                withUnsafeBytes(of: sin6) { dst.copyMemory(from: $0) }
            }
            address.length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            return address
        }
        return nil
    }

    /// The numeric host (no brackets) of an IP address, or the path of a Unix address.
    public var host: String {
        var copy = storage
        switch family {
        case CInt(AF_INET):
            return withUnsafePointer(to: &copy) { p in
                p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                    var addr = sin.pointee.sin_addr
                    var buffer = [UInt8](repeating: 0, count: Int(INET_ADDRSTRLEN))
                    inet_ntop(AF_INET, &addr, &buffer, socklen_t(buffer.count))
                    return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
                }
            }
        case CInt(AF_INET6):
            return withUnsafePointer(to: &copy) { p in
                p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin in
                    var addr = sin.pointee.sin6_addr
                    var buffer = [UInt8](repeating: 0, count: Int(INET6_ADDRSTRLEN))
                    inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count))
                    return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
                }
            }
        case CInt(AF_UNIX):
            return withUnsafePointer(to: &copy) { p in
                p.withMemoryRebound(to: sockaddr_un.self, capacity: 1) { sun in
                    withUnsafeBytes(of: sun.pointee.sun_path) { raw in
                        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                    }
                }
            }
        default:
            return "?"
        }
    }

    /// The port of an IP address (0 for Unix addresses).
    public var port: UInt16 {
        var copy = storage
        switch family {
        case CInt(AF_INET):
            return withUnsafePointer(to: &copy) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) } }
        case CInt(AF_INET6):
            return withUnsafePointer(to: &copy) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) } }
        default:
            return 0
        }
    }

    /// `host:port` (`[v6]:port` for IPv6), or the path for Unix addresses.
    public var description: String {
        switch family {
        case CInt(AF_INET6): return "[\(host)]:\(port)"
        case CInt(AF_UNIX): return host
        default: return "\(host):\(port)"
        }
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        withUnsafePointer(to: storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }
}

/// A failed `getaddrinfo(3)`.
public struct ResolutionError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public let code: CInt
    public var description: String { "[Errno \(code)] \(message)" }
}
