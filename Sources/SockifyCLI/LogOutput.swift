// websockify's log format (`%(message)s`, no level or timestamp prefix) on stderr, one write(2) per line.
import Glibc
import Logging
import SockifyReactor
import Synchronization

/// A swift-log handler that prints only the message, as websockify's root handler does: to stderr, and with
/// `--log-file` also appended to that file (websockify adds a FileHandler beside the stream handler).
struct PlainLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level
    /// Descriptors every line goes to (stderr, and the log file if any).
    private let descriptors: [CInt]
    private static let lock = Mutex<Void>(())

    init(level: Logger.Level, logFile: CInt? = nil) {
        logLevel = level
        descriptors = [2] + (logFile.map { [$0] } ?? [])
    }

    /// Opens `path` for appending (created 0644 if missing), as Python's FileHandler does.
    static func openLogFile(_ path: String) -> Result<CInt, Errno> {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        return fd >= 0 ? .success(fd) : .failure(Errno(rawValue: errno))
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var line = "\(event.message)\n"
        // One write per line, under a lock: reactor threads log concurrently and lines must not interleave.
        Self.lock.withLock { _ in
            line.withUTF8 { bytes in
                for fd in descriptors {
                    var offset = 0
                    while offset < bytes.count {
                        let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                        if n <= 0 { break }
                        offset += n
                    }
                }
            }
        }
    }
}
