// The deterministic byte pattern shared with the Python peers (Tests/Fixtures/peers/pattern.py).
import Glibc

/// Byte `i` of every test stream is the top byte of the 32-bit Knuth multiplicative hash of `i mod period`.
/// The period is the largest prime below 2^20, so a lost or repeated chunk of any power-of-two size breaks the
/// pattern; a table of two periods lets producers copy and verifiers `memcmp` whole windows.
enum PatternStream {
    static let period = 1_048_573

    /// Two periods back to back: any window of length ≤ `period` starting below `period` is contiguous.
    static let table: [UInt8] = {
        var bytes = [UInt8](repeating: 0, count: 2 * period)
        for k in 0..<period {
            let byte = UInt8(truncatingIfNeeded: (UInt32(k) &* 2_654_435_761) >> 24)
            bytes[k] = byte
            bytes[k + period] = byte
        }
        return bytes
    }()

    /// The pattern bytes `[offset, offset + count)` as an array (for small payloads).
    static func bytes(offset: Int, count: Int) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(count)
        var position = offset
        while result.count < count {
            let start = position % period
            let n = min(count - result.count, period)
            result.append(contentsOf: table[start..<start + n])
            position += n
        }
        return result
    }

    /// Calls `body` with the pattern window `[offset, offset + count)`; `count` must be ≤ `period`.
    static func withWindow<T>(offset: Int, count: Int, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        precondition(count <= period, "pattern windows are at most one period long")
        return table.withUnsafeBytes { all in
            body(UnsafeRawBufferPointer(rebasing: all[(offset % period)..<(offset % period) + count]))
        }
    }

    /// The stream offset of the first byte of `received` (which starts at stream offset `offset`) that differs
    /// from the pattern, or nil when all match.
    static func firstMismatch(offset: Int, in received: UnsafeRawBufferPointer) -> Int? {
        var position = 0
        while position < received.count {
            let n = min(received.count - position, period)
            let mismatch: Int? = withWindow(offset: offset + position, count: n) { expected in
                if memcmp(expected.baseAddress!, received.baseAddress! + position, n) == 0 { return nil }
                for i in 0..<n where expected[i] != received[position + i] { return i }
                return nil
            }
            if let mismatch { return offset + position + mismatch }
            position += n
        }
        return nil
    }
}
