// An owning io_uring instance for one reactor thread: setup with a flag fallback chain, typed submission
// wrappers for the socket operations the proxy needs, and batched completion draining.
import CSockify
import Glibc

/// One io_uring submission/completion queue pair, owned by one reactor thread.
///
/// - Setup: tries `URing.defaultTiers` in order and keeps the first set of flags the kernel accepts
///   (`setupFlags` says which). `EINVAL` means "this kernel does not know a flag", so the next tier is tried; any
///   other error (`EPERM`, `ENOSYS`, `ENOMEM`) is final and thrown. `URing.probe()` explains such errors.
/// - Threading: with `IORING_SETUP_SINGLE_ISSUER` only the thread that created the ring may submit to it, and with
///   `IORING_SETUP_DEFER_TASKRUN` only that thread may wait on it. Create the ring on the reactor thread that runs
///   it. The type is deliberately not `Sendable`.
/// - Submissions: `prepare…` fills the next SQE; nothing reaches the kernel until `submit()` or
///   `submitAndWait(…)`, so a loop iteration's SQEs go in with one syscall. When the SQ is full, `prepare…`
///   submits what is queued to make room.
/// - Memory handed to an SQE: the msghdr, iovec array and socket address only have to stay valid until the
///   SQE is submitted (`IORING_FEAT_SUBMIT_STABLE`); payload bytes must stay valid until the completion arrives.
/// - Errors: liburing returns `-errno`; each wrapper converts it at the call site. `errno` is never read.
///
/// A final class rather than a `~Copyable` struct: `URingBufferRing`s keep their ring alive with a strong
/// reference, because their memory may only be released after it has been unregistered from this ring.
public final class URing {
    /// The `IORING_SETUP_*` flags this module knows how to use.
    public struct SetupFlags: OptionSet, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// `IORING_SETUP_SINGLE_ISSUER` (Linux 6.0): we promise that only the reactor thread submits, which lets
        /// the kernel skip the submission lock and is a prerequisite of `deferTaskRun`.
        public static let singleIssuer = SetupFlags(rawValue: IORING_SETUP_SINGLE_ISSUER)
        /// `IORING_SETUP_DEFER_TASKRUN` (Linux 6.1): completion work runs only when the reactor enters the kernel
        /// to wait, so completions arrive in batches at the loop's pace instead of interrupting it; this is what
        /// makes one `io_uring_cq_advance` per batch pay off.
        public static let deferTaskRun = SetupFlags(rawValue: IORING_SETUP_DEFER_TASKRUN)
        /// `IORING_SETUP_COOP_TASKRUN` (Linux 5.19): the fallback when deferred task work is unknown. The kernel
        /// no longer interrupts the thread (IPI) to post completions; they are posted at its next kernel entry,
        /// which a reactor makes every iteration anyway.
        public static let cooperativeTaskRun = SetupFlags(rawValue: IORING_SETUP_COOP_TASKRUN)
        /// `IORING_SETUP_SUBMIT_ALL` (Linux 5.18): keep submitting the rest of a batch when one SQE fails to
        /// prepare, so a bad SQE for one connection cannot strand another connection's SQEs in the ring.
        public static let submitAll = SetupFlags(rawValue: IORING_SETUP_SUBMIT_ALL)

