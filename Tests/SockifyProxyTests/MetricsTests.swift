// WorkerMetrics counting, MetricsSnapshot sums, and PrometheusText output: exact text, a strict line check, and
// Prometheus's own Python parser (prometheus_client, installed in .venv by tools/setup-deps.sh).
import Foundation
import SockifyProxy
import Testing

@Suite("Metrics")
struct MetricsTests {
    /// A worker with a little of everything recorded.
    static func sampleWorker() -> WorkerMetrics {
        let metrics = WorkerMetrics()
        for _ in 0..<3 { metrics.connectionAccepted() }
        metrics.connectionClosed()
        metrics.sessionStarted()
        metrics.sessionStarted()
        metrics.sessionFinished()
        metrics.handshakeFailed(.tokenNotFound)
        metrics.handshakeFailed(.tokenNotFound)
        metrics.handshakeFailed(.badRequest)
        metrics.relayedClientToTarget(100)
        metrics.relayedClientToTarget(23)
        metrics.relayedTargetToClient(4096)
        metrics.closeCodeSent(1000)
        metrics.closeCodeSent(1011)
        metrics.closeCodeSent(4000)
        metrics.closeCodeSent(1005)
        metrics.tokenLookupFinished(nanoseconds: 300_000)  // ≤ 0.0005
        metrics.tokenLookupFinished(nanoseconds: 1_000_000)  // exactly 0.001: le is inclusive
        metrics.tokenLookupFinished(nanoseconds: 7_000_000_000)  // +Inf
        metrics.addBusyTime(nanoseconds: 1_500_000_000)
        return metrics
    }

    @Test("Recording updates the snapshot's counters")
    func counting() {
        let snapshot = Self.sampleWorker().snapshot()
        #expect(snapshot.connectionsAccepted == 3)
        #expect(snapshot.connectionsActive == 2)
        #expect(snapshot.sessionsStarted == 2 && snapshot.sessionsFinished == 1 && snapshot.sessionsActive == 1)
        #expect(snapshot.handshakeFailures(.tokenNotFound) == 2)
        #expect(snapshot.handshakeFailures(.badRequest) == 1)
        #expect(snapshot.handshakeFailures(.limitRefused) == 0)
        #expect(snapshot.bytesClientToTarget == 123 && snapshot.bytesTargetToClient == 4096)
        #expect(snapshot.closeCodes(.normalClosure) == 1)
        #expect(snapshot.closeCodes(.internalError) == 1)
        #expect(snapshot.closeCodes(.other) == 2)
        #expect(snapshot.lookupBuckets[0] == 1 && snapshot.lookupBuckets[1] == 1 && snapshot.lookupBuckets[13] == 1)
        #expect(snapshot.lookupCount == 3)
        #expect(snapshot.lookupSumNanoseconds == 7_001_300_000)
        #expect(snapshot.busyNanoseconds == 1_500_000_000)
    }

