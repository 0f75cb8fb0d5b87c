// Typed wrappers for the few file syscalls the `--web` static file server needs: open, stat, directory listing.
// They follow Errno.swift's policy: EINTR retried, EBADF/EFAULT trapped, everything else thrown as `Errno`.
import Glibc

/// Read-only access to the local file system, one wrapper per syscall.
///
/// Every path is an absolute or cwd-relative POSIX path; a path containing a NUL byte cannot be handed to the kernel
/// and fails with `ENOENT`, as if no such file existed (Python raises `ValueError` there instead).
public enum FileSystem {
    /// What `stat(2)` says about one file.
    public struct FileStatus: Hashable, Sendable {
        /// The file type bits of `st_mode`, reduced to what a file server distinguishes.
        public enum Kind: Hashable, Sendable {
            case regular
            case directory
            case symbolicLink
            /// FIFOs, sockets, character and block devices.
            case other
        }

        public var kind: Kind
        /// `st_size`: the length of a regular file in bytes.
        public var byteCount: Int
        /// `st_mtim.tv_sec`: whole seconds since the epoch, truncated like Python's `date_time_string(st_mtime)`.
        public var modificationTime: Int64

        public init(kind: Kind, byteCount: Int, modificationTime: Int64) {
            self.kind = kind
            self.byteCount = byteCount
            self.modificationTime = modificationTime
        }

        public var isRegularFile: Bool { kind == .regular }
        public var isDirectory: Bool { kind == .directory }
        public var isSymbolicLink: Bool { kind == .symbolicLink }

        init(_ raw: stat) {
            switch raw.st_mode & S_IFMT {
            case S_IFREG: kind = .regular
            case S_IFDIR: kind = .directory
            case S_IFLNK: kind = .symbolicLink
            default: kind = .other
            }
            byteCount = Int(raw.st_size)
            modificationTime = Int64(raw.st_mtim.tv_sec)
        }
    }

    /// A file descriptor opened read-only by `openReadOnly(_:)`, closed exactly once.
    ///
    /// A class rather than a `~Copyable` struct so that a connection can keep it in an optional stored property
    /// while `sendfile(2)` drains it over several writable events. Call `close()` once when done; a second call is a
    /// Sockify bug and traps. If the last reference goes away while still open (a connection torn down mid-transfer),
    /// `deinit` closes the descriptor so it cannot leak. Pass `fd` to `sendfile(2)` or `pread(2)` while open; never
    /// close `fd` yourself. Not `Sendable`: it belongs to the one reactor thread that opened it.
    public final class OpenFile {
        /// The descriptor, opened with `O_RDONLY | O_CLOEXEC | O_NONBLOCK`; meaningless after `close()`.
        public let fd: CInt
        /// Whether `close()` has run.
        public private(set) var isClosed = false

        init(fd: CInt) { self.fd = fd }

        /// Closes the descriptor now. Call it exactly once.
        ///
        /// The corresponding C call is `close(2)`. `EINTR` is not retried: Linux has released the descriptor by then,
        /// and a retry could close a descriptor another thread just opened. Errors of a read-only descriptor carry no
        /// lost data, so they are dropped.
        public func close() {
            precondition(!isClosed, "FileSystem.OpenFile closed twice: a Sockify bug")
            isClosed = true
            FileSystem.closeDescriptor(fd)
        }

        deinit {
            if !isClosed { FileSystem.closeDescriptor(fd) }
        }
    }

