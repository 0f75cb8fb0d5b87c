// The io_uring side of `Reactor`: one ring per reactor thread, an edge-triggered multishot poll per registered
// descriptor, multishot accept per listener, multishot receive into a provided buffer ring for handlers that ask,
// and the loop that submits and waits with one io_uring_enter per turn.
import CSockify
import Glibc

/// What a reactor needs under io_uring: its ring, its provided buffer ring, and the descriptor behind each
/// (slot, tag), so a multishot request the kernel ended can be armed again.
///
/// `user_data` of every request: `URingUserData(operation, generation, slot: tag << 24 | slot)`; the generation is
/// the handler slot's (24 bits), so a completion for a handler that has left is dropped — and the receive buffer it
/// carries goes back to the ring.
final class URingState {
    let ring: URing
    var buffers: URingBufferRing
    /// The descriptor registered per `slot * 2 + tag` (to re-arm a multishot poll the kernel ended; tags 0 and 1,
    /// the ones connections use: 8 bytes per connection, no hashing), -1 when none.
    private var descriptors: [CInt] = []
    /// Listener indexes closed by `closeListeners` (their cancelled accepts are not re-armed).
    var closedListeners: Set<Int> = []
    /// RLIMIT_NOFILE's soft limit when the accepts were armed: a multishot accept reads the limit once, when it is
    /// submitted, so a limit lowered later (`prlimit --pid`) would be ignored until the accept is armed again.
    var armedDescriptorLimit = URingState.descriptorLimit()

    static func descriptorLimit() -> rlim_t {
        var limit = rlimit()
        _ = getrlimit(CInt(RLIMIT_NOFILE.rawValue), &limit)
        return limit.rlim_cur
    }
    private static let pollMask = UInt32(POLLIN | POLLOUT) | UInt32(CSockify_EPOLLRDHUP())

    init(slotSize: Int, bufferCount: Int, headroom: Int) throws(Errno) {
        // 1024 SQEs: a loop turn that closes many connections queues one cancel each.
        // Disabled until the loop thread enables it: a reactor is made on one thread and run on another, and a
        // SINGLE_ISSUER ring belongs to the thread that enables it (else io_uring_enter fails with EEXIST).
        ring = try URing(entries: 4096, startsDisabled: true)
        buffers = try URingBufferRing(
            ring: ring, groupID: 1, count: bufferCount, size: slotSize - headroom, headroom: headroom)
    }

    @inline(__always)
    static func userData(_ operation: URingOperation, _ token: Token, tag: UInt8) -> URingUserData {
        URingUserData(operation: operation, generation: token.generation, slot: UInt32(tag) << 24 | token.slot)
    }

    func descriptor(slot: UInt32, tag: UInt8) -> CInt {
        let index = Int(slot) * 2 + Int(tag)
        return tag < 2 && index < descriptors.count ? descriptors[index] : -1
    }

    /// Forgets the descriptors of a slot whose handler left.
    func forget(slot: UInt32) {
        let index = Int(slot) * 2
        if index + 1 < descriptors.count {
            descriptors[index] = -1
            descriptors[index + 1] = -1
        }
    }

    func armPoll(_ fd: CInt, token: Token, tag: UInt8) throws(Errno) {
        if tag < 2 {
            let index = Int(token.slot) * 2 + Int(tag)
            if index >= descriptors.count {
                descriptors.append(contentsOf: repeatElement(-1, count: index + 2 - descriptors.count))
            }
            descriptors[index] = fd
        }
        try ring.preparePoll(fd: fd, mask: Self.pollMask, multishot: true, userData: Self.userData(.poll, token, tag: tag))
    }

    func armWake(_ fd: CInt) throws(Errno) {
        try ring.preparePoll(
            fd: fd, mask: UInt32(POLLIN), multishot: true,
            userData: URingUserData(operation: .wake, generation: 0, slot: 0))
    }

