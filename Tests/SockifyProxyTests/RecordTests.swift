// `--record` and `--traffic` output, checked against websockify's own Python code run by python3.
import Foundation
import Glibc
import SockifyProxy
import Synchronization
import Testing

/// Runs `python3 -c script args…` and returns its standard output. A missing python3 fails the test: it is a
/// required peer tool (STYLE.md: missing peers are failures, not skips).
func runPython(_ script: String, _ arguments: [String] = []) throws -> [UInt8] {
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
        "python3 failed (status \(process.terminationStatus)); is python3 installed? \(errorText)")
    return Array(data)
}

/// A scratch directory for recordings, removed with its files.
final class RecordDirectory {
    let root: String
    private var files: [String] = []

    init() throws {
        var template = Array("/tmp/sockify-record-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        root = String(cString: try #require(made, "mkdtemp failed: errno \(errno)"))
    }

    deinit {
        for file in files { unlink(file) }
        rmdir(root)
    }

    func path(_ name: String) -> String {
        let full = root + "/" + name
        files.append(full)
        return full
    }

    static func contents(_ path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path).map(Array.init)
    }
}

private func escaped(_ bytes: [UInt8]) -> [UInt8] {
    var output: [UInt8] = []
    bytes.withUnsafeBytes { RecordFormat.appendEscaped($0, to: &output) }
    return output
}

@Suite("RecordTests")
struct RecordTests {
    @Test("every byte value escapes exactly as Python's latin-1 → unicode_escape, with ' → \\'")
    func escapingMatchesPython() throws {
        let python = try runPython(
            """
            import codecs, sys
            for b in range(256):
                s = codecs.encode(bytes([b]).decode('latin-1'), 'unicode_escape').decode('ascii').replace("'", "\\\\'")
                sys.stdout.write(s + '\\n')
            """)
        let lines = python.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast()
        try #require(lines.count == 256)
        for (value, line) in lines.enumerated() {
            #expect(escaped([UInt8(value)]) == Array(line), "byte \(value)")
        }
        // And all 256 at once, in one call, as the codec sees a whole payload.
        let all = try runPython(
            """
            import codecs, sys
            sys.stdout.write(codecs.encode(bytes(range(256)).decode('latin-1'), 'unicode_escape').decode('ascii')
                             .replace("'", "\\\\'"))
            """)
        #expect(escaped(Array(0...255)) == all)
    }

    @Test("a whole recording matches the file websockify's own write calls produce")
    func fileMatchesWebsockify() throws {
        let directory = try RecordDirectory()
        let path = directory.path("session.7")
        let entries: [(toClient: Bool, ms: Int64, bytes: [UInt8])] = [
            (true, 1, Array("RFB 003.008\n".utf8)),
            (false, 201, [0x61, 0x62, 0x63, 0x01]),
            (true, 201, Array("HEL\u{0}'LO\n".utf8)),
            (false, 350, [0x5C, 0x27, 0x22, 0x09, 0x0D, 0x7F, 0x80, 0xFF]),
            (true, 1_234_567, []),
            (false, 1_234_568, Array(0...255)),
        ]
        let recorder = try SessionRecorder(path: path)
        #expect(recorder.path == path)
        for entry in entries {
            let failure = entry.bytes.withUnsafeBytes {
                recorder.record(toClient: entry.toClient, bytes: $0, elapsedMilliseconds: entry.ms)
            }
            #expect(failure == nil)
        }
        #expect(recorder.isRecording)
        #expect(recorder.finish() == nil)
        #expect(!recorder.isRecording)

        // websockifyserver.py:128-135, 172-178, 232-238, 285-287, with the payloads passed as hex.
        let script = """
            import sys
            rec = open(sys.argv[1], 'w+')
            rec.write("var VNC_frame_data = [\\n")
            for arg in sys.argv[2:]:
                direction, tdelta, hexdata = arg.split(':')
                buf = bytes.fromhex(hexdata)
                bufstr = buf.decode('latin1').encode('unicode_escape').decode('ascii').replace("'", "\\\\'")
                if direction == 'c':
                    rec.write("'{{{0}{{{1}',\\n".format(tdelta, bufstr))
                else:
                    rec.write("'}}{0}}}{1}',\\n".format(tdelta, bufstr))
            rec.write("'EOF'];\\n")
            rec.close()
            """
        let pythonPath = directory.path("python.7")
        let arguments = entries.map { entry in
            "\(entry.toClient ? "c" : "t"):\(entry.ms):" + entry.bytes.map { String(format: "%02x", $0) }.joined()
        }
        _ = try runPython(script, [pythonPath] + arguments)
        let ours = try #require(RecordDirectory.contents(path))
        let theirs = try #require(RecordDirectory.contents(pythonPath))
        #expect(String(decoding: ours, as: UTF8.self) == String(decoding: theirs, as: UTF8.self))
        #expect(ours == theirs)
    }