    @Test("Close codes land in their buckets; everything else is other")
    func closeBuckets() {
        let expected: [(UInt16, String)] = [
            (1000, "1000"), (1001, "1001"), (1002, "1002"), (1003, "1003"), (1006, "1006"), (1007, "1007"),
            (1008, "1008"), (1009, "1009"), (1011, "1011"), (1004, "other"), (1010, "other"), (3000, "other"),
            (0, "other"),
        ]
        for (code, label) in expected { #expect(CloseCodeBucket(code: code).label == label) }
    }

    @Test("Latency buckets: the first bound not exceeded, +Inf past the last")
    func latencyBuckets() {
        #expect(LookupLatencyBuckets.index(nanoseconds: 0) == 0)
        #expect(LookupLatencyBuckets.index(nanoseconds: 500_000) == 0)
        #expect(LookupLatencyBuckets.index(nanoseconds: 500_001) == 1)
        #expect(LookupLatencyBuckets.index(nanoseconds: 5_000_000_000) == 12)
        #expect(LookupLatencyBuckets.index(nanoseconds: 5_000_000_001) == 13)
        #expect(LookupLatencyBuckets.labels.count == LookupLatencyBuckets.count)
        #expect(LookupLatencyBuckets.upperBoundsNanoseconds.count == LookupLatencyBuckets.count - 1)
    }

    @Test("A snapshot sum adds every counter")
    func summing() {
        let one = Self.sampleWorker().snapshot()
        let sum = MetricsSnapshot(summing: [one, one, MetricsSnapshot()])
        #expect(sum.connectionsAccepted == 6 && sum.connectionsActive == 4)
        #expect(sum.handshakeFailures(.tokenNotFound) == 4)
        #expect(sum.closeCodes(.other) == 4)
        #expect(sum.lookupCount == 6 && sum.lookupSumNanoseconds == 2 * 7_001_300_000)
        #expect(sum.busyNanoseconds == 3_000_000_000)
    }

    @Test("One thread records while another reads: no count is lost")
    func concurrentReads() async {
        let metrics = WorkerMetrics()
        let rounds = 100_000
        async let writer: Void = {
            for _ in 0..<rounds {
                metrics.connectionAccepted()
                metrics.relayedClientToTarget(2)
            }
        }()
        var previous = 0
        for _ in 0..<1_000 {
            let seen = metrics.snapshot().connectionsAccepted
            #expect(seen >= previous)  // counters never go backwards
            previous = seen
        }
        await writer
        let snapshot = metrics.snapshot()
        #expect(snapshot.connectionsAccepted == rounds && snapshot.bytesClientToTarget == 2 * rounds)
    }

    @Test("Seconds are exact decimals without exponents")
    func secondsText() {
        let text = PrometheusText.render(snapshots: [], backend: "epoll", draining: false, perWorker: false)
        #expect(text.contains("sockify_token_lookup_seconds_sum 0\n"))
        for (nanoseconds, expected) in [
            (0, "0"), (1, "0.000000001"), (1_500_000_000, "1.5"), (500_000, "0.0005"),
            (12_000_000_007, "12.000000007"),
        ] {
            var snapshot = MetricsSnapshot()
            snapshot.busyNanoseconds = nanoseconds
            let text = PrometheusText.render(snapshots: [snapshot], backend: "epoll", draining: false, perWorker: false)
            #expect(text.contains("sockify_reactor_busy_seconds_total{reactor=\"0\"} \(expected)\n"))
        }
    }

    @Test("Label values escape backslash, double quote and line feed")
    func escaping() {
        #expect(PrometheusText.escapeLabelValue("a\\b\"c\nd") == "a\\\\b\\\"c\\nd")
        let text = PrometheusText.render(snapshots: [], backend: "x\"y", draining: true, perWorker: false)
        #expect(text.contains("sockify_backend_info{backend=\"x\\\"y\"} 1\n"))
        #expect(text.hasSuffix("sockify_draining 1\n"))
    }

    static let expectedText = """
        # HELP sockify_connections_total TCP connections accepted.
        # TYPE sockify_connections_total counter
        sockify_connections_total 6
        # HELP sockify_connections_active Connections open now.
        # TYPE sockify_connections_active gauge
        sockify_connections_active 4
        # HELP sockify_websocket_sessions_total WebSocket sessions started (handshake completed).
        # TYPE sockify_websocket_sessions_total counter
        sockify_websocket_sessions_total 4
        # HELP sockify_websocket_sessions_finished_total WebSocket sessions ended.
        # TYPE sockify_websocket_sessions_finished_total counter
        sockify_websocket_sessions_finished_total 2
        # HELP sockify_websocket_sessions_active WebSocket sessions open now.
        # TYPE sockify_websocket_sessions_active gauge
        sockify_websocket_sessions_active 2
        # HELP sockify_handshake_failures_total Opening handshakes that failed, by reason.
        # TYPE sockify_handshake_failures_total counter
        sockify_handshake_failures_total{reason="bad_request"} 2
        sockify_handshake_failures_total{reason="head_too_large"} 0
        sockify_handshake_failures_total{reason="head_timeout"} 0
        sockify_handshake_failures_total{reason="unsupported_version"} 0
        sockify_handshake_failures_total{reason="token_not_found"} 4
        sockify_handshake_failures_total{reason="token_not_present"} 0
        sockify_handshake_failures_total{reason="lookup_error"} 0
        sockify_handshake_failures_total{reason="lookup_timeout"} 0
        sockify_handshake_failures_total{reason="auth_denied"} 0
        sockify_handshake_failures_total{reason="target_unreachable"} 0
        sockify_handshake_failures_total{reason="limit_refused"} 0
        sockify_handshake_failures_total{reason="tls"} 0
        # HELP sockify_bytes_total Payload bytes relayed, by direction.
        # TYPE sockify_bytes_total counter
        sockify_bytes_total{direction="client_to_target"} 246
        sockify_bytes_total{direction="target_to_client"} 8192
        # HELP sockify_close_codes_total Close frames sent to clients, by status code.
        # TYPE sockify_close_codes_total counter
        sockify_close_codes_total{code="1000"} 2
        sockify_close_codes_total{code="1001"} 0
        sockify_close_codes_total{code="1002"} 0
        sockify_close_codes_total{code="1003"} 0
        sockify_close_codes_total{code="1006"} 0
        sockify_close_codes_total{code="1007"} 0
        sockify_close_codes_total{code="1008"} 0
        sockify_close_codes_total{code="1009"} 0
        sockify_close_codes_total{code="1011"} 2
        sockify_close_codes_total{code="other"} 4
        # HELP sockify_tls_handshakes_total Client TLS handshakes completed, by record path: kernel (kTLS) or user (OpenSSL).
        # TYPE sockify_tls_handshakes_total counter
        sockify_tls_handshakes_total{path="kernel"} 0
        sockify_tls_handshakes_total{path="user"} 0
        # HELP sockify_token_lookup_seconds Time to resolve a token to a target.
        # TYPE sockify_token_lookup_seconds histogram
        sockify_token_lookup_seconds_bucket{le="0.0005"} 2
        sockify_token_lookup_seconds_bucket{le="0.001"} 4
        sockify_token_lookup_seconds_bucket{le="0.0025"} 4
        sockify_token_lookup_seconds_bucket{le="0.005"} 4
        sockify_token_lookup_seconds_bucket{le="0.01"} 4
        sockify_token_lookup_seconds_bucket{le="0.025"} 4
        sockify_token_lookup_seconds_bucket{le="0.05"} 4
        sockify_token_lookup_seconds_bucket{le="0.1"} 4
        sockify_token_lookup_seconds_bucket{le="0.25"} 4
        sockify_token_lookup_seconds_bucket{le="0.5"} 4
        sockify_token_lookup_seconds_bucket{le="1"} 4
        sockify_token_lookup_seconds_bucket{le="2.5"} 4
        sockify_token_lookup_seconds_bucket{le="5"} 4
        sockify_token_lookup_seconds_bucket{le="+Inf"} 6
        sockify_token_lookup_seconds_sum 14.0026
        sockify_token_lookup_seconds_count 6
        # HELP sockify_reactor_busy_seconds_total Time each reactor spent handling events; its rate is the reactor's utilisation.
        # TYPE sockify_reactor_busy_seconds_total counter
        sockify_reactor_busy_seconds_total{reactor="0"} 1.5
        sockify_reactor_busy_seconds_total{reactor="1"} 1.5
        # HELP sockify_backend_info The I/O backend in use.
        # TYPE sockify_backend_info gauge
        sockify_backend_info{backend="epoll"} 1
        # HELP sockify_draining 1 while the server drains sessions before exiting, else 0.
        # TYPE sockify_draining gauge
        sockify_draining 0

        """

    @Test("The exact exposition text for two reactors, summed")
    func exactText() {
        let snapshot = Self.sampleWorker().snapshot()
        let text = PrometheusText.render(
            snapshots: [snapshot, snapshot], backend: "epoll", draining: false, perWorker: false)
        #expect(text == Self.expectedText)
    }

    @Test("Per-worker output labels every series with its reactor")
    func perWorker() {
        var second = Self.sampleWorker().snapshot()
        second.connectionsAccepted = 10
        let text = PrometheusText.render(
            snapshots: [Self.sampleWorker().snapshot(), second], backend: "io_uring", draining: true, perWorker: true)
        #expect(
            text.contains("sockify_connections_total{reactor=\"0\"} 3\nsockify_connections_total{reactor=\"1\"} 10\n"))
        #expect(text.contains("sockify_handshake_failures_total{reactor=\"1\",reason=\"token_not_found\"} 2\n"))
        #expect(text.contains("sockify_token_lookup_seconds_bucket{reactor=\"0\",le=\"+Inf\"} 3\n"))
        #expect(text.contains("sockify_token_lookup_seconds_count{reactor=\"1\"} 3\n"))
        #expect(text.contains("sockify_backend_info{backend=\"io_uring\"} 1\n"))
        #expect(text.hasSuffix("sockify_draining 1\n"))
        #expect(strictFormatProblems(text).isEmpty)
    }

