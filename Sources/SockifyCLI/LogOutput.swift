// websockify's log format (`%(message)s`, no level or timestamp prefix) on stderr, one write(2) per line.
import Glibc
import Logging
import Synchronization

/// A swift-log handler that prints only the message, as websockify's root handler does.
struct PlainLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level
    private static let lock = Mutex<Void>(())

    init(level: Logger.Level) {
        logLevel = level
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
                var offset = 0
                while offset < bytes.count {
                    let n = Glibc.write(2, bytes.baseAddress! + offset, bytes.count - offset)
                    if n <= 0 { break }
                    offset += n
                }
            }
        }
    }
}
