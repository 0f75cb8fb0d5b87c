// A provided buffer ring registered by hand (liburing 2.3 has no io_uring_setup_buf_ring): N fixed-size buffers
// with headroom that the kernel picks from for multishot receives, and that the application recycles by id.
import CSockify
import Glibc

/// A group of `count` receive buffers shared with the kernel through a provided buffer ring.
///
/// Buffer `id` in memory (`stride` = headroom + size rounded up to 64 bytes, so every payload starts on its own
/// cache line and the headroom sits right before it):
///
///     base + id × stride
///     |<-- headroom -->|<----------------------- size ----------------------->|<- pad ->|
///     ^                ^ payload(of: id): the kernel writes received bytes here
///     ^ FrameEncoder writes the 2/4/10-byte WebSocket header at the end of the headroom, so header and payload
///       leave with one send without copying the payload
///
/// Ownership: each buffer has exactly one owner at a time.
/// 1. Kernel: after `init` or `recycle(_:)`, the buffer is in the ring; the application must not touch it.
/// 2. Application: a completion with `IORING_CQE_F_BUFFER` hands it over (`claim(_:count:)` returns its bytes).
///    Decode or frame in place, send, and keep it through the send's completion.
/// 3. `recycle(_:)` gives it back to the kernel. Debug builds trap on a recycle of a buffer the kernel owns.
///
/// The ring memory is `mmap`'d (page-aligned, as `IORING_REGISTER_PBUF_RING` requires for user memory) and holds
/// `count` 16-byte `io_uring_buf` entries; the kernel reads `addr/len/bid` at the head, we publish at the tail.
/// Deinitialising unregisters the group before unmapping, so the kernel can never write into released memory.
public struct URingBufferRing: ~Copyable {
    /// Keeps the ring alive: the group must be unregistered from it before the memory goes away.
    private let ring: URing
    public let groupID: UInt16
    public let count: Int
    /// Payload bytes per buffer (what the kernel may fill).
    public let size: Int
    /// Bytes before each payload, for a frame header.
    public let headroom: Int
    /// Distance between consecutive buffers.
    public let stride: Int

    private let entries: UnsafeMutablePointer<io_uring_buf_ring>
    private let entriesLength: Int
    private let storage: UnsafeMutableRawPointer
    private let storageLength: Int
    private let mask: CInt
    /// Buffers added since the last `publish()`.
    private var staged: CInt = 0
    #if DEBUG
    /// Owner tag per buffer: true while the kernel owns it.
    private var inKernel: [Bool]
    #endif

    /// Allocates and registers the buffers, and hands all of them to the kernel.
    ///
    /// - Parameters:
    ///   - ring: the ring whose receives will select from this group.
    ///   - groupID: the id receives name in `prepare…Receive(bufferGroup:)`; unique per ring.
    ///   - count: number of buffers, a power of two up to 32768.
    ///   - size: payload bytes per buffer.
    ///   - headroom: bytes reserved before each payload (16 matches `BufferPool`).
    /// - Throws: `ENOMEM` from `mmap`; `EINVAL` from a kernel older than 5.19 (no buffer rings); `EEXIST` if the
    ///   group is already registered.
    /// The corresponding C call is `io_uring_register_buf_ring(3)`.
    public init(ring: URing, groupID: UInt16, count: Int, size: Int, headroom: Int = 16) throws(Errno) {
        precondition(count > 0 && count <= 32768 && count & (count - 1) == 0, "buffer count \(count): a power of two ≤ 32768")
        precondition(size > 0 && headroom >= 0, "buffer size \(size), headroom \(headroom)")
        let page = Int(sysconf(CInt(_SC_PAGESIZE)))
        let entriesLength = (count * MemoryLayout<io_uring_buf>.stride + page - 1) / page * page
        let stride = (headroom + size + 63) & ~63
        let storageLength = count * stride
        let protection = PROT_READ | PROT_WRITE
        let mapping = MAP_PRIVATE | MAP_ANONYMOUS
        guard let entriesMemory = mmap(nil, entriesLength, protection, mapping, -1, 0), entriesMemory != MAP_FAILED else {
            throw Errno.current
        }
        guard let storage = mmap(nil, storageLength, protection, mapping, -1, 0), storage != MAP_FAILED else {
            let err = Errno.current
            munmap(entriesMemory, entriesLength)
            throw err
        }
        let entries = entriesMemory.bindMemory(to: io_uring_buf_ring.self, capacity: 1)
        var registration = io_uring_buf_reg()
        registration.ring_addr = UInt64(UInt(bitPattern: entriesMemory))
        registration.ring_entries = UInt32(count)
        registration.bgid = groupID
        let rc = io_uring_register_buf_ring(ring.ring, &registration, 0)
        guard rc == 0 else {
            munmap(storage, storageLength)
            munmap(entriesMemory, entriesLength)
            throw Errno(rawValue: -rc)
        }
        self.ring = ring
        self.groupID = groupID
        self.count = count
        self.size = size
        self.headroom = headroom
        self.stride = stride
        self.entries = entries
        self.entriesLength = entriesLength
        self.storage = storage
        self.storageLength = storageLength
        self.mask = io_uring_buf_ring_mask(UInt32(count))
        #if DEBUG
        inKernel = Array(repeating: false, count: count)
        #endif
        io_uring_buf_ring_init(entries)
        for id in 0..<count { stage(UInt16(id)) }
        publish()
    }

