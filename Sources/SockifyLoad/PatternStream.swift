// The deterministic byte stream behind every integrity check: what the load tool sends, what the targets
// verify, and what `source` writes. A dropped, duplicated, flipped or foreign byte changes what is seen.

/// An endless, position-addressed byte stream derived from a seed.
///
/// The stream is cut into 4 KiB blocks. Word `w` (bytes `8w ..< 8w + 8`, little-endian) is
/// `table[w % 512] ^ blockKey(w / 512, seed)`: a fixed random 4 KiB table, XORed with one key per block, where
/// `blockKey` is a multiply by an odd constant (a bijection) and an xor-shift.
///
/// What that detects:
/// - a flipped byte: it no longer equals its expected value;
/// - lost, repeated or inserted bytes: the rest of the stream is shifted. A shift that is not a multiple of 4 KiB
///   lines up different table bytes (the table is random, so that differs everywhere); a multiple of 4 KiB lines
///   up a different block key;
/// - bytes of another connection: every connection has its own seed, so its block keys differ.
///
/// Generating or checking a block is a table XOR with one constant, which the compiler vectorises (tens of
/// GB/s), so checking every byte does not make the load tool the bottleneck.
struct PatternStream: Sendable, Equatable {
    /// Selects the stream; every connection uses its own.
    let seed: UInt64

    init(seed: UInt64) { self.seed = seed }

    /// Words per block (4 KiB).
    static let blockWords = 512

    /// The fixed table shared by every stream, 64-byte aligned. Never freed (4 KiB for the process lifetime).
    /// `nonisolated(unsafe)`: a pointer is not `Sendable`, but the words are written once inside the lazy
    /// (thread-safe) initialiser and only read afterwards, from any thread.
    nonisolated(unsafe) static let table: UnsafeMutablePointer<UInt64> = {
        let words = UnsafeMutableRawPointer.allocate(byteCount: blockWords * 8, alignment: 64)
            .bindMemory(to: UInt64.self, capacity: blockWords)
        for i in 0..<blockWords { words[i] = mix(UInt64(i) &+ 0x5DEE_CE66_D1CE_4E5B) }
        return words
    }()

    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var x = value &* 0x9E37_79B9_7F4A_7C15
        x ^= x &>> 29
        x = x &* 0xBF58_476D_1CE4_E5B9
        x ^= x &>> 32
        return x
    }

    /// The key XORed into every word of block `block`.
    @inline(__always)
    func blockKey(_ block: UInt64) -> UInt64 { Self.mix(block &+ seed) }

    /// The word that holds stream bytes `8 * index ..< 8 * index + 8`.
    @inline(__always)
    func word(_ index: UInt64) -> UInt64 {
        Self.table[Int(index & UInt64(Self.blockWords - 1))] ^ blockKey(index / UInt64(Self.blockWords))
    }

    /// The stream byte at `offset`.
    @inline(__always)
    func byte(at offset: UInt64) -> UInt8 {
        UInt8(truncatingIfNeeded: word(offset &>> 3) &>> ((offset & 7) &* 8))
    }

    /// Writes stream bytes `offset ..< offset + count` to `buffer`.
    func fill(_ buffer: UnsafeMutableRawPointer, count: Int, streamOffset offset: UInt64) {
        var i = 0
        var position = offset
        // Byte by byte up to the next word boundary of the stream, then whole words block by block, then the tail.
        while i < count && position & 7 != 0 {
            buffer.storeBytes(of: byte(at: position), toByteOffset: i, as: UInt8.self)
            i &+= 1
            position &+= 1
        }
        let table = Self.table
        var wordIndex = position &>> 3
        while count &- i >= 8 {
            let block = wordIndex / UInt64(Self.blockWords)
            let key = blockKey(block)
            let first = Int(wordIndex & UInt64(Self.blockWords - 1))
            let last = min(Self.blockWords, first &+ (count &- i) / 8)
            let out = buffer + i
            for j in first..<last {
                out.storeBytes(of: (table[j] ^ key).littleEndian, toByteOffset: (j &- first) &* 8, as: UInt64.self)
            }
            wordIndex &+= UInt64(last &- first)
            i &+= (last &- first) &* 8
        }
        position = wordIndex &<< 3
        while i < count {
            buffer.storeBytes(of: byte(at: position), toByteOffset: i, as: UInt8.self)
            i &+= 1
            position &+= 1
        }
    }

    /// Compares `buffer[0 ..< count]` with stream bytes `offset ..< offset + count`.
    ///
    /// - Returns: The index in `buffer` of the first byte that differs, or `nil` if all match.
    func firstMismatch(_ buffer: UnsafeRawPointer, count: Int, streamOffset offset: UInt64) -> Int? {
        var i = 0
        var position = offset
        while i < count && position & 7 != 0 {
            if buffer.load(fromByteOffset: i, as: UInt8.self) != byte(at: position) { return i }
            i &+= 1
            position &+= 1
        }
        let table = Self.table
        var wordIndex = position &>> 3
        while count &- i >= 8 {
            let key = blockKey(wordIndex / UInt64(Self.blockWords))
            let first = Int(wordIndex & UInt64(Self.blockWords - 1))
            let last = min(Self.blockWords, first &+ (count &- i) / 8)
            let input = buffer + i
            // OR of all differences, branch-free so that it vectorises; locate the byte only on a mismatch.
            var difference: UInt64 = 0
            for j in first..<last {
                difference |= UInt64(littleEndian: input.loadUnaligned(fromByteOffset: (j &- first) &* 8, as: UInt64.self))
                    ^ table[j] ^ key
            }
            if difference != 0 {
                for j in first..<last {
                    let seen = UInt64(littleEndian: input.loadUnaligned(fromByteOffset: (j &- first) &* 8, as: UInt64.self))
                    let expected = table[j] ^ key
                    if seen != expected {
                        // The lowest differing byte of the little-endian word is the first differing byte in memory.
                        return i &+ (j &- first) &* 8 &+ (seen ^ expected).trailingZeroBitCount / 8
                    }
                }
            }
            wordIndex &+= UInt64(last &- first)
            i &+= (last &- first) &* 8
        }
        position = wordIndex &<< 3
        while i < count {
            if buffer.load(fromByteOffset: i, as: UInt8.self) != byte(at: position) { return i }
            i &+= 1
            position &+= 1
        }
        return nil
    }

    /// The seed of connection `index` in a run started with `runSeed`: distinct for every connection of a run.
    static func seed(run runSeed: UInt64, connection index: Int, cycle: Int = 0) -> UInt64 {
        // Block keys are `mix(block + seed)`, so two streams only line up after a shift of (seed difference)
        // blocks. The odd multiplier puts that shift beyond 2^32 blocks (16 TiB) for any two connections or
        // cycles of a run, far past what one run moves.
        runSeed &+ (UInt64(truncatingIfNeeded: index) &<< 32 | UInt64(truncatingIfNeeded: cycle)) &* 0xD1B5_4A32_D192_ED03
    }
}
