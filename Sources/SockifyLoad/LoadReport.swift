// What a run prints: the human table, the one-object JSON report, and the HdrHistogram percentile file.
import Foundation
import Histogram

enum LoadReport {
    /// Latency percentiles reported everywhere (the issue's p50/p90/p99/p99.9 plus max).
    static let percentiles: [(String, Double)] = [("p50", 50), ("p90", 90), ("p99", 99), ("p99_9", 99.9)]

    // MARK: JSON

    static func json(_ result: LoadResult, date: Date = Date()) -> JSONValue {
        let plan = result.plan
        let stats = result.statistics
        var parameters: [(String, JSONValue)] = [
            ("connections", .integer(Int64(plan.connectionCount))),
            ("size", .integer(Int64(plan.messageSize))),
            ("threads", .integer(Int64(plan.threadCount))),
            ("timeout_s", .number(plan.timeout.seconds)),
            ("seed", .string(String(plan.seed))),
        ]
        if let duration = plan.duration { parameters.append(("duration_s", .number(duration.seconds))) }
        if let messages = plan.messageCount { parameters.append(("messages", .integer(Int64(messages)))) }
        if plan.mode == .up || plan.mode == .down { parameters.append(("bytes", .integer(plan.byteCount))) }
        if let rate = plan.rate { parameters.append(("rate", .number(rate))) }
        if plan.mode == .conns { parameters.append(("hold_s", .number(plan.hold.seconds))) }
        if let pid = plan.proxyPID { parameters.append(("pid", .integer(Int64(pid)))) }
        if let subprotocol = plan.subprotocol { parameters.append(("subprotocol", .string(subprotocol))) }
        if plan.endpoint.isTLS {
            parameters.append(("tls_verify", .string(plan.tls.verification)))
            parameters.append(("ktls", .string(plan.tls.kernelTLS ? "auto" : "off")))
            if plan.tls.certificateFile != nil { parameters.append(("client_certificate", .bool(true))) }
        }

        var results: [(String, JSONValue)] = [("elapsed_s", .number(result.elapsed))]
        switch plan.mode {
        case .rtt:
            results += [
                ("messages", .integer(Int64(stats.messages))),
                ("msgs_per_s", .number(result.messagesPerSecond)),
                ("open_loop", .bool(plan.rate != nil)),
                ("latency_us", latencyJSON(stats.latency)),
            ]
        case .up, .down:
            results += [
                ("bytes", .integer(stats.bytes)),
                ("bytes_per_s", .number(result.bytesPerSecond)),
                ("gb_per_s", .number(result.bytesPerSecond / 1e9)),
            ]
        case .conns:
            results += [
                ("opened", .integer(Int64(stats.opened))),
                ("rechecked", .integer(Int64(result.rechecked))),
                ("connect_rate_per_s", .number(result.connectRate)),
                ("handshake_us", latencyJSON(stats.handshake)),
            ]
            if let before = result.memoryBefore, let held = result.memoryHeld {
                results.append(
                    ("memory", .object([
                        ("pss_before_bytes", .integer(Int64(before.bytes))),
                        ("pss_held_bytes", .integer(Int64(held.bytes))),
                        ("processes_before", .integer(Int64(before.processCount))),
                        ("processes_held", .integer(Int64(held.processCount))),
                        ("per_connection_bytes", .number(result.memoryPerConnection ?? 0)),
                    ])))
            }
        case .soak:
            results += [
                ("messages", .integer(Int64(stats.messages))),
                ("bytes", .integer(stats.bytes)),
                ("rtt_jobs", .integer(Int64(stats.rttJobs))),
                ("up_jobs", .integer(Int64(stats.upJobs))),
                ("down_jobs", .integer(Int64(stats.downJobs))),
                ("connections_opened", .integer(Int64(stats.opened))),
                ("latency_us", latencyJSON(stats.latency)),
            ]
        }
        var object: [(String, JSONValue)] = [
            ("tool", .string("sockify-load")),
            ("version", .string(SystemInfo.version)),
        ]
        if let label = plan.label { object.append(("label", .string(label))) }
        object += [
            ("date", .string(ISO8601DateFormatter().string(from: date))),
            ("mode", .string(plan.mode.rawValue)),
            ("target", .string(plan.endpoint.description)),
            ("transport", transportJSON(result)),
            ("nproc", .integer(Int64(SystemInfo.processorCount))),
            ("cpu_model", .string(SystemInfo.cpuModel)),
            ("kernel", .string(SystemInfo.kernel)),
            ("parameters", .object(parameters)),
            ("results", .object(results)),
            ("ok", .bool(result.isSuccess)),
            ("timed_out", .bool(result.isTimedOut)),
            ("failures", .integer(Int64(stats.failures))),
            ("integrity_failures", .integer(Int64(stats.integrityFailures))),
            ("errors", .array(stats.failureMessages.map { .string($0) })),
        ]
        return .object(object)
    }

