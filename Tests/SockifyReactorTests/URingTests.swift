// io_uring ring basics: probe and its one-line reasons, setup flag fallback, user_data packing, generations,
// batched completion draining, and the gather list.
import Glibc
import SockifyReactor
import Testing

@Suite("URing: setup, probe, identity")
struct URingTests {
    @Test("the probe answers in one line, and agrees with whether a ring can be created")
    func probeAgreesWithSetup() throws {
        let availability = URing.probe()
        #expect(!availability.description.contains("\n"))
        switch availability {
        case .available(let flags):
            let ring = try URing()
            #expect(ring.setupFlags == flags)
        case .unavailable(let reason):
            // The fallback path: the CLI logs this line and runs epoll. Setup must fail the same way.
            #expect(throws: Errno.self) { _ = try URing() }
            Issue.record("io_uring unavailable on this machine: \(reason)")
        }
    }

    @Test("on this kernel the best tier is accepted: SINGLE_ISSUER|DEFER_TASKRUN, CQ larger than SQ")
    func bestTier() throws {
        let ring = try makeTestRing(entries: 32)
        #expect(ring.setupFlags == [.singleIssuer, .deferTaskRun, .submitAll])
        #expect(ring.submissionEntries == 32)
        #expect(ring.completionEntries == 128)
    }

    @Test("a tier the kernel rejects with EINVAL falls back to the next one")
    func setupFallsBack() throws {
        _ = try makeTestRing()
        // DEFER_TASKRUN without SINGLE_ISSUER is EINVAL on every kernel, so this exercises the fallback for real.
        let ring = try URing(entries: 8, tiers: [[.deferTaskRun], [.cooperativeTaskRun, .submitAll]])
        #expect(ring.setupFlags == [.cooperativeTaskRun, .submitAll])
        let plain = try URing(entries: 8, tiers: [[.deferTaskRun], []])
        #expect(plain.setupFlags == [])
        #expect(throws: Errno(rawValue: EINVAL)) { _ = try URing(entries: 8, tiers: [[.deferTaskRun]]) }
    }

    @Test(
        "setup errors map to the reasons the CLI logs",
        arguments: [
            (EPERM, 2, nil, URingUnavailableReason.disabledBySysctl),
            (EPERM, 1, 1001, .restrictedToGroup(gid: 1001)),
            (EPERM, 1, nil, .restrictedToGroup(gid: -1)),
            (EPERM, 0, nil, .notPermitted),
            (EPERM, nil, nil, .notPermitted),
            (ENOSYS, nil, nil, .notImplemented),
            (ENOMEM, 0, nil, .outOfMemory),
            (EINVAL, 0, nil, .kernelTooOld(feature: "io_uring_setup with CQSIZE|CLAMP (Linux 5.6)", Errno(rawValue: EINVAL))),
            (EFAULT, 0, nil, .failed(step: "io_uring_setup", Errno(rawValue: EFAULT))),
        ] as [(CInt, Int?, Int?, URingUnavailableReason)])
    func classify(errno: CInt, sysctl: Int?, group: Int?, expected: URingUnavailableReason) {
        let reason = URingUnavailableReason.classify(setupError: Errno(rawValue: errno), disabledSysctl: sysctl, group: group)
        #expect(reason == expected)
        let line = URingAvailability.unavailable(reason).description
        #expect(line.hasPrefix("io_uring unavailable: ") && !line.contains("\n"))
    }

    @Test(
        "user_data packs op | 24-bit generation | 32-bit slot and round-trips",
        arguments: [
            (URingOperation.accept, UInt32(0), UInt32(0)),
            (.receive, 1, 0xFFFF_FFFF),
            (.sendMessage, 0xFF_FFFF, 12345),
            (.cancel, 0x0100_0002, 7),
            (URingOperation(rawValue: 0xFE), 0xABCDEF, 0x8000_0000),
        ] as [(URingOperation, UInt32, UInt32)])
    func userDataRoundTrip(operation: URingOperation, generation: UInt32, slot: UInt32) {
        let tag = URingUserData(operation: operation, generation: generation, slot: slot)
        #expect(tag.operation == operation)
        #expect(tag.slot == slot)
        #expect(tag.generation == generation & 0xFF_FFFF)
        #expect(tag.rawValue >> 56 == UInt64(operation.rawValue))
        #expect(URingUserData(rawValue: tag.rawValue) == tag)
        #expect(tag.isCurrent(generation: generation))
        #expect(!tag.isCurrent(generation: generation &+ 1))
    }

