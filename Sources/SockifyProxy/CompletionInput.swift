// One side's input under the io_uring backend: the receive buffers the kernel filled and the connection has not yet
// consumed, in order, and whether a multishot receive is still armed. Pure bookkeeping; no I/O.
import SockifyReactor

/// Filled receive buffers for one side of a connection, oldest first, and the receive's state.
///
/// A multishot receive keeps filling buffers while the half-pipe that consumes them may be blocked on its writer,
/// so the queue can grow; the connection cancels the receive once `pending` reaches `backpressureLimit`, and the
/// buffers that were already on their way still land here. The buffers come from the reactor's ring, so however
/// many a connection holds, the total is bounded by the ring.
struct CompletionInput {
    /// Buffers queued beyond which the connection cancels the receive (backpressure).
    static let backpressureLimit = 2

    // Up to four buffers inline (no heap: an idle connection keeps none, a busy one allocates nothing per read);
    // more — only between a cancel and its completion — wait in `overflow`, behind the inline ones.
    private var inlineSlots = InlineArray<4, UnsafeMutableRawPointer?>(repeating: nil)
    private var inlineCounts = InlineArray<4, Int32>(repeating: 0)
    private var inlineHead = 0
    private var inlineCount = 0
    private var overflow: [(slot: UnsafeMutableRawPointer, count: Int)] = []
    /// A multishot receive is armed (between `startReceiving` and its `receiveEnded`).
    var receiving = false
    /// Its cancellation was requested (backpressure); it still counts as receiving until it ends.
    var cancelling = false
    /// The peer's FIN or a socket error: reported once the queued buffers are consumed.
    var end: ReceiveEnd?

    /// Buffers received and not yet taken.
    var pending: Int { inlineCount + overflow.count }

    /// Queues a filled buffer; true when the receive should be cancelled now (`backpressureLimit` reached and no
    /// cancellation asked for yet — it is then counted as asked for).
    @discardableResult
    mutating func push(_ slot: UnsafeMutableRawPointer, count: Int) -> Bool {
        if overflow.isEmpty && inlineCount < 4 {
            let index = (inlineHead + inlineCount) & 3
            inlineSlots[index] = slot
            inlineCounts[index] = Int32(count)
            inlineCount += 1
        } else {
            overflow.append((slot, count))
        }
        guard pending >= Self.backpressureLimit && !cancelling else { return false }
        cancelling = true
        return true
    }

    /// The oldest buffer and its byte count, or nil when none is queued.
    mutating func pop() -> (slot: UnsafeMutableRawPointer, count: Int)? {
        guard inlineCount > 0, let slot = inlineSlots[inlineHead] else { return nil }
        let taken = (slot, Int(inlineCounts[inlineHead]))
        inlineSlots[inlineHead] = nil
        inlineHead = (inlineHead + 1) & 3
        inlineCount -= 1
        if inlineCount == 0 && !overflow.isEmpty {
            // Refill from the overflow, oldest first, so the order stays the order of arrival.
            let moved = min(4, overflow.count)
            inlineHead = 0
            for i in 0..<moved {
                inlineSlots[i] = overflow[i].slot
                inlineCounts[i] = Int32(overflow[i].count)
            }
            inlineCount = moved
            overflow.removeFirst(moved)
        }
        return taken
    }

    /// Hands every queued buffer to `release` (the connection is closing this side).
    mutating func drain(_ release: (UnsafeMutableRawPointer) -> Void) {
        while let (slot, _) = pop() { release(slot) }
    }

    /// Records the end of the armed receive. `.stopped` and `.noBuffers` leave bytes in the socket, which the next
    /// read takes directly; the peer's FIN and errors are kept for the reader.
    mutating func ended(_ why: ReceiveEnd) {
        receiving = false
        cancelling = false
        switch why {
        case .endOfStream, .failed: if end == nil { end = why }
        case .noBuffers, .stopped: break
        }
    }
}