    /// `{"scheme": "wss", "tls": {"version", "cipher", "kernel_tls_send", …}}`; `tls` is null until a TLS
    /// handshake completed, and absent for ws:// and tcp://.
    static func transportJSON(_ result: LoadResult) -> JSONValue {
        let endpoint = result.plan.endpoint
        var members: [(String, JSONValue)] = [("scheme", .string(endpoint.scheme.rawValue))]
        guard endpoint.isTLS else { return .object(members) }
        let tls = result.statistics.tls
        guard tls.sessionCount > 0 else {
            members.append(("tls", .null))
            return .object(members)
        }
        members.append(
            ("tls", .object([
                ("version", .string(tls.protocolVersion ?? "")),
                ("cipher", .string(tls.cipher ?? "")),
                ("mixed", .bool(tls.isMixed)),
                // True when every session's writes went through the kernel (kTLS send); counts say how many did.
                ("kernel_tls_send", .bool(tls.kernelSendCount == tls.sessionCount)),
                ("kernel_tls_receive", .bool(tls.kernelReceiveCount == tls.sessionCount)),
                ("sessions", .integer(Int64(tls.sessionCount))),
                ("kernel_tls_send_sessions", .integer(Int64(tls.kernelSendCount))),
                ("kernel_tls_receive_sessions", .integer(Int64(tls.kernelReceiveCount))),
                ("verify", .string(result.plan.tls.verification)),
            ])))
        return .object(members)
    }

    private static func latencyJSON(_ histogram: Histogram<UInt64>) -> JSONValue {
        guard histogram.totalCount > 0 else { return .null }
        var members = percentiles.map { ($0.0, JSONValue.number(microseconds(histogram.valueAtPercentile($0.1)))) }
        members.append(("max", .number(microseconds(histogram.max))))
        members.append(("mean", .number(histogram.mean / 1000)))
        members.append(("count", .integer(Int64(histogram.totalCount))))
        return .object(members)
    }

    private static func microseconds(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1000 }

    // MARK: table

