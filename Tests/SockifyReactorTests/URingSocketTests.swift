// io_uring on real loopback sockets: multishot accept, multishot receive into provided buffers, ENOBUFS and
// re-arm, scattered sendmsg, header+payload send, connect, stale generations, cancel and close.
import Glibc
import SockifyReactor
import Testing

@Suite("URing: sockets", .timeLimit(.minutes(1)))
struct URingSocketTests {
    @Test("one multishot accept yields a descriptor per connection and stays armed until cancelled")
    func multishotAccept() throws {
        let ring = try makeTestRing()
        let (listener, address) = try uringListener()
        defer { Sockets.close(listener) }
        let acceptTag = URingUserData(operation: .accept, generation: 0, slot: 0)
        try ring.prepareMultishotAccept(listener: listener, userData: acceptTag)
        try ring.submit()
        var clients: [CInt] = []
        defer { clients.forEach(Sockets.close) }
        for _ in 0..<5 { clients.append(try Sockets.connect(to: address)) }
        let accepted = try uringCollect(ring, count: 5)
        #expect(accepted.count == 5)
        #expect(accepted.allSatisfy { $0.userData == acceptTag && $0.result >= 0 && $0.hasMore })
        let servers = accepted.map(\.result)
        defer { servers.forEach(Sockets.close) }
        #expect(Set(servers).count == 5)
        for fd in servers { #expect(fcntl(fd, F_GETFL) & O_NONBLOCK != 0) }

        // Each accepted descriptor is a working connection to one of the clients.
        try uringWriteAll(clients[2], [7, 8, 9])
        let echoes = try servers.map { fd in uringWait(fd, milliseconds: 0) ? try uringReadExactly(fd, 3) : [] }
        #expect(echoes.filter { !$0.isEmpty } == [[7, 8, 9]])

        let cancelTag = URingUserData(operation: .cancel, generation: 0, slot: 0)
        try ring.prepareCancel(acceptTag, userData: cancelTag)
        let ended = try uringCollect(ring, count: 2)
        #expect(ended.contains { $0.userData == cancelTag && $0.result == 0 })
        #expect(ended.contains { $0.userData == acceptTag && $0.error == Errno(rawValue: ECANCELED) && !$0.hasMore })
    }

    @Test("multishot receive fills provided buffers in order; recycled buffers keep it going", arguments: [1, 7, 64])
    func multishotReceiveIntegrity(writes: Int) throws {
        let ring = try makeTestRing()
        var buffers = try URingBufferRing(ring: ring, groupID: 1, count: 8, size: 4096)
        let (client, server) = try uringTCPPair()
        defer { Sockets.close(client); Sockets.close(server) }
        let tag = URingUserData(operation: .receive, generation: 0, slot: 4)
        try ring.prepareMultishotReceive(fd: server, bufferGroup: buffers.groupID, userData: tag)
        try ring.submit()

        let total = 256 * 1024
        let sent = uringPattern(total, seed: writes)
        var received: [UInt8] = []
        var armed = true
        var rearms = 0
        var offset = 0
        let piece = (total + writes - 1) / writes
        for _ in 0..<2000 where received.count < total {
            if offset < total {
                let end = min(total, offset + piece)
                // Never block on our own write: the reader below is this same thread.
                let status = try sent.withUnsafeBytes { raw throws(Errno) in
                    try Sockets.send(client, from: raw.baseAddress! + offset, count: end - offset)
                }
                if case .transferred(let n) = status { offset += n }
            }
            if !armed {
                try ring.prepareMultishotReceive(fd: server, bufferGroup: buffers.groupID, userData: tag)
                armed = true
                rearms += 1
            }
            try ring.submitAndWait(minimumCompletions: 1, timeout: .milliseconds(50))
            var completions: [URingCompletion] = []
            ring.drainCompletions { completions.append($0) }
            for completion in completions {
                #expect(completion.userData == tag)
                switch completion.receiveOutcome {
                case .data(let id, let count):
                    let bytes = buffers.claim(id, count: count)
                    received += bytes
                    buffers.stage(id)
                case .noBuffers:
                    break
                case .endOfStream, .failed:
                    Issue.record("unexpected \(completion)")
                }
                if !completion.hasMore { armed = false }
            }
            buffers.publish()
        }
        #expect(received.count == total)
        #expect(received == sent)
        #expect(rearms < 100)
        #if DEBUG
        #expect(buffers.buffersInKernel == 8)
        #endif
    }

    @Test("an empty buffer ring ends the multishot receive with ENOBUFS; recycling and re-arming recovers the rest")
    func noBuffersThenRecovery() throws {
        let ring = try makeTestRing()
        var buffers = try URingBufferRing(ring: ring, groupID: 2, count: 4, size: 64)
        let (client, server) = try uringTCPPair()
        defer { Sockets.close(client); Sockets.close(server) }
        let sent = uringPattern(300)
        try uringWriteAll(client, sent)
        #expect(uringWait(server))
        let tag = URingUserData(operation: .receive, generation: 0, slot: 1)
        try ring.prepareMultishotReceive(fd: server, bufferGroup: buffers.groupID, userData: tag)

        var completions: [URingCompletion] = []
        try uringCollect(ring, into: &completions) { $0.contains { !$0.hasMore } }
        var received: [UInt8] = []
        var held: [UInt16] = []
        for completion in completions {
            if case .data(let id, let count) = completion.receiveOutcome {
                received += buffers.claim(id, count: count)
                held.append(id)
            }
        }
        // 4 buffers × 64 bytes, then the ring is empty and the receive ends without losing data.
        #expect(held.count == 4 && received.count == 256)
        #expect(completions.last?.receiveOutcome == .noBuffers)
        #expect(completions.last?.hasMore == false)
        #expect(completions.dropLast().allSatisfy { $0.hasMore })
        #if DEBUG
        #expect(buffers.buffersInKernel == 0)
        #endif

        for id in held { buffers.stage(id) }
        buffers.publish()
        try ring.prepareMultishotReceive(fd: server, bufferGroup: buffers.groupID, userData: tag)
        let rest = try uringCollect(ring, count: 1)
        guard case .data(let id, let count)? = rest.first?.receiveOutcome else {
            Issue.record("expected the remaining bytes, got \(rest)")
            return
        }
        received += buffers.claim(id, count: count)
        buffers.recycle(id)
        #expect(received == sent)
        #expect(rest.first?.hasMore == true)
    }

    @Test("sendmsg of 16 scattered ranges arrives in order, and a partial send can be resumed")
    func scatteredSendMessage() throws {
        let ring = try makeTestRing()
        let (client, server) = try uringTCPPair()
        defer { Sockets.close(client); Sockets.close(server) }
        let source = uringPattern(4096, seed: 3)
        // Out-of-order, uneven ranges of one buffer, like payload ranges between frame headers.
        let ranges: [Range<Int>] = [
            3000..<3100, 10..<20, 500..<1500, 0..<1, 2000..<2001, 4000..<4096, 1500..<1600, 30..<31,
            100..<400, 2500..<2900, 1..<2, 3200..<3300, 1600..<1700, 21..<29, 3500..<3999, 2100..<2400,
        ]
        let expected = ranges.flatMap { source[$0] }
        try source.withUnsafeBytes { raw in
            var gather = URingGatherList()
            for range in ranges { gather.append(raw.baseAddress! + range.lowerBound, count: range.count) }
            #expect(gather.count == 16 && gather.byteCount == expected.count)
            let tag = URingUserData(operation: .sendMessage, generation: 0, slot: 9)
            var sentTotal = 0
            for _ in 0..<16 where !gather.isEmpty {
                try ring.prepareSendMessage(fd: server, gather: gather, userData: tag)
                let done = try uringCollect(ring, count: 1)
                let result = try #require(done.first)
                #expect(result.userData == tag && result.result > 0)
                gather.consume(Int(result.result))
                sentTotal += Int(result.result)
            }
            #expect(sentTotal == expected.count)
        }
        #expect(try uringReadExactly(client, expected.count) == expected)
    }

    @Test("a header written into a buffer's headroom leaves with its payload in one send")
    func headerAndPayloadSend() throws {
        let ring = try makeTestRing()
        var buffers = try URingBufferRing(ring: ring, groupID: 5, count: 2, size: 256, headroom: 16)
        let (client, server) = try uringTCPPair()
        defer { Sockets.close(client); Sockets.close(server) }
        try uringWriteAll(client, Array("hello".utf8))
        try ring.prepareReceive(fd: server, bufferGroup: buffers.groupID, userData: URingUserData(operation: .receive, generation: 0, slot: 0))
        let got = try uringCollect(ring, count: 1)
        guard case .data(let id, let count)? = got.first?.receiveOutcome else {
            Issue.record("expected data, got \(got)")
            return
        }
        #expect(got.first?.hasMore == false)  // single-shot receive
        _ = buffers.claim(id, count: count)
        // An unmasked server text frame header (RFC 6455 §5.2: FIN|text, length 5) right before the payload.
        let start = buffers.payload(of: id) - 2
        start.storeBytes(of: 0x81, as: UInt8.self)
        (start + 1).storeBytes(of: UInt8(count), as: UInt8.self)
        try ring.prepareSend(fd: server, bytes: start, count: count + 2, userData: URingUserData(operation: .send, generation: 0, slot: 0))
        let sent = try uringCollect(ring, count: 1)
        #expect(sent.first?.result == Int32(count + 2))
        buffers.recycle(id)  // only after the send's completion: the kernel read from it until then
        #expect(try uringReadExactly(client, 7) == [0x81, 0x05] + Array("hello".utf8))
    }

    @Test("connect completes with 0, or with ECONNREFUSED as a completion error")
    func connect() throws {
        let ring = try makeTestRing()
        let (listener, address) = try uringListener()
        let fd = socket(AF_INET, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        defer { Sockets.close(fd) }
        var storage = try makeSockaddr(address)
        let tag = URingUserData(operation: .connect, generation: 0, slot: 2)
        try withUnsafePointer(to: &storage) { p in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                try ring.prepareConnect(fd: fd, address: sa, length: socklen_t(MemoryLayout<sockaddr_in>.size), userData: tag)
                try ring.submit()  // the address only has to live until submission
            }
        }
        let done = try uringCollect(ring, count: 1)
        #expect(done.first?.userData == tag && done.first?.result == 0)
        #expect(uringWait(listener))
        if let (accepted, _) = try Sockets.accept(listener) { Sockets.close(accepted) } else { Issue.record("no connection") }

        // Nothing listens on the port once the listener is closed.
        Sockets.close(listener)
        let refused = socket(AF_INET, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        defer { Sockets.close(refused) }
        try withUnsafePointer(to: &storage) { p in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                try ring.prepareConnect(fd: refused, address: sa, length: socklen_t(MemoryLayout<sockaddr_in>.size), userData: tag)
                try ring.submit()
            }
        }
        let failed = try uringCollect(ring, count: 1)
        #expect(failed.first?.error == Errno.connectionRefused)
    }

    @Test("a completion for a closed and reused slot carries a stale generation and is detected")
    func staleGeneration() throws {
        let ring = try makeTestRing()
        var buffers = try URingBufferRing(ring: ring, groupID: 6, count: 4, size: 128)
        var table = URingGenerations(slots: 8)
        let (oldClient, oldServer) = try uringTCPPair()
        let (newClient, newServer) = try uringTCPPair()
        defer { [oldClient, oldServer, newClient, newServer].forEach(Sockets.close) }

        // Slot 5's first occupant arms a receive, then closes (generation bump) with the receive still armed.
        let oldTag = table.userData(.receive, slot: 5)
        try ring.prepareMultishotReceive(fd: oldServer, bufferGroup: buffers.groupID, userData: oldTag)
        try ring.submit()
        table.bump(5)
        // Slot 5 is reused by a new connection.
        let newTag = table.userData(.receive, slot: 5)
        try ring.prepareMultishotReceive(fd: newServer, bufferGroup: buffers.groupID, userData: newTag)
        try ring.submit()
        try uringWriteAll(oldClient, [1, 2, 3])
        try uringWriteAll(newClient, [4, 5])

        var completions: [URingCompletion] = []
        try uringCollect(ring, into: &completions) { $0.count >= 2 }
        var delivered: [[UInt8]] = []
        var dropped = 0
        for completion in completions {
            guard case .data(let id, let count) = completion.receiveOutcome else { continue }
            let bytes = Array(buffers.claim(id, count: count))
            if table.isCurrent(completion.userData) { delivered.append(bytes) } else { dropped += 1 }
            buffers.recycle(id)  // a stale completion still returns its buffer
        }
        #expect(dropped == 1)
        #expect(delivered == [[4, 5]])
        #expect(oldTag.slot == newTag.slot && oldTag != newTag)
    }

    @Test("cancel by descriptor ends armed receives with ECANCELED; close through the ring gives the peer EOF")
    func cancelThenClose() throws {
        let ring = try makeTestRing()
        let buffers = try URingBufferRing(ring: ring, groupID: 7, count: 2, size: 64)
        let (client, server) = try uringTCPPair()
        defer { Sockets.close(client) }
        let receiveTag = URingUserData(operation: .receive, generation: 0, slot: 3)
        try ring.prepareMultishotReceive(fd: server, bufferGroup: buffers.groupID, userData: receiveTag)
        try ring.submit()
        let cancelTag = URingUserData(operation: .cancel, generation: 0, slot: 3)
        try ring.prepareCancel(fd: server, userData: cancelTag)
        let cancelled = try uringCollect(ring, count: 2)
        #expect(cancelled.contains { $0.userData == cancelTag && $0.result == 1 })
        #expect(cancelled.contains {
            $0.userData == receiveTag && $0.receiveOutcome == .failed(Errno(rawValue: ECANCELED)) && !$0.hasMore
        })