        public var description: String {
            var names: [String] = []
            if contains(.singleIssuer) { names.append("SINGLE_ISSUER") }
            if contains(.deferTaskRun) { names.append("DEFER_TASKRUN") }
            if contains(.cooperativeTaskRun) { names.append("COOP_TASKRUN") }
            if contains(.submitAll) { names.append("SUBMIT_ALL") }
            return names.isEmpty ? "no flags" : names.joined(separator: "|")
        }
    }

    /// The flag sets `init` tries, best first. The last tier is plain: any kernel with io_uring accepts it.
    public static let defaultTiers: [SetupFlags] = [
        [.singleIssuer, .deferTaskRun, .submitAll],
        [.cooperativeTaskRun, .submitAll],
        [],
    ]

    /// The liburing ring. Heap-allocated so its address is stable: liburing and the kernel hold pointers into it.
    let ring: UnsafeMutablePointer<io_uring>
    /// The tier that the kernel accepted.
    public let setupFlags: SetupFlags
    /// `IORING_FEAT_*` bits the kernel reported.
    public let features: UInt32
    /// Entries in the submission and completion queues (the kernel may round up or clamp what was asked for).
    public let submissionEntries: Int
    public let completionEntries: Int

    /// Creates a ring.
    ///
    /// Every tier is combined with `IORING_SETUP_CQSIZE` and `IORING_SETUP_CLAMP`: multishot accept and receive
    /// post many completions per submission, so the CQ is made larger than the SQ (4× by default) to keep the
    /// kernel off its CQ-overflow slow path; CLAMP turns an oversized request into the kernel's maximum instead of
    /// `EINVAL`.
    ///
    /// - Parameters:
    ///   - entries: SQ size (a power of two is used as is).
    ///   - completionEntries: CQ size; `nil` means `4 × entries`.
    ///   - tiers: flag sets to try in order; `EINVAL` moves on to the next.
    /// - Throws: the last tier's error, or the first error that is not `EINVAL` (`EPERM`: disabled by sysctl,
    ///   seccomp or LSM; `ENOSYS`: no io_uring in this kernel; `ENOMEM`: memory limits).
    /// The corresponding C call is `io_uring_queue_init_params(3)`.
    ///   - startsDisabled: with `singleIssuer`, create the ring disabled (`IORING_SETUP_R_DISABLED`) so that it can be
    ///     made and set up (buffer rings registered, SQEs prepared) on one thread and then run on another, which
    ///     calls `enable()` before its first submit: the kernel takes the enabling thread as the single issuer.
    public init(
        entries: UInt32 = 256, completionEntries: UInt32? = nil, tiers: [SetupFlags] = URing.defaultTiers,
        startsDisabled: Bool = false
    ) throws(Errno) {
        precondition(!tiers.isEmpty, "at least one setup tier")
        let ring = UnsafeMutablePointer<io_uring>.allocate(capacity: 1)
        var lastError = Errno(rawValue: EINVAL)
        for tier in tiers {
            var params = io_uring_params()
            params.flags = tier.rawValue | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP
            if startsDisabled && tier.contains(.singleIssuer) { params.flags |= IORING_SETUP_R_DISABLED }
            params.cq_entries = completionEntries ?? entries &* 4
            let rc = io_uring_queue_init_params(entries, ring, &params)
            if rc == 0 {
                self.ring = ring
                isDisabled = startsDisabled && tier.contains(.singleIssuer)
                setupFlags = tier
                features = params.features
                submissionEntries = Int(params.sq_entries)
                self.completionEntries = Int(params.cq_entries)
                return
            }
            lastError = Errno(rawValue: -rc)
            if rc != -EINVAL { break }
        }
        ring.deallocate()
        throw lastError
    }

    deinit {
        // Cancels what is in flight and unmaps the rings. Buffer rings hold a reference to this object, so none
        // of them can still be registered here.
        io_uring_queue_exit(ring)
        ring.deallocate()
    }

    /// The ring's descriptor (for diagnostics; never close it).
    public var descriptor: CInt { ring.pointee.ring_fd }

    /// The ring was created disabled and `enable()` has not run yet.
    public private(set) var isDisabled: Bool

    /// Enables a ring created with `startsDisabled` (`io_uring_enable_rings`); call it on the thread that will
    /// submit. Does nothing for a ring that is already enabled.
    public func enable() throws(Errno) {
        guard isDisabled else { return }
        let rc = CSockify_io_uring_enable_rings(ring.pointee.ring_fd)
        guard rc >= 0 else { throw Errno(rawValue: -rc) }
        isDisabled = false
    }

    // MARK: submitting and waiting

    /// Hands every prepared SQE to the kernel. Returns how many were submitted.
    /// The corresponding C call is `io_uring_submit(3)`.
    /// - Throws: `EBUSY`/`EAGAIN` when the kernel is short of completion space or memory; the SQEs stay queued.
    @discardableResult
    public func submit() throws(Errno) -> Int {
        let rc = io_uring_submit(ring)
        guard rc >= 0 else { throw Errno(rawValue: -rc) }
        return Int(rc)
    }

    /// Submits and, without blocking, runs the ring's pending completion work so that `drainCompletions` sees
    /// everything that has finished. Needed with `DEFER_TASKRUN`, where completions are only posted on entry.
    /// The corresponding C call is `io_uring_submit_and_get_events`.
    @discardableResult
    public func submitAndGetEvents() throws(Errno) -> Int {
        let rc = io_uring_submit_and_get_events(ring)
        guard rc >= 0 else { throw Errno(rawValue: -rc) }
        return Int(rc)
    }

    /// Submits, then blocks until at least `minimumCompletions` completions are ready or `timeout` passes.
    ///
    /// - Returns: `true` when the completions are there; `false` on timeout or when a signal interrupted the
    ///   wait (`ETIME`/`EINTR` are values: the caller's loop decides what to do next).
    /// The corresponding C call is `io_uring_submit_and_wait_timeout(3)` (`io_uring_submit_and_wait(3)` without
    /// a timeout).
    @discardableResult
    public func submitAndWait(minimumCompletions: Int = 1, timeout: Duration? = nil) throws(Errno) -> Bool {
        let rc: CInt
        if let timeout {
            let (seconds, attoseconds) = timeout.components
            var ts = __kernel_timespec(tv_sec: seconds, tv_nsec: attoseconds / 1_000_000_000)
            var cqe: UnsafeMutablePointer<io_uring_cqe>?
            rc = io_uring_submit_and_wait_timeout(ring, &cqe, UInt32(minimumCompletions), &ts, nil)
        } else {
            rc = io_uring_submit_and_wait(ring, UInt32(minimumCompletions))
        }
        if rc >= 0 { return io_uring_cq_ready(ring) >= UInt32(minimumCompletions) || timeout == nil }
        if rc == -ETIME || rc == -EINTR { return false }
        throw Errno(rawValue: -rc)
    }

    /// Completions ready to drain.
    public var readyCompletions: Int { Int(io_uring_cq_ready(ring)) }

    /// Calls `body` for every completion ready now, then releases them all with one `io_uring_cq_advance`.
    ///
    /// `body` may prepare new SQEs (they are submitted on the next `submit…`), but must not drain again.
    /// - Returns: how many completions were delivered.
    /// The corresponding C construct is the `io_uring_for_each_cqe` macro, written out here because Swift cannot
    /// import function-like macros: read the tail with acquire ordering (`io_uring_cq_ready`), walk from the head,
    /// publish the new head with release ordering (`io_uring_cq_advance`).
    @discardableResult
    @inline(__always)
    public func drainCompletions(_ body: (URingCompletion) -> Void) -> Int {
        let ready = io_uring_cq_ready(ring)
        guard ready > 0 else { return 0 }
        let cq = ring.pointee.cq
        // SAFETY: only this thread moves khead, and entries [head, head + ready) were published by the kernel
        // before the tail that io_uring_cq_ready read with acquire ordering. No CQE32 rings are created here, so
        // the index needs no shift.
        let head = cq.khead.pointee
        for i in 0..<ready {
            let cqe = cq.cqes + Int((head &+ i) & cq.ring_mask)
            body(URingCompletion(
                userData: URingUserData(rawValue: cqe.pointee.user_data),
                result: cqe.pointee.res, flags: cqe.pointee.flags))
        }
        io_uring_cq_advance(ring, ready)
        return Int(ready)
    }

    // MARK: preparing submissions

    /// The next free SQE, submitting what is queued when the SQ is full.
    @inline(__always)
    private func nextSubmission() throws(Errno) -> UnsafeMutablePointer<io_uring_sqe> {
        if let sqe = io_uring_get_sqe(ring) { return sqe }
        try submit()
        guard let sqe = io_uring_get_sqe(ring) else {
            // SQ entries are recycled as soon as io_uring_submit returns (no SQPOLL here).
            preconditionFailure("io_uring SQ still full after a successful submit")
        }
        return sqe
    }

    /// Queues a no-op (wake-ups, tests, cost measurements). The corresponding C call is `io_uring_prep_nop(3)`.
    public func prepareNop(userData: URingUserData) throws(Errno) {
        let sqe = try nextSubmission()
        io_uring_prep_nop(sqe)
        io_uring_sqe_set_data64(sqe, userData.rawValue)
    }

    /// Queues a multishot accept on `listener`: one completion per accepted connection, each with
    /// `result` = the new descriptor (non-blocking, close-on-exec) and `hasMore` while the accept stays armed.
    /// No peer address is collected (all completions would share one buffer); use `getpeername` when needed.
    /// The corresponding C call is `io_uring_prep_multishot_accept(3)` (Linux 5.19).
    public func prepareMultishotAccept(listener: CInt, userData: URingUserData) throws(Errno) {
        let sqe = try nextSubmission()
        io_uring_prep_multishot_accept(sqe, listener, nil, nil, CInt(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue))
        io_uring_sqe_set_data64(sqe, userData.rawValue)
    }

    /// Queues a multishot receive on `fd` into buffers picked from `bufferGroup`: one completion per chunk read,
    /// each naming its buffer, until an error, end of stream, cancel, or an empty ring (`ENOBUFS`) ends it.
    /// The corresponding C call is `io_uring_prep_recv_multishot(3)` (Linux 6.0) with `IOSQE_BUFFER_SELECT`.
    public func prepareMultishotReceive(fd: CInt, bufferGroup: UInt16, userData: URingUserData) throws(Errno) {
        let sqe = try nextSubmission()
        io_uring_prep_recv_multishot(sqe, fd, nil, 0, 0)
        selectBuffer(sqe, group: bufferGroup)
        io_uring_sqe_set_data64(sqe, userData.rawValue)
    }

    /// Queues a single receive on `fd` into a buffer picked from `bufferGroup` (for kernels or cases where a
    /// multishot receive is not wanted). The corresponding C call is `io_uring_prep_recv(3)` with
    /// `IOSQE_BUFFER_SELECT`.
    public func prepareReceive(fd: CInt, bufferGroup: UInt16, userData: URingUserData) throws(Errno) {
        let sqe = try nextSubmission()
        io_uring_prep_recv(sqe, fd, nil, 0, 0)
        selectBuffer(sqe, group: bufferGroup)
        io_uring_sqe_set_data64(sqe, userData.rawValue)
    }

    @inline(__always)
    private func selectBuffer(_ sqe: UnsafeMutablePointer<io_uring_sqe>, group: UInt16) {
        sqe.pointee.flags |= UInt8(truncatingIfNeeded: CSockify_IOSQE_BUFFER_SELECT())
        sqe.pointee.buf_group = group
    }

    /// Queues a send of `count` bytes at `bytes` (header and payload of one WebSocket frame, contiguous in a
    /// buffer's headroom and payload area). `MSG_NOSIGNAL`: a closed peer yields `EPIPE`, never SIGPIPE.
    /// The bytes must stay untouched until the completion. The corresponding C call is `io_uring_prep_send(3)`.
    public func prepareSend(fd: CInt, bytes: UnsafeRawPointer, count: Int, userData: URingUserData) throws(Errno) {
        let sqe = try nextSubmission()
        io_uring_prep_send(sqe, fd, bytes, count, CInt(MSG_NOSIGNAL))
        io_uring_sqe_set_data64(sqe, userData.rawValue)
    }

    /// Queues one `sendmsg` of the ranges in `gather` (payload ranges of a decoded buffer), `MSG_NOSIGNAL`.
    /// The list itself may change once this SQE is submitted; the bytes it points at must stay until the
    /// completion. A stream socket may send fewer bytes than asked: `URingGatherList.consume(_:)` then drops
    /// what was sent so the rest can be queued again.
    /// The corresponding C call is `io_uring_prep_sendmsg(3)`.
    public func prepareSendMessage(fd: CInt, gather: borrowing URingGatherList, userData: URingUserData) throws(Errno) {
        let sqe = try nextSubmission()
        io_uring_prep_sendmsg(sqe, fd, gather.message, UInt32(MSG_NOSIGNAL))
        io_uring_sqe_set_data64(sqe, userData.rawValue)
    }

    /// Queues a connect of `fd` to `address` (`length` bytes). The address must stay valid until the SQE is
    /// submitted. The completion's `result` is 0 or `-errno` (`ECONNREFUSED`, `ETIMEDOUT`, …).
    /// The corresponding C call is `io_uring_prep_connect(3)`.
    public func prepareConnect(
        fd: CInt, address: UnsafePointer<sockaddr>, length: socklen_t, userData: URingUserData
    ) throws(Errno) {
        let sqe = try nextSubmission()
        io_uring_prep_connect(sqe, fd, address, length)
        io_uring_sqe_set_data64(sqe, userData.rawValue)
    }

    /// Queues a close of `fd`. A close does not cancel requests still armed on the descriptor (they hold their
    /// own file reference): cancel them first (`prepareCancel(fd:…)`).
    /// The corresponding C call is `io_uring_prep_close(3)`.
    /// A readiness poll on `fd` for `mask` (`POLLIN`, `POLLOUT`, `POLLRDHUP` bits). Multishot polls are
    /// edge-triggered (the kernel adds `EPOLLET` unless `IORING_POLL_ADD_LEVEL`): one completion per wake-up of
    /// the socket, each carrying the events then ready, like `epoll` with `EPOLLET`.
    public func preparePoll(fd: CInt, mask: UInt32, multishot: Bool, userData: URingUserData) throws(Errno) {
        let sqe = try nextSubmission()
        if multishot {
            io_uring_prep_poll_multishot(sqe, fd, mask)
        } else {
            io_uring_prep_poll_add(sqe, fd, mask)
        }
        io_uring_sqe_set_data64(sqe, userData.rawValue)
    }

    public func prepareClose(fd: CInt, userData: URingUserData) throws(Errno) {
        let sqe = try nextSubmission()
        io_uring_prep_close(sqe, fd)
        io_uring_sqe_set_data64(sqe, userData.rawValue)
    }

    /// Queues a cancel of the request tagged `target`. The cancelled request completes with `ECANCELED`; the
    /// cancel itself completes with 0, or `ENOENT` when nothing matched, or `EALREADY` when it was running.
    /// The corresponding C call is `io_uring_prep_cancel64(3)`.
    public func prepareCancel(_ target: URingUserData, userData: URingUserData) throws(Errno) {
        let sqe = try nextSubmission()
        io_uring_prep_cancel64(sqe, target.rawValue, 0)
        io_uring_sqe_set_data64(sqe, userData.rawValue)
    }

    /// Queues a cancel of every request on `fd` (before closing a connection). The cancel's `result` is the
    /// number of requests cancelled, or `ENOENT`.
    /// The corresponding C call is `io_uring_prep_cancel_fd(3)` with `IORING_ASYNC_CANCEL_ALL` (Linux 5.19).
    public func prepareCancel(fd: CInt, userData: URingUserData) throws(Errno) {
        let sqe = try nextSubmission()
        io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL)
        io_uring_sqe_set_data64(sqe, userData.rawValue)
    }
}
