// Runs the independent Python peers (Tests/Fixtures/peers) and decodes their one-line JSON results.
import Foundation

/// The peers are separate processes so that the WebSocket client under the tests is code we did not write
/// (Python `websockets`) or hand-built bytes (raw_client.py).
enum PythonPeer {
    /// Runs `peers/<script> arguments…`, waits at most `timeout`, and decodes the last stdout line as `Result`.
    static func run<Result: Decodable & Sendable>(
        _ script: String,
        _ arguments: [String],
        timeout: Duration = .seconds(55),
        as: Result.Type = Result.self
    ) async throws -> Result {
        let python = try RepositoryLayout.python()
        let path = RepositoryLayout.peers.appendingPathComponent(script).path
        let process = try SpawnedProcess(python, [path] + arguments)
        defer { process.terminate() }
        guard try await offload({ process.waitForExit(timeout: timeout) }) else {
            throw HarnessError("\(script) \(arguments) did not finish within \(timeout); stderr:\n\(process.stderr)")
        }
        let line = process.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(Result.self, from: Data(line.utf8))
        } catch {
            throw HarnessError(
                "\(script) printed no result (\(error)); stdout:\n\(process.stdout)\nstderr:\n\(process.stderr)"
            )
        }
    }
}

/// The JSON result of ws_client.py (fields depend on the mode; see the script's docstring).
struct WebSocketClientResult: Decodable, Sendable {
    var error: String?
    var sent: Int?
    var received: Int?
    var framesSent: Int?
    var framesReceived: Int?
    var frames: Int?
    var maxFrame: Int?
    var mismatch: Int?
    var closeCode: Int?
    var closeReason: String?
    var subprotocol: String?
    var opened: Int?
    var ok: Int?
    var failures: [String]?
    var version: String?
    var securityTypes: [Int]?
    var securityResult: Int?
    var width: Int?
    var height: Int?
    var seconds: Double?

    static func run(_ mode: String, url: String, _ arguments: [String] = []) async throws -> WebSocketClientResult {
        try await PythonPeer.run("ws_client.py", [mode, "--url", url] + arguments)
    }
}

/// The JSON result of raw_client.py.
struct RawClientResult: Decodable, Sendable {
    struct Frame: Decodable, Sendable {
        var op: Int
        var fin: Bool
        var rsv: Int
        var masked: Bool
        var len: Int
        var hex: String
        var code: Int?
        var reason: String?
    }

    var error: String?
    var rawBytes: Int
    var status: Int?
    var reason: String
    var headers: [[String]]
    var acceptOk: Bool?
    var bodyLen: Int?
    var body: String?
    var frames: [Frame]
    var eof: Bool

    /// The first value of header `name` (case-insensitive), if present.
    func header(_ name: String) -> String? {
        headers.first { $0.count == 2 && $0[0].lowercased() == name.lowercased() }?[1]
    }

    /// The first Close frame received.
    var close: Frame? { frames.first { $0.op == 8 } }

    /// Runs raw_client.py against `port` with extra arguments.
    static func run(port: UInt16, _ arguments: [String]) async throws -> RawClientResult {
        try await PythonPeer.run("raw_client.py", ["--port", "\(port)"] + arguments)
    }

    /// A WebSocket upgrade (standard headers plus `arguments`) that then sends `frames`.
    static func websocket(port: UInt16, frames: [FrameSpec] = [], _ arguments: [String] = []) async throws
        -> RawClientResult
    {
        try await run(port: port, ["--ws", "--frames", FrameSpec.json(frames)] + arguments)
    }
}

/// A frame for raw_client.py to build: opcode, payload pieces, mask/FIN/RSV bits.
struct FrameSpec: Encodable, Sendable {
    var op: Int
    var hex: String? = nil
    var text: String? = nil
    var code: Int? = nil
    var len: Int? = nil
    var mask: Bool? = nil
    var fin: Bool? = nil
    var rsv: Int? = nil

    static func binary(_ bytes: [UInt8]) -> FrameSpec { FrameSpec(op: 2, hex: bytes.hex) }
    static func close(_ code: Int, _ reason: String = "") -> FrameSpec { FrameSpec(op: 8, text: reason, code: code) }

    static func json(_ frames: [FrameSpec]) -> String {
        String(decoding: (try? JSONEncoder().encode(frames)) ?? Data("[]".utf8), as: UTF8.self)
    }
}

extension [UInt8] {
    var hex: String { map { String(format: "%02x", $0) }.joined() }
}