    @Test("Every line is a well-formed HELP, TYPE or sample line (format 0.0.4), each family declared once")
    func lineFormat() {
        let snapshot = Self.sampleWorker().snapshot()
        for perWorker in [false, true] {
            let text = PrometheusText.render(
                snapshots: [snapshot, snapshot, snapshot], backend: "a\\b\n\"c", draining: true, perWorker: perWorker)
            #expect(strictFormatProblems(text) == [])
        }
        #expect(!strictFormatProblems("sockify_x 1\n").isEmpty)  // no TYPE: the checker does check
    }

    @Test("Prometheus's own parser (prometheus_client) reads the output with the values we wrote")
    func prometheusClientParses() throws {
        let snapshot = Self.sampleWorker().snapshot()
        let text = PrometheusText.render(
            snapshots: [snapshot, snapshot], backend: "ep\"oll\\", draining: false, perWorker: true)
        let lines = try parseWithPrometheusClient(text)
        #expect(lines.contains("family sockify_token_lookup_seconds histogram"))
        #expect(lines.contains("family sockify_connections_active gauge"))
        #expect(lines.contains("family sockify_connections counter"))  // the parser strips _total
        #expect(lines.contains("sample sockify_connections_total reactor=1 3.0"))
        #expect(lines.contains("sample sockify_token_lookup_seconds_bucket le=0.001,reactor=0 2.0"))
        #expect(lines.contains("sample sockify_token_lookup_seconds_sum reactor=1 7.0013"))
        #expect(lines.contains("sample sockify_backend_info backend=ep\"oll\\ 1.0"))
        #expect(lines.contains("sample sockify_reactor_busy_seconds_total reactor=1 1.5"))
        let sampleCount = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.count
        #expect(lines.filter { $0.hasPrefix("sample ") }.count == sampleCount)
    }
}