    @Test("the documented example, byte for byte")
    func documentedExample() throws {
        var output = Array(RecordFormat.header.utf8)
        Array("HEL\u{0}'LO\n".utf8).withUnsafeBytes {
            RecordFormat.appendEntry(toClient: true, elapsedMilliseconds: 1, bytes: $0, to: &output)
        }
        [UInt8]([0x61, 0x62, 0x63, 0x01]).withUnsafeBytes {
            RecordFormat.appendEntry(toClient: false, elapsedMilliseconds: 201, bytes: $0, to: &output)
            RecordFormat.appendEntry(toClient: true, elapsedMilliseconds: 201, bytes: $0, to: &output)
        }
        [UInt8]().withUnsafeBytes {
            RecordFormat.appendEntry(toClient: true, elapsedMilliseconds: -5, bytes: $0, to: &output)
        }
        output += RecordFormat.footer.utf8
        #expect(
            String(decoding: output, as: UTF8.self) == """
                var VNC_frame_data = [
                '{1{HEL\\x00\\'LO\\n',
                '}201}abc\\x01',
                '{201{abc\\x01',
                '{-5{',
                'EOF'];

                """)
    }

    @Test("entries stay buffered until 64 KiB, then go to the file; finish writes the rest")
    func buffering() throws {
        let directory = try RecordDirectory()
        let path = directory.path("buffered.1")
        let recorder = try SessionRecorder(path: path)
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        chunk.withUnsafeBytes { _ = recorder.record(toClient: true, bytes: $0, elapsedMilliseconds: 3) }
        #expect(RecordDirectory.contents(path)?.count == 0)
        for _ in 0..<80 {
            chunk.withUnsafeBytes { _ = recorder.record(toClient: false, bytes: $0, elapsedMilliseconds: 4) }
        }
        let flushed = try #require(RecordDirectory.contents(path))
        #expect(flushed.count >= SessionRecorder.flushThreshold)
        #expect(flushed.starts(with: Array(RecordFormat.header.utf8)))
        #expect(recorder.finish() == nil)
        let whole = try #require(RecordDirectory.contents(path))
        #expect(whole.count == RecordFormat.header.utf8.count + 81 * (1000 + 7) + RecordFormat.footer.utf8.count)
        #expect(whole.suffix(8) == Array("'EOF'];\n".utf8))
    }

    @Test("disk full (a symlink to /dev/full): recording stops, the error is reported once, nothing throws")
    func diskFullAtFinish() throws {
        let directory = try RecordDirectory()
        let path = directory.path("rec.3")
        try #require(symlink("/dev/full", path) == 0)
        let recorder = try SessionRecorder(path: path)
        let small: [UInt8] = [1, 2, 3]
        #expect(small.withUnsafeBytes { recorder.record(toClient: true, bytes: $0, elapsedMilliseconds: 1) } == nil)
        #expect(recorder.finish() == "recording to \(path) stopped: No space left on device")
        #expect(!recorder.isRecording)
        #expect(recorder.finish() == nil)
        #expect(small.withUnsafeBytes { recorder.record(toClient: true, bytes: $0, elapsedMilliseconds: 2) } == nil)
    }

    @Test("disk full during the session: the flush that fails reports it; later entries are ignored")
    func diskFullMidSession() throws {
        let directory = try RecordDirectory()
        let path = directory.path("rec.4")
        try #require(symlink("/dev/full", path) == 0)
        let recorder = try SessionRecorder(path: path)
        let big = [UInt8](repeating: 0xFF, count: SessionRecorder.flushThreshold)
        let first = big.withUnsafeBytes { recorder.record(toClient: false, bytes: $0, elapsedMilliseconds: 9) }
        #expect(first == "recording to \(path) stopped: No space left on device")
        #expect(!recorder.isRecording)
        for ms in 10..<20 {
            let later = big.withUnsafeBytes {
                recorder.record(toClient: true, bytes: $0, elapsedMilliseconds: Int64(ms))
            }
            #expect(later == nil)
        }
        #expect(recorder.finish() == nil)
    }

    @Test("a file that cannot be created is an error at init (the caller decides), naming the errno")
    func openFailure() throws {
        let directory = try RecordDirectory()
        let error = try #require(throws: (any Error).self) {
            try SessionRecorder(path: directory.root + "/missing/rec.1")
        }
        #expect("\(error)" == "[Errno 2] No such file or directory")
    }

    @Test("a recorder dropped without finish() still completes its file")
    func deinitFinishes() throws {
        let directory = try RecordDirectory()
        let path = directory.path("rec.5")
        do {
            let recorder = try SessionRecorder(path: path)
            Array("x".utf8).withUnsafeBytes { _ = recorder.record(toClient: true, bytes: $0, elapsedMilliseconds: 0) }
        }
        #expect(RecordDirectory.contents(path) == Array("var VNC_frame_data = [\n'{0{x',\n'EOF'];\n".utf8))
    }
}

