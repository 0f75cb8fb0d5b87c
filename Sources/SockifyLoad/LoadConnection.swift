// One client connection of a load run: non-blocking connect, for wss:// a TLS handshake, the §4.1 opening
// handshake, masked data frames (§5.3) out, server frames (§5.2) in, and the job it is running (an rtt exchange, an
// up or down stream, a probe).
import Glibc
import SockifyProtocol
import SockifyReactor

/// The reactor's handler type for the load side: connections and the open-loop pacer.
class LoadHandler: ReactorHandler {
    func ready(_ readiness: Readiness, tag: UInt8) {}
}

/// A client connection, confined to its worker's reactor thread.
///
/// Edge-triggered contract (see `Reactor`): every readable event is drained until `wouldBlock` (or, over plain
/// TCP, a short read, which means the socket buffer is empty), and every writable event flushes the out buffer until
/// it is empty or the kernel pushes back. Both buffers are allocated once per connection; nothing on the data path
/// allocates.
///
/// Over TLS (`wss://`) the same buffers hold plaintext and `TLSStream` does the records. Three TLS rules change the
/// loops: a short read says nothing about the socket (OpenSSL returns one record per call), so reads go on until
/// `wouldBlock`; a write that returned `wouldBlock` is retried with the same bytes and length; and a read can wait
/// for the socket to become writable (or a write for readable), so the other edge retries it.
///
/// Out buffer: frames are built back to back, header right before its payload, masked in place:
///
///     0        outStart              outEnd                     outCapacity - controlReserve   outCapacity
///     | sent   | queued frames ...   | free for data frames      | reserve for pong/close      |
final class LoadConnection: LoadHandler {
    enum Phase: Equatable {
        /// `securing`: the TLS handshake (wss:// only), between the TCP connect and the opening handshake.
        case idle, connecting, securing, handshaking, open, closing, closed
    }

    /// What the connection does once open.
    enum Job: Equatable {
        /// Nothing (held by `conns`); any byte from the peer is an error.
        case none
        /// Request/response: `messagesLeft` more messages (soak), or until the worker says stop.
        case rtt
        /// Stream `byteCount` pattern bytes to a sink and wait for its report.
        case up
        /// Ask a source for `byteCount` bytes and verify them.
        case down
        /// One small echo exchange proving the connection relays (conns).
        case probe
    }

    unowned let worker: LoadWorker
    /// The connection's index in its worker, and in the whole run.
    let slot: Int
    let globalIndex: Int
    private let isWebSocket: Bool
    /// The TLS session of the current attempt (wss:// only), freed when the connection closes.
    private var tls: TLSStream?
    /// TLS: the byte count of a write that returned `wouldBlock`; the retry must send exactly these bytes again.
    private var tlsRetryCount = 0
    /// TLS: the last read waits for a writable edge, or the last write for a readable one.
    private var receiveWaitsForWritable = false
    private var sendWaitsForReadable = false

    private(set) var phase = Phase.idle
    /// Whether the current connection attempt got as far as `open` (TCP connected, handshake done).
    private(set) var hasOpened = false
    private(set) var job = Job.none
    /// Jobs started on this connection so far (soak reconnects cycle through jobs).
    private(set) var cycle = 0
    private var fd: CInt = -1
    /// Counts connection attempts: a job that ends inside `receiveAll` may close and reconnect (soak), and the
    /// loop must not go on reading the new attempt's socket.
    private var attempt = 0
    private var token = Token(slot: 0, generation: 0)
    private var protocolState = WebSocketConnection(role: .client, maxPayloadLength: 1 << 40)
    private var handshakeKey = ""
    private(set) var connectStartedAt: UInt64 = 0
    private(set) var closingSince: UInt64 = 0

    private let outBuffer: UnsafeMutableRawPointer
    private let outCapacity: Int
    private var outStart = 0
    private var outEnd = 0
    private let inBuffer: UnsafeMutableRawPointer
    private let inCapacity: Int
    /// Bytes held in `inBuffer` (only while the handshake response is incomplete).
    private var inCount = 0
    /// Room kept at the end of the out buffer so a pong or close always fits after queued data.
    private static let controlReserve = 512
    /// A masked control frame: 2 + 4 header bytes and at most 125 payload bytes (§5.5).
    private static let maxControlFrame = 131

