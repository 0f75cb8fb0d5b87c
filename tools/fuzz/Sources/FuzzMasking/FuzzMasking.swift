// Fuzz harness: `Masking.apply` (the SIMD/word/byte fast path, RFC 6455 §5.3) against `Masking.applyByteByByte`,
// the byte-loop oracle, for any length, key, phase and alignment, whole or in two pieces.
//
// Input layout: byte 0 phase (low 2 bits), byte 1 the payload's offset in its buffer (low 6 bits: every
// alignment against 64-byte vectors), bytes 2-5 the key (wire order), byte 6 where to cut the payload for the
// two-piece run, then the payload itself.
import FuzzSupport
import SockifyProtocol

/// Bytes written around the payload; `apply` must leave every one of them alone.
private let guardByte: UInt8 = 0xA5
private let trailingGuardCount = 64

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMasking(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var input = FuzzInput(data, count)
    let phase = Int(input.takeByte() & 3)
    let lead = Int(input.takeByte() & 63)
    let key = input.takeUInt32()
    let cutSelector = Int(input.takeByte())
    let payload = Array(input.remaining)
    let range = lead..<(lead + payload.count)

    var original = [UInt8](repeating: guardByte, count: lead + payload.count + trailingGuardCount)
    original.replaceSubrange(range, with: payload)

    var expected = original
    mask(&expected, range, key: key, phase: phase, byteByByte: true)

    // 1. The fast path over the whole range.
    var whole = original
    mask(&whole, range, key: key, phase: phase, byteByByte: false)
    check(whole == expected, "apply differs from the oracle: \(describe(key, phase, lead, payload))")

    // 2. In two pieces, the second starting at the phase the first one ends on, as the decoder does when a
    //    frame's payload arrives in two reads.
    let cut = payload.isEmpty ? 0 : cutSelector % (payload.count + 1)
    var pieces = original
    mask(&pieces, lead..<(lead + cut), key: key, phase: phase, byteByByte: false)
    mask(&pieces, (lead + cut)..<range.upperBound, key: key, phase: (phase + cut) & 3, byteByByte: false)
    check(pieces == expected, "apply in pieces cut at \(cut) differs: \(describe(key, phase, lead, payload))")

    // 3. XOR is its own inverse: masking twice restores the input.
    mask(&whole, range, key: key, phase: phase, byteByByte: false)
    check(whole == original, "apply twice is not the identity: \(describe(key, phase, lead, payload))")
    return 0
}

private func mask(_ bytes: inout [UInt8], _ range: Range<Int>, key: UInt32, phase: Int, byteByByte: Bool) {
    bytes.withUnsafeMutableBytes { buffer in
        var span = buffer.mutableBytes
        if byteByByte {
            Masking.applyByteByByte(&span, in: range, key: key, phase: phase)
        } else {
            Masking.apply(&span, in: range, key: key, phase: phase)
        }
    }
}

private func describe(_ key: UInt32, _ phase: Int, _ lead: Int, _ payload: [UInt8]) -> String {
    "key \(String(key, radix: 16)) phase \(phase) offset \(lead) length \(payload.count) payload \(hex(payload.prefix(64)))"
}
