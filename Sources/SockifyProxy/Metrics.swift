// Counters each reactor keeps about its connections, and their Prometheus text exposition (format 0.0.4).
import Synchronization

/// Why an opening handshake did not become a WebSocket session. A fixed set, so the counters are a fixed array.
public enum HandshakeFailure: Int, CaseIterable, Sendable {
    /// The request head did not parse, or was not a valid upgrade (400).
    case badRequest
    /// The request head exceeded its size limit (414/431).
    case headTooLarge
    /// The request head did not arrive in time.
    case headTimeout
    /// `Sec-WebSocket-Version` was not 13 (426).
    case unsupportedVersion
    /// The token was not in the token source.
    case tokenNotFound
    /// The request carried no token.
    case tokenNotPresent
    /// The token source failed (Redis or HTTP error).
    case lookupError
    /// The token source did not answer in time.
    case lookupTimeout
    /// The auth plugin refused the client.
    case authDenied
    /// The target refused or did not answer the TCP connect.
    case targetUnreachable
    /// A connection limit refused the client.
    case limitRefused
    /// The TLS handshake failed, or a plain client came to `--ssl-only`.
    case tls

    /// The `reason` label value: `bad_request`, `head_too_large`, ….
    public var label: String {
        switch self {
        case .badRequest: return "bad_request"
        case .headTooLarge: return "head_too_large"
        case .headTimeout: return "head_timeout"
        case .unsupportedVersion: return "unsupported_version"
        case .tokenNotFound: return "token_not_found"
        case .tokenNotPresent: return "token_not_present"
        case .lookupError: return "lookup_error"
        case .lookupTimeout: return "lookup_timeout"
        case .authDenied: return "auth_denied"
        case .targetUnreachable: return "target_unreachable"
        case .limitRefused: return "limit_refused"
        case .tls: return "tls"
        }
    }
}

/// The close codes counted separately; every other code counts as ``other``.
public enum CloseCodeBucket: Int, CaseIterable, Sendable {
    case normalClosure, goingAway, protocolError, unsupportedData, abnormalClosure, invalidPayloadData
    case policyViolation, messageTooBig, internalError, other

    /// The bucket for `code`.
    public init(code: UInt16) {
        switch code {
        case 1000: self = .normalClosure
        case 1001: self = .goingAway
        case 1002: self = .protocolError
        case 1003: self = .unsupportedData
        case 1006: self = .abnormalClosure
        case 1007: self = .invalidPayloadData
        case 1008: self = .policyViolation
        case 1009: self = .messageTooBig
        case 1011: self = .internalError
        default: self = .other
        }
    }

    /// The `code` label value: `1000` … `1011`, or `other`.
    public var label: String {
        switch self {
        case .normalClosure: return "1000"
        case .goingAway: return "1001"
        case .protocolError: return "1002"
        case .unsupportedData: return "1003"
        case .abnormalClosure: return "1006"
        case .invalidPayloadData: return "1007"
        case .policyViolation: return "1008"
        case .messageTooBig: return "1009"
        case .internalError: return "1011"
        case .other: return "other"
        }
    }
}

/// The token lookup latency histogram's bucket bounds.
public enum LookupLatencyBuckets {
    /// Upper bounds in nanoseconds, inclusive (Prometheus `le`); a last, unbounded bucket (`+Inf`) follows them.
    public static let upperBoundsNanoseconds: [Int] = [
        500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 25_000_000, 50_000_000,
        100_000_000, 250_000_000, 500_000_000, 1_000_000_000, 2_500_000_000, 5_000_000_000,
    ]
    /// The `le` label values, seconds, `+Inf` last.
    public static let labels: [String] = [
        "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf",
    ]
    /// Buckets including `+Inf`.
    public static let count = 14

