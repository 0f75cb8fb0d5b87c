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
