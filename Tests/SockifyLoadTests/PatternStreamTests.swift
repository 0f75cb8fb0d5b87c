// The integrity pattern: fill and check agree at every offset and length, and every kind of damage is caught.
import Testing

@testable import SockifyLoad

@Suite("PatternStream")
struct PatternStreamTests {
    let stream = PatternStream(seed: 0x1234_5678_9ABC_DEF0)

    /// Fills `count` bytes at `offset` through a buffer with 16 guard bytes on each side.
    func filled(count: Int, offset: UInt64, misalignment: Int = 0) -> [UInt8] {
        var bytes = [UInt8](repeating: 0xA5, count: count + 32 + misalignment)
        bytes.withUnsafeMutableBytes { stream.fill($0.baseAddress! + 16 + misalignment, count: count, streamOffset: offset) }
        #expect(bytes[0..<(16 + misalignment)].allSatisfy { $0 == 0xA5 }, "bytes before the range were written")
        #expect(bytes[(16 + misalignment + count)...].allSatisfy { $0 == 0xA5 }, "bytes after the range were written")
        return Array(bytes[(16 + misalignment)..<(16 + misalignment + count)])
    }

    @Test("fill matches the byte-at-a-time definition at every length 0…130, offset phase and alignment",
          arguments: [0, 1, 3, 7, 8, 9, 4095, 4096, 4097, 8191])
    func fillMatchesOracle(offset: UInt64) {
        for count in 0...130 {
            for misalignment in [0, 1, 5] {
                let bytes = filled(count: count, offset: offset, misalignment: misalignment)
                #expect(bytes == (0..<UInt64(count)).map { stream.byte(at: offset + $0) })
            }
        }
    }

    @Test("a 64 KiB fill spanning block boundaries checks clean at every split")
    func largeFillVerifies() {
        let offset: UInt64 = 4093
        let bytes = filled(count: 65536, offset: offset)
        bytes.withUnsafeBytes { raw in
            #expect(stream.firstMismatch(raw.baseAddress!, count: raw.count, streamOffset: offset) == nil)
            for split in [1, 3, 8, 4096, 5000, 65535] {
                #expect(stream.firstMismatch(raw.baseAddress!, count: split, streamOffset: offset) == nil)
                #expect(stream.firstMismatch(raw.baseAddress! + split, count: raw.count - split, streamOffset: offset + UInt64(split)) == nil)
            }
        }
    }

    @Test("a flipped bit is reported at its exact position", arguments: [0, 1, 7, 8, 63, 64, 4095, 4096, 9999])
    func flippedBitIsFound(position: Int) {
        var bytes = filled(count: 10000, offset: 5)
        bytes[position] ^= 0x10
        let found = bytes.withUnsafeBytes { stream.firstMismatch($0.baseAddress!, count: $0.count, streamOffset: 5) }
        #expect(found == position)
    }

    @Test("a dropped, duplicated or inserted byte, or a shift by whole words or blocks, is caught",
          arguments: [1, 2, 4, 8, 64, 4096, 8192, -1, -8, -4096])
    func shiftIsCaught(shift: Int) {
        // What arrives is the stream from `offset + shift` while the checker expects it from `offset`
        // (positive: bytes lost; negative: bytes repeated).
        let offset: UInt64 = 1 << 20
        let arrived = filled(count: 256, offset: UInt64(Int(offset) + shift))
        let found = arrived.withUnsafeBytes { stream.firstMismatch($0.baseAddress!, count: $0.count, streamOffset: offset) }
        #expect(found != nil && found! < 16)
    }

    @Test("another connection's stream does not pass", arguments: [1, 2, 100])
    func crossedStreamsFail(connection: Int) {
        let mine = PatternStream(seed: PatternStream.seed(run: 42, connection: 0))
        let theirs = PatternStream(seed: PatternStream.seed(run: 42, connection: connection))
        var bytes = [UInt8](repeating: 0, count: 64)
        bytes.withUnsafeMutableBytes { theirs.fill($0.baseAddress!, count: 64, streamOffset: 0) }
        let found = bytes.withUnsafeBytes { mine.firstMismatch($0.baseAddress!, count: 64, streamOffset: 0) }
        #expect(found != nil && found! < 8)
    }

    @Test("the pattern does not repeat with the 4 KiB table period")
    func noTablePeriod() {
        let first = filled(count: 64, offset: 0)
        let next = filled(count: 64, offset: 4096)
        #expect(first != next)
    }
}