    /// The index of the bucket `nanoseconds` falls in: the first bound it does not exceed, else `+Inf`.
    public static func index(nanoseconds: Int) -> Int {
        upperBoundsNanoseconds.firstIndex { nanoseconds <= $0 } ?? upperBoundsNanoseconds.count
    }
}

/// The counters of one reactor.
///
/// One reactor thread records; the metrics endpoint (any thread) reads through ``snapshot()``. Every counter is
/// an `Atomic<Int>` updated with relaxed ordering: a snapshot is not a consistent cut across counters (a
/// connection may be counted as accepted before it is counted as active), which monitoring tolerates, and no
/// recording costs more than one uncontended atomic add. Counters wrap rather than trap (after 2⁶³ events).
public final class WorkerMetrics: Sendable {
    private let accepted = Atomic<Int>(0)
    private let active = Atomic<Int>(0)
    private let sessionsStarted = Atomic<Int>(0)
    private let sessionsFinished = Atomic<Int>(0)
    private let handshakeFailures = InlineArray<12, Atomic<Int>> { _ in Atomic(0) }
    private let bytesClientToTarget = Atomic<Int>(0)
    private let bytesTargetToClient = Atomic<Int>(0)
    private let closeCodes = InlineArray<10, Atomic<Int>> { _ in Atomic(0) }
    private let lookupBuckets = InlineArray<14, Atomic<Int>> { _ in Atomic(0) }
    private let lookupSumNanoseconds = Atomic<Int>(0)
    private let busyNanoseconds = Atomic<Int>(0)
    private let tlsKernel = Atomic<Int>(0)
    private let tlsUser = Atomic<Int>(0)

    public init() {
        precondition(
            handshakeFailures.count == HandshakeFailure.allCases.count
                && closeCodes.count == CloseCodeBucket.allCases.count
                && lookupBuckets.count == LookupLatencyBuckets.count,
            "metric arrays out of step with their enums")
    }

    /// A connection was accepted: counts it and adds it to the active connections.
    public func connectionAccepted() {
        accepted.wrappingAdd(1, ordering: .relaxed)
        active.wrappingAdd(1, ordering: .relaxed)
    }

    /// An accepted connection was closed: removes it from the active connections.
    public func connectionClosed() {
        active.wrappingSubtract(1, ordering: .relaxed)
    }

    /// An opening handshake completed and the relay started.
    public func sessionStarted() {
        sessionsStarted.wrappingAdd(1, ordering: .relaxed)
    }

    /// A WebSocket session ended (however it ended).
    public func sessionFinished() {
        sessionsFinished.wrappingAdd(1, ordering: .relaxed)
    }

    /// An opening handshake failed for `reason`.
    public func handshakeFailed(_ reason: HandshakeFailure) {
        handshakeFailures[reason.rawValue].wrappingAdd(1, ordering: .relaxed)
    }

    /// A client completed a TLS handshake; `kernel`: its records are sent by kernel TLS.
    public func tlsHandshakeCompleted(kernel: Bool) {
        if kernel {
            tlsKernel.wrappingAdd(1, ordering: .relaxed)
        } else {
            tlsUser.wrappingAdd(1, ordering: .relaxed)
        }
    }

    /// `count` payload bytes were written to a target.
    public func relayedClientToTarget(_ count: Int) {
        bytesClientToTarget.wrappingAdd(count, ordering: .relaxed)
    }

    /// `count` payload bytes were written to a client (WebSocket frame headers not included).
    public func relayedTargetToClient(_ count: Int) {
        bytesTargetToClient.wrappingAdd(count, ordering: .relaxed)
    }

    /// A Close frame with `code` was sent to a client (1006 when the connection was dropped without one).
    public func closeCodeSent(_ code: UInt16) {
        closeCodes[CloseCodeBucket(code: code).rawValue].wrappingAdd(1, ordering: .relaxed)
    }

