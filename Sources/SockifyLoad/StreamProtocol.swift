// The tiny protocol between the load tool and its `source`/`sink` targets, carried inside the relayed stream.

/// The 24-byte request that opens an `up` or `down` stream, all fields little-endian:
///
///      0          8          16          24
///     +----------+----------+-----------+
///     |  magic   |   seed   | byteCount |   magic: "SKLDSINK" (up) or "SKLDSRCE" (down)
///     +----------+----------+-----------+
///
/// For `up` the pattern bytes `0 ..< byteCount` of `PatternStream(seed:)` follow; the sink checks them and answers
/// with a ``StreamReport``. For `down` the source writes those bytes. A proxy passes all of it through as payload,
/// so the targets need no WebSocket knowledge and the same targets serve the no-proxy baseline.
struct StreamRequest: Equatable, Sendable {
    enum Direction: Sendable { case toSink, fromSource }

    static let byteLength = 24
    static let sinkMagic = magic("SKLDSINK")
    static let sourceMagic = magic("SKLDSRCE")

    var direction: Direction
    var seed: UInt64
    var byteCount: UInt64

    func write(to buffer: UnsafeMutableRawPointer) {
        buffer.storeBytes(of: (direction == .toSink ? Self.sinkMagic : Self.sourceMagic).littleEndian, as: UInt64.self)
        buffer.storeBytes(of: seed.littleEndian, toByteOffset: 8, as: UInt64.self)
        buffer.storeBytes(of: byteCount.littleEndian, toByteOffset: 16, as: UInt64.self)
    }

    /// Decodes a request, or `nil` if the magic is neither sink nor source.
    init?(_ buffer: UnsafeRawPointer) {
        switch UInt64(littleEndian: buffer.loadUnaligned(as: UInt64.self)) {
        case Self.sinkMagic: direction = .toSink
        case Self.sourceMagic: direction = .fromSource
        default: return nil
        }
        seed = UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        byteCount = UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
    }

    init(direction: Direction, seed: UInt64, byteCount: UInt64) {
        self.direction = direction
        self.seed = seed
        self.byteCount = byteCount
    }

    /// Whether `prefix` (the first bytes of a stream) could still become a request's magic.
    static func couldStartRequest(_ prefix: UnsafeRawBufferPointer) -> Bool {
        [sinkMagic, sourceMagic].contains { magic in
            prefix.enumerated().allSatisfy { UInt8(truncatingIfNeeded: magic >> (8 * UInt64($0.offset))) == $0.element }
        }
    }

    /// Eight ASCII characters as a little-endian word.
    static func magic(_ text: StaticString) -> UInt64 {
        precondition(text.utf8CodeUnitCount == 8, "magic must be 8 ASCII bytes")
        var value: UInt64 = 0
        for i in 0..<8 { value |= UInt64(text.utf8Start[i]) << (8 * UInt64(i)) }
        return value
    }
}

/// The sink's 24-byte answer, all fields little-endian:
///
///      0          8               16               24
///     +----------+---------------+----------------+
///     |  magic   | verifiedCount | mismatch + 1   |   magic: "SKLDRPRT"; mismatch + 1 == 0: every byte matched
///     +----------+---------------+----------------+
///
/// Sent once all `byteCount` bytes arrived, or at the first wrong byte (the sink then ignores the rest).
struct StreamReport: Equatable, Sendable {
    static let byteLength = 24
    static let magic = StreamRequest.magic("SKLDRPRT")

    /// Pattern bytes that matched before the report was sent.
    var verifiedCount: UInt64
    /// The stream offset of the first wrong byte, if any.
    var mismatchOffset: UInt64?

    init(verifiedCount: UInt64, mismatchOffset: UInt64?) {
        self.verifiedCount = verifiedCount
        self.mismatchOffset = mismatchOffset
    }

    func write(to buffer: UnsafeMutableRawPointer) {
        buffer.storeBytes(of: Self.magic.littleEndian, as: UInt64.self)
        buffer.storeBytes(of: verifiedCount.littleEndian, toByteOffset: 8, as: UInt64.self)
        buffer.storeBytes(of: (mismatchOffset.map { $0 &+ 1 } ?? 0).littleEndian, toByteOffset: 16, as: UInt64.self)
    }

    /// Decodes a report, or `nil` when the magic is wrong (the bytes that came back are not a report).
    init?(_ buffer: UnsafeRawPointer) {
        guard UInt64(littleEndian: buffer.loadUnaligned(as: UInt64.self)) == Self.magic else { return nil }
        verifiedCount = UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        let mismatch = UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        mismatchOffset = mismatch == 0 ? nil : mismatch &- 1
    }
}
