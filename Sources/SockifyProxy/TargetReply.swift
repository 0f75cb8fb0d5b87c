// The second half of an asynchronous target lookup: the answer travels back to the connection's own reactor.
import Synchronization

/// Delivers a target decision that a resolver could not give at once (a Redis or HTTP lookup on another thread).
///
/// Call it exactly once, from any thread; later calls are ignored. The decision is handed to the reactor that owns
/// the waiting connection and applied there. If the connection has gone in the meantime (client left, lookup
/// deadline passed, server stopped), the decision is dropped.
public final class TargetReply: Sendable {
    private let deliver: @Sendable (TargetDecision) -> Void
    private let answered = Atomic<Bool>(false)

    /// - Parameter deliver: forwards the decision to the waiting connection (runs on the caller's thread).
    public init(_ deliver: @escaping @Sendable (TargetDecision) -> Void) {
        self.deliver = deliver
    }

    /// Answers the lookup. Only the first answer counts.
    public func callAsFunction(_ decision: TargetDecision) {
        guard !answered.exchange(true, ordering: .acquiringAndReleasing) else { return }
        deliver(decision)
    }

    /// Whether an answer was given.
    public var isAnswered: Bool { answered.load(ordering: .acquiring) }
}
