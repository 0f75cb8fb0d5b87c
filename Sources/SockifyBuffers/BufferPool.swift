// Per-reactor pool of fixed-size receive slots. Owns all payload memory on the relay path.

/// A pool of equal-sized byte slots, confined to one reactor thread (no locks on the data path).
///
/// Every slot has exactly one owner at a time: the pool (free) or one half-pipe of one connection (holding bytes in
/// flight). A connection takes a slot only to receive into it and returns it as soon as every byte in it has been
/// written, so an idle connection owns no payload memory. Slots are allocated in chunks on first demand and kept for
/// reuse; `retainedSlotLimit` bounds how many free slots stay cached after a burst.
///
/// Slot layout (the receive side decides where payload lands):
///
///     +-----------------+--------------------------------------------+
///     | headroom (16 B) |        payload area (slotSize - 16)        |
///     +-----------------+--------------------------------------------+
///     0            headroom                                     slotSize
///
/// The headroom lets the target→client side write a WebSocket header (≤ 10 bytes) right before the payload it
/// received, so framing never copies payload.
public final class BufferPool {
    /// Bytes reserved at the front of each slot for a frame header written after the payload arrived.
    public static let headroom = 16

    /// Total bytes of one slot, headroom included.
    public let slotSize: Int
    /// How many free slots the pool keeps cached; slots returned beyond that are freed.
    public let retainedSlotLimit: Int

    private var free: [UnsafeMutableRawPointer] = []
    /// Slots handed out and not yet returned (for tests and metrics).
    public private(set) var outstandingCount = 0

    /// - Parameters:
    ///   - slotSize: bytes per slot, headroom included; at least 2 × headroom.
    ///   - retainedSlotLimit: free slots kept for reuse after they are returned.
    public init(slotSize: Int, retainedSlotLimit: Int = 256) {
        precondition(slotSize >= 2 * Self.headroom, "slot of \(slotSize) bytes cannot hold the headroom")
        self.slotSize = slotSize
        self.retainedSlotLimit = retainedSlotLimit
        free.reserveCapacity(retainedSlotLimit)
    }

    deinit {
        for slot in free { slot.deallocate() }
    }

    /// Takes a slot. The caller owns it until `release(_:)`.
    @inline(__always)
    public func acquire() -> UnsafeMutableRawPointer {
        outstandingCount &+= 1
        if let slot = free.popLast() { return slot }
        return UnsafeMutableRawPointer.allocate(byteCount: slotSize, alignment: 64)
    }

    /// Returns a slot taken with `acquire()`. The caller must not touch it afterwards.
    @inline(__always)
    public func release(_ slot: UnsafeMutableRawPointer) {
        outstandingCount &-= 1
        if free.count < retainedSlotLimit {
            free.append(slot)
        } else {
            slot.deallocate()
        }
    }

    /// Free slots currently cached.
    public var cachedCount: Int { free.count }
}
