// Fixtures for the `--web` tests: a temporary directory tree built with Glibc, and a way to read a WebResponse.
import Glibc
import SockifyProtocol
import SockifyProxy
import Testing

/// A fresh directory under /tmp, removed (with everything created through it) when the value goes away.
final class WebTestTree {
    let root: String
    private var created: [(path: String, isDirectory: Bool)] = []

    init() throws {
        var template = Array("/tmp/sockify-web-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        root = String(cString: try #require(made, "mkdtemp failed: errno \(errno)"))
    }

    deinit {
        for entry in created.reversed() {
            _ = entry.isDirectory ? rmdir(entry.path) : unlink(entry.path)
        }
        rmdir(root)
    }

    func path(_ relative: String) -> String { root + "/" + relative }

    /// Creates a file with `contents`, mode `mode`, and, when given, modification time `mtime` (seconds).
    func file(_ relative: String, _ contents: String = "", mode: mode_t = 0o644, mtime: Int? = nil) throws {
        let full = path(relative)
        let fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        try #require(fd >= 0, "open \(full): errno \(errno)")
        created.append((full, false))
        let bytes = Array(contents.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        try #require(written == bytes.count)
        try #require(chmod(full, mode) == 0)  // the umask must not weaken the test's intent
        if let mtime { try setModificationTime(relative, mtime) }
    }

    /// Creates a sparse file of `byteCount` bytes (no data is written, so it costs no disk or time).
    func sparseFile(_ relative: String, byteCount: Int) throws {
        let full = path(relative)
        let fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        try #require(fd >= 0)
        created.append((full, false))
        defer { close(fd) }
        try #require(ftruncate(fd, off_t(byteCount)) == 0)
    }

    func directory(_ relative: String) throws {
        let full = path(relative)
        try #require(mkdir(full, 0o755) == 0, "mkdir \(full): errno \(errno)")
        created.append((full, true))
    }

    func symlink(_ relative: String, to destination: String) throws {
        let full = path(relative)
        try #require(Glibc.symlink(destination, full) == 0, "symlink \(full): errno \(errno)")
        created.append((full, false))
    }

    func fifo(_ relative: String) throws {
        let full = path(relative)
        try #require(mkfifo(full, 0o644) == 0)
        created.append((full, false))
    }

    func setModificationTime(_ relative: String, _ seconds: Int) throws {
        let times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
        try #require(utimensat(AT_FDCWD, path(relative), times, 0) == 0)
    }
}

/// A response taken apart: status line, headers in order, body (read from the file for `.file`).
struct ParsedWebResponse {
    var statusLine: String
    var headers: [(name: String, value: String)]
    var body: String
    /// nil for `.complete`; the byte count for `.file`.
    var fileByteCount: Int?
    var closesConnection: Bool

    var status: Int { Int(statusLine.split(separator: " ")[1])! }
    var headerNames: [String] { headers.map(\.name) }
    func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }
}

/// Reads a response and closes its file; `.file` bodies are read with pread(2) up to `maxBodyBytes`.
func parse(_ response: WebResponse, maxBodyBytes: Int = 1 << 16) throws -> ParsedWebResponse {
    let closes = response.closesConnection
    var text: String
    var fileByteCount: Int?
    switch response {
    case .complete(let whole):
        text = whole
    case .file(let head, let file, let byteCount):
        fileByteCount = byteCount
        var buffer = [UInt8](repeating: 0, count: min(byteCount, maxBodyBytes))
        let n = buffer.withUnsafeMutableBytes { pread(file.fd, $0.baseAddress, $0.count, 0) }
        file.close()
        try #require(n == buffer.count)
        text = head + String(decoding: buffer, as: UTF8.self)
    }
    let split = try #require(text.utf8.firstRange(of: "\r\n\r\n".utf8), "no end of head in \(text.debugDescription)")
    let head = String(text[..<split.lowerBound])
    let body = String(text[split.upperBound...])
    var lines = head.components(separatedBy: "\r\n")
    let statusLine = lines.removeFirst()
    let headers = lines.map { line -> (name: String, value: String) in
        let colon = line.firstIndex(of: ":")!
        return (String(line[..<colon]), String(line[line.index(colon, offsetBy: 2)...]))
    }
    return ParsedWebResponse(
        statusLine: statusLine, headers: headers, body: body, fileByteCount: fileByteCount, closesConnection: closes)
}

extension String {
    /// Splits on a separator string (no Foundation).
    fileprivate func components(separatedBy separator: String) -> [String] {
        var parts: [String] = []
        var rest = self[...]
        while let range = rest.utf8.firstRange(of: separator.utf8) {
            parts.append(String(rest[..<range.lowerBound]))
            rest = rest[range.upperBound...]
        }
        parts.append(String(rest))
        return parts
    }
}

/// A request head with optional extra headers.
func request(_ method: String, _ target: String, _ headers: [(name: String, value: String)] = []) -> HTTPRequestHead {
    HTTPRequestHead(method: method, target: target, headers: headers)
}

/// The clock every test passes as `now`, and the `Date` it formats to.
let testNow: Int64 = 1_700_000_000
let testDate = "Tue, 14 Nov 2023 22:13:20 GMT"
let testServer = "WebSockify Python/3.11.7"
