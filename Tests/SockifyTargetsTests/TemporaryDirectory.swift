// A real temporary directory for plugin tests: files, sub-directories and bound AF_UNIX sockets, removed on deinit.
import Glibc
import SockifyTargets
import Synchronization

/// A directory under /tmp that removes everything created through it when released.
final class TemporaryDirectory {
    let path: String
    private var created: [String] = []  // in creation order; removed in reverse
    private var sockets: [Int32] = []

    init() {
        var template = Array("/tmp/sockify-tokens-XXXXXX".utf8CString)
        let result = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(result != nil, "mkdtemp failed: errno \(errno)")
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit {
        for fd in sockets { close(fd) }
        for entry in created.reversed() {
            if unlink(entry) != 0 { rmdir(entry) }
        }
        rmdir(path)
    }

    /// Writes `bytes` to `<path>/<name>` (replacing it) and returns the full path.
    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let full = path + "/" + name
        let fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        precondition(fd >= 0, "open \(full) failed: errno \(errno)")
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            precondition(count > 0, "write failed: errno \(errno)")
            offset += count
        }
        if !created.contains(full) { created.append(full) }
        return full
    }

    @discardableResult
    func write(_ name: String, _ text: String) -> String { write(name, Array(text.utf8)) }

    /// Creates the sub-directory `<path>/<name>`.
    @discardableResult
    func makeDirectory(_ name: String) -> String {
        let full = path + "/" + name
        precondition(mkdir(full, 0o700) == 0, "mkdir \(full) failed: errno \(errno)")
        created.append(full)
        return full
    }

    /// Binds (and keeps open) an AF_UNIX stream socket at `<path>/<name>`.
    @discardableResult
    func bindSocket(_ name: String) -> String {
        let full = path + "/" + name
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        precondition(fd >= 0, "socket failed: errno \(errno)")
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(full.utf8)
        precondition(bytes.count < MemoryLayout.size(ofValue: address.sun_path), "socket path too long: \(full)")
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        precondition(result == 0, "bind \(full) failed: errno \(errno)")
        sockets.append(fd)
        created.append(full)
        return full
    }
}

/// Collects the messages a plugin logs.
final class MessageSink: Sendable {
    private let storage = Mutex<[TokenPluginMessage]>([])
    var messages: [TokenPluginMessage] { storage.withLock { $0 } }
    var texts: [String] { messages.map(\.text) }
    var log: TokenPluginLog { { message in self.storage.withLock { $0.append(message) } } }
}
