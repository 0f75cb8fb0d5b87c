// `--record FILE`: one recording per WebSocket session, in websockify's format (RecordFormat.swift).
import Glibc
import SockifyReactor

/// Writes one session's recording to `FILE.<n>`, buffered, and stops quietly when the disk fails.
///
/// websockify opens the file when the WebSocket session starts, writes the header, one entry per payload in either
/// direction, and the `'EOF'];` footer when the session ends. It writes through Python's buffered file object; this
/// recorder buffers likewise and writes when the buffer reaches `flushThreshold` bytes and at `finish()`.
///
/// A write or close error (`ENOSPC`, `EIO`, `EDQUOT`, …) must not disturb the relay: recording stops, the file is
/// closed, later calls do nothing, and the error is handed back **once**, as a ready log line such as
/// `recording to /x/rec.3 stopped: No space left on device`. (websockify instead lets the exception end the
/// connection.) Nothing here throws after `init` or traps on an I/O error.
///
/// Not thread-safe: a recorder belongs to the reactor thread of its connection.
public final class SessionRecorder {
    /// Buffered bytes that trigger a write.
    public static let flushThreshold = 64 * 1024

    /// The file being written (`FILE.<n>`, as the caller built it).
    public let path: String
    private var fd: CInt
    private var buffer: [UInt8] = []
    /// The message of the error that stopped recording, until `takeFailure` hands it out. There is at most one:
    /// the file is closed after the first error.
    private var pendingFailure: String?

    /// Creates (or truncates) `path` and starts the recording with its header line.
    ///
    /// The header is buffered like every entry, so a disk that is already full is reported by the first flush.
    /// - Throws: `Errno` from `open(2)`, such as `ENOENT` (missing directory), `EACCES`, `EISDIR`.
    public init(path: String) throws(Errno) {
        self.path = path
        fd = try FileWriter.create(path)
        buffer.reserveCapacity(Self.flushThreshold + 4096)
        buffer.append(contentsOf: RecordFormat.header.utf8)
    }

    deinit {
        // A connection torn down without `finish()` still leaves a complete, loadable file if the disk allows.
        if fd != -1 { finish() }
    }

    /// Whether entries are still being recorded (false after `finish()` or an error).
    public var isRecording: Bool { fd != -1 }

    /// Records one payload.
    /// - Parameters:
    ///   - toClient: `true` for bytes sent to the client (from the target), `false` for bytes received from it.
    ///   - bytes: the payload.
    ///   - elapsedMilliseconds: milliseconds since the session started.
    /// - Returns: a log line the first time recording fails (the caller logs it); `nil` otherwise.
    @discardableResult
    public func record(toClient: Bool, bytes: UnsafeRawBufferPointer, elapsedMilliseconds: Int64) -> String? {
        guard fd != -1 else { return takeFailure() }
        RecordFormat.appendEntry(
            toClient: toClient, elapsedMilliseconds: elapsedMilliseconds, bytes: bytes, to: &buffer)
        if buffer.count >= Self.flushThreshold { flush() }
        return takeFailure()
    }

    /// Writes the footer, flushes and closes the file. Later calls do nothing.
    /// - Returns: a log line if recording failed and that was not reported yet; `nil` otherwise.
    @discardableResult
    public func finish() -> String? {
        guard fd != -1 else { return takeFailure() }
        buffer.append(contentsOf: RecordFormat.footer.utf8)
        flush()
        if fd != -1 {
            let descriptor = fd
            fd = -1
            buffer = []
            do throws(Errno) {
                try FileWriter.close(descriptor)
            } catch {
                pendingFailure = Self.failureMessage(path: path, error: error)
            }
        }
        return takeFailure()
    }

    private func flush() {
        let failure = buffer.withUnsafeBytes { bytes -> Errno? in
            do throws(Errno) {
                try FileWriter.writeAll(fd, bytes)
                return nil
            } catch {
                return error
            }
        }
        if let failure {
            stop(failure)
        } else {
            buffer.removeAll(keepingCapacity: true)
        }
    }

    /// Stops recording after a write error: closes the file (a close error adds nothing) and frees the buffer.
    private func stop(_ error: Errno) {
        pendingFailure = Self.failureMessage(path: path, error: error)
        try? FileWriter.close(fd)
        fd = -1
        buffer = []
    }

    private func takeFailure() -> String? {
        defer { pendingFailure = nil }
        return pendingFailure
    }

    /// `recording to <path> stopped: <strerror>`.
    static func failureMessage(path: String, error: Errno) -> String {
        "recording to \(path) stopped: \(String(cString: strerror(error.rawValue)))"
    }
}
