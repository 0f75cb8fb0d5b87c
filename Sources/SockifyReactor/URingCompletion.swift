// One io_uring completion (a copy of its CQE) and the outcomes the proxy branches on: data in a provided buffer,
// end of stream, an empty buffer ring (re-arm), or an error.
import CSockify
import Glibc

/// A completion queue entry, copied out of the ring so the ring slot can be released with the rest of the batch.
///
/// `res` follows the kernel's convention: `>= 0` is the operation's result (bytes, an accepted descriptor, 0), and
/// `< 0` is `-errno`. It is converted here, never through the thread's `errno`.
public struct URingCompletion: Equatable, Sendable, CustomStringConvertible {
    public let userData: URingUserData
    /// The raw `cqe->res`.
    public let result: Int32
    /// The raw `cqe->flags` (`IORING_CQE_F_*` in the low 16 bits, a buffer id in the high 16).
    public let flags: UInt32

    public init(userData: URingUserData, result: Int32, flags: UInt32) {
        self.userData = userData
        self.result = result
        self.flags = flags
    }

    /// `IORING_CQE_F_MORE`: a multishot request is still armed and will complete again. Without it, the request is
    /// finished (an error, `ENOBUFS`, a cancel, end of stream) and must be re-armed if still wanted.
    @inline(__always)
    public var hasMore: Bool { flags & IORING_CQE_F_MORE != 0 }

    /// `IORING_CQE_F_BUFFER`: the kernel picked a provided buffer; it now belongs to the application, which must
    /// recycle it into its ring (`URingBufferRing.recycle(_:)`) once the bytes are no longer needed.
    @inline(__always)
    public var bufferID: UInt16? {
        flags & IORING_CQE_F_BUFFER != 0 ? UInt16(truncatingIfNeeded: flags >> IORING_CQE_BUFFER_SHIFT) : nil
    }

    /// `IORING_CQE_F_SOCK_NONEMPTY`: the socket still held data after this receive.
    @inline(__always)
    public var socketHasMoreData: Bool { flags & IORING_CQE_F_SOCK_NONEMPTY != 0 }

    /// The error, when `result < 0`.
    @inline(__always)
    public var error: Errno? { result < 0 ? Errno(rawValue: -result) : nil }

    /// The completion read as a receive with buffer selection.
    @inline(__always)
    public var receiveOutcome: URingReceiveOutcome {
        if result > 0, let id = bufferID { return .data(bufferID: id, count: Int(result)) }
        if result == 0 { return .endOfStream(bufferID: bufferID) }
        if result == -ENOBUFS { return .noBuffers }
        // A positive count without F_BUFFER cannot happen with buffer selection; report it as a failure
        // rather than trusting bytes we cannot locate.
        return .failed(Errno(rawValue: result < 0 ? -result : EIO))
    }

    public var description: String {
        "\(userData) res=\(result) flags=0x\(String(flags, radix: 16))"
    }
}

/// What a receive with a provided buffer (`prepareReceive`/`prepareMultishotReceive`) produced.
public enum URingReceiveOutcome: Equatable, Sendable {
    /// `count` bytes landed at the start of buffer `bufferID`'s payload area. The buffer is the application's
    /// until it recycles it.
    case data(bufferID: UInt16, count: Int)
    /// The peer shut down its write side. Kernels may or may not charge a buffer for the empty read; if one is
    /// named, recycle it.
    case endOfStream(bufferID: UInt16?)
    /// `ENOBUFS`: the buffer ring was empty, so the (multishot) receive ended without data. Nothing is lost: the
    /// bytes wait in the socket. Recycle buffers, then re-arm the receive (the proxy's `needsReceiveRearm`).
    case noBuffers
    /// Any other error, including `ECANCELED` after a cancel and peer errors such as `ECONNRESET`.
    case failed(Errno)
}
