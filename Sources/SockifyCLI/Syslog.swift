// `--syslog SERVER` and `--legacy-syslog`: websockify's `WebsockifySysLogHandler` (sysloghandler.py, 0.13.0), byte for
// byte, over a sender that never blocks a reactor thread (SockifyReactor/DatagramSocket.swift).
import Glibc
import Logging
import SockifyReactor

/// Formats log lines as websockify's syslog handler does and sends them to the configured daemon.
///
/// RFC 5424 (the default): `<PRI>1 2026-11-25T08:24:31Z <hostname> websockify <pid> - - <message>`;
/// legacy (`--legacy-syslog`): `<PRI>websockify[<pid>]: <message>`.
/// - The timestamp is UTC with whole seconds; the hostname is `gethostname()` cut to 255 characters; the ident is
///   `websockify` (websockify passes `ident='websockify'`, cut to 24 characters); the pid is read per message, so it
///   is right after a daemonizing fork.
/// - The header is ASCII with anything else dropped (Python's `encode('ascii', 'ignore')`).
/// - Line feeds in the message become spaces, and an empty message is not sent. The message is ASCII when it can be,
///   otherwise UTF-8 preceded by a byte order mark (RFC 5424 §6.4).
/// - Datagrams (a Unix datagram socket, UDP) carry no trailer; a Unix stream socket gets `\n` after each message.
/// - PRI = facility × 8 + severity; the facility is USER (1), or DAEMON (3) with `-D`.
final class SyslogSink: Sendable {
    /// The syslog facilities websockify uses.
    enum Facility: Int, Sendable {
        case user = 1
        case daemon = 3
    }

    /// websockify's ident (`websocketproxy.py:627`).
    static let ident = "websockify"

    let socket: DatagramSocket
    let facility: Facility
    let legacy: Bool
    /// `gethostname()`, taken once (websockify asks per message; a host is not renamed under a running proxy).
    let hostname: String

    /// Opens the sender for `destination`.
    /// - Throws: `SyslogSetupError` when a UDP host does not resolve or a socket path is too long.
    convenience init(destination: SyslogDestination, facility: Facility, legacy: Bool) throws(SyslogSetupError) {
        let socket: DatagramSocket
        switch destination {
        case .localSocket(let path):
            do {
                socket = try DatagramSocket(unixPath: path)
            } catch {
                throw SyslogSetupError(description: "\(error)")
            }
        case .udp(let host, let port):
            do {
                socket = try DatagramSocket.udp(host: host, port: port)
            } catch {
                throw SyslogSetupError(description: "\(error)")
            }
        }
        self.init(socket: socket, facility: facility, legacy: legacy, hostname: Self.currentHostname())
    }

    init(socket: DatagramSocket, facility: Facility, legacy: Bool, hostname: String) {
        self.socket = socket
        self.facility = facility
        self.legacy = legacy
        self.hostname = hostname
    }

    /// The syslog socket's descriptor, to keep open across `-D`'s daemonization (nil: not connected yet).
    var descriptor: CInt? { socket.descriptor }

    /// Sends one log line now. Never blocks; a message the daemon cannot take is dropped (see `DatagramSocket`).
    func send(level: Logger.Level, message: String) {
        var now = time(nil)
        var utc = tm()
        gmtime_r(&now, &utc)
        guard
            let bytes = Self.format(
                message: message, level: level, facility: facility, legacy: legacy, time: utc, hostname: hostname,
                pid: Int(getpid()))
        else { return }
        _ = bytes.withUnsafeBytes { socket.send($0, streamTerminator: UInt8(ascii: "\n")) }
    }

    /// The bytes of one message, without the stream trailer; `nil` for an empty message (websockify sends nothing).
    static func format(
        message: String, level: Logger.Level, facility: Facility, legacy: Bool, time: tm, hostname: String, pid: Int
    ) -> [UInt8]? {
        // Bytes, not Characters: a String sees "\r\n" as one Character, which a "\n" replacement would miss.
        let text = message.utf8.map { $0 == UInt8(ascii: "\n") ? UInt8(ascii: " ") : $0 }
        if text.isEmpty { return nil }
        let priority = facility.rawValue << 3 | severity(level)
        let header: String
        if legacy {
            header = "<\(priority)>\(ident.prefix(24))[\(pid)]: "
        } else {
            let host = String(String.UnicodeScalarView(hostname.unicodeScalars.prefix(255)))
            header = "<\(priority)>1 \(timestamp(time)) \(host) \(ident.prefix(24)) \(pid) - - "
        }
        var bytes = header.unicodeScalars.filter(\.isASCII).map { UInt8($0.value) }
        if text.contains(where: { $0 >= 0x80 }) { bytes += [0xEF, 0xBB, 0xBF] }
        bytes += text
        return bytes
    }

    /// The syslog severity Python's `SysLogHandler.mapPriority` gives each level. swift-log's `trace` is below
    /// Python's DEBUG and `notice` has no Python level; they map to the syslog severities of the same name.
    static func severity(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    /// `%Y-%m-%dT%H:%M:%SZ` of a broken-down UTC time.
    static func timestamp(_ time: tm) -> String {
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let year = Int(time.tm_year) + 1900
        let yearText = String(repeating: "0", count: max(0, 4 - String(year).count)) + String(year)
        return "\(yearText)-\(two(time.tm_mon + 1))-\(two(time.tm_mday))T\(two(time.tm_hour)):\(two(time.tm_min)):"
            + "\(two(time.tm_sec))Z"
    }

    static func currentHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard buffer.withUnsafeMutableBufferPointer({ gethostname($0.baseAddress!, $0.count - 1) }) == 0 else {
            return ""
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Why `--syslog` could not be set up: `[Errno -2] Name or service not known` (Python's `socket.gaierror` text).
struct SyslogSetupError: Error, CustomStringConvertible {
    let description: String
}

/// A swift-log handler that sends every line to syslog only (`PlainLogHandler` combines it with stderr and
/// `--log-file`, as websockify's root logger has all its handlers at once).
struct SyslogLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level
    let sink: SyslogSink

    init(level: Logger.Level, sink: SyslogSink) {
        logLevel = level
        self.sink = sink
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        sink.send(level: event.level, message: "\(event.message)")
    }
}
