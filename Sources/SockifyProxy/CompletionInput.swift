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

    private var slots: [UnsafeMutableRawPointer] = []
    private var counts: [Int] = []
    private var head = 0
    /// A multishot receive is armed (between `startReceiving` and its `receiveEnded`).
    var receiving = false
    /// Its cancellation was requested (backpressure); it still counts as receiving until it ends.
    var cancelling = false
    /// The peer's FIN or a socket error: reported once the queued buffers are consumed.
    var end: ReceiveEnd?

    /// Buffers received and not yet taken.
    var pending: Int { slots.count - head }

    mutating func reserve() {
        slots.reserveCapacity(8)
        counts.reserveCapacity(8)
    }

    mutating func push(_ slot: UnsafeMutableRawPointer, count: Int) {
        slots.append(slot)
        counts.append(count)
    }

    /// The oldest buffer and its byte count, or nil when none is queued.
    mutating func pop() -> (slot: UnsafeMutableRawPointer, count: Int)? {
        guard head < slots.count else { return nil }
        let taken = (slots[head], counts[head])
        head += 1
        if head == slots.count {
            slots.removeAll(keepingCapacity: true)
            counts.removeAll(keepingCapacity: true)
            head = 0
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