// MARK: - Checkers

/// Problems with `text` as exposition format 0.0.4, strictly: LF-terminated lines; `# HELP name text` then
/// `# TYPE name type` before a family's samples, once per family; sample names of the family (histograms:
/// `_bucket`, `_sum`, `_count`); label names `[a-zA-Z_][a-zA-Z0-9_]*`, values quoted with only `\\`, `\"`, `\n`
/// escapes; a value that is an integer or decimal (no exponent needed here) or `+Inf`; histograms with `le`
/// buckets ascending, ending in `+Inf`, whose count equals `_count`.
func strictFormatProblems(_ text: String) -> [String] {
    var problems: [String] = []
    guard text.hasSuffix("\n") else { return ["no final line feed"] }
    var declared: Set<String> = []
    var helped: String? = nil
    var family: (name: String, type: String)? = nil
    var lastBucket = -Double.infinity
    var bucketCount: String? = nil
    for line in text.dropLast().split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
        if line.hasPrefix("# HELP ") {
            let parts = line.dropFirst(7).split(separator: " ", maxSplits: 1)
            guard parts.count == 2, isMetricName(String(parts[0])) else {
                problems.append("bad HELP: \(line)")
                continue
            }
            helped = String(parts[0])
        } else if line.hasPrefix("# TYPE ") {
            let parts = line.dropFirst(7).split(separator: " ").map(String.init)
            guard parts.count == 2, parts[0] == helped, ["counter", "gauge", "histogram"].contains(parts[1]) else {
                problems.append("bad TYPE: \(line)")
                continue
            }
            guard declared.insert(parts[0]).inserted else {
                problems.append("family declared twice: \(parts[0])")
                continue
            }
            family = (parts[0], parts[1])
            lastBucket = -.infinity
        } else {
            guard let family else {
                problems.append("sample before any TYPE: \(line)")
                continue
            }
            guard let (name, labels, value) = parseSample(line) else {
                problems.append("bad sample: \(line)")
                continue
            }
            let allowed =
                family.type == "histogram"
                ? ["_bucket", "_sum", "_count"].map { family.name + $0 } : [family.name]
            if !allowed.contains(name) { problems.append("sample \(name) outside its family \(family.name)") }
            if family.type == "counter" && !name.hasSuffix("_total") {
                problems.append("counter without _total: \(name)")
            }
            if name.hasSuffix("_bucket") {
                guard let le = labels["le"], let bound = le == "+Inf" ? Double.infinity : Double(le), bound > lastBucket
                else {
                    problems.append("bad or unordered le: \(line)")
                    continue
                }
                lastBucket = bound
                if bound == .infinity {
                    bucketCount = value
                    lastBucket = -.infinity
                }
            }
            if name.hasSuffix("_count") && family.type == "histogram" && value != bucketCount {
                problems.append("_count \(value) differs from the +Inf bucket \(bucketCount ?? "none")")
            }
        }
    }
    return problems
}

