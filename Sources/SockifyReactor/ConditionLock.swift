// A mutex with a condition variable around one value, for threads that must sleep until another thread changes
// it (the lookup pool's queue). The stdlib's `Synchronization.Mutex` has no condition variable, so this wraps
// pthreads.
import Glibc

/// A value guarded by a `pthread_mutex_t`, with a `pthread_cond_t` to wait for changes to it.
///
/// Use `withLock` to read or change the value; threads waiting in `withLock(waitingUntil:)` re-check their
/// condition after every `signal()`/`broadcast()`. Timed waits use `CLOCK_MONOTONIC`, like `Deadline`.
public final class ConditionLock<State> {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var state: State

    /// Creates the lock around `initial`.
    /// The corresponding C calls are `pthread_mutex_init(3)`, `pthread_condattr_setclock(3)` and
    /// `pthread_cond_init(3)`.
    public init(_ initial: State) {
        state = initial
        // pthread objects must not move once initialised, so they live in their own allocations.
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        precondition(pthread_mutex_init(mutex, nil) == 0, "pthread_mutex_init")
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        precondition(pthread_cond_init(condition, &attributes) == 0, "pthread_cond_init")
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value.
    public func withLock<R, E: Error>(_ body: (inout State) throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }

    /// Waits until `isReady` holds for the value, then runs `body` with exclusive access (without releasing the
    /// lock in between). The corresponding C call is `pthread_cond_wait(3)`.
    public func withLock<R, E: Error>(
        waitingUntil isReady: (borrowing State) -> Bool, _ body: (inout State) throws(E) -> R
    ) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while !isReady(state) { pthread_cond_wait(condition, mutex) }
        return try body(&state)
    }

    /// Like `withLock(waitingUntil:_:)`, but gives up at `deadline`.
    /// The corresponding C call is `pthread_cond_timedwait(3)` on `CLOCK_MONOTONIC`.
    /// - Returns: `body`'s result, or `nil` if `isReady` still did not hold at the deadline (`body` did not run).
    public func withLock<R, E: Error>(
        waitingUntil isReady: (borrowing State) -> Bool, deadline: Deadline, _ body: (inout State) throws(E) -> R
    ) throws(E) -> R? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        let milliseconds = deadline.uptimeMilliseconds
        var limit = timespec(tv_sec: Int(milliseconds / 1000), tv_nsec: Int(milliseconds % 1000) * 1_000_000)
        while !isReady(state) {
            // ETIMEDOUT: one final check of the condition, then give up; EINTR does not occur (POSIX).
            if pthread_cond_timedwait(condition, mutex, &limit) == ETIMEDOUT {
                guard isReady(state) else { return nil }
            }
        }
        return try body(&state)
    }

    /// Wakes one waiting thread. The corresponding C call is `pthread_cond_signal(3)`.
    public func signal() { pthread_cond_signal(condition) }

    /// Wakes every waiting thread. The corresponding C call is `pthread_cond_broadcast(3)`.
    public func broadcast() { pthread_cond_broadcast(condition) }
}

// @unchecked: `state` is only reached with `mutex` held (every accessor above locks first), and the pthread objects
// are themselves thread-safe.
extension ConditionLock: @unchecked Sendable where State: Sendable {}