    /// A token lookup took `nanoseconds` (negative values count as 0).
    public func tokenLookupFinished(nanoseconds: Int) {
        let nanoseconds = max(0, nanoseconds)
        lookupBuckets[LookupLatencyBuckets.index(nanoseconds: nanoseconds)].wrappingAdd(1, ordering: .relaxed)
        lookupSumNanoseconds.wrappingAdd(nanoseconds, ordering: .relaxed)
    }

    /// The reactor spent `nanoseconds` handling events (from the end of its wait to the start of the next).
    /// Utilisation is busy time over elapsed time: `rate(sockify_reactor_busy_seconds_total[1m])`.
    public func addBusyTime(nanoseconds: Int) {
        busyNanoseconds.wrappingAdd(nanoseconds, ordering: .relaxed)
    }

    /// The current values.
    public func snapshot() -> MetricsSnapshot {
        var snapshot = MetricsSnapshot()
        snapshot.connectionsAccepted = accepted.load(ordering: .relaxed)
        snapshot.connectionsActive = active.load(ordering: .relaxed)
        snapshot.sessionsStarted = sessionsStarted.load(ordering: .relaxed)
        snapshot.sessionsFinished = sessionsFinished.load(ordering: .relaxed)
        for index in snapshot.handshakeFailures.indices {
            snapshot.handshakeFailures[index] = handshakeFailures[index].load(ordering: .relaxed)
        }
        snapshot.bytesClientToTarget = bytesClientToTarget.load(ordering: .relaxed)
        snapshot.bytesTargetToClient = bytesTargetToClient.load(ordering: .relaxed)
        for index in snapshot.closeCodes.indices {
            snapshot.closeCodes[index] = closeCodes[index].load(ordering: .relaxed)
        }
        for index in snapshot.lookupBuckets.indices {
            snapshot.lookupBuckets[index] = lookupBuckets[index].load(ordering: .relaxed)
        }
        snapshot.lookupSumNanoseconds = lookupSumNanoseconds.load(ordering: .relaxed)
        snapshot.busyNanoseconds = busyNanoseconds.load(ordering: .relaxed)
        snapshot.tlsKernel = tlsKernel.load(ordering: .relaxed)
        snapshot.tlsUser = tlsUser.load(ordering: .relaxed)
        return snapshot
    }
}

/// The values of one reactor's ``WorkerMetrics`` at one moment, or the sum over several reactors.
public struct MetricsSnapshot: Equatable, Sendable {
    public var connectionsAccepted = 0
    /// A gauge: accepted and not yet closed.
    public var connectionsActive = 0
    public var sessionsStarted = 0
    public var sessionsFinished = 0
    /// Indexed by ``HandshakeFailure/rawValue``.
    public var handshakeFailures = [Int](repeating: 0, count: HandshakeFailure.allCases.count)
    public var bytesClientToTarget = 0
    public var bytesTargetToClient = 0
    /// Indexed by ``CloseCodeBucket/rawValue``.
    public var closeCodes = [Int](repeating: 0, count: CloseCodeBucket.allCases.count)
    /// Lookups per latency bucket, not cumulative; indexed like ``LookupLatencyBuckets/labels``.
    public var lookupBuckets = [Int](repeating: 0, count: LookupLatencyBuckets.count)
    public var lookupSumNanoseconds = 0
    public var busyNanoseconds = 0
    /// Client TLS handshakes completed whose records the kernel sends (kTLS) / OpenSSL sends.
    public var tlsKernel = 0
    public var tlsUser = 0

    /// All zeros.
    public init() {}

    /// The sum of `snapshots` (all counters and gauges add up).
    public init(summing snapshots: some Sequence<MetricsSnapshot>) {
        for snapshot in snapshots { add(snapshot) }
    }

