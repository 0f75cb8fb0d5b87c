// A value shared between harness threads, with bounded waits for a condition on it.
import Foundation

/// State written by target/process threads and awaited by tests. Waits are bounded by a timeout and wake on
/// every update (a condition variable), never by sleeping.
final class Observed<State: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: `state` is only touched with `condition` locked.
    private let condition = NSCondition()
    private var state: State

    init(_ initial: State) { state = initial }

    var value: State {
        condition.lock()
        defer { condition.unlock() }
        return state
    }

    func update(_ body: (inout State) -> Void) {
        condition.lock()
        body(&state)
        condition.broadcast()
        condition.unlock()
    }

    /// Blocks until `predicate` holds or `timeout` passes; returns the state either way and whether it held.
    func wait(timeout: Duration, until predicate: (State) -> Bool) -> (state: State, satisfied: Bool) {
        let deadline = Date().addingTimeInterval(timeout.seconds)
        condition.lock()
        defer { condition.unlock() }
        while !predicate(state) {
            if !condition.wait(until: deadline) { return (state, predicate(state)) }
        }
        return (state, true)
    }
}

extension Duration {
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }
}

/// Runs blocking harness work on its own thread so a test never parks the Swift concurrency pool.
func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