    func armAccept(_ fd: CInt, index: UInt8) throws(Errno) {
        try ring.prepareMultishotAccept(
            listener: fd, userData: URingUserData(operation: .accept, generation: 0, slot: UInt32(index)))
    }

    /// Descriptors closed during this loop turn: their cancellations go in with the next `io_uring_enter`, after
    /// which they are closed (`closingNow`).
    var deferredCloses: [CInt] = []
    var closingNow: [CInt] = []

    private static let cancelUserData = URingUserData(operation: .cancel, generation: 0, slot: 0)

    /// Queues the cancellation of everything a handler may have armed on one descriptor.
    func cancel(_ token: Token, tag: UInt8) {
        for operation in [URingOperation.poll, .pollWritable, .receive] {
            _ = try? ring.prepareCancel(Self.userData(operation, token, tag: tag), userData: Self.cancelUserData)
        }
    }

    /// Cancels every request on `fd` now (submitted at once: the cancel must reach the kernel while `fd` is
    /// still open). Their completions (`-ECANCELED`) are dropped when the loop reads them.
    func cancelAll(_ fd: CInt) {
        _ = try? ring.prepareCancel(fd: fd, userData: URingUserData(operation: .cancel, generation: 0, slot: 0))
        // GETEVENTS too: with DEFER_TASKRUN the cancelled requests let go of the socket only when this thread runs
        // its task work, and that must happen before `close`, or the socket outlives it (a listener would keep
        // accepting after the process exits, until the kernel tears the ring down).
        _ = try? ring.submitAndGetEvents()
    }
}

extension Reactor {
    // MARK: completion-mode receives (io_uring only)

    /// True when this reactor can deliver input as completions (`startReceiving`).
    public var completesReceives: Bool { uring != nil }

    /// Stops the multishot readiness poll that `register` armed for `fd`; the descriptor stays open. Readiness
    /// already queued may still arrive.
    public func stopReadiness(for token: Token, tag: UInt8) {
        guard let uring else { return }
        _ = try? uring.ring.prepareCancel(
            URingState.userData(.poll, token, tag: tag), userData: URingUserData(operation: .cancel, generation: 0, slot: 0))
    }

    /// Starts a multishot receive on `fd` into the reactor's buffer ring: each arrival calls the handler's
    /// `received(_:count:tag:)` with a buffer it then owns; when the receive ends, `receiveEnded(_:tag:)`.
    public func startReceiving(_ fd: CInt, for token: Token, tag: UInt8) throws(Errno) {
        guard let uring else { preconditionFailure("startReceiving needs the io_uring backend") }
        try uring.ring.prepareMultishotReceive(
            fd: fd, bufferGroup: uring.buffers.groupID, userData: URingState.userData(.receive, token, tag: tag))
    }

    /// Cancels the receive started by `startReceiving` (backpressure); `receiveEnded(.stopped)` follows once the
    /// kernel has let go of it, after any buffers it had already filled.
    public func stopReceiving(for token: Token, tag: UInt8) {
        guard let uring else { return }
        _ = try? uring.ring.prepareCancel(
            URingState.userData(.receive, token, tag: tag),
            userData: URingUserData(operation: .cancel, generation: 0, slot: 0))
    }

    /// Asks for one `.writable` readiness of `fd` (a send would block): a one-shot `POLLOUT` poll.
    public func awaitWritable(_ fd: CInt, for token: Token, tag: UInt8) throws(Errno) {
        guard let uring else { return }
        try uring.ring.preparePoll(
            fd: fd, mask: UInt32(POLLOUT), multishot: false, userData: URingState.userData(.pollWritable, token, tag: tag))
    }

    /// Gives a receive buffer back to the ring; false when `slot` is not one (a pool slot: the caller releases
    /// it to its pool).
    @inline(__always)
    public func recycle(_ slot: UnsafeMutableRawPointer) -> Bool {
        guard let uring, let id = uring.buffers.bufferID(ofSlot: slot) else { return false }
        uring.buffers.recycle(id)
        return true
    }

