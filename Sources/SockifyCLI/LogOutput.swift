// websockify's log format (`%(message)s`, no level or timestamp prefix) on stderr, one write(2) per line, plus the
// optional `--log-file` and `--syslog` outputs.
import Glibc
import Logging
import SockifyProtocol
import SockifyProxy
import SockifyReactor
import Synchronization

/// A swift-log handler that prints only the message, as websockify's root handlers do: to stderr, and with
/// `--log-file` also appended to that file, and with `--syslog` also sent to syslog.
///
/// websockify's root logger keeps its stderr `StreamHandler` when it adds a `FileHandler` (`--log-file`) and a
/// `WebsockifySysLogHandler` (`--syslog`), all at DEBUG with the root level deciding, so every line goes to every
/// configured output at once (`websocketproxy.py:449-455, 591-632`). With `-D` stderr is `/dev/null`.
struct PlainLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level
    /// Descriptors every line goes to (stderr, and the log file if any).
    private let descriptors: [CInt]
    /// `--syslog`'s sender, if any.
    private let syslog: SyslogSink?
    /// `--log-format json`: one JSON object per line (a message that already is one is written as is).
    private let json: Bool
    private static let lock = Mutex<Void>(())

    /// - Parameters:
    ///   - level: the lowest level logged (`.debug` with `-v`, else `.info`).
    ///   - logFile: a descriptor from `openLogFile(_:)`.
    ///   - syslog: the `--syslog` sender.
    ///   - standardError: the descriptor standing for stderr (2; tests pass a pipe).
    init(
        level: Logger.Level, logFile: CInt? = nil, syslog: SyslogSink? = nil, standardError: CInt = 2, json: Bool = false
    ) {
        logLevel = level
        self.json = json
        descriptors = [standardError] + (logFile.map { [$0] } ?? [])
        self.syslog = syslog
    }

    /// Opens `path` for appending (created 0644 if missing), as Python's FileHandler does.
    static func openLogFile(_ path: String) -> Result<CInt, Errno> {
        do throws(Errno) {
            return .success(try FileWriter.openForAppending(path))
        } catch {
            return .failure(error)
        }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let message = "\(event.message)"
        var line = (json ? Self.jsonLine(message, level: event.level) : message) + "\n"
        // One write per line, under a lock: reactor threads log concurrently and lines must not interleave.
        // Errors are dropped, as Python's handlers report them only on stderr, which may be the failing output.
        Self.lock.withLock { _ in
            line.withUTF8 { bytes in
                for fd in descriptors { try? FileWriter.writeAll(fd, UnsafeRawBufferPointer(bytes)) }
            }
        }
        syslog?.send(level: event.level, message: message)
    }

    /// `{"time": …, "level": …, "message": …}`, or `message` itself when it is already a JSON object (the per-session
    /// summary), with the time and level added in front.
    static func jsonLine(_ message: String, level: Logger.Level) -> String {
        let head = "{\"time\":\"\(WallClock.iso8601UTC())\",\"level\":\"\(level)\","
        if message.hasPrefix("{") && message.hasSuffix("}") {
            return head + message.dropFirst()
        }
        return head + "\"message\":" + JSONText.string(message) + "}"
    }
}