/// Reads everything written to a pipe so far (the write end must be closed).
private func drain(_ fd: CInt) -> [UInt8] {
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { return result }
        result += chunk[..<n]
    }
}

@Suite("TrafficTrace")
struct TrafficTraceTests {
    @Test("the legend is websockify's ProxyRequestHandler.traffic_legend, verbatim")
    func legendMatchesWebsockify() throws {
        let python = try runPython(
            "import sys; from websockify.websocketproxy import ProxyRequestHandler as P; "
                + "sys.stdout.write(P.traffic_legend)")
        #expect(Array(TrafficTrace.legend.utf8) == python)
    }

    @Test("tokens are spelled as websockify's code prints them (.> for a partial target send)")
    func tokenSpelling() {
        #expect(TrafficTrace.Token.allCases.map(\.rawValue) == ["{", "<", "<.", "}", "}.", ">", ".>"])
    }

    @Test("tokens and legends written from several threads arrive whole, in one stream")
    func concurrentWrites() async throws {
        var ends: [CInt] = [0, 0]
        try #require(pipe(&ends) == 0)
        // F_SETPIPE_SZ (GNU-only, not exported to Swift): everything below then fits, so no reader thread is needed.
        _ = fcntl(ends[1], 1031, 1 << 20)
        let trace = TrafficTrace(fd: ends[1])
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<50 {
                        trace.writeLegend()
                        for token in TrafficTrace.Token.allCases { trace.write(token) }
                    }
                }
            }
        }
        close(ends[1])
        let output = String(decoding: drain(ends[0]), as: UTF8.self)
        close(ends[0])
        let tokens = output.replacing(TrafficTrace.legend, with: "")
        #expect(output.count - tokens.count == 200 * TrafficTrace.legend.count)
        #expect(tokens.count == 200 * 10)  // { < <. } }. > .>
        #expect(tokens.allSatisfy { "{}<>.".contains($0) })
    }

    @Test("a closed standard output is ignored, not fatal")
    func closedOutput() {
        let trace = TrafficTrace(fd: CInt.max)
        trace.writeLegend()
        trace.write(.clientReceive)
    }
}