    /// Opens `path` for reading.
    ///
    /// `O_NONBLOCK` keeps a FIFO or a terminal device from blocking the calling reactor thread on open; it has no
    /// effect on regular files, whose reads never block in that sense. The descriptor is not inherited by children.
    /// The corresponding C call is `open(2)`.
    /// - Parameter path: the file to open; symbolic links are followed.
    /// - Returns: the open file; the caller must `close()` it.
    /// - Throws: `Errno` such as `ENOENT`, `EACCES`, `ELOOP`, `ENOTDIR`, `EMFILE`.
    public static func openReadOnly(_ path: String) throws(Errno) -> OpenFile {
        guard !path.utf8.contains(0) else { throw Errno.noSuchFile }
        let fd = retryingOnInterrupt { open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) }
        if fd == -1 { throw Errno.current }
        return OpenFile(fd: fd)
    }

    /// Reads up to `count` bytes at `offset` without moving the file position; 0 at end of file.
    ///
    /// The corresponding C call is `pread(2)`.
    public static func read(_ fd: CInt, into buffer: UnsafeMutableRawPointer, count: Int, at offset: Int) throws(Errno) -> Int {
        let n = retryingOnInterrupt { pread(fd, buffer, count, off_t(offset)) }
        if n == -1 { throw Errno.current }
        return n
    }

    /// What identifies one version of a file: device, inode, size and modification time in nanoseconds (a file
    /// replaced by `mv` or rewritten in place both change it). `nil` when the file cannot be `stat`ed.
    public static func fingerprint(_ path: String) -> [Int64]? {
        guard !path.utf8.contains(0) else { return nil }
        var raw = stat()
        if retryingOnInterrupt({ stat(path, &raw) }) == -1 { return nil }
        return [
            Int64(bitPattern: UInt64(raw.st_dev)), Int64(bitPattern: UInt64(raw.st_ino)), Int64(raw.st_size),
            Int64(raw.st_mtim.tv_sec) * 1_000_000_000 + Int64(raw.st_mtim.tv_nsec),
        ]
    }

    /// The status of the file at `path`, following symbolic links.
    ///
    /// The corresponding C call is `stat(2)`.
    /// - Throws: `Errno` such as `ENOENT`, `ENOTDIR`, `EACCES`, `ELOOP`.
    public static func status(_ path: String) throws(Errno) -> FileStatus {
        guard !path.utf8.contains(0) else { throw Errno.noSuchFile }
        var raw = stat()
        if retryingOnInterrupt({ stat(path, &raw) }) == -1 { throw Errno.current }
        return FileStatus(raw)
    }

    /// The status of the file at `path` itself: a symbolic link is described, not followed.
    ///
    /// The corresponding C call is `lstat(2)`.
    /// - Throws: `Errno` such as `ENOENT`, `ENOTDIR`, `EACCES`.
    public static func linkStatus(_ path: String) throws(Errno) -> FileStatus {
        guard !path.utf8.contains(0) else { throw Errno.noSuchFile }
        var raw = stat()
        if retryingOnInterrupt({ lstat(path, &raw) }) == -1 { throw Errno.current }
        return FileStatus(raw)
    }

    /// The status of an open file, which cannot change identity between the check and the read that follows.
    ///
    /// The corresponding C call is `fstat(2)`.
    /// - Throws: `Errno` (in practice only `EOVERFLOW` or `EIO`).
    public static func status(of file: OpenFile) throws(Errno) -> FileStatus {
        precondition(!file.isClosed, "fstat of a closed FileSystem.OpenFile: a Sockify bug")
        var raw = stat()
        if retryingOnInterrupt({ fstat(file.fd, &raw) }) == -1 {
            let err = errno
            preconditionIsNotProgrammerError(err, "fstat")
            throw Errno(rawValue: err)
        }
        return FileStatus(raw)
    }

    /// The names in directory `path`, without `.` and `..`, in the order the kernel returns them (unsorted).
    ///
    /// A name that is not valid UTF-8 is repaired with U+FFFD, so it cannot be opened again through the returned
    /// string. The corresponding C calls are `opendir(3)`, `readdir(3)` and `closedir(3)`.
    /// - Throws: `Errno` such as `ENOENT`, `ENOTDIR`, `EACCES`, `EMFILE`.
    public static func listDirectory(_ path: String) throws(Errno) -> [String] {
        guard !path.utf8.contains(0) else { throw Errno.noSuchFile }
        guard let directory = opendir(path) else { throw Errno.current }
        defer { closedir(directory) }
        var names: [String] = []
        while true {
            // readdir(3) returns NULL both at the end and on error; only a changed errno tells them apart.
            errno = 0
            guard let entry = readdir(directory) else {
                let err = errno
                if err == 0 { break }
                throw Errno(rawValue: err)
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                let bytes = raw.prefix { $0 != 0 }
                return String(decoding: bytes, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func closeDescriptor(_ fd: CInt) {
        if Glibc.close(fd) == -1 { preconditionIsNotProgrammerError(errno, "close") }
    }
}