private func isMetricName(_ name: String) -> Bool {
    func isLetter(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || scalar == "_" || scalar == ":"
    }
    guard let first = name.unicodeScalars.first, isLetter(first) else { return false }
    return name.unicodeScalars.allSatisfy { isLetter($0) || ("0"..."9").contains($0) }
}

/// `name{label="value",…} value`, or nil.
private func parseSample(_ line: String) -> (String, [String: String], String)? {
    let scalars = Array(line.unicodeScalars)
    var index = 0
    var name = ""
    while index < scalars.count, scalars[index] != "{", scalars[index] != " " {
        name.unicodeScalars.append(scalars[index])
        index += 1
    }
    guard isMetricName(name), index < scalars.count else { return nil }
    var labels: [String: String] = [:]
    if scalars[index] == "{" {
        index += 1
        while true {
            var labelName = ""
            while index < scalars.count, scalars[index] != "=" {
                labelName.unicodeScalars.append(scalars[index])
                index += 1
            }
            guard isMetricName(labelName), !labelName.contains(":"), index + 1 < scalars.count,
                scalars[index + 1] == "\"", labels[labelName] == nil
            else { return nil }
            index += 2
            var value = ""
            while index < scalars.count, scalars[index] != "\"" {
                if scalars[index] == "\\" {
                    guard index + 1 < scalars.count, ["\\", "\"", "n"].contains(scalars[index + 1]) else { return nil }
                    value += scalars[index + 1] == "n" ? "\n" : String(scalars[index + 1])
                    index += 2
                } else {
                    guard scalars[index] != "\n" else { return nil }
                    value.unicodeScalars.append(scalars[index])
                    index += 1
                }
            }
            guard index < scalars.count else { return nil }
            labels[labelName] = value
            index += 1
            guard index < scalars.count else { return nil }
            if scalars[index] == "," {
                index += 1
                continue
            }
            guard scalars[index] == "}" else { return nil }
            index += 1
            break
        }
    }
    guard index < scalars.count, scalars[index] == " " else { return nil }
    let value = String(String.UnicodeScalarView(scalars[(index + 1)...]))
    let isNumber =
        value == "+Inf"
        || (!value.isEmpty && value.split(separator: ".", omittingEmptySubsequences: false).count <= 2
            && value.allSatisfy { $0.isASCII && ($0.isNumber || $0 == ".") } && value.first != "."
            && value.last != ".")
    return isNumber ? (name, labels, value) : nil
}

/// Parses `text` with prometheus_client's parser in the repository's .venv and returns its reading, one line per
/// family (`family NAME TYPE`) and sample (`sample NAME k=v,… VALUE`, labels sorted). A missing .venv or
/// prometheus_client fails the test (run tools/setup-deps.sh).
func parseWithPrometheusClient(_ text: String) throws -> [String] {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let python = root.appendingPathComponent(".venv/bin/python").path
    try #require(FileManager.default.isExecutableFile(atPath: python), "\(python) is missing: run tools/setup-deps.sh")
    let script = """
        import sys
        from prometheus_client.parser import text_string_to_metric_families
        for family in text_string_to_metric_families(sys.stdin.read()):
            print("family", family.name, family.type)
            for s in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
                print("sample", s.name, labels, repr(float(s.value)))
        """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = ["-c", script]
    let input = Pipe()
    let output = Pipe()
    let errors = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    input.fileHandleForWriting.write(Data(text.utf8))
    try input.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "prometheus_client failed to parse: \(errorText)")
    return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
}
