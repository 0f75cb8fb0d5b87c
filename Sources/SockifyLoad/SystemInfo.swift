// Facts about this machine and process for the report, and the few process settings a load run needs.
import Foundation
import Glibc

enum SystemInfo {
    /// The tool's version, printed by `--version` and in every JSON report.
    static let version = "0.1.0"

    /// Online CPUs.
    static var processorCount: Int { max(1, Int(sysconf(CInt(_SC_NPROCESSORS_ONLN)))) }

    /// The first `model name` of /proc/cpuinfo, or "unknown".
    static var cpuModel: String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            if let colon = line.firstIndex(of: ":") {
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return "unknown"
    }

    /// The kernel release (`uname -r`).
    static var kernel: String {
        var names = utsname()
        uname(&names)
        return withUnsafeBytes(of: &names.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// Raises the soft descriptor limit to the hard one, so that thousands of connections fit.
    /// - Returns: The limit now in force.
    @discardableResult
    static func raiseDescriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(CInt(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(CInt(RLIMIT_NOFILE.rawValue), &limit)
        }
        return Int(clamping: limit.rlim_cur)
    }

    static var isStandardOutputTerminal: Bool { isatty(STDOUT_FILENO) == 1 }
}

/// Monotonic time in nanoseconds (`CLOCK_MONOTONIC`, vDSO: no syscall). `MonotonicClock` has milliseconds only.
enum LoadClock {
    @inline(__always)
    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating).
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        let (product, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : product &+ UInt64(attoseconds / 1_000_000_000)
    }

    var seconds: Double { Double(nanoseconds) / 1e9 }
}
