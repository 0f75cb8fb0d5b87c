// What every harness shares: reading the fuzzer's bytes, a seeded generator for derived choices (chunk sizes,
// limits), and the one way a harness reports a broken invariant.

/// Stops the process when a harness invariant does not hold.
///
/// libFuzzer sees the trap as a crash and saves the input (`crash-<sha1>`), which is the point: every `check` is a
/// property of the code under test, not of the input. `fatalError` rather than `precondition`, because an
/// optimised build drops `precondition`'s message and we want it in the log.
public func check(
    _ condition: @autoclosure () -> Bool,
    _ message: @autoclosure () -> String,
    file: StaticString = #fileID,
    line: UInt = #line
) {
    if !condition() { fatalError("fuzz invariant failed: \(message())", file: file, line: line) }
}

/// The bytes libFuzzer passes to `LLVMFuzzerTestOneInput`, read front to back.
public struct FuzzInput {
    /// All input bytes.
    public let bytes: UnsafeRawBufferPointer
    /// The offset of the first byte not yet taken.
    public private(set) var position = 0

    /// Wraps libFuzzer's `(data, size)`; `data` may be null when `size` is 0.
    public init(_ data: UnsafePointer<UInt8>?, _ count: Int) {
        bytes = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : count)
    }

    /// The bytes not yet taken.
    public var remaining: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[position...]) }

    /// Takes one byte, or returns 0 once the input is exhausted (so short inputs still run).
    public mutating func takeByte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    /// Takes four bytes as a little-endian `UInt32` (missing bytes read as 0).
    public mutating func takeUInt32() -> UInt32 {
        var value: UInt32 = 0
        for shift in stride(from: 0, to: 32, by: 8) { value |= UInt32(takeByte()) << UInt32(shift) }
        return value
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny deterministic generator, so that one input always replays the
/// same run; libFuzzer requires a harness to be a function of its input.
public struct SplitMix64 {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in `range` (modulo bias is irrelevant here).
    public mutating func next(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }
}

/// Lower-case hex of `bytes`, two digits each, for failure messages.
public func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0xF)])
    }
    return String(decoding: text, as: UTF8.self)
}
