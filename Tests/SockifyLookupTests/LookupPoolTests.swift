import SockifyLookup
import SockifyReactor
import Synchronization
import Testing

/// A per-thread context that counts its own lifetime.
final class CountingContext {
    static let created = Atomic<Int>(0)
    static let destroyed = Atomic<Int>(0)
    let threadIndex: Int
    var itemsRun = 0

    init(threadIndex: Int) {
        self.threadIndex = threadIndex
        Self.created.add(1, ordering: .relaxed)
    }

    deinit { Self.destroyed.add(1, ordering: .relaxed) }
}

/// A gate work items can wait at (at most 10 s) until the test opens it.
final class Gate: Sendable {
    private let lock = ConditionLock(false)
    func open() {
        lock.withLock { $0 = true }
        lock.broadcast()
    }
    @discardableResult
    func wait() -> Bool { lock.withLock(waitingUntil: { $0 }, deadline: .after(.seconds(10))) { _ in true } ?? false }
}

@Suite("LookupPool", .serialized, .timeLimit(.minutes(1)))
struct LookupPoolTests {
    @Test("many concurrent submits from several threads all run once, each with its thread's context")
    func manySubmits() throws {
        let createdBefore = CountingContext.created.load(ordering: .relaxed)
        let destroyedBefore = CountingContext.destroyed.load(ordering: .relaxed)
        let pool = try LookupPool(threadCount: 4, queueCapacity: 4096) { CountingContext(threadIndex: $0) }
        let done = ConditionLock((count: 0, indices: Set<Int>()))
        let perSubmitter = 500
        let submitters = try (0..<4).map { _ in
            try ReactorThread.start(pinnedTo: nil) {
                for _ in 0..<perSubmitter {
                    let accepted = pool.submit { (context: inout CountingContext) in
                        context.itemsRun += 1
                        let index = context.threadIndex
                        done.withLock {
                            $0.count += 1
                            $0.indices.insert(index)
                        }
                        done.broadcast()
                    }
                    precondition(accepted, "a 4096-slot queue cannot fill with 2000 items")
                }
            }
        }
        for thread in submitters { thread.join() }
        let finished = done.withLock(waitingUntil: { $0.count == 4 * perSubmitter }, deadline: .after(.seconds(30))) {
            $0
        }
        #expect(finished?.count == 4 * perSubmitter)
        #expect(finished?.indices.isSubset(of: Set(0..<4)) == true)
        pool.shutdown()
        #expect(CountingContext.created.load(ordering: .relaxed) - createdBefore == 4)
        #expect(CountingContext.destroyed.load(ordering: .relaxed) - destroyedBefore == 4)  // dropped at shutdown
    }

    @Test("a full queue refuses work with false instead of blocking")
    func queueFull() throws {
        let pool = try LookupPool<Void>(threadCount: 1, queueCapacity: 2) { _ in () }
        let gate = Gate()
        let started = Gate()
        let ran = Atomic<Int>(0)
        #expect(
            pool.submit {
                started.open()
                gate.wait()
                ran.add(1, ordering: .relaxed)
            })
        started.wait()  // the only thread is now busy, so the queue is empty
        #expect(pool.submit { ran.add(1, ordering: .relaxed) })
        #expect(pool.submit { ran.add(1, ordering: .relaxed) })
        #expect(pool.queuedCount == 2)
        #expect(!pool.submit { ran.add(1, ordering: .relaxed) })
        gate.open()
        pool.shutdown()
        #expect(ran.load(ordering: .relaxed) == 3)
    }

    @Test("shutdown runs queued work, joins the threads, and refuses later submits")
    func shutdownJoins() throws {
        let pool = try LookupPool<Void>(threadCount: 2) { _ in () }
        let gate = Gate()
        let ran = Atomic<Int>(0)
        for _ in 0..<50 {
            pool.submit {
                gate.wait()
                ran.add(1, ordering: .relaxed)
            }
        }
        gate.open()
        #expect(pool.shutdown() == 0)
        #expect(ran.load(ordering: .relaxed) == 50)  // joined: every accepted item has finished
        #expect(!pool.submit { ran.add(1, ordering: .relaxed) })
        #expect(pool.shutdown() == 0)  // again: nothing to do
    }

    @Test("shutdown can drop queued work instead, and says how much")
    func shutdownDiscards() throws {
        let pool = try LookupPool<Void>(threadCount: 1, queueCapacity: 16) { _ in () }
        let gate = Gate()
        let started = Gate()
        let ran = Atomic<Int>(0)
        pool.submit {
            started.open()
            gate.wait()
        }
        started.wait()
        for _ in 0..<10 { pool.submit { ran.add(1, ordering: .relaxed) } }
        let stopper = try ReactorThread.start(pinnedTo: nil) {
            let dropped = pool.shutdown(discardingQueuedWork: true)
            precondition(dropped == 10, "dropped \(dropped)")
        }
        // shutdown is now waiting for the running item; let it finish.
        for _ in 0..<1000 where pool.queuedCount != 0 { ReactorThread.sleep(milliseconds: 5) }
        gate.open()
        stopper.join()
        #expect(ran.load(ordering: .relaxed) == 0)
    }

    @Test("shutdown from inside a work item joins the other threads and does not wait for itself")
    func shutdownFromWorkItem() throws {
        let pool = try LookupPool<Void>(threadCount: 2) { _ in () }
        let done = Gate()
        let dropped = Atomic<Int>(-1)
        #expect(pool.submit {
            dropped.store(pool.shutdown(), ordering: .relaxed)
            done.open()
        })
        #expect(done.wait())
        #expect(dropped.load(ordering: .relaxed) == 0)
        #expect(!pool.submit {})
        #expect(pool.shutdown() == 0)
    }
}