    #if DEBUG
    /// Receive buffers the kernel may fill now (debug builds, for tests); nil under epoll.
    public var receiveBuffersInKernel: Int? { uring?.buffers.buffersInKernel }
    #endif

    // MARK: loop

    func runURing(_ uring: URingState) {
        do { try uring.ring.enable() } catch { preconditionFailure("io_uring_enable_rings failed with \(error)") }
        var nextTick = MonotonicClock.milliseconds() + tickInterval
        var wokeAt = MonotonicClock.nanoseconds()
        defer { closeDeferred(uring, flush: true) }
        while !stopRequested.load(ordering: .acquiring) {
            let beforeWait = MonotonicClock.nanoseconds()
            busyNanoseconds &+= beforeWait - wokeAt
            let now = beforeWait / 1_000_000
            swap(&uring.closingNow, &uring.deferredCloses)
            let timeout = deferredWorkRequested || !uring.closingNow.isEmpty ? 0 : max(0, nextTick - now)
            do {
                if timeout == 0 {
                    try uring.ring.submitAndGetEvents()
                } else {
                    try uring.ring.submitAndWait(minimumCompletions: 1, timeout: .milliseconds(timeout))
                }
            } catch {
                // EBUSY/EAGAIN: the completion queue is full (overflowing) — drain it below, then submit again.
                precondition(
                    error.rawValue == EBUSY || error.rawValue == EAGAIN || error.rawValue == EINTR,
                    "io_uring_enter failed with \(error)")
            }
            wokeAt = MonotonicClock.nanoseconds()
            closeDeferred(uring, flush: false)
            uring.ring.drainCompletions { completion in dispatch(completion, uring) }
            endTurn(&nextTick)
        }
    }

    /// Re-arms every listener's multishot accept when RLIMIT_NOFILE changed since it was armed (checked every
    /// tick: one `getrlimit`), so the new limit applies to accepted descriptors as it does under epoll.
    func rearmAcceptsIfLimitChanged(_ uring: URingState) {
        let limit = URingState.descriptorLimit()
        guard limit != uring.armedDescriptorLimit else { return }
        uring.armedDescriptorLimit = limit
        for index in listeners.indices
        where listeners[index].fd >= 0 && !uring.closedListeners.contains(index) && !pausedListeners.contains(index) {
            let userData = URingUserData(operation: .accept, generation: 0, slot: UInt32(index))
            _ = try? uring.ring.prepareCancel(userData, userData: URingUserData(operation: .cancel, generation: 0, slot: 0))
            try? uring.armAccept(listeners[index].fd, index: UInt8(index))
        }
    }

    /// Closes the descriptors whose cancellations the last `io_uring_enter` submitted (`flush`: all of them, after
    /// one more enter — the loop is ending).
    private func closeDeferred(_ uring: URingState, flush: Bool) {
        if flush {
            uring.closingNow += uring.deferredCloses
            uring.deferredCloses.removeAll()
            _ = try? uring.ring.submitAndGetEvents()
        }
        for fd in uring.closingNow { Glibc.close(fd) }
        uring.closingNow.removeAll(keepingCapacity: true)
    }

    /// The live handler a completion names, or nil when its slot has moved on (generation mismatch).
    @inline(__always)
    private func liveHandler(_ userData: URingUserData) -> Handler? {
        let index = Int(userData.slot & 0xFF_FFFF)
        guard index < handlers.count, userData.isCurrent(generation: generations[index]) else { return nil }
        return handlers[index]
    }