    /// Adds every value of `other` to this one.
    public mutating func add(_ other: MetricsSnapshot) {
        connectionsAccepted &+= other.connectionsAccepted
        connectionsActive &+= other.connectionsActive
        sessionsStarted &+= other.sessionsStarted
        sessionsFinished &+= other.sessionsFinished
        for index in handshakeFailures.indices { handshakeFailures[index] &+= other.handshakeFailures[index] }
        bytesClientToTarget &+= other.bytesClientToTarget
        bytesTargetToClient &+= other.bytesTargetToClient
        for index in closeCodes.indices { closeCodes[index] &+= other.closeCodes[index] }
        for index in lookupBuckets.indices { lookupBuckets[index] &+= other.lookupBuckets[index] }
        lookupSumNanoseconds &+= other.lookupSumNanoseconds
        busyNanoseconds &+= other.busyNanoseconds
        tlsKernel &+= other.tlsKernel
        tlsUser &+= other.tlsUser
    }

    /// Failed handshakes for `reason`.
    public func handshakeFailures(_ reason: HandshakeFailure) -> Int { handshakeFailures[reason.rawValue] }

    /// Close frames sent in `bucket`.
    public func closeCodes(_ bucket: CloseCodeBucket) -> Int { closeCodes[bucket.rawValue] }

    /// Token lookups recorded (the histogram's `_count`).
    public var lookupCount: Int { lookupBuckets.reduce(0, &+) }

    /// Sessions started and not finished.
    public var sessionsActive: Int { sessionsStarted &- sessionsFinished }
}