        let closeTag = URingUserData(operation: .close, generation: 0, slot: 3)
        try ring.prepareClose(fd: server, userData: closeTag)
        let closed = try uringCollect(ring, count: 1)
        #expect(closed.first?.userData == closeTag && closed.first?.result == 0)
        #expect(try uringReadExactly(client, 1) == [])  // end of stream
        // Nothing left to cancel now: the kernel answers ENOENT.
        try ring.prepareCancel(receiveTag, userData: cancelTag)
        #expect(try uringCollect(ring, count: 1).first?.error == Errno(rawValue: ENOENT))
    }

    @Test("end of stream ends a multishot receive")
    func endOfStream() throws {
        let ring = try makeTestRing()
        var buffers = try URingBufferRing(ring: ring, groupID: 8, count: 2, size: 64)
        let (client, server) = try uringTCPPair()
        defer { Sockets.close(server) }
        let tag = URingUserData(operation: .receive, generation: 0, slot: 0)
        try ring.prepareMultishotReceive(fd: server, bufferGroup: 8, userData: tag)
        try ring.submit()
        Sockets.close(client)
        let done = try uringCollect(ring, count: 1)
        guard case .endOfStream(let id)? = done.first?.receiveOutcome else {
            Issue.record("expected end of stream, got \(done)")
            return
        }
        #expect(done.first?.hasMore == false)
        if let id {
            _ = buffers.claim(id, count: 0)
            buffers.recycle(id)
        }
    }
}

/// A `sockaddr_in` copy of an IPv4 `SocketAddress` at a stable address.
private func makeSockaddr(_ address: SocketAddress) throws -> sockaddr_in {
    var sin = sockaddr_in()
    sin.sin_family = sa_family_t(AF_INET)
    sin.sin_port = address.port.bigEndian
    guard inet_pton(AF_INET, address.host, &sin.sin_addr) == 1 else { throw Errno(rawValue: EINVAL) }
    return sin
}
