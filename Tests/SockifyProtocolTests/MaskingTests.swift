// Masking.apply against the byte-loop oracle at every length, key phase and alignment, with guard bytes.
import SockifyProtocol
import Testing

@Suite("Masking")
struct MaskingTests {
    static let guardLength = 16

    /// Masks `length` bytes at `guardLength + misalignment` in a random buffer with both kernels and compares
    /// the whole buffers, so guard bytes on either side must also be untouched.
    static func check(length: Int, phase: Int, misalignment: Int, key: UInt32, generator: inout SeededGenerator) {
        let start = guardLength + misalignment
        let original = randomBytes(start + length + guardLength, using: &generator)
        let range = start..<(start + length)
        var fast = original
        var oracle = original
        withSpan(&fast) { Masking.apply(&$0, in: range, key: key, phase: phase) }
        withSpan(&oracle) { Masking.applyByteByByte(&$0, in: range, key: key, phase: phase) }
        #expect(fast == oracle, "length \(length) phase \(phase) misalignment \(misalignment)")
        #expect(fast[..<start] == original[..<start], "guard bytes before the range changed")
        #expect(fast[range.upperBound...] == original[range.upperBound...], "guard bytes after the range changed")
        withSpan(&fast) { Masking.apply(&$0, in: range, key: key, phase: phase) }
        #expect(fast == original, "masking twice is not the identity")
    }

    @Test("apply matches the byte-loop oracle for phase 0...3 × misalignment 0...15", arguments: 0...130)
    func oracleEveryLength(length: Int) {
        var generator = SeededGenerator(seed: UInt64(length))
        for phase in 0...3 {
            for misalignment in 0...15 {
                let key = UInt32.random(in: .min ... .max, using: &generator)
                Self.check(length: length, phase: phase, misalignment: misalignment, key: key, generator: &generator)
            }
        }
    }

    @Test("The oracle itself follows §5.3: byte i is XORed with key byte (phase + i) mod 4")
    func oracleFollowsRFC() {
        var bytes = [UInt8](repeating: 0, count: 9)
        withSpan(&bytes) { Masking.applyByteByByte(&$0, in: 1..<8, key: RFCVectors.exampleKey, phase: 2) }
        #expect(bytes == [0, 0x21, 0x3D, 0x37, 0xFA, 0x21, 0x3D, 0x37, 0])
    }

    @Test("§5.7 masked \"Hello\" unmasks to \"Hello\"")
    func rfcHello() {
        var bytes = Array(RFCVectors.maskedHello[6...])
        withSpan(&bytes) { Masking.apply(&$0, in: 0..<5, key: RFCVectors.exampleKey, phase: 0) }
        #expect(bytes == RFCVectors.hello)
    }

    @Test("Random lengths up to 100 000 bytes, random keys and alignments, match the oracle", arguments: 0..<24)
    func randomizedLarge(seed: Int) {
        var generator = SeededGenerator(seed: 0x5EED_0000 + UInt64(seed))
        let length = Int.random(in: 131...100_000, using: &generator)
        Self.check(
            length: length,
            phase: Int.random(in: 0...3, using: &generator),
            misalignment: Int.random(in: 0...63, using: &generator),
            key: UInt32.random(in: .min ... .max, using: &generator),
            generator: &generator
        )
    }

    @Test("Unmasking in random pieces with carried phase equals unmasking at once", arguments: 0..<32)
    func randomizedSplits(seed: Int) {
        var generator = SeededGenerator(seed: 0x5B11_7000 + UInt64(seed))
        let length = Int.random(in: 0...5000, using: &generator)
        let key = UInt32.random(in: .min ... .max, using: &generator)
        let original = randomBytes(length + 2 * Self.guardLength, using: &generator)
        let whole = Self.guardLength..<(Self.guardLength + length)
        var expected = original
        withSpan(&expected) { Masking.applyByteByByte(&$0, in: whole, key: key, phase: 0) }
        var pieces = original
        var offset = whole.lowerBound
        var phase = 0
        // At most `length + 1` pieces, each of at least one byte.
        while offset < whole.upperBound {
            let count = Int.random(in: 1...min(200, whole.upperBound - offset), using: &generator)
            withSpan(&pieces) { Masking.apply(&$0, in: offset..<(offset + count), key: key, phase: phase) }
            offset += count
            phase = (phase + count) % 4
        }
        #expect(pieces == expected)
    }
}
