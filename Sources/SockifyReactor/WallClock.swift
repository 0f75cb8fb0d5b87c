// Wall-clock time for HTTP Date headers and websockify-style log timestamps.
import Glibc

/// Real time (`CLOCK_REALTIME`), for presentation only; timeouts use `MonotonicClock`.
public enum WallClock {
    /// Seconds since the Unix epoch.
    public static func secondsSinceEpoch() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec)
    }

    /// UTC time with milliseconds in RFC 3339 form: `2026-11-25T08:24:31.123Z` (structured logs).
    public static func iso8601UTC() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var now = time_t(ts.tv_sec)
        var parts = tm()
        gmtime_r(&now, &parts)
        func pad(_ v: Int, _ width: Int) -> String {
            let text = String(v)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))T"
            + "\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2))."
            + "\(pad(Int(ts.tv_nsec) / 1_000_000, 3))Z"
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Local time as Python's `log_date_time_string()` prints it: `25/Nov/2026 08:24:31`.
    public static func logTimestamp() -> String {
        var now = time_t(secondsSinceEpoch())
        var parts = tm()
        localtime_r(&now, &parts)
        func two(_ v: CInt) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(two(parts.tm_mday))/\(months[Int(parts.tm_mon)])/\(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    }
}
