// --record FILE (websockify's recording format, reference §5.5) and --traffic (§5.6), against sockify and, with
// SOCKIFY_PROXY=websockify, against websockify 0.13 itself.
import Foundation
import Testing

/// The JSON result of record_reader.py.
struct RecordFileResult: Decodable, Sendable {
    var toClient: String
    var fromClient: String
    var entries: Int
    var eof: Bool
    var error: String?
}

extension ProxyBinaryTests {
    @Suite("Recording and traffic")
    struct Recording {
        /// The recording files in `scratch` that hold a session (the readiness probe makes handler ids too).
        static func recordings(in scratch: ScratchDirectory) throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: scratch.url.path)
                .filter { $0.hasPrefix("rec.") }
                .map { scratch.path($0) }
        }

        @Test("--record writes websockify's format: both directions byte for byte, the EOF footer")
        func recordFile() async throws {
            let scratch = try ScratchDirectory()
            defer { scratch.remove() }
            try await withProxy(to: .echo, options: ["--record", scratch.path("rec")]) { proxy, _ in
                // Pseudo-random payload (every byte value occurs), echoed back: 70,000 bytes each way.
                let result = try await WebSocketClientResult.run(
                    "echo", url: proxy.url, ["--total", "70000", "--max-frame", "4096"])
                #expect(result.error == nil)
                #expect(result.received == 70000)
                #expect(try await proxy.waitForLog("opening record file: \(scratch.path("rec."))"), "\(proxy.log)")
                // The file is complete once the session is over (websockify writes the footer in finish()).
                var files: [String] = []
                for _ in 0..<100 {
                    files = try Self.recordings(in: scratch)
                    if let file = files.first, let text = try? String(contentsOfFile: file, encoding: .utf8),
                        text.hasSuffix("'EOF'];\n")
                    {
                        break
                    }
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(files.count == 1, "one session, one file: \(files)")
                let file = try #require(files.first)
                let record: RecordFileResult = try await PythonPeer.run("record_reader.py", [file])
                #expect(record.error == nil)
                #expect(record.eof)
                #expect(record.fromClient.count == 140_000, "70,000 client→target bytes recorded")
                #expect(record.toClient == record.fromClient, "the echo, target→client, recorded identically")
                #expect(record.entries >= 36, "one entry per frame or read at least")
            }
        }

        @Test("a full disk stops the recording with a log line; the session's bytes stay intact")
        func recordDiskFull() async throws {
            let scratch = try ScratchDirectory()
            defer { scratch.remove() }
            // Every name the proxy could pick for the next sessions points at /dev/full (writes fail with ENOSPC).
            for n in 1...50 {
                try FileManager.default.createSymbolicLink(atPath: scratch.path("rec.\(n)"), withDestinationPath: "/dev/full")
            }
            try await withProxy(to: .echo, options: ["--record", scratch.path("rec")]) { proxy, target in
                let result = try await WebSocketClientResult.run(
                    "echo", url: proxy.url, ["--total", "262144", "--max-frame", "65536"])
                if proxy.kind.has(.recordFailureEndsSession) {
                    #expect(result.error != nil || result.received != 262144)
                } else {
                    #expect(result.error == nil)
                    #expect(result.received == 262144)
                    #expect(result.mismatch == nil)
                    #expect(
                        try await proxy.waitForLog("stopped: No space left on device"), "log:\n\(proxy.log)")
                }
                _ = target
            }
        }

        @Test("--traffic prints the legend and websockify's tokens on standard output")
        func traffic() async throws {
            try await withProxy(to: .echo, options: ["--traffic"]) { proxy, _ in
                let result = try await WebSocketClientResult.run("echo", url: proxy.url, ["--total", "4096"])
                #expect(result.error == nil)
                var out = ""
                var tokens = ""
                for _ in 0..<100 {
                    out = proxy.process.stdout
                    tokens = out.components(separatedBy: "<. - Client send partial\n").last ?? ""
                    if tokens.contains("{") && tokens.contains("<") && tokens.contains("}") && tokens.contains(">") {
                        break
                    }
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(out.contains("Traffic Legend:"), "stdout:\n\(out)")
                #expect(out.contains("}  - Client receive"))
                for token in ["}", ">", "{", "<"] {
                    #expect(tokens.contains(token), "token \(token) after the legend: \(tokens)")
                }
                #expect(!proxy.log.contains("Traffic Legend"), "tokens go to stdout, not the log")
            }
        }
    }
}