    private var pattern = PatternStream(seed: 0)
    private var sendOffset: UInt64 = 0
    private var receiveOffset: UInt64 = 0
    private var maskState: UInt64

    // rtt and probe
    private var messageSize = 0
    private(set) var isAwaitingEcho = false
    /// Open loop: the pacer's slot for this connection came while a message was in flight; send on its echo.
    var isDue = false
    private var sentAt: UInt64 = 0
    private var echoReceived = 0
    private var messagesLeft = Int.max
    private var randomSizes = false

    // up and down
    private(set) var streamByteCount: UInt64 = 0
    private var frameSize = 0
    private var report = InlineArray<24, UInt8>(repeating: 0)
    private var reportCount = 0
    private(set) var jobStartedAt: UInt64 = 0

    init(worker: LoadWorker, slot: Int, globalIndex: Int, inCapacity: Int, outCapacity: Int, maskSeed: UInt64) {
        self.worker = worker
        self.slot = slot
        self.globalIndex = globalIndex
        self.isWebSocket = worker.plan.endpoint.isWebSocket
        self.inCapacity = inCapacity
        self.outCapacity = outCapacity
        inBuffer = .allocate(byteCount: inCapacity, alignment: 64)
        outBuffer = .allocate(byteCount: outCapacity, alignment: 64)
        maskState = maskSeed | 1
    }

    deinit {
        if fd >= 0 { Sockets.close(fd) }
        inBuffer.deallocate()
        outBuffer.deallocate()
    }

    // MARK: lifecycle

    /// Starts a non-blocking connect. Completion (or failure) arrives as a writable event.
    func connect(to address: SocketAddress) {
        precondition(phase == .idle || phase == .closed, "connect in phase \(phase)")
        outStart = 0
        outEnd = 0
        inCount = 0
        attempt &+= 1
        tlsRetryCount = 0
        receiveWaitsForWritable = false
        sendWaitsForReadable = false
        protocolState = WebSocketConnection(role: .client, maxPayloadLength: 1 << 40)
        job = .none
        connectStartedAt = LoadClock.now()
        hasOpened = false
        phase = .connecting
        do {
            fd = try Sockets.connect(to: address)
        } catch {
            fail("connect to \(address): \(error)", integrity: false)
            return
        }
        // Small messages must not wait for Nagle; conns only ever has one small probe in flight, so skip it there
        // (but not over TLS, where the client's Finished and the opening request are two small writes in a row).
        if worker.plan.mode != .conns || worker.tlsContext != nil { Sockets.setNoDelay(fd) }
        token = worker.reactor.add(self)
        do {
            try worker.reactor.register(fd, for: token, tag: 0)
        } catch {
            fail("epoll registration: \(error)", integrity: false)
        }
    }

    override func ready(_ readiness: Readiness, tag: UInt8) {
        if phase == .connecting {
            guard !readiness.isDisjoint(with: [.writable, .error, .hangup]) else { return }
            // Writable without error or hang-up means the connect succeeded; only then skip the SO_ERROR read
            // (one syscall less per connection matters when measuring connection rates).
            if !readiness.isDisjoint(with: [.error, .hangup]), let error = Sockets.pendingError(fd) {
                fail("connect: \(error)", integrity: false)
                return
            }
            connected()
        }
        if phase == .securing {
            secure()
            guard phase != .securing && phase != .closed else { return }
            // The request is out (or waits for a writable edge). Whatever came with or after the last handshake
            // record (TLS 1.3 session tickets) may already have used up its edge: read until `wouldBlock` once.
            receiveAll()
            return
        }
        if phase != .closed
            && (!readiness.isDisjoint(with: [.readable, .hangup, .error])
                || (receiveWaitsForWritable && readiness.contains(.writable)))
        {
            receiveAll()
        }
        if phase != .closed && (readiness.contains(.writable) || (sendWaitsForReadable && readiness.contains(.readable))) {
            pump()
        }
    }

