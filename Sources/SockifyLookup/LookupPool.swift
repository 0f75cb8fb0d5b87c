// A few threads that run blocking token lookups (Redis, HTTP token APIs), so reactor threads never wait on the
// network. Reactors submit work; the work posts its answer back to the reactor it came from.
import SockifyReactor

/// A fixed set of threads serving a bounded FIFO queue of work items.
///
/// Every thread owns one `Context`, made on that thread by the pool's factory and handed to each work item the
/// thread runs. That is where per-thread state lives: a kept-open `RedisClient` per thread, say, so lookups reuse
/// connections without any locking. `LookupPool<Void>` is a plain thread pool.
///
/// Submitting never blocks: when the queue is full or the pool is shut down, `submit` returns `false` and the
/// caller answers "lookup failed" at once. A work item should bound its own running time (every client in this
/// module takes a deadline), since a stuck item holds its thread.
///
/// ```swift
/// let pool = try LookupPool(threadCount: 4) { _ in RedisClient(configuration: redis) }
/// let accepted = pool.submit { redis in
///     let answer = Result { () throws(RedisError) in try redis.get(key) }
///     reactor.execute { connection.tokenResolved(answer) }
/// }
/// ```
public final class LookupPool<Context>: Sendable {
    /// A work item: runs on one of the pool's threads with that thread's context.
    public typealias Work = @Sendable (inout Context) -> Void

    /// The number of threads.
    public let threadCount: Int
    /// The most work items that can wait at once (items being run do not count).
    public let queueCapacity: Int

    private let queue: ConditionLock<WorkQueue>
    /// Started threads not yet joined, by index.
    private let threads: ConditionLock<[Int: ReactorThread]>

    /// Starts `threadCount` threads. Each calls `makeContext(index)` (index 0..<threadCount) once, on itself,
    /// before running work, and drops its context when the pool shuts down.
    /// - Parameters:
    ///   - threadCount: at least 1 (default 4: lookups wait on the network, not the CPU).
    ///   - queueCapacity: at least 1 (default 4096).
    /// - Throws: `Errno` if a thread cannot be started (threads already started are shut down first).
    public init(
        threadCount: Int = 4, queueCapacity: Int = 4096,
        makeContext: @escaping @Sendable (_ threadIndex: Int) -> Context
    ) throws(Errno) {
        precondition(threadCount >= 1 && queueCapacity >= 1, "LookupPool needs at least one thread and one queue slot")
        self.threadCount = threadCount
        self.queueCapacity = queueCapacity
        queue = ConditionLock(WorkQueue(capacity: queueCapacity))
        threads = ConditionLock([:])
        for index in 0..<threadCount {
            let queue = self.queue  // the threads hold the queue, never the pool, so the pool can deinit
            do {
                let identity = PoolThreadIdentity(queue: ObjectIdentifier(queue), index: index)
                let thread = try ReactorThread.start(pinnedTo: nil) {
                    PoolThreadIdentity.$current.withValue(identity) {
                        var context = makeContext(index)
                        while let work = Self.take(from: queue) { work(&context) }
                    }
                }
                threads.withLock { $0[index] = thread }
            } catch {
                shutdown()
                throw error
            }
        }
    }

    deinit { shutdown() }

    /// Queues `work` to run on a pool thread with that thread's context.
    /// - Returns: `false` (and `work` is dropped without running) when the queue is full or the pool is shut
    ///   down. `true` means `work` will run exactly once, unless `shutdown(discardingQueuedWork: true)` drops it.
    @discardableResult
    public func submit(_ work: @escaping Work) -> Bool {
        let accepted = queue.withLock { $0.push(work) }
        if accepted { queue.signal() }
        return accepted
    }

    /// Queues `work`, which needs no per-thread context (see `submit(_:)` for the result).
    @discardableResult
    public func submit(_ work: @escaping @Sendable () -> Void) -> Bool {
        submit { (_: inout Context) in work() }
    }

    /// Work items waiting for a thread (not counting those being run).
    public var queuedCount: Int { queue.withLock { $0.count } }

    /// Stops accepting work, lets the threads finish, and joins them. Items already queued still run, unless
    /// `discardingQueuedWork` is set; then they are dropped without running. Calling it again joins whatever is
    /// left to join.
    ///
    /// Called from one of the pool's own work items, it joins the other threads only (a thread cannot join
    /// itself); a later call from outside the pool, or the pool's deinit, joins that one. If the last reference to
    /// the pool is dropped inside a work item, that thread is never joined: it exits, but its stack stays
    /// reserved until the process ends.
    /// - Returns: the number of queued items dropped.
    @discardableResult
    public func shutdown(discardingQueuedWork: Bool = false) -> Int {
        let dropped = queue.withLock { state in
            state.isShutDown = true
            return discardingQueuedWork ? state.removeAll() : 0
        }
        queue.broadcast()
        let own = PoolThreadIdentity.current.flatMap { $0.queue == ObjectIdentifier(queue) ? $0.index : nil }
        let joinable = threads.withLock { started in
            let others = started.filter { $0.key != own }
            started = started.filter { $0.key == own }
            return others
        }
        for thread in joinable.values { thread.join() }
        return dropped
    }

    /// Blocks until there is work, or returns `nil` once the pool is shut down and the queue is empty.
    private static func take(from queue: ConditionLock<WorkQueue>) -> Work? {
        queue.withLock(waitingUntil: { $0.count > 0 || $0.isShutDown }) { $0.pop() }
    }

    /// A fixed-capacity ring of work items.
    private struct WorkQueue: Sendable {
        private var slots: [Work?]
        private var head = 0
        private(set) var count = 0
        var isShutDown = false

        init(capacity: Int) { slots = Array(repeating: nil, count: capacity) }

        mutating func push(_ work: @escaping Work) -> Bool {
            guard !isShutDown, count < slots.count else { return false }
            slots[(head + count) % slots.count] = work
            count += 1
            return true
        }

        mutating func pop() -> Work? {
            guard count > 0 else { return nil }
            defer {
                slots[head] = nil
                head = (head + 1) % slots.count
                count -= 1
            }
            return slots[head]
        }

        mutating func removeAll() -> Int {
            let dropped = count
            while pop() != nil {}
            return dropped
        }
    }
}

/// Which pool and thread the calling thread is, if it is a pool thread (so `shutdown` never joins itself).
private struct PoolThreadIdentity: Sendable {
    /// Set for the whole life of each pool thread. Task-local values outside tasks live in thread-local storage.
    @TaskLocal static var current: PoolThreadIdentity?

    let queue: ObjectIdentifier
    let index: Int
}
