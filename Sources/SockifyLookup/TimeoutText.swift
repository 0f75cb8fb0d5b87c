// How a time budget reads in an error message: `2s`, `1.5s`, `250ms`.

/// `milliseconds` as short text for log lines: whole seconds as `2s`, other values ≥ 1 s with up to three
/// decimals (`1.5s`), shorter ones as `250ms`.
func timeoutText(milliseconds: Int64) -> String {
    if milliseconds < 1000 { return "\(max(0, milliseconds))ms" }
    let seconds = milliseconds / 1000
    var fraction = String(milliseconds % 1000)
    if fraction == "0" { return "\(seconds)s" }
    fraction = String(repeating: "0", count: 3 - fraction.count) + fraction
    while fraction.hasSuffix("0") { fraction.removeLast() }
    return "\(seconds).\(fraction)s"
}

/// `duration` as `timeoutText(milliseconds:)` renders it.
func timeoutText(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    let (scaled, overflowed) = seconds.multipliedReportingOverflow(by: 1000)
    return timeoutText(milliseconds: overflowed ? .max : scaled &+ attoseconds / 1_000_000_000_000_000)
}
