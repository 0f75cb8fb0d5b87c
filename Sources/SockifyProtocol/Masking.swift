// RFC 6455 §5.3 client-to-server masking: XOR of the payload with a repeating 4-byte key, in place.

/// Applies (or removes; XOR is its own inverse) the RFC 6455 §5.3 mask in place.
///
/// Key convention: `key` holds the 4 masking-key bytes as they appear on the wire, loaded little-endian, so wire
/// byte 0 is `key & 0xFF`. Payload byte `i` of a frame is XORed with key byte `i % 4`. `phase` is the key byte
/// that applies to the first byte of `range`, which lets a frame be unmasked in pieces as its bytes arrive:
/// after unmasking `n` bytes, the next piece starts at phase `(phase + n) % 4`.
public enum Masking {
    /// XORs `bytes[range]` with `key`, starting at key byte `phase`.
    ///
    /// The body works on 64-byte `SIMD16<UInt32>` vectors, then 8-byte words, then single bytes, all with exact
    /// lengths: no byte outside `range` is read or written. Inlinable so that small frames don't pay a call
    /// (a cross-module call cost 4× at 64 bytes when measured). Do not switch the vector type to
    /// `SIMD32<UInt8>`/`SIMD64<UInt8>`: the compiler scalarises those (~0.1 GB/s against ~55 GB/s here).
    ///
    /// - Parameters:
    ///   - bytes: The buffer holding the payload; modified in place.
    ///   - range: The byte offsets of `bytes` to (un)mask. Must lie within `bytes`.
    ///   - key: The masking key, wire bytes loaded little-endian.
    ///   - phase: The key byte (0...3) that applies to `range.lowerBound`.
    @inlinable
    public static func apply(_ bytes: inout MutableRawSpan, in range: Range<Int>, key: UInt32, phase: Int) {
        precondition(
            range.lowerBound >= 0 && range.upperBound <= bytes.byteCount,
            "mask range \(range) outside buffer of \(bytes.byteCount) bytes"
        )
        precondition(phase >= 0 && phase < 4, "mask phase \(phase) not in 0...3")
        // Rotate the key so that its low byte is the key byte for range.lowerBound. Masked shifts: for phase 0,
        // `&<< 32` is `&<< 0`, and `key | key` is still `key`.
        let shift = UInt32(truncatingIfNeeded: phase &* 8)
        let rotated = (key &>> shift) | (key &<< (32 &- shift))
        // The in-memory byte order of a loaded word must match the wire order of the key bytes.
        let wordKey = rotated.littleEndian
        let vectorKey = SIMD16<UInt32>(repeating: wordKey)
        let doubleWordKey = UInt64(wordKey) | (UInt64(wordKey) &<< 32)

        var offset = range.lowerBound
        let end = range.upperBound
        // 64 and 8 are multiples of 4, so the key phase is unchanged at the start of the tail.
        while end &- offset >= 64 {
            let vector = bytes.unsafeLoadUnaligned(fromByteOffset: offset, as: SIMD16<UInt32>.self)
            bytes.storeBytes(of: vector ^ vectorKey, toByteOffset: offset, as: SIMD16<UInt32>.self)
            offset &+= 64
        }
        while end &- offset >= 8 {
            let word = bytes.unsafeLoadUnaligned(fromByteOffset: offset, as: UInt64.self)
            bytes.storeBytes(of: word ^ doubleWordKey, toByteOffset: offset, as: UInt64.self)
            offset &+= 8
        }
        var byteKey = rotated
        while offset < end {
            let byte = bytes.unsafeLoad(fromByteOffset: offset, as: UInt8.self)
            bytes.storeBytes(of: byte ^ UInt8(truncatingIfNeeded: byteKey), toByteOffset: offset, as: UInt8.self)
            byteKey = (byteKey &>> 8) | (byteKey &<< 24)
            offset &+= 1
        }
    }

    /// The reference implementation: one byte at a time, straight from §5.3 (`j = i MOD 4`).
    ///
    /// The oracle every fast path is tested against; too slow (~2 GB/s) for the data path.
    ///
    /// - Parameters: as for ``apply(_:in:key:phase:)``.
    public static func applyByteByByte(_ bytes: inout MutableRawSpan, in range: Range<Int>, key: UInt32, phase: Int) {
        precondition(
            range.lowerBound >= 0 && range.upperBound <= bytes.byteCount,
            "mask range \(range) outside buffer of \(bytes.byteCount) bytes"
        )
        precondition(phase >= 0 && phase < 4, "mask phase \(phase) not in 0...3")
        for (i, offset) in range.enumerated() {
            let keyByte = UInt8(truncatingIfNeeded: key >> (8 * UInt32((phase + i) % 4)))
            let byte = bytes.unsafeLoad(fromByteOffset: offset, as: UInt8.self)
            bytes.storeBytes(of: byte ^ keyByte, toByteOffset: offset, as: UInt8.self)
        }
    }
}
