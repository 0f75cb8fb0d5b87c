import SockifyBuffers
import Testing

@Suite("BufferPool")
struct BufferPoolTests {
    @Test("a released slot is reused before a new one is allocated")
    func reuse() {
        let pool = BufferPool(slotSize: 4096)
        let a = pool.acquire()
        pool.release(a)
        let b = pool.acquire()
        #expect(a == b)
        #expect(pool.outstandingCount == 1)
        pool.release(b)
        #expect(pool.outstandingCount == 0)
    }

    @Test("slots are distinct, 64-byte aligned and writable over their whole size")
    func distinctAndAligned() {
        let pool = BufferPool(slotSize: 1024)
        let slots = (0..<8).map { _ in pool.acquire() }
        #expect(Set(slots).count == 8)
        for (i, slot) in slots.enumerated() {
            #expect(Int(bitPattern: slot) % 64 == 0)
            slot.initializeMemory(as: UInt8.self, repeating: UInt8(i), count: 1024)
        }
        for (i, slot) in slots.enumerated() {
            #expect(slot.load(fromByteOffset: 1023, as: UInt8.self) == UInt8(i))
        }
        slots.forEach(pool.release)
        #expect(pool.outstandingCount == 0)
    }

    @Test("the cache never keeps more than retainedSlotLimit free slots")
    func retainedLimit() {
        let pool = BufferPool(slotSize: 256, retainedSlotLimit: 2)
        let slots = (0..<5).map { _ in pool.acquire() }
        slots.forEach(pool.release)
        #expect(pool.cachedCount == 2)
    }
}
