// Up to 16 byte ranges sent with one io_uring sendmsg: the payload ranges a decoded WebSocket read yields.
import Glibc

/// A `msghdr` and its 16 `iovec`s at stable addresses, for `URing.prepareSendMessage`.
///
/// One list per in-flight `sendmsg` (one per half-pipe): the kernel copies the msghdr and iovecs when the SQE is
/// submitted (`IORING_FEAT_SUBMIT_STABLE`), but a partial send needs the list again to queue the remainder.
/// The list records addresses only; whoever owns the bytes keeps them alive until the send completes.
public struct URingGatherList: ~Copyable {
    /// The most ranges one `sendmsg` carries (the epoll relay's limit too).
    public static let capacity = 16

    let message: UnsafeMutablePointer<msghdr>
    private let vectors: UnsafeMutablePointer<iovec>
    /// The first range not yet fully sent.
    private var start = 0
    private var end = 0

    public init() {
        message = .allocate(capacity: 1)
        message.initialize(to: msghdr())
        vectors = .allocate(capacity: Self.capacity)
        vectors.initialize(repeating: iovec(), count: Self.capacity)
        syncMessage()
    }

    deinit {
        message.deallocate()
        vectors.deallocate()
    }

    /// Ranges still to send.
    public var count: Int { end - start }
    public var isEmpty: Bool { start == end }

    /// Bytes still to send.
    public var byteCount: Int {
        var total = 0
        for i in start..<end { total += vectors[i].iov_len }
        return total
    }

    /// Adds `count` bytes at `base`. Empty ranges are skipped (a frame may have an empty payload).
    /// - Precondition: fewer than `capacity` ranges have been appended since the last `removeAll()`.
    public mutating func append(_ base: UnsafeRawPointer, count: Int) {
        guard count > 0 else { return }
        precondition(end < Self.capacity, "gather list holds at most \(Self.capacity) ranges")
        vectors[end] = iovec(iov_base: UnsafeMutableRawPointer(mutating: base), iov_len: count)
        end += 1
        syncMessage()
    }

    /// Forgets every range.
    public mutating func removeAll() {
        start = 0
        end = 0
        syncMessage()
    }

    /// Drops the first `sent` bytes after a partial send, so the list describes exactly the rest.
    /// - Precondition: `sent <= byteCount`.
    public mutating func consume(_ sent: Int) {
        var remaining = sent
        while remaining > 0 {
            precondition(start < end, "consumed \(sent) bytes of a gather list holding fewer")
            let length = vectors[start].iov_len
            if remaining < length {
                vectors[start].iov_base += remaining
                vectors[start].iov_len = length - remaining
                break
            }
            remaining -= length
            start += 1
        }
        if start == end { start = 0; end = 0 }
        syncMessage()
    }

    private func syncMessage() {
        message.pointee.msg_iov = vectors + start
        message.pointee.msg_iovlen = end - start
    }
}
