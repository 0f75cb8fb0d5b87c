// Which websockify-compatible proxy the black-box suite drives, and the documented ways websockify 0.13.0 differs.
import Foundation

/// The proxy command under test, chosen with the environment variable `SOCKIFY_PROXY` (`sockify`, the default, or
/// `websockify`). Running the same suite against websockify 0.13.0 proves the tests themselves are right.
enum ProxyKind: String, Sendable, CaseIterable {
    case sockify
    case websockify

    /// The kind selected by `SOCKIFY_PROXY`; an unknown value is a test failure, not a silent default.
    static func current() throws -> ProxyKind {
        let raw = ProcessInfo.processInfo.environment["SOCKIFY_PROXY"] ?? "sockify"
        guard let kind = ProxyKind(rawValue: raw) else {
            throw HarnessError("SOCKIFY_PROXY=\(raw) is not one of: sockify, websockify")
        }
        return kind
    }

    /// The I/O backend a Sockify under test runs on: `SOCKIFY_IO_BACKEND` (which the proxy reads in place of
    /// `--io-backend auto`; CI runs the suite once per backend), else what `auto` picks on a kernel with io_uring.
    static var ioBackend: String {
        let pinned = ProcessInfo.processInfo.environment["SOCKIFY_IO_BACKEND"] ?? ""
        return pinned.isEmpty || pinned == "auto" ? "io_uring" : pinned
    }

    /// Whether this proxy is known to behave as `deviation` describes (the allow-list).
    func has(_ deviation: Deviation) -> Bool {
        switch self {
        case .websockify: return true
        case .sockify: return false
        }
    }
}

/// The allow-list: every way websockify 0.13.0 is known to differ from what Sockify must do. Each case cites the
/// reference notes (`/work/shared/reference/websockify.md`). A test that meets one of these asserts websockify's
/// documented behaviour for websockify (so the test still discriminates) and the RFC 6455 behaviour for Sockify.
enum Deviation: String, Sendable, CaseIterable {
    /// §0.1, §4.5, §6: websockify reads the target regardless of whether the client drains, so a slow client makes
    /// it buffer everything (RSS grows with the backlog). Sockify stops reading the target instead.
    case noBackpressure
    /// §4.6: "No 125-byte limit": a 200-byte ping gets a 200-byte pong. RFC 6455 §5.5 requires a 1002 close.
    case oversizedControlFrameAccepted
    /// §4.5: RSV bits are ignored and the frame is relayed. RFC 6455 §5.2 requires failing with 1002.
    case reservedBitsIgnored
    /// §4.3: an unsupported version gets 400 without a version header. RFC 6455 §4.4 asks for 426 and
    /// `Sec-WebSocket-Version: 13`.
    case unsupportedVersionIs400
    /// §0.5, §4.4: the browser form `base64, binary` is split without trimming and rejected with 400.
    case spacedProtocolListRejected
    /// §4.3 "Pipelining bug": frame bytes in the same segment as the upgrade request are swallowed.
    case pipelinedFrameLost
    /// §3: `Authorization: Basic abc` (bad base64 padding) makes websockify's plugin raise: the connection is closed
    /// with no response (`handler exception: Incorrect padding`). Sockify answers 403 like any unreadable header.
    case malformedBasicAuthClosesSilently
    /// §5.5: a failing `--record` write (disk full) raises inside websockify's handler and ends the session.
    /// Sockify stops recording, logs why, and keeps relaying.
    case recordFailureEndsSession
    /// §1.5: a bind/listen failure exits 0 (`sys.exit()` with no argument). Sockify exits 1.
    case bindFailureExitsZero
    /// §3 "Security bug in 0.13.0": `ClientCertCNAuth` reads `SSL_CLIENT_S_DN_CN` case-insensitively but strips only
    /// headers spelled `SSL_…`, so a lower-case `ssl_client_s_dn_cn: alice` passes. Sockify reads the verified
    /// certificate only.
    case clientCertCNHeaderSpoofable
}

/// A harness failure with a message that says what to do about it.
struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
