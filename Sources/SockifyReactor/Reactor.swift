// One event loop per core over edge-triggered epoll or io_uring: registrations, generation-checked dispatch,
// listeners, cross-thread inbox with eventfd wake-ups, and a coarse tick for timeouts.
import CSockify
import Glibc
import Synchronization

/// What a readiness event reports for one descriptor.
public struct Readiness: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let readable = Readiness(rawValue: 1)
    public static let writable = Readiness(rawValue: 2)
    /// The peer shut down its write side, or the connection is gone (`EPOLLRDHUP`/`EPOLLHUP`).
    public static let hangup = Readiness(rawValue: 4)
    public static let error = Readiness(rawValue: 8)
}

/// How the reactor waits for and performs I/O. Chosen once, when the reactor is made.
public enum IOBackend: String, Sendable, CaseIterable {
    /// Edge-triggered epoll: readiness events, the handler does every `recv`/`send` itself.
    case epoll
    /// io_uring: readiness through multishot polls, and — for handlers that ask (`startReceiving`) — completions:
    /// the kernel receives into a provided buffer ring and hands over filled buffers, with no `recv` syscall and
    /// no wait syscall of its own (one `io_uring_enter` per loop turn submits and waits).
    case ioUring = "io_uring"
}

/// Why a completion-mode receive (`Reactor.startReceiving`) delivers no more buffers.
public enum ReceiveEnd: Equatable, Sendable {
    /// The peer shut down its write side.
    case endOfStream
    /// The reactor's buffer ring was empty when bytes arrived; they wait in the socket. Read them with `recv`
    /// (into a pool slot), then call `startReceiving` again.
    case noBuffers
    /// The receive was cancelled (`stopReceiving`) or ended without a reason of its own; bytes may wait in the
    /// socket.
    case stopped
    /// The socket failed (`ECONNRESET`, …).
    case failed(Errno)
}

/// A reactor-owned object that descriptors are registered for (one proxied connection).
public protocol ReactorHandler: AnyObject {
    /// One of this handler's descriptors, registered with `tag`, became ready.
    func ready(_ readiness: Readiness, tag: UInt8)
    /// io_uring only, after `startReceiving`: `count` bytes arrived for `tag` in a receive buffer. The bytes start
    /// `BufferPool.headroom` bytes into `slot`, which is laid out like a pool slot of the reactor's receive size;
    /// the handler owns it until it gives it back with `Reactor.recycle(_:)`.
    func received(_ slot: UnsafeMutableRawPointer, count: Int, tag: UInt8)
    /// io_uring only: the receive started by `startReceiving` for `tag` delivers no more buffers.
    func receiveEnded(_ end: ReceiveEnd, tag: UInt8)
}

extension ReactorHandler {
    public func received(_ slot: UnsafeMutableRawPointer, count: Int, tag: UInt8) {
        preconditionFailure("\(Self.self) started a completion-mode receive but does not take its buffers")
    }

    public func receiveEnded(_ end: ReceiveEnd, tag: UInt8) {}
}

/// Identifies a handler slot and the generation it had when it was handed out; a stale token matches nothing.
public struct Token: Hashable, Sendable {
    public let slot: UInt32
    public let generation: UInt32

    public init(slot: UInt32, generation: UInt32) {
        self.slot = slot
        self.generation = generation
    }
}

/// An event loop confined to one thread, over edge-triggered epoll or over io_uring (`IOBackend`).
///
/// The backend is a closed choice made at start-up; the loop switches on it once per wait, not per event, and
/// events reach handlers through the generic `Handler` type (no existential on the data path). Under io_uring the
/// same contract holds: `register` arms an edge-triggered multishot poll, listeners a multishot accept, and
/// `startReceiving` turns a descriptor's input into completions (see `ReactorURing.swift`).
///
/// `epoll_data.u64` layout (what `dispatch` decodes):
///
///      63                        32 31                        8 7        0
///     +----------------------------+---------------------------+----------+
///     |    generation (32 bits)    |      slot (24 bits)       | tag (8)  |
///     +----------------------------+---------------------------+----------+
///
/// A handler's slot is recycled with a bumped generation when it is removed, so an event still queued for the old
/// occupant is dropped instead of being delivered to the new one (fd numbers are reused as fast as slots are).
/// Slots 0xFFFFFF and 0xFFFFFE are reserved for the wake-up eventfd and the listeners.
///
/// `@unchecked Sendable`: the reactor is created on one thread and then used only by its own loop thread; the only
/// members touched from other threads are `execute(_:)` and `stop()`, which go through a `Mutex` and an eventfd.
public final class Reactor<Handler: ReactorHandler>: @unchecked Sendable {
    /// Called on the loop thread about every `tickInterval` with the monotonic time in milliseconds.
    public var onTick: ((Int64) -> Void)?
    public let tickInterval: Int64
    /// Called on the loop thread after the current batch of events when `requestDeferredWork()` was called (a
    /// handler that yielded for fairness resumes here). Set once; no allocation per request.
    public var onDeferredWork: (() -> Void)?
    var deferredWorkRequested = false