    @Test("a bumped slot makes its old tags stale; generations wrap at 2^24")
    func generations() {
        var table = URingGenerations(slots: 4)
        let old = table.userData(.receive, slot: 2)
        #expect(table.isCurrent(old))
        table.bump(2)
        #expect(!table.isCurrent(old))
        let fresh = table.userData(.receive, slot: 2)
        #expect(table.isCurrent(fresh) && fresh.slot == old.slot && fresh.generation == 1)
        #expect(table.isCurrent(table.userData(.send, slot: 1)))
        #expect(!table.isCurrent(URingUserData(operation: .receive, generation: 0, slot: 9)))
        for _ in 0..<0xFF_FFFF { table.bump(3) }
        #expect(table.generation(of: 3) == 0xFF_FFFF)
        table.bump(3)
        #expect(table.generation(of: 3) == 0)
    }

    @Test("a batch of NOPs comes back with its user_data and is drained in one pass")
    func nopBatch() throws {
        let ring = try makeTestRing(entries: 16)
        for slot in 0..<40 as Range<UInt32> {  // more than the SQ holds: prepare must submit to make room
            try ring.prepareNop(userData: URingUserData(operation: .nop, generation: 3, slot: slot))
        }
        var completions: [URingCompletion] = []
        try uringCollect(ring, into: &completions) { $0.count >= 40 }
        #expect(completions.count == 40)
        #expect(Set(completions.map(\.userData.slot)) == Set(0..<40))
        #expect(completions.allSatisfy { $0.result == 0 && $0.userData.generation == 3 && !$0.hasMore })
        #expect(ring.readyCompletions == 0)
        #expect(ring.drainCompletions { _ in Issue.record("nothing should be left") } == 0)
    }

    @Test("a wait with nothing in flight times out as a value")
    func waitTimesOut() throws {
        let ring = try makeTestRing()
        #expect(try ring.submitAndWait(minimumCompletions: 1, timeout: .milliseconds(20)) == false)
    }

    @Test("the gather list drops exactly the sent prefix after a partial send")
    func gatherListConsume() {
        let bytes = uringPattern(100)
        bytes.withUnsafeBytes { raw in
            var list = URingGatherList()
            list.append(raw.baseAddress! + 0, count: 10)
            list.append(raw.baseAddress! + 50, count: 0)  // empty payloads are skipped
            list.append(raw.baseAddress! + 20, count: 30)
            list.append(raw.baseAddress! + 60, count: 5)
            #expect(list.count == 3 && list.byteCount == 45)
            list.consume(4)
            #expect(list.count == 3 && list.byteCount == 41)
            list.consume(6)
            #expect(list.count == 2 && list.byteCount == 35)
            list.consume(33)
            #expect(list.count == 1 && list.byteCount == 2)
            list.consume(2)
            let drained = list.isEmpty
            #expect(drained && list.byteCount == 0)
            for i in 0..<URingGatherList.capacity { list.append(raw.baseAddress! + i, count: 1) }
            #expect(list.count == 16)
            list.removeAll()
            let cleared = list.isEmpty
            #expect(cleared)
        }
    }

    @Test("buffer ring layout: payloads are 64-byte aligned with the headroom right before them")
    func bufferLayout() throws {
        let ring = try makeTestRing()
        let buffers = try URingBufferRing(ring: ring, groupID: 3, count: 8, size: 1000, headroom: 16)
        #expect(buffers.stride == 1024)
        for id in 0..<8 as Range<UInt16> {
            let payload = buffers.payload(of: id)
            #expect((UInt(bitPattern: payload) - 16) % 64 == 0)
            if id > 0 { #expect(payload - buffers.payload(of: id - 1) == 1024) }
        }
        #if DEBUG
        #expect(buffers.buffersInKernel == 8)
        #endif
        #expect(throws: Errno(rawValue: EEXIST)) {
            _ = try URingBufferRing(ring: ring, groupID: 3, count: 2, size: 64)
        }
    }
}