    deinit {
        // Unregister first: after this returns the kernel selects no more buffers from the group, so unmapping
        // cannot race a receive that is copying into one.
        _ = io_uring_unregister_buf_ring(ring.ring, CInt(groupID))
        munmap(storage, storageLength)
        munmap(UnsafeMutableRawPointer(entries), entriesLength)
    }

    /// Where buffer `id`'s payload starts (its headroom is the `headroom` bytes before).
    @inline(__always)
    public func payload(of id: UInt16) -> UnsafeMutableRawPointer {
        precondition(Int(id) < count, "buffer id \(id) of \(count)")
        return storage + Int(id) * stride + headroom
    }

    /// Takes buffer `id` from the kernel after a completion named it, and returns its `count` received bytes.
    /// - Precondition: `count <= size`.
    @inline(__always)
    public mutating func claim(_ id: UInt16, count: Int) -> UnsafeMutableRawBufferPointer {
        precondition(count >= 0 && count <= size, "claimed \(count) bytes of a \(size)-byte buffer")
        #if DEBUG
        assert(inKernel[Int(id)], "buffer \(id) claimed twice: a completion named a buffer the application owns")
        inKernel[Int(id)] = false
        #endif
        return UnsafeMutableRawBufferPointer(start: payload(of: id), count: count)
    }

    /// Puts buffer `id` back in the ring without publishing it yet; `publish()` makes a batch visible at once.
    @inline(__always)
    public mutating func stage(_ id: UInt16) {
        #if DEBUG
        assert(!inKernel[Int(id)], "buffer \(id) recycled while the kernel owns it")
        inKernel[Int(id)] = true
        #endif
        // SAFETY: the entry at tail + staged is beyond what the kernel may read until publish() moves the tail.
        io_uring_buf_ring_add(entries, payload(of: id), UInt32(size), id, mask, staged)
        staged += 1
    }

    /// Makes every staged buffer visible to the kernel with one release store of the ring tail.
    @inline(__always)
    public mutating func publish() {
        guard staged > 0 else { return }
        io_uring_buf_ring_advance(entries, staged)
        staged = 0
    }

    /// Gives buffer `id` back to the kernel now (`stage` + `publish`).
    @inline(__always)
    public mutating func recycle(_ id: UInt16) {
        stage(id)
        publish()
    }

    /// The id of the buffer whose slot (payload minus headroom) starts at `slot`, or nil when `slot` is not one of
    /// this ring's buffers (a pool slot, say).
    @inline(__always)
    public func bufferID(ofSlot slot: UnsafeMutableRawPointer) -> UInt16? {
        let offset = slot - storage
        guard offset >= 0, offset < storageLength, offset % stride == 0 else { return nil }
        return UInt16(truncatingIfNeeded: offset / stride)
    }

    /// The start of buffer `id`'s headroom: the payload begins `headroom` bytes after it.
    @inline(__always)
    public func slot(of id: UInt16) -> UnsafeMutableRawPointer { payload(of: id) - headroom }

    #if DEBUG
    /// Buffers the kernel currently owns (debug builds only; for tests).
    public var buffersInKernel: Int { inKernel.count { $0 } }
    #endif
}