    private func connected() {
        if let context = worker.tlsContext {
            do {
                tls = try context.makeStream(fd: fd, serverName: worker.plan.endpoint.host)
            } catch {
                fail("TLS: \(error)", integrity: false)
                return
            }
            phase = .securing
        } else {
            startOpeningHandshake()
        }
    }

    /// Advances the TLS handshake; on completion, starts the opening handshake inside it (§4.1 item 5).
    private func secure() {
        guard let tls else { return }
        do {
            guard try tls.handshake() == .complete else { return }
        } catch {
            fail("TLS handshake: \(error)", integrity: false)
            return
        }
        worker.tlsEstablished(tls)
        startOpeningHandshake()
    }

    private func startOpeningHandshake() {
        if isWebSocket {
            phase = .handshaking
            handshakeKey = ClientHandshake.randomKey(using: &worker.random)
            let request = ClientHandshake.request(
                for: worker.plan.endpoint, key: handshakeKey, subprotocol: worker.plan.subprotocol)
            request.withUnsafeBytes { outBuffer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            outStart = 0
            outEnd = request.count
            _ = flush()
        } else {
            opened()
        }
    }

    private func opened() {
        phase = .open
        hasOpened = true
        worker.connectionOpened(self)
    }

    /// Begins the closing handshake (§7.1.2: the client sends Close and waits for the server's), or closes a
    /// TCP connection at once.
    func close() {
        switch phase {
        case .idle, .closed, .closing: return
        case .connecting, .securing, .handshaking:
            finishClose()
        case .open:
            guard isWebSocket, protocolState.state == .open else {
                finishClose()
                return
            }
            phase = .closing
            closingSince = LoadClock.now()
            queueClose(code: .normalClosure)
            _ = flush()
        }
    }

    /// Releases the descriptor and tells the worker.
    func finishClose() {
        guard phase != .closed && phase != .idle else { return }
        if fd >= 0 {
            // close_notify first (best effort, only after a completed handshake), then the FIN.
            tls?.shutdown()
            worker.reactor.remove(token)
            Sockets.close(fd)
            fd = -1
        }
        tls = nil
        phase = .closed
        isAwaitingEcho = false
        worker.connectionClosed(self)
    }

    /// Records a failure and closes without a closing handshake.
    func fail(_ message: String, integrity: Bool) {
        guard phase != .closed else { return }
        worker.recordFailure("connection \(globalIndex): \(message)", integrity: integrity)
        finishClose()
    }

    // MARK: jobs

    /// Starts an rtt job: `messages` echo exchanges of `size` bytes (or until the worker stops sending).
    func startRTT(size: Int, messages: Int = .max, randomSizes: Bool = false, seed: UInt64) {
        beginJob(.rtt, seed: seed)
        messageSize = size
        messagesLeft = messages
        self.randomSizes = randomSizes
    }

    /// Starts a probe: one `size`-byte echo exchange.
    func startProbe(size: Int, seed: UInt64) {
        beginJob(.probe, seed: seed)
        messageSize = size
        messagesLeft = 1
        sendMessage()
    }

    /// Starts an up stream of `byteCount` bytes in frames of `frameSize` (random up to it when `randomSizes`).
    func startUp(byteCount: UInt64, frameSize: Int, randomSizes: Bool, seed: UInt64) {
        beginJob(.up, seed: seed)
        streamByteCount = byteCount
        self.frameSize = frameSize
        self.randomSizes = randomSizes
        reportCount = 0
        queueRequest(.toSink)
        pump()
    }

    /// Starts a down stream: asks the source for `byteCount` bytes.
    func startDown(byteCount: UInt64, seed: UInt64) {
        beginJob(.down, seed: seed)
        streamByteCount = byteCount
        queueRequest(.fromSource)
        _ = flush()
    }

    private func beginJob(_ kind: Job, seed: UInt64) {
        job = kind
        cycle += 1
        pattern = PatternStream(seed: seed)
        sendOffset = 0
        receiveOffset = 0
        isAwaitingEcho = false
        isDue = false
        echoReceived = 0
        jobStartedAt = LoadClock.now()
    }

    private func endJob() {
        let finished = job
        job = .none
        worker.jobFinished(self, kind: finished)
    }

    /// Sends the next rtt/probe message (when none is in flight).
    func sendMessage() {
        guard phase == .open, !isAwaitingEcho, job == .rtt || job == .probe else { return }
        if randomSizes { messageSize = 8 + Int(nextRandom() % UInt64(worker.plan.messageSize - 7)) }
        guard hasRoom(forPayload: messageSize) else {
            fail("message of \(messageSize) bytes does not fit the out buffer", integrity: false)
            return
        }
        isAwaitingEcho = true
        isDue = false
        echoReceived = 0
        let offset = sendOffset
        appendFrame(count: messageSize) { pattern.fill($0, count: messageSize, streamOffset: offset) }
        sendOffset += UInt64(messageSize)
        sentAt = LoadClock.now()
        _ = flush()
    }

    private func queueRequest(_ direction: StreamRequest.Direction) {
        let request = StreamRequest(direction: direction, seed: pattern.seed, byteCount: streamByteCount)
        appendFrame(count: StreamRequest.byteLength) { request.write(to: $0) }
    }

    // MARK: sending

    @inline(__always)
    private func nextRandom() -> UInt64 {
        // xorshift64: masking keys only have to vary (§5.3 asks for unpredictability against cache poisoning by
        // hostile scripts, which a load generator on loopback does not face).
        maskState ^= maskState &<< 13
        maskState ^= maskState &>> 7
        maskState ^= maskState &<< 17
        return maskState
    }

    @inline(__always)
    private func hasRoom(forPayload count: Int) -> Bool {
        outCapacity - Self.controlReserve - outEnd >= count + 14
    }

    /// Queues one binary frame (ws: masked, §5.3) or plain bytes (tcp) whose payload `fill` writes.
    @inline(__always)
    private func appendFrame(count: Int, _ fill: (UnsafeMutableRawPointer) -> Void) {
        guard isWebSocket else {
            fill(outBuffer + outEnd)
            outEnd += count
            return
        }
        let payloadStart = outEnd + FrameEncoder.headerLength(payloadLength: count, masked: true)
        fill(outBuffer + payloadStart)
        let key = UInt32(truncatingIfNeeded: nextRandom() >> 16)
        var span = UnsafeMutableRawBufferPointer(start: outBuffer, count: outCapacity).mutableBytes
        Masking.apply(&span, in: payloadStart..<(payloadStart + count), key: key, phase: 0)
        _ = FrameEncoder.writeHeader(
            into: &span, endingAt: payloadStart, opcode: .binary, isFinal: true, payloadLength: count, maskingKey: key)
        outEnd = payloadStart + count
    }

    private func queueClose(code: CloseCode) {
        guard outCapacity - outEnd >= Self.maxControlFrame else { return }
        var span = UnsafeMutableRawBufferPointer(start: outBuffer, count: outCapacity).mutableBytes
        let key = UInt32(truncatingIfNeeded: nextRandom() >> 16)
        outEnd += FrameEncoder.writeCloseFrame(into: &span, at: outEnd, code: code, reason: "", maskingKey: key)
        protocolState.didSendClose()
    }

    /// Sends queued bytes until done or the kernel pushes back.
    /// - Returns: `true` when the out buffer is empty.
    private func flush() -> Bool {
        while outStart < outEnd {
            do {
                let status: IOStatus
                if let tls {
                    // Bytes after a blocked write's range wait for the retry of exactly that range.
                    let count = tlsRetryCount > 0 ? tlsRetryCount : outEnd - outStart
                    status = try tls.send(from: outBuffer + outStart, count: count)
                    if status == .wouldBlock {
                        tlsRetryCount = count
                        sendWaitsForReadable = !tls.wantsWritable
                    } else {
                        tlsRetryCount = 0
                        sendWaitsForReadable = false
                    }
                } else {
                    status = try Sockets.send(fd, from: outBuffer + outStart, count: outEnd - outStart)
                }
                switch status {
                case .transferred(let n): outStart += n
                case .wouldBlock: return false
                case .endOfStream: return false
                }
            } catch {
                fail("send: \(error)", integrity: false)
                return false
            }
        }
        outStart = 0
        outEnd = 0
        return true
    }

    /// Flushes, and for an up stream keeps building frames while the kernel takes them.
    private func pump() {
        guard flush() else { return }
        guard phase == .open, job == .up else { return }
        // Each round either queues at least one frame or stops; bounded by the stream length.
        while sendOffset < streamByteCount {
            while sendOffset < streamByteCount {
                var count = randomSizes ? 1 + Int(nextRandom() % UInt64(frameSize)) : frameSize
                count = Int(min(UInt64(count), streamByteCount - sendOffset))
                guard hasRoom(forPayload: count) else { break }
                let offset = sendOffset
                appendFrame(count: count) { pattern.fill($0, count: count, streamOffset: offset) }
                sendOffset += UInt64(count)
            }
            let queued = outEnd - outStart
            guard flush() else {
                worker.countSent(queued)
                return
            }
            worker.countSent(queued)
        }
    }

    // MARK: receiving

    private func receiveAll() {
        // Bounded: each read either moves bytes, or ends the loop (wouldBlock, EOF, a plain short read, failure);
        // the peer's sending is bounded by its job.
        let current = attempt
        while phase != .closed && attempt == current {
            let space = inCapacity - inCount
            let status: IOStatus
            do {
                if let tls {
                    status = try tls.receive(into: inBuffer + inCount, count: space)
                    receiveWaitsForWritable = status == .wouldBlock && tls.wantsWritable
                } else {
                    status = try Sockets.receive(fd, into: inBuffer + inCount, count: space)
                }
            } catch {
                if phase == .closing {
                    finishClose()
                } else {
                    fail("receive: \(error)", integrity: false)
                }
                return
            }
            switch status {
            case .wouldBlock:
                return
            case .endOfStream:
                peerEnded()
                return
            case .transferred(let n):
                inCount += n
                process()
                // Plain TCP: a short read means the socket buffer is empty, so the next edge reports new bytes.
                // TLS: a short read is one record; only `wouldBlock` says the socket is drained.
                if n < space && tls == nil { return }
            }
        }
    }

    private func peerEnded() {
        switch phase {
        case .closing:
            finishClose()
        default:
            fail("peer closed the connection in phase \(phase) during \(job) after \(receiveOffset) bytes", integrity: false)
        }
    }

    private func process() {
        if phase == .handshaking {
            guard let end = ClientHandshake.headEnd(inBuffer, count: inCount) else {
                if inCount >= min(inCapacity, ClientHandshake.maxResponseHeadLength) {
                    fail("handshake response head longer than \(inCount) bytes", integrity: false)
                }
                return
            }
            let head = String(decoding: UnsafeRawBufferPointer(start: inBuffer, count: end - 4), as: UTF8.self)
            do {
                _ = try ClientHandshake.validate(
                    head: head, key: handshakeKey, requestedSubprotocol: worker.plan.subprotocol)
            } catch {
                fail("handshake: \(error)", integrity: false)
                return
            }
            let rest = inCount - end
            if rest > 0 { (inBuffer).copyMemory(from: inBuffer + end, byteCount: rest) }
            inCount = rest
            opened()
            if phase != .open && phase != .closing { return }
        }
        guard inCount > 0 else { return }
        defer { if phase != .handshaking { inCount = 0 } }
        guard isWebSocket else {
            deliver(inBuffer, count: inCount)
            return
        }
        var span = UnsafeMutableRawBufferPointer(start: inBuffer, count: inCount).mutableBytes
        var offset = 0
        // Bounded: every event consumes bytes or ends a frame; `next` returns nil once `inCount` bytes are used.
        while phase == .open || phase == .closing {
            let step: (event: WebSocketConnection.Event, consumed: Int)?
            do {
                step = try protocolState.next(&span, in: offset..<inCount)
            } catch {
                fail("server frame: \(error) (close code \(error.closeCode.rawValue))", integrity: true)
                return
            }
            guard let step else { return }
            offset += step.consumed
            switch step.event {
            case .data(let range):
                deliver(inBuffer + range.lowerBound, count: range.count)
            case .ping:
                // §5.5.2: answer a ping with a pong carrying the same payload. §5.5.3 allows answering only the
                // latest of several pings, which is what happens if earlier pongs still fill the reserve.
                guard outCapacity - outEnd >= Self.maxControlFrame else { break }
                let key = UInt32(truncatingIfNeeded: nextRandom() >> 16)
                protocolState.withControlPayload { payload in
                    var out = UnsafeMutableRawBufferPointer(start: outBuffer, count: outCapacity).mutableBytes
                    outEnd += FrameEncoder.writeControlFrame(
                        into: &out, at: outEnd, opcode: .pong, payload: payload, maskingKey: key)
                }
                _ = flush()
            case .pong:
                break
            case .close(let code):
                if phase == .closing {
                    finishClose()
                } else {
                    // §5.5.1: echo the Close, then the server closes TCP; we do not wait for that.
                    fail("server closed the WebSocket (code \(code.map { String($0.rawValue) } ?? "none")) during \(job)", integrity: false)
                }
                return
            }
        }
    }

    /// Payload (or TCP bytes) from the peer, in order.
    private func deliver(_ bytes: UnsafeMutableRawPointer, count: Int) {
        // Once our Close is out, data the peer had already sent is not part of any job (§5.5.1 lets it arrive).
        guard phase == .open else { return }
        switch job {
        case .rtt, .probe:
            guard isAwaitingEcho, count <= messageSize - echoReceived else {
                fail("echo returned more bytes than were sent (\(count) unexpected at offset \(receiveOffset))", integrity: true)
                return
            }
            if let bad = pattern.firstMismatch(bytes, count: count, streamOffset: receiveOffset) {
                fail("echoed byte \(receiveOffset + UInt64(bad)) differs from what was sent", integrity: true)
                return
            }
            receiveOffset += UInt64(count)
            echoReceived += count
            if echoReceived == messageSize { echoCompleted() }
        case .down:
            guard receiveOffset + UInt64(count) <= streamByteCount else {
                fail("source sent more than \(streamByteCount) bytes", integrity: true)
                return
            }
            if let bad = pattern.firstMismatch(bytes, count: count, streamOffset: receiveOffset) {
                fail("down stream byte \(receiveOffset + UInt64(bad)) differs from the pattern", integrity: true)
                return
            }
            receiveOffset += UInt64(count)
            worker.countReceived(count)
            if receiveOffset == streamByteCount { endJob() }
        case .up:
            guard reportCount + count <= StreamReport.byteLength else {
                fail("sink answered with more than a \(StreamReport.byteLength)-byte report", integrity: true)
                return
            }
            for i in 0..<count { report[reportCount + i] = bytes.load(fromByteOffset: i, as: UInt8.self) }
            reportCount += count
            guard reportCount == StreamReport.byteLength else { return }
            let decoded = report.span.withUnsafeBytes { StreamReport($0.baseAddress!) }
            guard let decoded else {
                fail("sink answer is not a report", integrity: true)
                return
            }
            if let mismatch = decoded.mismatchOffset {
                fail("sink saw a wrong byte at offset \(mismatch) of the up stream", integrity: true)
            } else if decoded.verifiedCount != streamByteCount || sendOffset != streamByteCount {
                fail("sink verified \(decoded.verifiedCount) of \(streamByteCount) bytes", integrity: true)
            } else {
                endJob()
            }
        case .none:
            fail("unexpected \(count) bytes from the peer", integrity: true)
        }
    }

    private func echoCompleted() {
        isAwaitingEcho = false
        let now = LoadClock.now()
        messagesLeft -= 1
        if job == .probe {
            endJob()
            return
        }
        worker.messageCompleted(self, latency: now &- sentAt, now: now)
        guard phase == .open, job == .rtt else { return }
        if messagesLeft <= 0 {
            endJob()
        } else if worker.isClosedLoop || isDue {
            if worker.takeMessageSlot(now: now) { sendMessage() } else { endJob() }
        } else if worker.isPastDeadline(now: now) {
            endJob()
        }
    }
}
