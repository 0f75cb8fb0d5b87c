// websockify's authentication plugins (`websockify/auth_plugins.py`, reference §3), decided on the parsed request
// head: pure, synchronous, run on the reactor after the token lookup and before the handshake is answered.
import SockifyProtocol

/// An `--auth-plugin` with its `--auth-source`.
public enum AuthPlugin: Sendable, Equatable {
    /// `BasicHTTPAuth`: `Authorization: Basic …` must carry exactly `credentials` (`user:password`).
    case basicHTTP(credentials: String)
    /// `ExpectOrigin`: the `Origin` header must be one of these (exact string match).
    case expectOrigin([String])
    /// `ClientCertCNAuth`: the subject CN of the client's *verified* TLS certificate must be one of these. Unlike
    /// websockify, no request header is ever consulted (websockify 0.13 can be fooled with a lower-case
    /// `ssl_client_s_dn_cn` header on a plain connection).
    case clientCertCN([String])

    /// What the plugin decided about one request.
    public enum Outcome: Sendable, Equatable {
        /// Go on with the request.
        case allow
        /// Answer `status reason` with `headers` and close; log `handler exception: <logLine>` as websockify does.
        case deny(status: Int, reason: String, headers: [Header], logLine: String)
    }

    /// One extra response header.
    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Decides `head`; `clientCommonName` is the CN of the client's verified certificate (nil: none).
    public func authenticate(_ head: HTTPRequestHead, clientCommonName: String? = nil) -> Outcome {
        switch self {
        case .basicHTTP(let credentials): Self.basic(head.header("Authorization"), credentials: credentials)
        case .expectOrigin(let allowed): Self.origin(head.header("Origin"), allowed: allowed)
        case .clientCertCN(let allowed):
            if let name = clientCommonName, allowed.contains(name) {
                .allow
            } else {
                .deny(status: 403, reason: "Forbidden", headers: [], logLine: "403 None")
            }
        }
    }

    /// websockify answers a missing header and wrong credentials with 401 + a challenge, a header it cannot read
    /// with 403. Sockify also answers 403 where websockify's base64 decoder raises (`Basic abc`: websockify closes
    /// without a response and logs `handler exception: Incorrect padding`).
    private static func basic(_ header: String?, credentials: String) -> Outcome {
        let demand = Outcome.deny(
            status: 401, reason: "Unauthorized", headers: [Header("WWW-Authenticate", "Basic realm=\"Websockify\"")],
            logLine: "401 None")
        let forbidden = Outcome.deny(status: 403, reason: "Forbidden", headers: [], logLine: "403 None")
        guard let header else { return demand }
        guard header.hasPrefix("Basic ") else { return forbidden }
        guard let raw = Base64.decode(String(header.dropFirst(6))) else { return forbidden }
        // ISO-8859-1: one character per byte, as websockify decodes it.
        var text = String.UnicodeScalarView()
        text.append(contentsOf: raw.map { Unicode.Scalar($0) })
        guard text.contains(":") else { return forbidden }
        return constantTimeEqual(Array(String(text).utf8), Array(credentials.utf8)) ? .allow : demand
    }

    private static func origin(_ origin: String?, allowed: [String]) -> Outcome {
        if let origin, allowed.contains(origin) { return .allow }
        let expected = "[" + allowed.map { "'\($0)'" }.joined(separator: ", ") + "]"
        return .deny(
            status: 403, reason: "Invalid Origin", headers: [],
            logLine: "403 Invalid Origin Header: Expected one of \(expected), got '\(origin ?? "None")'")
    }

    /// Compares without an early exit, so the time taken does not tell how much of a guess was right.
    private static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}