    static func table(_ result: LoadResult) -> String {
        let plan = result.plan
        let stats = result.statistics
        var lines: [String] = []
        let connections = "\(plan.connectionCount) connection\(plan.connectionCount == 1 ? "" : "s")"
        lines.append(
            "sockify-load \(SystemInfo.version) · \(plan.mode.rawValue) · \(plan.endpoint) · \(connections) · "
                + "\(bytes(plan.messageSize)) · \(plan.threadCount) thread\(plan.threadCount == 1 ? "" : "s")")
        lines.append("nproc \(SystemInfo.processorCount) · \(SystemInfo.cpuModel) · Linux \(SystemInfo.kernel)")
        func row(_ name: String, _ value: String) { lines.append("  " + name.padding(toLength: 14, withPad: " ", startingAt: 0) + value) }
        if plan.endpoint.isTLS { row("tls", tlsRow(result)) }
        switch plan.mode {
        case .rtt:
            row("messages", "\(grouped(stats.messages)) in \(fixed(result.elapsed, 2)) s = \(grouped(Int(result.messagesPerSecond))) msgs/s"
                + (plan.rate.map { " (open loop at \(grouped(Int($0)))/s, CO-corrected)" } ?? " (closed loop)"))
            row("latency µs", latencyRow(stats.latency))
        case .up, .down:
            row("moved", "\(bytes(Int(stats.bytes))) in \(fixed(result.elapsed, 3)) s" + (result.isSuccess ? ", every byte verified" : " (incomplete)"))
            row("throughput", "\(fixed(result.bytesPerSecond / 1e9, 3)) GB/s (\(fixed(result.bytesPerSecond / 1_048_576, 0)) MiB/s)")
        case .conns:
            row("opened", "\(grouped(stats.opened)) of \(grouped(plan.connectionCount)), re-checked \(grouped(result.rechecked)) after \(fixed(plan.hold.seconds, 1)) s")
            row("connect rate", "\(grouped(Int(result.connectRate))) connections/s")
            row("handshake µs", latencyRow(stats.handshake))
            if let before = result.memoryBefore, let held = result.memoryHeld, let perConnection = result.memoryPerConnection {
                row("proxy PSS", "\(bytes(before.bytes)) (\(before.processCount) proc) → \(bytes(held.bytes)) (\(held.processCount) proc)")
                row("per conn", "\(fixed(perConnection / 1024, 1)) KiB")
            }
        case .soak:
            row("jobs", "rtt \(stats.rttJobs), up \(stats.upJobs), down \(stats.downJobs); \(grouped(stats.opened)) connections in \(fixed(result.elapsed, 1)) s")
            row("moved", "\(grouped(stats.messages)) echo messages, \(bytes(Int(stats.bytes))) streamed" + (result.isSuccess ? ", every byte verified" : ""))
            row("latency µs", latencyRow(stats.latency))
        }
        if result.isSuccess {
            row("result", "OK")
        } else {
            var summary = "FAILED: \(stats.failures) failure\(stats.failures == 1 ? "" : "s") (\(stats.integrityFailures) integrity)"
            if result.isTimedOut { summary += ", timed out after \(fixed(plan.timeout.seconds, 0)) s" }
            row("result", summary)
            for message in stats.failureMessages.prefix(10) { lines.append("    " + message) }
        }
        return lines.joined(separator: "\n")
    }

    /// `TLSv1.3 TLS_AES_256_GCM_SHA384 · kernel TLS send 0 of 3 sessions, receive 0 · verify cafile`.
    static func tlsRow(_ result: LoadResult) -> String {
        let tls = result.statistics.tls
        let verify = "verify \(result.plan.tls.verification)"
        guard tls.sessionCount > 0 else { return "no TLS handshake completed · \(verify)" }
        let negotiated = "\(tls.protocolVersion ?? "?") \(tls.cipher ?? "?")" + (tls.isMixed ? " (and others)" : "")
        let sessions = "\(tls.sessionCount) session\(tls.sessionCount == 1 ? "" : "s")"
        return "\(negotiated) · kernel TLS send \(tls.kernelSendCount) of \(sessions), receive "
            + "\(tls.kernelReceiveCount) · \(verify)" + (result.plan.tls.kernelTLS ? "" : " · --ktls off")
    }

    private static func latencyRow(_ histogram: Histogram<UInt64>) -> String {
        guard histogram.totalCount > 0 else { return "(no samples)" }
        let parts = percentiles.map { "\($0.0.replacingOccurrences(of: "_", with: ".")) \(fixed(microseconds(histogram.valueAtPercentile($0.1)), 1))" }
        return (parts + ["max \(fixed(microseconds(histogram.max), 1))"]).joined(separator: "  ")
    }

    static func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }

    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (i, character) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return (value < 0 ? "-" : "") + out
    }

    static func bytes(_ count: Int) -> String {
        let units = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        for (size, unit) in units where count >= size {
            return count % size == 0 ? "\(count / size) \(unit)" : "\(fixed(Double(count) / Double(size), 2)) \(unit)"
        }
        return "\(count) B"
    }

    // MARK: hgrm

    /// The latency (rtt, soak) or handshake (conns) distribution in HdrHistogram's percentile format, in µs.
    static func hgrm(_ result: LoadResult) -> String {
        let histogram = result.plan.mode == .conns ? result.statistics.handshake : result.statistics.latency
        var text = ""
        histogram.outputPercentileDistribution(to: &text, outputValueUnitScalingRatio: 1000)
        return text
    }
}
