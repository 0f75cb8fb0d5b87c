// `--syslog`: message bytes compared with websockify's own WebsockifySysLogHandler (run by python3), and delivery to
// real Unix datagram, Unix stream and UDP sockets.
import Foundation
import Glibc
import Logging
import Testing

@testable import SockifyCLI

/// A receiving socket: Unix (datagram or listening stream) in a scratch directory, or UDP on 127.0.0.1:0.
/// Receives time out after 5 s, so a missing message fails the test instead of hanging it.
private final class Receiver {
    let fd: CInt
    let directory: String
    let path: String
    let port: Int

    init(unix type: __socket_type) throws {
        var template = Array("/tmp/sockify-syslog-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        directory = String(cString: try #require(made))
        path = directory + "/log"
        port = 0
        let fd = socket(AF_UNIX, CInt(type.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        try #require(fd >= 0)
        self.fd = fd
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = self.path
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        try #require(rc == 0, "bind: errno \(errno)")
        if type == SOCK_STREAM { try #require(listen(fd, 4) == 0) }
        Self.setTimeout(fd)
    }

    init(udp: Void) throws {
        directory = ""
        path = ""
        let fd = socket(AF_INET, CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        try #require(fd >= 0)
        self.fd = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(fd, sa, length) == 0 ? getsockname(fd, sa, &length) : -1
            }
        }
        try #require(rc == 0)
        port = Int(UInt16(bigEndian: address.sin_port))
        Self.setTimeout(fd)
    }

    deinit {
        close(fd)
        if !path.isEmpty {
            unlink(path)
            rmdir(directory)
        }
    }

    static func setTimeout(_ fd: CInt) {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func datagram() -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n >= 0 ? Array(buffer[..<n]) : nil
    }

    /// Accepts the stream connection and reads from it until `count` bytes or the timeout.
    func streamBytes(count: Int) -> [UInt8] {
        let connection = accept(fd, nil, nil)
        guard connection >= 0 else { return [] }
        defer { close(connection) }
        Self.setTimeout(connection)
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while result.count < count {
            let n = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            result += buffer[..<n]
        }
        return result
    }
}

/// 2026-11-25 08:24:31 UTC, broken down.
private func fixedTime(year: Int32 = 2026, month: Int32 = 11, day: Int32 = 25, hour: Int32 = 8, minute: Int32 = 24,
                       second: Int32 = 31) -> tm {
    var time = tm()
    time.tm_year = year - 1900
    time.tm_mon = month - 1
    time.tm_mday = day
    time.tm_hour = hour
    time.tm_min = minute
    time.tm_sec = second
    return time
}

/// The message `sink` produces for `text` at any second from `start` to now (the send happened in between).
private func candidates(_ sink: SyslogSink, _ text: String, level: Logger.Level, since start: time_t) -> [[UInt8]] {
    (start...time(nil)).compactMap { second in
        var second = second
        var utc = tm()
        gmtime_r(&second, &utc)
        return SyslogSink.format(
            message: text, level: level, facility: sink.facility, legacy: sink.legacy, time: utc,
            hostname: sink.hostname, pid: Int(getpid()))
    }
}

@Suite("SyslogTests")
struct SyslogTests {
    @Test("RFC 5424 and legacy headers, byte for byte")
    func formats() throws {
        let rfc = SyslogSink.format(
            message: "127.0.0.1: new handler Process", level: .info, facility: .user, legacy: false,
            time: fixedTime(), hostname: "vnc-gw", pid: 4242)
        let expected = "<14>1 2026-11-25T08:24:31Z vnc-gw websockify 4242 - - 127.0.0.1: new handler Process"
        #expect(rfc == Array(expected.utf8))
        let legacy = SyslogSink.format(
            message: "In exit", level: .error, facility: .daemon, legacy: true, time: fixedTime(), hostname: "h",
            pid: 7)
        #expect(legacy == Array("<27>websockify[7]: In exit".utf8))
        let padded = SyslogSink.format(
            message: "x", level: .debug, facility: .user, legacy: false,
            time: fixedTime(year: 2027, month: 1, day: 5, hour: 3, minute: 4, second: 5), hostname: "h", pid: 1)
        #expect(padded == Array("<15>1 2027-01-05T03:04:05Z h websockify 1 - - x".utf8))
    }

    @Test("line feeds become spaces, non-ASCII gets a UTF-8 BOM, an empty message is not sent")
    func messageRules() {
        func body(_ text: String) -> [UInt8]? {
            SyslogSink.format(message: text, level: .info, facility: .user, legacy: true, time: fixedTime(),
                              hostname: "h", pid: 1)
                .map { Array($0.dropFirst("<14>websockify[1]: ".utf8.count)) }
        }
        #expect(body("a\nb\n") == Array("a b ".utf8))
        #expect(body("tab\tcr\r") == Array("tab\tcr\r".utf8))
        #expect(body("x\r\ny") == Array("x\r y".utf8))  // "\r\n" is one Character in Swift, two bytes in Python
        #expect(body("héllo") == [0xEF, 0xBB, 0xBF] + Array("héllo".utf8))
        #expect(body("") == nil)
        #expect(body("\n") == Array(" ".utf8))
        // Non-ASCII in the hostname is dropped from the header (Python's encode('ascii', 'ignore')).
        let header = SyslogSink.format(
            message: "m", level: .info, facility: .user, legacy: false, time: fixedTime(), hostname: "hôst", pid: 1)
        #expect(header == Array("<14>1 2026-11-25T08:24:31Z hst websockify 1 - - m".utf8))
    }

    @Test("PRI is facility × 8 + Python's level mapping")
    func priorities() {
        let expected: [(Logger.Level, Int)] = [
            (.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
        ]
        for (level, severity) in expected {
            #expect(SyslogSink.severity(level) == severity)
            let bytes = SyslogSink.format(message: "m", level: level, facility: .daemon, legacy: true,
                                          time: fixedTime(), hostname: "h", pid: 1)
            #expect(bytes == Array("<\(24 + severity)>websockify[1]: m".utf8))
        }
    }

    @Test("every message matches websockify's WebsockifySysLogHandler output (python3, fixed clock/host/pid)")
    func matchesWebsockify() throws {
        let messages = [
            "hello", "a\nb", "héllo ünïcode ✓", "", "\n", "x\r\ny", "127.0.0.1: Token 'nope' not found",
        ]
        let levels: [(python: String, swift: Logger.Level)] = [
            ("DEBUG", .debug), ("INFO", .info), ("WARNING", .warning), ("ERROR", .error), ("CRITICAL", .critical),
        ]
        let script = """
            import sys, os, socket, time, logging, tempfile
            from websockify.sysloghandler import WebsockifySysLogHandler as H
            time.gmtime = lambda *a: time.struct_time((2026, 11, 25, 8, 24, 31, 2, 329, 0))
            socket.gethostname = lambda: 'testhost'
            os.getpid = lambda: 4242
            d = tempfile.mkdtemp(); path = os.path.join(d, 'log')
            r = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); r.bind(path)
            levels = sys.argv[1].split(',')
            messages = [bytes.fromhex(m).decode('utf-8') for m in sys.argv[2:]]
            for legacy in (False, True):
                for facility in (H.LOG_USER, H.LOG_DAEMON):
                    h = H(address=path, facility=facility, ident='websockify', legacy=legacy)
                    h.setFormatter(logging.Formatter('%(message)s'))
                    for level in levels:
                        for m in messages:
                            h.emit(logging.LogRecord('x', getattr(logging, level), 'x', 1, m, None, None))
                            print(r.recv(65536).hex() if m.replace('\\n', ' ') else '-')
                    h.close()
            os.unlink(path); os.rmdir(d)
            """
        let output = try runPythonForSyslog(
            script, [levels.map(\.python).joined(separator: ",")]
                + messages.map { Array($0.utf8).map { String(format: "%02x", $0) }.joined() })
        let lines = output.split(separator: "\n").map(String.init)
        var index = 0
        for legacy in [false, true] {
            for facility in [SyslogSink.Facility.user, .daemon] {
                for level in levels {
                    for message in messages {
                        let line = index < lines.count ? lines[index] : "<missing>"
                        index += 1
                        let ours = SyslogSink.format(
                            message: message, level: level.swift, facility: facility, legacy: legacy,
                            time: fixedTime(), hostname: "testhost", pid: 4242)
                        let oursHex = ours.map { $0.map { String(format: "%02x", $0) }.joined() } ?? "-"
                        #expect(oursHex == line, "\(legacy) \(facility) \(level.python) \(message.debugDescription)")
                    }
                }
            }
        }
        #expect(index == lines.count)
    }

    @Test("a real Unix datagram socket receives one RFC 5424 datagram, no trailer")
    func unixDatagram() throws {
        let receiver = try Receiver(unix: SOCK_DGRAM)
        let sink = try SyslogSink(destination: .localSocket(path: receiver.path), facility: .user, legacy: false)
        #expect(sink.hostname == SyslogSink.currentHostname())
        let start = time(nil)
        sink.send(level: .info, message: "127.0.0.1: Plain non-SSL (ws://) WebSocket connection")
        let got = try #require(receiver.datagram())
        #expect(candidates(sink, "127.0.0.1: Plain non-SSL (ws://) WebSocket connection", level: .info, since: start)
            .contains(got), "\(String(decoding: got, as: UTF8.self))")
        #expect(sink.socket.droppedMessages == 0)
    }

    @Test("a real Unix stream socket receives legacy messages each followed by a line feed")
    func unixStream() throws {
        let receiver = try Receiver(unix: SOCK_STREAM)
        let sink = try SyslogSink(destination: .localSocket(path: receiver.path), facility: .daemon, legacy: true)
        sink.send(level: .warning, message: "Command respawning too fast")
        sink.send(level: .info, message: "two\nlines")
        let pid = getpid()
        let expected = Array(
            "<28>websockify[\(pid)]: Command respawning too fast\n<30>websockify[\(pid)]: two lines\n".utf8)
        #expect(receiver.streamBytes(count: expected.count) == expected)
    }

    @Test("a real UDP socket receives one datagram per message")
    func udp() throws {
        let receiver = try Receiver(udp: ())
        let sink = try SyslogSink(
            destination: .udp(host: "127.0.0.1", port: receiver.port), facility: .user, legacy: false)
        let start = time(nil)
        sink.send(level: .error, message: "handler exception: boom ✗")
        let got = try #require(receiver.datagram())
        #expect(candidates(sink, "handler exception: boom ✗", level: .error, since: start).contains(got))
        let legacy = try SyslogSink(
            destination: .udp(host: "localhost", port: receiver.port), facility: .user, legacy: true)
        legacy.send(level: .info, message: "listener exit due to --timeout 2")
        #expect(receiver.datagram() == Array("<14>websockify[\(getpid())]: listener exit due to --timeout 2".utf8))
    }

    @Test("a UDP host that does not resolve fails set-up with getaddrinfo's message")
    func unresolvable() throws {
        let error = try #require(throws: SyslogSetupError.self) {
            try SyslogSink(destination: .udp(host: "", port: 514), facility: .user, legacy: false)
        }
        #expect(error.description == "[Errno -2] Name or service not known")
    }

    @Test("PlainLogHandler sends each line to stderr, --log-file and syslog at once, filtered by level")
    func allOutputs() throws {
        let receiver = try Receiver(unix: SOCK_DGRAM)
        let sink = try SyslogSink(destination: .localSocket(path: receiver.path), facility: .user, legacy: true)
        var ends: [CInt] = [0, 0]
        try #require(pipe(&ends) == 0)
        let logPath = receiver.directory + "/sockify.log"
        defer { unlink(logPath) }
        let logFile = try PlainLogHandler.openLogFile(logPath).get()
        let logger = Logger(label: "test") { _ in
            PlainLogHandler(level: .info, logFile: logFile, syslog: sink, standardError: ends[1])
        }
        logger.debug("not shown at INFO")
        logger.info("In exit")
        close(ends[1])
        close(logFile)
        var stderrBytes = [UInt8](repeating: 0, count: 256)
        let n = stderrBytes.withUnsafeMutableBytes { read(ends[0], $0.baseAddress, $0.count) }
        close(ends[0])
        #expect(Array(stderrBytes[..<max(0, n)]) == Array("In exit\n".utf8))
        #expect(FileManager.default.contents(atPath: logPath).map(Array.init) == Array("In exit\n".utf8))
        #expect(receiver.datagram() == Array("<14>websockify[\(getpid())]: In exit".utf8))
    }

    @Test("SyslogLogHandler alone sends to syslog only")
    func syslogHandler() throws {
        let receiver = try Receiver(unix: SOCK_DGRAM)
        let sink = try SyslogSink(destination: .localSocket(path: receiver.path), facility: .user, legacy: true)
        let logger = Logger(label: "test") { _ in SyslogLogHandler(level: .debug, sink: sink) }
        logger.debug("verbose line")
        #expect(receiver.datagram() == Array("<15>websockify[\(getpid())]: verbose line".utf8))
    }
}

/// Runs `python3 -c script args…` and returns its standard output; a missing python3 fails the test.
private func runPythonForSyslog(_ script: String, _ arguments: [String]) throws -> String {
    let process = Process()
    // Debian's python3 (its python3-websockify comes with the novnc package tools/setup-deps.sh installs), not
    // whichever python3 is first on PATH (a pyenv shim has no websockify).
    process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    process.arguments = ["-c", script] + arguments
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    try #require(
        process.terminationStatus == 0,
        "python3 with websockify failed (status \(process.terminationStatus)); is it installed? \(errorText)")
    return String(decoding: data, as: UTF8.self)
}
