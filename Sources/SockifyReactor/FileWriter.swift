// Typed wrappers for writing files: `--record` session files, `--log-file`, and `--traffic` on stdout.
// They follow Errno.swift's policy: EINTR retried inside, EFAULT trapped, everything else thrown as `Errno`.
import Glibc

/// Write-only file access, one wrapper per syscall, on plain descriptors.
///
/// The descriptors are ordinary blocking files (or standard output), not sockets: a write may wait for the disk or
/// for a terminal, exactly as Python's `file.write` does in websockify. Nothing here is meant for the relay's
/// sockets, which never block.
public enum FileWriter {
    /// Creates `path`, or truncates it if it exists, for writing.
    ///
    /// The flags are `O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC` (Python's `open(path, 'w')` without the read side
    /// websockify never uses); symbolic links are followed, so a link to `/dev/full` opens the device. The
    /// corresponding C call is `open(2)`.
    /// - Parameters:
    ///   - path: the file; a path containing a NUL byte cannot reach the kernel and fails with `ENOENT`.
    ///   - permissions: the mode of a new file, before the umask.
    /// - Returns: the descriptor; the caller owns it and must `close(_:)` it.
    /// - Throws: `Errno` such as `ENOENT`, `EACCES`, `EISDIR`, `EROFS`, `EMFILE`.
    public static func create(_ path: String, permissions: mode_t = 0o644) throws(Errno) -> CInt {
        try open(path, flags: O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, permissions: permissions)
    }

    /// Opens `path` for appending, creating it if missing, as Python's `logging.FileHandler` does (`'a'` mode).
    ///
    /// With `O_APPEND` every `write(2)` lands at the end of the file even when another process appends too.
    /// The corresponding C call is `open(2)`.
    /// - Returns: the descriptor; the caller owns it and must `close(_:)` it.
    /// - Throws: `Errno` such as `ENOENT`, `EACCES`, `EISDIR`, `EROFS`, `EMFILE`.
    public static func openForAppending(_ path: String, permissions: mode_t = 0o644) throws(Errno) -> CInt {
        try open(path, flags: O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, permissions: permissions)
    }

    private static func open(_ path: String, flags: CInt, permissions: mode_t) throws(Errno) -> CInt {
        guard !path.utf8.contains(0) else { throw Errno.noSuchFile }
        let fd = retryingOnInterrupt { Glibc.open(path, flags, permissions) }
        if fd == -1 { throw Errno.current }
        return fd
    }

    /// Writes every byte of `bytes` to `fd`, looping over short writes.
    ///
    /// `EINTR` is retried. If the descriptor happens to be non-blocking (a standard output pipe another program set
    /// `O_NONBLOCK` on), `EAGAIN` waits in `poll(2)` until it is writable, so the call keeps blocking semantics.
    /// `EBADF` is thrown rather than trapped: standard output may have been closed by whoever started us
    /// (`sockify … >&-`), which is not a Sockify bug. The corresponding C call is `write(2)`.
    /// - Throws: `Errno` such as `ENOSPC` (disk full, `/dev/full`), `EIO`, `EDQUOT`, `EFBIG`, `EPIPE` (a closed
    ///   pipe; SIGPIPE must be ignored by the process, as the CLI does), `EBADF`. Bytes before the error may have
    ///   been written.
    public static func writeAll(_ fd: CInt, _ bytes: UnsafeRawBufferPointer) throws(Errno) {
        guard var cursor = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let n = Glibc.write(fd, cursor, remaining)
            if n > 0 {
                cursor += n
                remaining -= n
                continue
            }
            // write(2) returns 0 only for a zero count, which the loop condition excludes; treat it as no progress.
            if n == 0 { throw Errno(rawValue: EIO) }
            let err = errno
            switch err {
            case EINTR:
                continue
            case EAGAIN, EWOULDBLOCK:
                var request = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&request, 1, -1)  // any outcome (even an error) is followed by a retry that reports it
            default:
                precondition(err != EFAULT, "write failed with EFAULT: a Sockify bug")
                throw Errno(rawValue: err)
            }
        }
    }

    /// Closes a descriptor returned by `create(_:permissions:)` or `openForAppending(_:permissions:)`.
    ///
    /// `EINTR` is not retried: Linux has released the descriptor by then, and a retry could close a descriptor
    /// another thread just opened. The descriptor is released even when this throws. The corresponding C call is
    /// `close(2)`.
    /// - Throws: `Errno` such as `EIO` or `ENOSPC`, which some file systems (NFS) report only here, for data a
    ///   previous write accepted. `EINTR` is not reported.
    public static func close(_ fd: CInt) throws(Errno) {
        if Glibc.close(fd) == -1 {
            let err = errno
            if err == EINTR { return }
            precondition(err != EBADF, "close of a descriptor that is not open: a Sockify bug")
            throw Errno(rawValue: err)
        }
    }
}