/// The Prometheus text exposition format, version 0.0.4.
public enum PrometheusText {
    /// The `Content-Type` of a response carrying ``render(snapshots:backend:draining:perWorker:)``'s output.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Renders the metrics of every reactor.
    ///
    /// - Parameters:
    ///   - snapshots: One snapshot per reactor; the position in the array is the `reactor` label.
    ///   - backend: The I/O backend (`epoll`, `io_uring`), for `sockify_backend_info`.
    ///   - draining: Whether the server has stopped accepting and is waiting for sessions to end.
    ///   - perWorker: `false`: one series per metric, summed over reactors. `true`: one series per reactor,
    ///     labelled `reactor="N"` (sum them in PromQL). `sockify_reactor_busy_seconds_total` is always per reactor.
    /// - Returns: The exposition text: `# HELP` and `# TYPE` before each metric family, LF line endings, a final LF.
    public static func render(snapshots: [MetricsSnapshot], backend: String, draining: Bool, perWorker: Bool) -> String
    {
        // Each series group: (reactor label or nil, values).
        let groups: [(reactor: String?, values: MetricsSnapshot)] =
            perWorker
            ? snapshots.enumerated().map { (String($0.offset), $0.element) }
            : [(nil, MetricsSnapshot(summing: snapshots))]
        var text = ""

        func family(_ name: String, _ type: String, _ help: String) {
            text += "# HELP \(name) \(escapeHelp(help))\n# TYPE \(name) \(type)\n"
        }
        func sample(_ name: String, _ labels: [(String, String)], _ value: String) {
            text += name
            if !labels.isEmpty {
                text += "{"
                text += labels.map { "\($0.0)=\"\(escapeLabelValue($0.1))\"" }.joined(separator: ",")
                text += "}"
            }
            text += " \(value)\n"
        }
        func each(_ name: String, _ labels: [(String, String)] = [], _ value: (MetricsSnapshot) -> String) {
            for group in groups {
                sample(name, (group.reactor.map { [("reactor", $0)] } ?? []) + labels, value(group.values))
            }
        }

        family("sockify_connections_total", "counter", "TCP connections accepted.")
        each("sockify_connections_total") { String($0.connectionsAccepted) }
        family("sockify_connections_active", "gauge", "Connections open now.")
        each("sockify_connections_active") { String($0.connectionsActive) }
        family("sockify_websocket_sessions_total", "counter", "WebSocket sessions started (handshake completed).")
        each("sockify_websocket_sessions_total") { String($0.sessionsStarted) }
        family("sockify_websocket_sessions_finished_total", "counter", "WebSocket sessions ended.")
        each("sockify_websocket_sessions_finished_total") { String($0.sessionsFinished) }
        family("sockify_websocket_sessions_active", "gauge", "WebSocket sessions open now.")
        each("sockify_websocket_sessions_active") { String($0.sessionsActive) }
        family("sockify_handshake_failures_total", "counter", "Opening handshakes that failed, by reason.")
        for reason in HandshakeFailure.allCases {
            each("sockify_handshake_failures_total", [("reason", reason.label)]) {
                String($0.handshakeFailures(reason))
            }
        }
        family("sockify_bytes_total", "counter", "Payload bytes relayed, by direction.")
        each("sockify_bytes_total", [("direction", "client_to_target")]) { String($0.bytesClientToTarget) }
        each("sockify_bytes_total", [("direction", "target_to_client")]) { String($0.bytesTargetToClient) }
        family("sockify_close_codes_total", "counter", "Close frames sent to clients, by status code.")
        for bucket in CloseCodeBucket.allCases {
            each("sockify_close_codes_total", [("code", bucket.label)]) { String($0.closeCodes(bucket)) }
        }
        family(
            "sockify_tls_handshakes_total", "counter",
            "Client TLS handshakes completed, by record path: kernel (kTLS) or user (OpenSSL).")
        each("sockify_tls_handshakes_total", [("path", "kernel")]) { String($0.tlsKernel) }
        each("sockify_tls_handshakes_total", [("path", "user")]) { String($0.tlsUser) }
        family("sockify_token_lookup_seconds", "histogram", "Time to resolve a token to a target.")
        for group in groups {
            let reactor = group.reactor.map { [("reactor", $0)] } ?? []
            var cumulative = 0
            for (index, label) in LookupLatencyBuckets.labels.enumerated() {
                cumulative &+= group.values.lookupBuckets[index]
                sample("sockify_token_lookup_seconds_bucket", reactor + [("le", label)], String(cumulative))
            }
            sample("sockify_token_lookup_seconds_sum", reactor, seconds(nanoseconds: group.values.lookupSumNanoseconds))
            sample("sockify_token_lookup_seconds_count", reactor, String(cumulative))
        }
        family(
            "sockify_reactor_busy_seconds_total", "counter",
            "Time each reactor spent handling events; its rate is the reactor's utilisation.")
        for (index, snapshot) in snapshots.enumerated() {
            sample(
                "sockify_reactor_busy_seconds_total", [("reactor", String(index))],
                seconds(nanoseconds: snapshot.busyNanoseconds))
        }
        family("sockify_backend_info", "gauge", "The I/O backend in use.")
        sample("sockify_backend_info", [("backend", backend)], "1")
        family("sockify_draining", "gauge", "1 while the server drains sessions before exiting, else 0.")
        sample("sockify_draining", [], draining ? "1" : "0")
        return text
    }

    /// A label value with `\`, `"` and line feeds escaped (format 0.0.4).
    public static func escapeLabelValue(_ value: String) -> String {
        var escaped = ""
        for character in value.unicodeScalars {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }

    /// HELP text with `\` and line feeds escaped (format 0.0.4).
    static func escapeHelp(_ help: String) -> String {
        var escaped = ""
        for character in help.unicodeScalars {
            switch character {
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }

    /// Exact decimal seconds: `1.5`, `0.0000005`, `0`; never an exponent. Negative values keep their sign.
    static func seconds(nanoseconds: Int) -> String {
        let magnitude = nanoseconds.magnitude
        let whole = magnitude / 1_000_000_000
        var fraction = magnitude % 1_000_000_000
        let sign = nanoseconds < 0 ? "-" : ""
        guard fraction != 0 else { return sign + String(whole) }
        var digits = 9
        while fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        let fractionText = String(fraction)
        return sign + String(whole) + "." + String(repeating: "0", count: digits - fractionText.count) + fractionText
    }
}