    /// The backend this reactor runs on.
    public let backend: IOBackend
    /// -1 under io_uring.
    private let epollFD: CInt
    let wakeFD: CInt
    /// The ring, its buffer ring and per-slot descriptors; nil under epoll.
    let uring: URingState?
    var handlers: [Handler?] = []
    var generations: [UInt32] = []
    private var freeSlots: [UInt32] = []
    /// Listeners by tag; a closed one keeps its place (fd -1) so the tags of the others stay valid.
    var listeners: [(fd: CInt, owned: Bool, survivesClose: Bool, onAccept: (CInt, SocketAddress) -> Void)] = []
    private let inbox = Mutex<[@Sendable () -> Void]>([])
    let stopRequested = Atomic<Bool>(false)
    private var events: UnsafeMutablePointer<epoll_event>
    private let eventCapacity = 512
    /// A descriptor held in reserve for `shedOneConnection`.
    var spareFD: CInt = -1

    private static var wakeSlot: UInt32 { 0xFF_FFFF }
    private static var listenerSlot: UInt32 { 0xFF_FFFE }

    /// - Parameters:
    ///   - tickInterval: milliseconds between `onTick` calls.
    ///   - backend: epoll, or io_uring (which throws when the kernel refuses a ring; `URing.probe()` says why).
    ///   - receiveSlotSize: io_uring: the size of a receive buffer including `headroom` (a pool slot's size), so
    ///     a received buffer can stand in for a pool slot.
    ///   - receiveBufferCount: io_uring: buffers in the reactor's provided buffer ring (a power of two).
    public init(
        tickInterval: Int64 = 250, backend: IOBackend = .epoll, receiveSlotSize: Int = 64 * 1024 + 16,
        receiveBufferCount: Int = 64, headroom: Int = 16
    ) throws(Errno) {
        self.tickInterval = tickInterval
        self.backend = backend
        let wake = eventfd(0, CInt(EFD_NONBLOCK) | CInt(EFD_CLOEXEC))
        guard wake != -1 else { throw Errno.current }
        wakeFD = wake
        events = .allocate(capacity: backend == .epoll ? eventCapacity : 1)
        switch backend {
        case .epoll:
            let ep = epoll_create1(CInt(EPOLL_CLOEXEC))
            guard ep != -1 else {
                let err = Errno.current
                Glibc.close(wake)
                events.deallocate()
                throw err
            }
            epollFD = ep
            uring = nil
        case .ioUring:
            epollFD = -1
            do {
                uring = try URingState(
                    slotSize: receiveSlotSize, bufferCount: receiveBufferCount, headroom: headroom)
            } catch {
                Glibc.close(wake)
                events.deallocate()
                throw error
            }
        }
        spareFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
        if let uring {
            try uring.armWake(wakeFD)
        } else {
            var ev = epoll_event()
            CSockify_epoll_event_set(&ev, CSockify_EPOLLIN(), Self.pack(slot: Self.wakeSlot, generation: 0, tag: 0))
            guard epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &ev) == 0 else { throw Errno.current }
        }
    }

    deinit {
        if let uring {
            _ = try? uring.ring.submitAndGetEvents()
            for fd in uring.deferredCloses + uring.closingNow { Glibc.close(fd) }
        }
        events.deallocate()
        if spareFD >= 0 { Glibc.close(spareFD) }
        for listener in listeners where listener.owned && listener.fd >= 0 { Glibc.close(listener.fd) }
        Glibc.close(wakeFD)
        if epollFD >= 0 { Glibc.close(epollFD) }
    }

    @inline(__always)
    private static func pack(slot: UInt32, generation: UInt32, tag: UInt8) -> UInt64 {
        UInt64(generation) << 32 | UInt64(slot) << 8 | UInt64(tag)
    }

    // MARK: handlers

    /// Gives `handler` a slot. The reactor keeps a strong reference until `remove(_:)`.
    public func add(_ handler: Handler) -> Token {
        if let slot = freeSlots.popLast() {
            handlers[Int(slot)] = handler
            return Token(slot: slot, generation: generations[Int(slot)])
        }
        let slot = UInt32(handlers.count)
        precondition(slot < Self.listenerSlot, "reactor handler table is full")
        handlers.append(handler)
        generations.append(0)
        return Token(slot: slot, generation: 0)
    }

    /// Releases the handler's slot. Events already queued for its descriptors are dropped (under io_uring, a
    /// dropped completion's receive buffer goes back to the ring).
    public func remove(_ token: Token) {
        let index = Int(token.slot)
        guard generations[index] == token.generation else { return }
        handlers[index] = nil
        generations[index] &+= 1
        freeSlots.append(token.slot)
        uring?.forget(slot: token.slot)
    }

    /// The handler `token` names, or nil when that handler has left (its slot may already hold another one).
    public func handler(for token: Token) -> Handler? {
        let index = Int(token.slot)
        guard index < handlers.count, generations[index] == token.generation else { return nil }
        return handlers[index]
    }

    /// Nanoseconds the loop spent handling events (not waiting in `epoll_wait`) since it started; read on the loop
    /// thread (e.g. from `onTick`) for utilisation metrics.
    public internal(set) var busyNanoseconds: Int64 = 0

    /// Number of live handlers.
    public var handlerCount: Int { handlers.count - freeSlots.count }

    /// Calls `body` for every live handler (for timeout sweeps; not on the data path).
    public func forEachHandler(_ body: (Handler) -> Void) {
        for case let handler? in handlers { body(handler) }
    }

    /// Registers `fd` edge-triggered for input, output and peer hang-up on behalf of `token`'s handler.
    /// Edge-triggered: the handler must read (and write) until `wouldBlock` before it can expect another event.
    /// The corresponding C call is `epoll_ctl(2)` with `EPOLL_CTL_ADD`.
    /// Under io_uring: an edge-triggered multishot `POLL_ADD` for the same events.
    public func register(_ fd: CInt, for token: Token, tag: UInt8) throws(Errno) {
        if let uring {
            try uring.armPoll(fd, token: token, tag: tag)
            return
        }
        var ev = epoll_event()
        let mask = CSockify_EPOLLIN() | CSockify_EPOLLOUT() | CSockify_EPOLLRDHUP() | CSockify_EPOLLET()
        CSockify_epoll_event_set(&ev, mask, Self.pack(slot: token.slot, generation: token.generation, tag: tag))
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &ev) == 0 else { throw Errno.current }
    }

    /// Removes `fd` from the interest list (closing the fd does this too).
    /// The corresponding C call is `epoll_ctl(2)` with `EPOLL_CTL_DEL`.
    public func deregister(_ fd: CInt) {
        if let uring {
            uring.cancelAll(fd)
            return
        }
        var ev = epoll_event()
        _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, &ev)
    }

    /// Closes a descriptor registered for `token`'s handler with `tag`. Under io_uring its poll, writability poll
    /// and receive are cancelled by `user_data` (a hash lookup each; cancelling by descriptor would scan every
    /// request in the ring) and the `close` itself waits for the next `io_uring_enter`, which submits the
    /// cancellations and runs their completions: an io_uring request holds its own reference to the socket, so
    /// closing first would leave the socket open (no FIN for the peer) until the request ended.
    public func close(_ fd: CInt, for token: Token, tag: UInt8) {
        guard let uring else {
            Glibc.close(fd)
            return
        }
        uring.cancel(token, tag: tag)
        uring.deferredCloses.append(fd)
    }

    /// Watches a listening socket (level-triggered); `onAccept` gets each accepted descriptor and its peer.
    /// - Parameters:
    ///   - owned: the reactor closes `fd` when it stops. Pass `false` for a listener shared by several reactors (a
    ///     Unix socket or an inetd descriptor cannot be bound once per reactor); its owner closes it.
    ///   - survivesClose: `closeListeners()` leaves this one open (a metrics/health listener that must keep
    ///     answering while the proxy drains).
    public func addListener(
        _ fd: CInt, owned: Bool = true, survivesClose: Bool = false, onAccept: @escaping (CInt, SocketAddress) -> Void
    ) throws(Errno) {
        let index = UInt8(listeners.count)
        if let uring {
            try uring.armAccept(fd, index: index)
        } else {
            var ev = epoll_event()
            CSockify_epoll_event_set(&ev, CSockify_EPOLLIN(), Self.pack(slot: Self.listenerSlot, generation: 0, tag: index))
            guard epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &ev) == 0 else { throw Errno.current }
        }
        listeners.append((fd, owned, survivesClose, onAccept))
    }

    /// Stops watching and closes every listener but those added with `survivesClose` (graceful shutdown: no new
    /// connections).
    public func closeListeners() {
        pausedListeners.removeAll { !listeners[$0].survivesClose }
        for index in listeners.indices where listeners[index].fd >= 0 && !listeners[index].survivesClose {
            deregister(listeners[index].fd)
            uring?.closedListeners.insert(index)
            if listeners[index].owned { Glibc.close(listeners[index].fd) }
            listeners[index].fd = -1
        }
    }

    /// Asks for `onDeferredWork` after this batch of events (loop thread only); the next wait does not block.
    public func requestDeferredWork() {
        deferredWorkRequested = true
    }

    // MARK: cross-thread

    /// Runs `work` on the loop thread soon. Safe from any thread.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        inbox.withLock { $0.append(work) }
        wake()
    }

    /// Makes `run()` return after the current iteration. Safe from any thread.
    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        wake()
    }

    func wake() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
    }

    // MARK: loop

    /// Runs the loop on the calling thread until `stop()`. The stop request is consumed, so `run()` can be called
    /// again (tests step a reactor this way).
    public func run() {
        defer { stopRequested.store(false, ordering: .releasing) }
        if let uring {
            runURing(uring)
            return
        }
        var nextTick = MonotonicClock.milliseconds() + tickInterval
        var wokeAt = MonotonicClock.nanoseconds()
        while !stopRequested.load(ordering: .acquiring) {
            let beforeWait = MonotonicClock.nanoseconds()
            busyNanoseconds &+= beforeWait - wokeAt
            let now = beforeWait / 1_000_000
            let timeout = deferredWorkRequested ? 0 : CInt(clamping: max(0, nextTick - now))
            let count = epoll_wait(epollFD, events, CInt(eventCapacity), timeout)
            wokeAt = MonotonicClock.nanoseconds()
            if count == -1 {
                precondition(errno == EINTR, "epoll_wait failed with errno \(errno)")
                continue
            }
            for i in 0..<Int(count) {
                dispatch(events + i)
            }
            endTurn(&nextTick)
        }
    }

    /// The end of a loop turn on either backend: deferred work, then the tick when it is due.
    func endTurn(_ nextTick: inout Int64) {
        if deferredWorkRequested {
            deferredWorkRequested = false
            onDeferredWork?()
        }
        let after = MonotonicClock.milliseconds()
        if after >= nextTick {
            nextTick = after + tickInterval
            if !pausedListeners.isEmpty { resumePausedListeners() }
            if let uring { rearmAcceptsIfLimitChanged(uring) }
            onTick?(after)
        }
    }

    @inline(__always)
    private func dispatch(_ event: UnsafeMutablePointer<epoll_event>) {
        let data = CSockify_epoll_event_data(event)
        let bits = CSockify_epoll_event_events(event)
        let slot = UInt32(truncatingIfNeeded: data >> 8) & 0xFF_FFFF
        let tag = UInt8(truncatingIfNeeded: data)
        if slot == Self.wakeSlot {
            drainInbox()
            return
        }
        if slot == Self.listenerSlot {
            acceptAll(listenerIndex: Int(tag))
            return
        }
        let generation = UInt32(truncatingIfNeeded: data >> 32)
        let index = Int(slot)
        guard index < handlers.count, generations[index] == generation, let handler = handlers[index] else { return }
        var readiness: Readiness = []
        if bits & CSockify_EPOLLIN() != 0 { readiness.insert(.readable) }
        if bits & CSockify_EPOLLOUT() != 0 { readiness.insert(.writable) }
        if bits & (CSockify_EPOLLRDHUP() | CSockify_EPOLLHUP()) != 0 { readiness.insert(.hangup) }
        if bits & CSockify_EPOLLERR() != 0 { readiness.insert(.error) }
        handler.ready(readiness, tag: tag)
    }

    func drainInbox() {
        var counter: UInt64 = 0
        _ = Glibc.read(wakeFD, &counter, 8)
        let work = inbox.withLock { queue -> [@Sendable () -> Void] in
            let taken = queue
            queue.removeAll(keepingCapacity: true)
            return taken
        }
        for item in work { item() }
    }

    /// Out of descriptors: the listener stays readable (level-triggered), so without action the loop would spin.
    /// Give up the spare descriptor, accept the oldest pending connection and close it at once (the client sees a
    /// reset instead of hanging), then take the spare again — the classic libev/nginx remedy.
    /// If the spare could not be had (another thread took the descriptor), the listener is paused until the next
    /// tick instead: a level-triggered listener left readable would otherwise wake the loop in a busy spin.
    private func shedOneConnection(_ listener: CInt, index: Int) {
        if shedWithSpare(listener).spareKept { return }
        var ev = epoll_event()
        CSockify_epoll_event_set(&ev, 0, Self.pack(slot: Self.listenerSlot, generation: 0, tag: UInt8(index)))
        if epoll_ctl(epollFD, EPOLL_CTL_MOD, listener, &ev) == 0 { pausedListeners.append(index) }
    }

    /// Gives up the spare descriptor to accept and close the oldest pending connection. `spareKept`: the spare was
    /// taken back (the listener can stay watched); `shed`: a pending connection was there and was closed.
    func shedWithSpare(_ listener: CInt) -> (spareKept: Bool, shed: Bool) {
        acceptFailures &+= 1
        guard spareFD >= 0 else { return (false, false) }
        Glibc.close(spareFD)
        spareFD = -1
        var shed = false
        if let (fd, _) = try? Sockets.accept(listener) {
            Glibc.close(fd)
            shed = true
        }
        spareFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
        return (spareFD >= 0, shed)
    }

    /// Watches paused listeners again (called every tick) and retries taking the spare descriptor.
    func resumePausedListeners() {
        if spareFD < 0 { spareFD = open("/dev/null", O_RDONLY | O_CLOEXEC) }
        for index in pausedListeners where index < listeners.count && listeners[index].fd >= 0 {
            if let uring {
                try? uring.armAccept(listeners[index].fd, index: UInt8(index))
                continue
            }
            var ev = epoll_event()
            CSockify_epoll_event_set(&ev, CSockify_EPOLLIN(), Self.pack(slot: Self.listenerSlot, generation: 0, tag: UInt8(index)))
            _ = epoll_ctl(epollFD, EPOLL_CTL_MOD, listeners[index].fd, &ev)
        }
        pausedListeners.removeAll(keepingCapacity: true)
    }

    var pausedListeners: [Int] = []

    /// Connections refused because the process ran out of descriptors.
    public internal(set) var acceptFailures = 0

    private func acceptAll(listenerIndex: Int) {
        guard listenerIndex < listeners.count, listeners[listenerIndex].fd >= 0 else { return }
        let listener = listeners[listenerIndex]
        // Bounded per wake-up so one busy listener cannot starve established connections; the listener is
        // level-triggered, so what is left is reported again on the next epoll_wait.
        for _ in 0..<64 {
            do {
                guard let (fd, peer) = try Sockets.accept(listener.fd) else { return }
                listener.onAccept(fd, peer)
            } catch {
                if error.rawValue == EMFILE || error.rawValue == ENFILE {
                    shedOneConnection(listener.fd, index: listenerIndex)
                }
                // ECONNABORTED and the like concern one connection only; the next event retries.
                return
            }
        }
    }
}

/// Monotonic time in milliseconds (`CLOCK_MONOTONIC`, vDSO: no syscall).
public enum MonotonicClock {
    @inline(__always)
    public static func milliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    @inline(__always)
    public static func nanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