    @inline(__always)
    private func dispatch(_ completion: URingCompletion, _ uring: URingState) {
        let userData = completion.userData
        let tag = UInt8(truncatingIfNeeded: userData.slot >> 24)
        switch userData.operation {
        case .receive:
            let handler = liveHandler(userData)
            switch completion.receiveOutcome {
            case .data(let id, let count):
                _ = uring.buffers.claim(id, count: count)
                guard let handler else {
                    uring.buffers.recycle(id)  // a stale completion: the connection has gone
                    return
                }
                handler.received(uring.buffers.slot(of: id), count: count, tag: tag)
                if !completion.hasMore { handler.receiveEnded(.stopped, tag: tag) }
            case .endOfStream(let id):
                if let id {
                    _ = uring.buffers.claim(id, count: 0)
                    uring.buffers.recycle(id)
                }
                handler?.receiveEnded(.endOfStream, tag: tag)
            case .noBuffers:
                handler?.receiveEnded(.noBuffers, tag: tag)
            case .failed(let error):
                handler?.receiveEnded(error.rawValue == ECANCELED ? .stopped : .failed(error), tag: tag)
            }
        case .poll, .pollWritable:
            guard completion.result != -ECANCELED, let handler = liveHandler(userData) else { return }
            var readiness: Readiness = []
            if completion.result < 0 {
                readiness = [.error]
            } else {
                let bits = UInt32(completion.result)
                if bits & UInt32(POLLIN) != 0 { readiness.insert(.readable) }
                if bits & UInt32(POLLOUT) != 0 { readiness.insert(.writable) }
                if bits & (UInt32(CSockify_EPOLLRDHUP()) | UInt32(POLLHUP)) != 0 { readiness.insert(.hangup) }
                if bits & UInt32(POLLERR) != 0 { readiness.insert(.error) }
            }
            if userData.operation == .poll && !completion.hasMore && completion.result >= 0 {
                // The kernel ended the multishot poll (CQ overflow): arm it again, or edges would be lost.
                let fd = uring.descriptor(slot: userData.slot & 0xFF_FFFF, tag: tag)
                if fd >= 0 {
                    try? uring.armPoll(
                        fd, token: Token(slot: userData.slot & 0xFF_FFFF, generation: userData.generation), tag: tag)
                }
            }
            handler.ready(readiness, tag: tag)
        case .accept:
            acceptCompleted(completion, uring)
        case .wake:
            drainInbox()
            if !completion.hasMore { try? uring.armWake(wakeFD) }
        default:
            break  // cancellations' own results
        }
    }

    private func acceptCompleted(_ completion: URingCompletion, _ uring: URingState) {
        let index = Int(completion.userData.slot)
        let result = completion.result
        guard index < listeners.count, listeners[index].fd >= 0, !uring.closedListeners.contains(index) else {
            if result >= 0 { Glibc.close(result) }
            return
        }
        let listener = listeners[index]
        if result >= 0 {
            // accept4 hands out the lowest free descriptor, so one at or above the soft limit means the limit was
            // lowered after the accept was armed (it read the limit then): refuse it as accept4 would (EMFILE),
            // and re-arm the accepts with the limit as it is now.
            let limit = URingState.descriptorLimit()
            if rlim_t(result) >= limit {
                Glibc.close(result)
                acceptFailures &+= 1
                rearmAcceptsIfLimitChanged(uring)
                return
            }
            listener.onAccept(result, Sockets.peerAddress(result))
        } else if result == -EMFILE || result == -ENFILE {
            // Out of descriptors: shed the oldest pending connection with the spare descriptor. io_uring's accept
            // takes a descriptor before it looks for a connection, so EMFILE comes back at once even with nothing
            // pending: unless a connection was shed (more may wait), pause the listener until the next tick, or
            // re-arming would spin (see `shedOneConnection` for epoll's side).
            let (spareKept, shed) = shedWithSpare(listener.fd)
            if !(spareKept && shed) {
                if !pausedListeners.contains(index) { pausedListeners.append(index) }
                return
            }
        }
        if !completion.hasMore && result != -ECANCELED && !pausedListeners.contains(index) {
            try? uring.armAccept(listener.fd, index: UInt8(index))
        }
    }
}
