// FileWriter on real files, pipes and /dev/full.
import Glibc
import SockifyReactor
import Synchronization
import Testing

/// A fresh directory under /tmp, removed with its files when the value goes away.
final class ScratchDirectory {
    let root: String
    private var files: [String] = []

    init() throws {
        var template = Array("/tmp/sockify-file-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        root = String(cString: try #require(made, "mkdtemp failed: errno \(errno)"))
    }

    deinit {
        for file in files { unlink(file) }
        rmdir(root)
    }

    /// A path inside the directory, removed at the end.
    func path(_ name: String) -> String {
        let full = root + "/" + name
        files.append(full)
        return full
    }

    /// The contents of a file, or nil if it cannot be read.
    static func contents(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return n == 0 ? result : nil }
            result += chunk[..<n]
        }
    }
}

/// `setPipeSize` from <fcntl.h>: GNU-only, so Swift's Glibc module does not export it.
let setPipeSize: CInt = 1031

private func write(_ fd: CInt, _ text: String) throws(Errno) {
    let failure = Array(text.utf8).withUnsafeBytes { bytes -> Errno? in
        do throws(Errno) {
            try FileWriter.writeAll(fd, bytes)
            return nil
        } catch {
            return error
        }
    }
    if let failure { throw failure }
}

@Suite("FileWriter")
struct FileWriterTests {
    @Test("create makes a 0644 file (before the umask) and truncates an existing one")
    func createTruncates() throws {
        let directory = try ScratchDirectory()
        let path = directory.path("record.1")
        var fd = try FileWriter.create(path)
        try write(fd, "a long first version\n")
        try FileWriter.close(fd)

        fd = try FileWriter.create(path)
        try write(fd, "short\n")
        try FileWriter.close(fd)
        #expect(ScratchDirectory.contents(path) == Array("short\n".utf8))

        var status = stat()
        #expect(stat(path, &status) == 0)
        let mask = umask(0)
        umask(mask)
        #expect(status.st_mode & 0o777 == 0o644 & ~mask)
    }

    @Test("the descriptor is close-on-exec and write-only")
    func descriptorFlags() throws {
        let directory = try ScratchDirectory()
        let fd = try FileWriter.create(directory.path("flags"))
        defer { try? FileWriter.close(fd) }
        #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0)
        #expect(fcntl(fd, F_GETFL) & O_ACCMODE == O_WRONLY)
        #expect(fcntl(fd, F_GETFL) & O_APPEND == 0)
    }

    @Test("openForAppending keeps what is there and appends")
    func append() throws {
        let directory = try ScratchDirectory()
        let path = directory.path("log")
        for line in ["one\n", "two\n"] {
            let fd = try FileWriter.openForAppending(path)
            #expect(fcntl(fd, F_GETFL) & O_APPEND != 0)
            try write(fd, line)
            try FileWriter.close(fd)
        }
        #expect(ScratchDirectory.contents(path) == Array("one\ntwo\n".utf8))
    }

    @Test("open errors are typed: missing directory, NUL in the path, a directory")
    func openErrors() throws {
        let directory = try ScratchDirectory()
        #expect(throws: Errno(rawValue: ENOENT)) { try FileWriter.create(directory.root + "/missing/file") }
        #expect(throws: Errno(rawValue: ENOENT)) { try FileWriter.create(directory.root + "/a\u{0}b") }
        #expect(throws: Errno(rawValue: EISDIR)) { try FileWriter.create(directory.root) }
        #expect(throws: Errno(rawValue: ENOENT)) { try FileWriter.openForAppending(directory.root + "/missing/log") }
    }

    @Test("a disk-full device (a symlink to /dev/full) fails the write with ENOSPC")
    func diskFull() throws {
        let directory = try ScratchDirectory()
        let link = directory.path("full")
        try #require(symlink("/dev/full", link) == 0, "symlink: errno \(errno)")
        let fd = try FileWriter.create(link)
        #expect(throws: Errno(rawValue: ENOSPC)) { try write(fd, "anything") }
        try FileWriter.close(fd)
    }

    @Test("a closed standard output is an error (EBADF), not a trap")
    func badDescriptor() {
        #expect(throws: Errno(rawValue: EBADF)) { try write(CInt.max, "x") }
    }

    @Test("an empty write does nothing")
    func empty() throws {
        try FileWriter.writeAll(CInt.max, UnsafeRawBufferPointer(start: nil, count: 0))
    }

    @Test("writeAll delivers every byte through short writes and EAGAIN on a non-blocking pipe")
    func shortWritesAndWouldBlock() throws {
        var ends: [CInt] = [0, 0]
        try #require(pipe(&ends) == 0)
        let (readEnd, writeEnd) = (ends[0], ends[1])
        // A non-blocking write end with the smallest pipe buffer: writes come back short and then with EAGAIN.
        _ = fcntl(writeEnd, F_SETFL, fcntl(writeEnd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(writeEnd, setPipeSize, 4096)
        let payload = (0..<1_048_576).map { UInt8(truncatingIfNeeded: $0 % 251) }

        let received = Mutex<[UInt8]>([])
        let reader = try ReactorThread.start(pinnedTo: nil) {
            var chunk = [UInt8](repeating: 0, count: 1000)  // read slower than the writer wants to write
            while true {
                let n = chunk.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                received.withLock { $0 += chunk[..<n] }
            }
        }
        try payload.withUnsafeBytes { try FileWriter.writeAll(writeEnd, $0) }
        try FileWriter.close(writeEnd)
        reader.join()
        close(readEnd)
        #expect(received.withLock { $0 } == payload)
    }
}
