// One accepted client connection, for its whole life on one reactor: HTTP head → static file or WebSocket
// upgrade → relay to the target with backpressure both ways → close handshake → one summary log line.
import Crypto
import SockifyBuffers
import SockifyProtocol
import SockifyReactor
import SockifyTargets

/// A client connection and, once upgraded, its target connection.
///
/// Output to the client always leaves in this order, so frames never interleave: the HTTP response bytes
/// (`httpOut`), a static file body (`file`), the target→client frame in flight (`t2c…`), then one queued control
/// frame (`control…`). Each half-pipe holds a pool slot only while bytes are in flight; when its writer would block it
/// stops reading its source (backpressure), so a connection never buffers more than one slot per direction.
///
/// Readiness is edge-triggered: `clientReadable` and friends remember an edge until a syscall says `wouldBlock`
/// (or a short read/write shows the kernel buffer is exhausted), and `pump()` runs every half-pipe that can make
/// progress.
final class Connection: ReactorHandler {
    enum Phase {
        /// The client's first byte was a TLS handshake record: completing the TLS handshake (then `.readingHead`).
        case tlsHandshake
        /// Reading an HTTP request head (also between keep-alive requests).
        case readingHead
        /// Waiting for a deferred target decision (`ProxyConfiguration.lookupTarget` answered later); the client is
        /// not read meanwhile, its head and any bytes behind it stay in the head slot.
        case resolving
        /// Sending an HTTP response (and maybe a file); then back to `.readingHead` or to `.lingering`.
        case responding(keepAlive: Bool)
        /// Upgraded: relaying between client and target.
        case relaying
        /// Write side shut; reading and discarding until the client closes or the deadline passes.
        case lingering
        case closed
    }

    static let clientTag: UInt8 = 0
    static let targetTag: UInt8 = 1

    unowned let worker: Worker
    let clientFD: CInt
    let peer: SocketAddress
    /// The client's address for logs, auth and limits: the socket peer, or the real client named by a PROXY header
    /// or a trusted proxy's `Forwarded` header.
    var peerHost: String
    /// `--proxy-protocol`: the PROXY header has not been read yet.
    var awaitsProxyHeader: Bool
    /// A connection on the `--metrics` listener.
    var servesMetrics = false
    /// The request target of the upgrade (structured logs only).
    var upgradeTarget: String?
    /// Monotonic ns when the target lookup started (metrics).
    var lookupStartedAt: Int64 = 0
    var token = Token(slot: 0, generation: 0)
    var phase = Phase.readingHead
    let startedAt: Int64
    /// Monotonic ms after which `tick` gives up on the current phase (head timeout, linger limit); 0 = none.
    var deadline: Int64

    // Edge-triggered readiness memory.
    var clientReadable = false
    var clientWritable = true
    var targetReadable = false
    var targetWritable = false
    /// The peer's FIN was reported: a short read no longer means "nothing more", since EOF is still to be read
    /// and its edge has already been delivered.
    var clientHungUp = false
    var targetHungUp = false

    // TLS (`--cert`): the client's session once its first byte said TLS; the target's with `--ssl-target`.
    var tls: TLSStream?
    /// The first byte has been looked at (TLS or plain decided).
    var sniffed = false
    var targetTLS: TLSStream?
    /// The target's TCP connect completed (with `--ssl-target`, its TLS handshake may still be running).
    var targetTCPConnected = false
    /// OpenSSL stopped a read for want of writability (or a write for want of readability): the other edge
    /// resumes it.
    var clientReadAwaitsWritable = false
    var clientWriteAwaitsReadable = false
    var targetReadAwaitsWritable = false
    var targetWriteAwaitsReadable = false

    // HTTP head (a pool slot while reading one).
    var headSlot: UnsafeMutableRawPointer?
    var headCount = 0
    /// The upgrade request waiting for its target decision (phase `.resolving`), and its length in the head slot.
    var pendingUpgrade: (head: HTTPRequestHead, length: Int)?

    // Client output queue (see the type's doc for the order).
    var httpOut: [UInt8] = []
    var httpOutSent = 0
    var file: FileSystem.OpenFile?
    var fileOffset = 0
    var fileEnd = 0

    // WebSocket state.
    var ws: WebSocketConnection
    var target: TargetEndpoint?
    var targetFD: CInt = -1
    var targetConnected = false
    var targetEOF = false
    var clientEOF = false
    var isWebSocket = false
    var closeCode: CloseCode?
    var closeQueued = false
    var closeSent = false
    var lastPingAt: Int64 = 0
    /// Monotonic ms of the last bytes from the client (pong timeout) and in either direction (idle timeout).
    var lastClientInputAt: Int64 = 0
    var lastActivityAt: Int64 = 0

    // client → target half-pipe: payload ranges of `c2tSlot`, in order, not yet written.
    var c2tSlot: UnsafeMutableRawPointer?
    var c2tStarts = InlineArray<16, Int32>(repeating: 0)
    var c2tEnds = InlineArray<16, Int32>(repeating: 0)
    var c2tCount = 0
    var c2tFirst = 0

    // io_uring (`Reactor.completesReceives`): once a plain relay runs, both sides' input arrives as completions into
    // the reactor's buffer ring (`received`), and a send that would block arms a one-shot writability poll.
    var completionMode = false
    var clientInput = CompletionInput()
    var targetInput = CompletionInput()
    var clientWritablePollArmed = false
    var targetWritablePollArmed = false

    // target → client half-pipe: one frame (header + payload) in `t2cSlot[t2cStart..<t2cEnd]`.
    var t2cSlot: UnsafeMutableRawPointer?
    var t2cStart = 0
    var t2cEnd = 0

    // Control frames queued for the client (pongs, heartbeat pings, then at most one Close), sent in order.
    var control = InlineArray<256, UInt8>(repeating: 0)
    var controlCount = 0
    var controlSent = 0
    var controlIsClose = false

    // Counters for the summary line.
    var bytesToTarget = 0
    var bytesToClient = 0
    /// websockify's handler id (every accepted connection counts), used to name `--record` files.
    let handlerID: Int
    /// `--record` / `--traffic` observers, only when one of them is on.
    var tap: SessionTap?

    init(worker: Worker, fd: CInt, peer: SocketAddress, peerHost: String, now: Int64, handlerID: Int) {
        self.worker = worker
        self.handlerID = handlerID
        self.clientFD = fd
        self.peer = peer
        self.peerHost = peerHost
        self.startedAt = now
        self.awaitsProxyHeader = worker.configuration.proxyProtocol
        self.deadline = now + worker.headTimeoutMs
        self.ws = WebSocketConnection(role: .server, maxPayloadLength: worker.configuration.maxFramePayload)
    }

    // MARK: events

    func ready(_ readiness: Readiness, tag: UInt8) {
        if tag == Self.clientTag {
            if !readiness.isDisjoint(with: [.readable, .hangup, .error]) {
                clientReadable = true
                if clientWriteAwaitsReadable { clientWritable = true }
            }
            if readiness.contains(.hangup) { clientHungUp = true }
            if readiness.contains(.writable) {
                clientWritable = true
                clientWritablePollArmed = false
                if clientReadAwaitsWritable { clientReadable = true }
            }
        } else {
            if !readiness.isDisjoint(with: [.readable, .hangup, .error]) {
                targetReadable = true
                if targetWriteAwaitsReadable { targetWritable = true }
            }
            if readiness.contains(.hangup) { targetHungUp = true }
            if readiness.contains(.writable) || readiness.contains(.error) {
                targetWritable = true
                targetWritablePollArmed = false
                if targetReadAwaitsWritable { targetReadable = true }
            }
        }
        pump()
    }

    /// io_uring: a receive buffer filled for one side (completion mode only; see `enterCompletionMode`).
    func received(_ slot: UnsafeMutableRawPointer, count: Int, tag: UInt8) {
        let isClient = tag == Self.clientTag
        guard completionMode, isClient ? phase.readsClient : targetFD >= 0 else {
            worker.release(slot)
            return
        }
        let backpressure: Bool
        if isClient {
            backpressure = clientInput.push(slot, count: count)
            clientReadable = true
        } else {
            backpressure = targetInput.push(slot, count: count)
            targetReadable = true
        }
        if backpressure { worker.reactor.stopReceiving(for: token, tag: tag) }
        pump()
    }

    /// io_uring: a side's multishot receive ended (FIN, error, cancelled, or the buffer ring ran dry).
    func receiveEnded(_ end: ReceiveEnd, tag: UInt8) {
        guard completionMode else { return }
        if tag == Self.clientTag {
            clientInput.ended(end)
            clientReadable = true
        } else {
            guard targetFD >= 0 else { return }
            targetInput.ended(end)
            targetReadable = true
        }
        pump()
    }

    /// Runs every half-pipe that can make progress until none can.
    func pump() {
        defer { if completionMode { armWritability() } }
        var rounds = 0
        while rounds < 64 {
            rounds += 1
            let progressed: Bool
            switch phase {
            case .tlsHandshake: progressed = continueTLSHandshake()
            case .readingHead: progressed = readHead()
            case .resolving: return
            case .responding(let keepAlive): progressed = flushResponse(keepAlive: keepAlive)
            case .relaying: progressed = relay()
            case .lingering: progressed = drainLinger()
            case .closed: return
            }
            if !progressed { return }
        }
        // Fairness: a connection that keeps making progress yields to others; its edges are remembered, so
        // the next tick (or event) resumes it.
        worker.scheduleResume(self)
    }

    // MARK: HTTP head

    private func readHead() -> Bool {
        guard clientReadable else { return false }
        if awaitsProxyHeader && !servesMetrics && worker.configuration.tls?.hasCertificate == true {
            return peekProxyHeader()
        }
        if !sniffed && !servesMetrics {
            guard sniff() else {
                if case .tlsHandshake = phase { return true }
                return false
            }
        }
        let size = worker.pool.slotSize
        if headSlot == nil { headSlot = worker.pool.acquire() }
        let slot = headSlot!
        let limit = min(size, worker.configuration.maxRequestHeadBytes + 1)
        if headCount >= limit {
            return failHTTP(status: 431, reason: "Request Header Fields Too Large")
        }
        let status: IOStatus
        do {
            status = try receiveFromClient(into: slot + headCount, count: limit - headCount)
        } catch {
            finish(reason: "client error \(error)")
            return false
        }
        switch status {
        case .wouldBlock:
            clientReadable = false
            if headCount == 0 { releaseHeadSlot() }
            return false
        case .endOfStream:
            clientEOF = true
            finish(reason: "client closed")
            return false
        case .transferred(let n):
            if headCount == 0 && !sniffed && !servesMetrics && tls == nil && Self.startsTLS(slot.load(as: UInt8.self)),
                let context = worker.configuration.tls
            {
                // A ClientHello while no certificate is loaded (websockify: the cert file does not exist).
                worker.log("\(peerHost): SSL connection but '\(context.settings.certificate.certificateFile)' not found")
                worker.metrics.handshakeFailed(.tls)
                finish(reason: "no certificate")
                return false
            }
            sniffed = true
            headCount += n
        }
        if awaitsProxyHeader && !servesMetrics {
            guard readProxyHeader(slot) else { return false }
            if headCount == 0 { return true }
        }
        let parsed: (head: HTTPRequestHead, length: Int)?
        do {
            parsed = try HTTPRequestHead.parse(
                UnsafeRawBufferPointer(start: slot, count: headCount).bytes,
                maxLength: worker.configuration.maxRequestHeadBytes)
        } catch {
            return failHTTP(status: error.status, reason: error.reason, extraHeaders: error.extraHeaders)
        }
        guard let (head, length) = parsed else { return true }
        let trusted = worker.configuration.trustedProxies
        if !trusted.isEmpty && !servesMetrics {
            let client = ForwardedHeader.clientAddress(peer: peerHost, head: head, trustedProxies: trusted)
            guard moveTo(client) else { return false }
        }
        if OpeningHandshake.isUpgradeRequest(head) && !servesMetrics {
            return startWebSocket(head, headLength: length)
        }
        return respondHTTP(head, headLength: length)
    }

    /// websockify's test: a TLS handshake record (0x16) or an SSLv2-style hello (0x80).
    private static func startsTLS(_ byte: UInt8) -> Bool { byte == 0x16 || byte == 0x80 }

    /// Decides TLS or plain from the client's first byte, without consuming it, when a certificate is loaded (or
    /// `--ssl-only`); without one the first read checks the byte itself. False when the connection must wait for
    /// the byte, was closed, or moved to `.tlsHandshake`.
    private func sniff() -> Bool {
        let config = worker.configuration
        guard let context = config.tls, !awaitsProxyHeader, context.hasCertificate || config.sslOnly else {
            return true  // `readHead`'s first read looks at the byte
        }
        let peeked: (status: IOStatus, byte: UInt8)
        do {
            peeked = try Sockets.peekByte(clientFD)
        } catch {
            finish(reason: "client error \(error)")
            return false
        }
        switch peeked.status {
        case .wouldBlock:
            clientReadable = false
            return false
        case .endOfStream:
            clientEOF = true
            finish(reason: "client closed")
            return false
        case .transferred:
            break
        }
        sniffed = true
        guard Self.startsTLS(peeked.byte) else {
            if config.sslOnly {
                worker.log("\(peerHost): non-SSL connection received but disallowed")
                worker.metrics.handshakeFailed(.tls)
                finish(reason: "plain client on --ssl-only")
                return false
            }
            return true
        }
        guard let stream = context.makeStream(fd: clientFD) else {
            worker.log("\(peerHost): SSL connection but '\(context.settings.certificate.certificateFile)' not found")
            worker.metrics.handshakeFailed(.tls)
            finish(reason: "no certificate")
            return false
        }
        tls = stream
        phase = .tlsHandshake
        return false
    }

    /// Runs the client's TLS handshake as far as the socket allows; then reads the HTTP head over TLS.
    private func continueTLSHandshake() -> Bool {
        guard let tls else { return false }
        guard tls.wantsWritable ? clientWritable : clientReadable else { return false }
        do {
            switch try tls.handshake() {
            case .complete:
                worker.metrics.tlsHandshakeCompleted(kernel: tls.kernelSend)
                phase = .readingHead
                clientReadable = true  // bytes behind the handshake may already be buffered
                return true
            case .wouldBlock:
                if tls.wantsWritable { clientWritable = false } else { clientReadable = false }
                return false
            }
        } catch {
            // websockify: an EOF mid-handshake is `<ip>: <msg>`, any other SSL error `handler exception: <msg>`.
            if error.description.hasPrefix("EOF") || error.errno != nil {
                worker.log("\(peerHost): \(error)")
            } else {
                worker.log("handler exception: \(error)")
            }
            worker.metrics.handshakeFailed(.tls)
            finish(reason: "tls handshake failed")
            return false
        }
    }

    // MARK: client and target I/O (plain socket or TLS)

    /// A receive from `fd`, through `stream` when it is TLS; `awaitsWritable` records a read that OpenSSL stopped
    /// for want of writability.
    @inline(__always)
    private static func receive(
        _ fd: CInt, _ stream: TLSStream?, into buffer: UnsafeMutableRawPointer, count: Int, awaitsWritable: inout Bool
    ) throws(TLSError) -> IOStatus {
        guard let stream else {
            do { return try Sockets.receive(fd, into: buffer, count: count) } catch {
                throw TLSError(error.description, errno: error)
            }
        }
        let status = try stream.receive(into: buffer, count: count)
        if status == .wouldBlock { awaitsWritable = stream.wantsWritable }
        return status
    }

    @inline(__always)
    private func receiveFromClient(into buffer: UnsafeMutableRawPointer, count: Int) throws(TLSError) -> IOStatus {
        try Self.receive(clientFD, tls, into: buffer, count: count, awaitsWritable: &clientReadAwaitsWritable)
    }

    @inline(__always)
    private func sendToClient(from buffer: UnsafeRawPointer, count: Int) throws(TLSError) -> IOStatus {
        guard let tls else {
            do { return try Sockets.send(clientFD, from: buffer, count: count) } catch {
                throw TLSError(error.description, errno: error)
            }
        }
        let status = try tls.send(from: buffer, count: count)
        if status == .wouldBlock { clientWriteAwaitsReadable = !tls.wantsWritable }
        return status
    }

    /// Reads the PROXY protocol header at the start of `slot` and takes its source address as the client's;
    /// false when the connection was closed (a malformed header).
    private func readProxyHeader(_ slot: UnsafeMutableRawPointer) -> Bool {
        guard let result = parseProxyHeader(slot, count: headCount) else { return false }
        guard case .parsed(let header, let length) = result else { return true }
        let rest = headCount - length
        if rest > 0 { slot.copyMemory(from: slot + length, byteCount: rest) }
        headCount = rest
        return takeProxyHeader(header)
    }

    /// Parses a PROXY header from `slot[0..<count]`; nil (connection closed, logged) when it is malformed.
    private func parseProxyHeader(_ slot: UnsafeMutableRawPointer, count: Int) -> ProxyProtocolHeader.ParseResult? {
        do {
            return try ProxyProtocolHeader.parse(UnsafeRawBufferPointer(start: slot, count: count).bytes)
        } catch {
            worker.log("\(peerHost): bad PROXY protocol header: \(error.reason)")
            worker.metrics.handshakeFailed(.badRequest)
            finish(reason: "bad PROXY header")
            return nil
        }
    }

    /// The header is read: its source becomes the client's address. LOCAL (health checks) and UNKNOWN keep the socket
    /// peer, as the specification says. False when the connection was closed (that address is at its limit).
    private func takeProxyHeader(_ header: ProxyProtocolHeader) -> Bool {
        awaitsProxyHeader = false
        if header.command == .proxy, header.family == .tcp4 || header.family == .tcp6, let source = header.source {
            return moveTo(source.addressText)
        }
        return true
    }

    /// `--proxy-protocol` with TLS on the port: the PROXY header is parsed from peeked bytes and then exactly its
    /// length is consumed, so the TLS handshake behind it is left in the socket for OpenSSL. True when the header
    /// was taken (the first byte behind it is sniffed next).
    private func peekProxyHeader() -> Bool {
        if headSlot == nil { headSlot = worker.pool.acquire() }
        let slot = headSlot!
        let limit = min(worker.pool.slotSize, ProxyProtocolHeader.defaultMaxLength)
        let status: IOStatus
        do {
            status = try Sockets.peek(clientFD, into: slot, count: limit)
        } catch {
            finish(reason: "client error \(error)")
            return false
        }
        switch status {
        case .wouldBlock:
            clientReadable = false
            return false
        case .endOfStream:
            clientEOF = true
            finish(reason: "client closed")
            return false
        case .transferred(let n):
            guard let result = parseProxyHeader(slot, count: n) else { return false }
            guard case .parsed(let header, let length) = result else {
                // Incomplete: everything waiting was peeked; the next edge brings the rest.
                if n >= limit {
                    worker.log("\(peerHost): bad PROXY protocol header: too long")
                    finish(reason: "bad PROXY header")
                    return false
                }
                clientReadable = false
                return false
            }
            // The bytes are in the socket buffer, so this receive takes exactly `length` of them.
            guard (try? Sockets.receive(clientFD, into: slot, count: length)) == .transferred(length) else {
                finish(reason: "client error reading the PROXY header")
                return false
            }
            releaseHeadSlot()
            return takeProxyHeader(header)
        }
    }

    /// Takes `client` as this connection's address (per-address limits follow); false when that address is at its
    /// limit and the connection was closed.
    private func moveTo(_ client: String) -> Bool {
        guard client != peerHost else { return true }
        guard worker.server.readdress(from: peerHost, to: client) else {
            worker.log("\(client): connection refused: limit of open connections reached")
            worker.metrics.handshakeFailed(.limitRefused)
            finish(reason: "limit")
            return false
        }
        peerHost = client
        return true
    }

    private func releaseHeadSlot() {
        if let slot = headSlot {
            worker.pool.release(slot)
            headSlot = nil
        }
        headCount = 0
    }

    /// Answers a plain HTTP request (static files with `--web`, 405/501 without).
    private func respondHTTP(_ head: HTTPRequestHead, headLength: Int) -> Bool {
        let config = worker.configuration
        if servesMetrics { return respondMetrics(head) }
        if config.authenticatesWebRequests, let plugin = config.authPlugin, head.method == "GET" || head.method == "HEAD",
            case .deny(let status, let reason, let headers, let logLine) = plugin.authenticate(
                head, clientCommonName: tls?.verifiedPeerCommonName)
        {
            return failAuthentication(status: status, reason: reason, headers: headers, logLine: logLine)
        }
        // Pipelined bytes after this head would be the next request; keep-alive handles one request at a time,
        // so they stay in the head slot, moved to its front.
        if let slot = headSlot {
            let rest = headCount - headLength
            if rest > 0 { (slot).copyMemory(from: slot + headLength, byteCount: rest) }
            headCount = rest
            if rest == 0 { releaseHeadSlot() }
        }
        let now = WallClock.secondsSinceEpoch()
        var keepAlive: Bool
        if let root = worker.webRoot {
            keepAlive = head.keepAlive && !worker.configuration.runOnce
            let response = root.respond(
                to: head, now: now, serverName: worker.configuration.serverName, keepAlive: keepAlive)
            // Errors close the connection, as Python's send_error does.
            keepAlive = keepAlive && !response.closesConnection
            switch response {
            case .complete(let text):
                httpOut = Array(text.utf8)
            case .file(let text, let openFile, let byteCount):
                httpOut = Array(text.utf8)
                file = openFile
                fileOffset = 0
                fileEnd = byteCount
            }
        } else {
            keepAlive = false
            httpOut = Array(WebFallback.respond(to: head, now: now, serverName: worker.configuration.serverName).utf8)
        }
        httpOutSent = 0
        if let status = Self.statusCode(httpOut) {
            if status >= 400 {
                worker.log("\(peerHost) - - [\(worker.logTimestamp())] code \(status), message \(Self.statusReason(httpOut))")
            } else if worker.configuration.verbose {
                worker.log("\(peerHost) - - [\(worker.logTimestamp())] \"\(head.method) \(head.target) HTTP/\(head.versionMajor).\(head.versionMinor)\" \(status) -")
            }
        }
        phase = .responding(keepAlive: keepAlive)
        return true
    }

    /// `/metrics` (Prometheus text) and `/healthz` (200 `ready`, or 503 `draining` once the proxy stops taking
    /// connections) on the `--metrics` listener; anything else is 404.
    private func respondMetrics(_ head: HTTPRequestHead) -> Bool {
        releaseHeadSlot()  // one request per connection: anything pipelined behind it is dropped
        let path = head.target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.target
        let status: Int
        let body: String
        var contentType = "text/plain; charset=utf-8"
        switch (head.method, path) {
        case ("GET", "/metrics"), ("HEAD", "/metrics"):
            status = 200
            body = worker.server.metricsText()
            contentType = PrometheusText.contentType
        case ("GET", "/healthz"), ("HEAD", "/healthz"):
            let draining = worker.server.isDraining
            status = draining ? 503 : 200
            body = draining ? "draining\n" : "ready\n"
        default:
            status = 404
            body = "not found\n"
        }
        var text = "HTTP/1.1 \(status) \(HTTPResponse.standardReason(status))\r\n"
        text += "Server: \(worker.configuration.serverName)\r\nContent-Type: \(contentType)\r\n"
        text += "Content-Length: \(body.utf8.count)\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n"
        if head.method != "HEAD" { text += body }
        httpOut = Array(text.utf8)
        httpOutSent = 0
        phase = .responding(keepAlive: false)
        return true
    }

    private static func statusCode(_ response: [UInt8]) -> Int? {
        // "HTTP/1.1 404 ..." → 404
        guard response.count >= 12 else { return nil }
        var value = 0
        for byte in response[9..<12] {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        return value
    }

    private static func statusReason(_ response: [UInt8]) -> String {
        guard let end = response.firstIndex(of: 0x0D), end > 13 else { return "" }
        return String(decoding: response[13..<end], as: UTF8.self)
    }

    /// Sends an HTTP error and closes (used for malformed heads and failed handshakes).
    private func failHTTP(status: Int, reason: String, extraHeaders: [(String, String)] = []) -> Bool {
        worker.metrics.handshakeFailed(
            status == 431 ? .headTooLarge : status == 426 ? .unsupportedVersion : .badRequest)
        worker.log("\(peerHost) - - [\(worker.logTimestamp())] code \(status), message \(reason)")
        releaseHeadSlot()
        httpOut = Array(
            HTTPResponse.error(
                status: status, reason: reason, serverName: worker.configuration.serverName,
                date: HTTPDate.format(secondsSinceEpoch: WallClock.secondsSinceEpoch()), extraHeaders: extraHeaders,
                includeBody: true
            ).utf8)
        httpOutSent = 0
        phase = .responding(keepAlive: false)
        return true
    }

    /// Answers a request the auth plugin refused and closes, logging as websockify does.
    private func failAuthentication(status: Int, reason: String, headers: [AuthPlugin.Header], logLine: String) -> Bool {
        worker.metrics.handshakeFailed(.authDenied)
        worker.log("handler exception: \(logLine)")
        releaseHeadSlot()
        httpOut = Array(
            HTTPResponse.authenticationError(
                status: status, reason: reason, serverName: worker.configuration.serverName,
                date: HTTPDate.format(secondsSinceEpoch: WallClock.secondsSinceEpoch()),
                extraHeaders: headers.map { ($0.name, $0.value) }
            ).utf8)
        httpOutSent = 0
        phase = .responding(keepAlive: false)
        return true
    }

    /// Writes `httpOut` then the file; afterwards waits for the next request or closes.
    private func flushResponse(keepAlive: Bool) -> Bool {
        guard clientWritable else { return false }
        if httpOutSent < httpOut.count {
            guard sendHTTPOut() else { return false }
        }
        if let file {
            while fileOffset < fileEnd {
                let status: IOStatus
                do {
                    if let tls {
                        status = try tls.sendFile(
                            file: file.fd, offset: &fileOffset, count: fileEnd - fileOffset, scratch: worker.scratch)
                        if status == .wouldBlock { clientWriteAwaitsReadable = !tls.wantsWritable }
                    } else {
                        status = try Sockets.sendFile(
                            clientFD, file: file.fd, offset: &fileOffset, count: fileEnd - fileOffset)
                    }
                } catch {
                    finish(reason: "client error \(error)")
                    return false
                }
                switch status {
                case .transferred(let n): bytesToClient += n
                case .wouldBlock:
                    clientWritable = false
                    return false
                case .endOfStream:
                    // The file shrank under us; the response is short, so the connection cannot be reused.
                    fileEnd = fileOffset
                    closeFile()
                    beginClosing()
                    return true
                }
            }
            closeFile()
        }
        httpOut = []
        if keepAlive {
            phase = .readingHead
            deadline = MonotonicClock.milliseconds() + worker.headTimeoutMs
            if headCount > 0 { clientReadable = true }
        } else {
            beginClosing()
        }
        return true
    }

    private func closeFile() {
        if let file {
            file.close()
            self.file = nil
        }
    }

    /// Sends what is left of `httpOut`; true when all of it is out.
    private func sendHTTPOut() -> Bool {
        while httpOutSent < httpOut.count {
            let status: IOStatus
            do {
                status = try httpOut.withUnsafeBytes { raw throws(TLSError) in
                    try sendToClient(from: raw.baseAddress! + httpOutSent, count: raw.count - httpOutSent)
                }
            } catch {
                finish(reason: "client error \(error)")
                return false
            }
            switch status {
            case .transferred(let n):
                httpOutSent += n
            case .wouldBlock, .endOfStream:
                clientWritable = false
                return false
            }
        }
        return true
    }

    // MARK: WebSocket upgrade

    private func startWebSocket(_ head: HTTPRequestHead, headLength: Int) -> Bool {
        // websockify order: token lookup, then auth, then the handshake checks (a bad token with a bad version is a
        // silent close).
        let request = TargetRequest(requestTarget: head.target, hostHeader: head.header("Host"), clientHost: peerHost)
        let worker = self.worker
        let token = self.token
        let reply = TargetReply { decision in
            worker.reactor.execute { worker.lookupFinished(token, decision) }
        }
        if worker.configuration.structuredLogs { upgradeTarget = head.target }
        lookupStartedAt = MonotonicClock.nanoseconds()
        guard let decision = worker.configuration.lookupTarget(request, reply) else {
            pendingUpgrade = (head, headLength)
            phase = .resolving
            deadline = MonotonicClock.milliseconds() + worker.lookupTimeoutMs
            return false
        }
        return upgrade(head, headLength: headLength, decision: decision)
    }

    /// The deferred target decision for this connection arrived (on this reactor).
    func lookupFinished(_ decision: TargetDecision) {
        guard case .resolving = phase, let (head, length) = pendingUpgrade else { return }
        pendingUpgrade = nil
        phase = .readingHead
        if upgrade(head, headLength: length, decision: decision) { pump() }
    }

    /// Acts on the target decision: refuse, or authenticate, answer 101 and connect.
    private func upgrade(_ head: HTTPRequestHead, headLength: Int, decision: TargetDecision) -> Bool {
        let config = worker.configuration
        worker.metrics.tokenLookupFinished(nanoseconds: Int(MonotonicClock.nanoseconds() - lookupStartedAt))
        let endpoint: TargetEndpoint?
        var unreachable: String?
        switch decision {
        case .reject(let line):
            worker.metrics.handshakeFailed(
                line.hasSuffix("Token not present")
                    ? .tokenNotPresent : line.hasSuffix("not found") ? .tokenNotFound : .lookupError)
            worker.log(line)
            finish(reason: "rejected")
            return false
        case .connect(let resolved):
            endpoint = resolved
        case .unreachable(let description):
            endpoint = nil
            unreachable = description
        }
        if let plugin = config.authPlugin,
            case .deny(let status, let reason, let headers, let logLine) = plugin.authenticate(
                head, clientCommonName: tls?.verifiedPeerCommonName)
        {
            return failAuthentication(status: status, reason: reason, headers: headers, logLine: logLine)
        }
        let handshake: OpeningHandshake
        do {
            handshake = try OpeningHandshake.validate(head)
        } catch {
            return failHTTP(status: error.status, reason: error.reason, extraHeaders: error.extraHeaders)
        }
        let accept = HandshakeResponse.acceptValue(key: handshake.key) { bytes in Array(Insecure.SHA1.hash(data: bytes)) }
        httpOut = Array(
            HandshakeResponse.switchingProtocols(
                accept: accept, protocol: handshake.selectedProtocol, serverName: config.serverName,
                date: HTTPDate.format(secondsSinceEpoch: WallClock.secondsSinceEpoch())
            ).utf8)
        httpOutSent = 0
        isWebSocket = true
        target = endpoint
        phase = .relaying
        deadline = 0
        lastPingAt = MonotonicClock.milliseconds()
        lastClientInputAt = lastPingAt
        lastActivityAt = lastPingAt
        worker.webSocketStarted()
        let stamp = "\(peerHost) - - [\(worker.logTimestamp())] "
        if config.verbose {
            worker.log(stamp + "\"\(head.method) \(head.target) HTTP/\(head.versionMajor).\(head.versionMinor)\" 101 -")
        }
        worker.log(
            stamp + (tls == nil
                ? "\(peerHost): Plain non-SSL (ws://) WebSocket connection"
                : "\(peerHost): SSL/TLS (wss://) WebSocket connection"))
        if head.target != "/" { worker.log(stamp + "\(peerHost): Path: '\(head.target)'") }
        tap = SessionTap.open(worker: worker, handlerID: handlerID, stamp: stamp)

        // Bytes that came right behind the head are the client's first frames: decode them from the same slot.
        if let slot = headSlot {
            if headCount > headLength {
                c2tSlot = slot
                headSlot = nil
                let end = headCount
                headCount = 0
                decodeClientBytes(slot, range: headLength..<end)
            } else {
                releaseHeadSlot()
            }
        }
        if let endpoint {
            connectTarget(endpoint, stamp: stamp)
        } else {
            targetConnectFailed(unreachable ?? "unknown target")
        }
        return true
    }

    private func connectTarget(_ endpoint: TargetEndpoint, stamp: String) {
        let address: SocketAddress
        do {
            switch endpoint {
            case .tcp(let host, let port):
                if let command = worker.configuration.wrappedCommand {
                    worker.log(stamp + "connecting to command: \(command)")
                } else {
                    let tls = worker.configuration.targetTLS == nil ? "" : " (using SSL)"
                    worker.log(stamp + "connecting to: \(host):\(port)\(tls)")
                }
                address = try worker.resolve(host: host, port: port)
            case .unixSocket(let path):
                worker.log(stamp + "connecting to unix socket: \(path)")
                address = try SocketAddress(unixPath: path)
            }
            targetFD = try Sockets.connect(to: address)
            if case .tcp = endpoint {
                Sockets.setNoDelay(targetFD)
                Sockets.setKeepAlive(targetFD)
            }
            try worker.reactor.register(targetFD, for: token, tag: Self.targetTag)
        } catch {
            targetConnectFailed("\(error)")
        }
    }

    private func targetConnectFailed(_ why: String) {
        worker.metrics.handshakeFailed(.targetUnreachable)
        let what = target.map { "\($0): \(why)" } ?? why
        worker.log("\(peerHost) - - [\(worker.logTimestamp())] Failed to connect to \(what)")
        if targetFD >= 0 {
            closeTarget()
        }
        targetEOF = true
        dropC2T()
        queueClose(.internalError, reason: "Failed to connect to downstream server")
    }

    // MARK: relay

    /// One round of the relay; true when something moved.
    private func relay() -> Bool {
        var progressed = false
        // Target connect completion is signalled by the first writability edge.
        if !targetTCPConnected && targetFD >= 0 && targetWritable {
            // Only errors that mean "never connected" fail the connect. A target that accepted, sent and reset
            // before we looked (ECONNRESET, EPIPE) did connect: its bytes are read next, then "Target closed".
            if let error = Sockets.pendingError(targetFD), !Self.isResetAfterConnect(error) {
                targetConnectFailed("\(error)")
                return true
            }
            targetTCPConnected = true
            targetReadable = true
            progressed = true
            if !startTargetTLS() { targetConnected = true }
        }
        if !targetConnected && targetTCPConnected && targetFD >= 0, let stream = targetTLS,
            stream.wantsWritable ? targetWritable : targetReadable
        {
            if continueTargetTLSHandshake(stream) { progressed = true }
            if targetFD < 0 { return true }
        }
        if !completionMode && targetConnected && targetFD >= 0 && tls == nil && targetTLS == nil
            && worker.reactor.completesReceives
        {
            enterCompletionMode()
        }
        if clientWritable {
            if httpOutSent < httpOut.count {
                guard sendHTTPOut() else { return progressed }
                // The 101 is out: drop its bytes, so an idle WebSocket holds no heap beyond the connection object.
                httpOut = []
                httpOutSent = 0
                progressed = true
            }
            if t2cSlot != nil {
                if flushT2C() { progressed = true }
            }
            if t2cSlot == nil && controlCount > 0 && clientWritable {
                if flushControl() { progressed = true }
            }
        }
        if case .relaying = phase {} else { return true }
        // target → client: read only when nothing is waiting for the client (backpressure).
        if targetReadable && targetConnected && !targetEOF && t2cSlot == nil && controlCount == 0
            && httpOutSent == httpOut.count
        {
            if readTarget() { progressed = true }
        }
        if case .relaying = phase {} else { return true }
        // client → target
        if c2tCount > 0 && targetConnected && targetWritable {
            if flushC2T() { progressed = true }
        }
        if case .relaying = phase {} else { return true }
        if c2tCount == 0 && clientReadable && !clientEOF && ws.state == .open && !closeQueued {
            if readClient() { progressed = true }
        }
        if case .relaying = phase {} else { return true }
        progressed = checkRelayEnd() || progressed
        return progressed
    }

    /// With `--ssl-target` and a TCP target: creates the target's TLS session; false when the target is plain.
    private func startTargetTLS() -> Bool {
        guard let context = worker.configuration.targetTLS, case .tcp(let host, _)? = target else { return false }
        do {
            targetTLS = try context.makeStream(fd: targetFD, serverName: worker.configuration.targetTLSName ?? host)
        } catch {
            targetConnectFailed("\(error)")
        }
        return true
    }

    /// Advances the target's TLS handshake; true when it completed (the target counts as connected then).
    private func continueTargetTLSHandshake(_ stream: TLSStream) -> Bool {
        do {
            switch try stream.handshake() {
            case .complete:
                targetConnected = true
                targetReadable = true
                targetWritable = true
                return true
            case .wouldBlock:
                if stream.wantsWritable { targetWritable = false } else { targetReadable = false }
                return false
            }
        } catch {
            targetConnectFailed("\(error)")
            return true
        }
    }

    @inline(__always)
    private func receiveFromTarget(into buffer: UnsafeMutableRawPointer, count: Int) throws(TLSError) -> IOStatus {
        try Self.receive(targetFD, targetTLS, into: buffer, count: count, awaitsWritable: &targetReadAwaitsWritable)
    }

    /// Writes the queued client payload ranges to a TLS target, one `SSL_write` per range (OpenSSL has no gather
    /// write); with kernel TLS the plain `sendmsg` path is used instead.
    private func sendC2TOverTLS(_ stream: TLSStream, slot: UnsafeMutableRawPointer) throws(TLSError) -> IOStatus {
        var total = 0
        var index = c2tFirst
        while index < c2tCount {
            let start = Int(c2tStarts[index])
            let length = Int(c2tEnds[index]) - start
            let status = try stream.send(from: slot + start, count: length)
            guard case .transferred(let n) = status else {
                if status == .wouldBlock { targetWriteAwaitsReadable = !stream.wantsWritable }
                return total > 0 ? .transferred(total) : status
            }
            total += n
            if n < length { break }
            index += 1
        }
        return .transferred(total)
    }

    /// Closes the target socket (after TLS's close_notify, best effort) and forgets it.
    private func closeTarget() {
        targetTLS?.shutdown()
        targetTLS = nil
        targetInput.drain(worker.release)
        worker.reactor.close(targetFD, for: token, tag: Self.targetTag)
        targetFD = -1
    }

    private static func isResetAfterConnect(_ error: Errno) -> Bool {
        error == .connectionReset || error == .brokenPipe
    }

    /// Decides whether the relay is over; true when it moved the connection on.
    ///
    /// - Peer's Close (or TCP EOF): every client byte decoded before it still goes to the target, then the target
    ///   is closed; after a Close we answer, after a bare EOF we just close (code 1006).
    /// - Our Close (target EOF or error, protocol error, shutdown): once it is written the target is closed and the
    ///   client is given time to read it (`beginClosing`); websockify does not wait for the client's Close either.
    private func checkRelayEnd() -> Bool {
        let peerClosed = ws.state == .closeReceived || ws.state == .closed
        if (peerClosed || clientEOF) && c2tSlot == nil && targetFD >= 0 && (clientEOF || closeSent) {
            closeTarget()
        }
        if clientEOF && !closeQueued {
            closeCode = closeCode ?? .abnormalClosure
            if c2tSlot == nil {
                finish(reason: "client closed")
            }
            return false
        }
        if closeSent {
            // Client bytes decoded before the Close (or before a bad frame) still go to a live target.
            if c2tSlot != nil && targetFD >= 0 && !targetEOF { return false }
            dropC2T()
            if targetFD >= 0 {
                closeTarget()
            }
            beginClosing()
            return true
        }
        return false
    }

    /// Bytes read from one side: a slot (owned by the caller now) holding them at `range`, or why there are none.
    enum Input {
        case bytes(UnsafeMutableRawPointer, Range<Int>)
        case wouldBlock
        case endOfStream
    }

    private func readClient() -> Bool {
        let input: Input
        do {
            input = try completionMode
                ? nextCompletedInput(&clientInput, fd: clientFD, tag: Self.clientTag) : nextReadyInput(fromClient: true)
        } catch {
            clientEOF = true
            closeCode = .abnormalClosure
            finish(reason: "client error \(error)")
            return false
        }
        switch input {
        case .wouldBlock:
            clientReadable = false
            return false
        case .endOfStream:
            clientEOF = true
            clientReadable = false
            return true
        case .bytes(let slot, let range):
            if worker.pongTimeoutMs != nil || worker.sessionIdleMs != nil {
                lastClientInputAt = MonotonicClock.milliseconds()
                lastActivityAt = lastClientInputAt
            }
            c2tSlot = slot
            decodeClientBytes(slot, range: range)
            return true
        }
    }

    /// Readiness mode: one receive from the client or the target (plain or TLS) into a fresh pool slot, after its
    /// headroom (where a target→client frame header goes; the client's frames are decoded where they land).
    private func nextReadyInput(fromClient: Bool) throws(TLSError) -> Input {
        let pool = worker.pool
        let slot = pool.acquire()
        let headroom = BufferPool.headroom
        let capacity = pool.slotSize - headroom
        let status: IOStatus
        do {
            status = try fromClient
                ? receiveFromClient(into: slot + headroom, count: capacity)
                : receiveFromTarget(into: slot + headroom, count: capacity)
        } catch {
            pool.release(slot)
            throw error
        }
        guard case .transferred(let n) = status else {
            pool.release(slot)
            return status == .wouldBlock ? .wouldBlock : .endOfStream
        }
        // A short read means the socket buffer is empty; edge-triggered epoll reports new bytes again. Not under
        // TLS: OpenSSL returns one record per read.
        if n < capacity {
            if fromClient {
                if !clientHungUp && tls == nil { clientReadable = false }
            } else if !targetHungUp && targetTLS == nil {
                targetReadable = false
            }
        }
        return .bytes(slot, headroom..<headroom + n)
    }

    /// Completion mode: the oldest buffer the kernel filled for this side. With none queued and no receive armed
    /// (it was cancelled for backpressure, or the buffer ring ran dry), bytes may wait in the socket: read them
    /// with `recv` into a pool slot until it would block, then arm the multishot receive again.
    private func nextCompletedInput(_ input: inout CompletionInput, fd: CInt, tag: UInt8) throws(TLSError) -> Input {
        let headroom = BufferPool.headroom
        if let (slot, count) = input.pop() { return .bytes(slot, headroom..<headroom + count) }
        switch input.end {
        case .endOfStream?: return .endOfStream
        case .failed(let error)?: throw TLSError(error.description, errno: error)
        default: break
        }
        if input.receiving { return .wouldBlock }
        let pool = worker.pool
        let slot = pool.acquire()
        let status: IOStatus
        do {
            status = try Sockets.receive(fd, into: slot + headroom, count: pool.slotSize - headroom)
        } catch {
            pool.release(slot)
            input.end = .failed(error)
            throw TLSError(error.description, errno: error)
        }
        switch status {
        case .transferred(let n):
            return .bytes(slot, headroom..<headroom + n)
        case .endOfStream:
            pool.release(slot)
            input.end = .endOfStream
            return .endOfStream
        case .wouldBlock:
            pool.release(slot)
            do {
                try worker.reactor.startReceiving(fd, for: token, tag: tag)
                input.receiving = true
            } catch {
                input.end = .failed(error)
                throw TLSError(error.description, errno: error)
            }
            return .wouldBlock
        }
    }

    /// io_uring: from here on both sides' input arrives as completions. Only for a plain relay (TLS reads its own
    /// records with `SSL_read`); the readiness polls are cancelled, and the first read on each side takes what is
    /// already in the socket, then arms the multishot receive.
    private func enterCompletionMode() {
        completionMode = true
        worker.reactor.stopReadiness(for: token, tag: Self.clientTag)
        worker.reactor.stopReadiness(for: token, tag: Self.targetTag)
        clientReadable = true
        targetReadable = true
    }

    /// Completion mode: a side whose send would block gets a one-shot writability poll (there is no standing
    /// readiness registration to report it).
    private func armWritability() {
        switch phase {
        case .relaying, .responding: break
        default: return
        }
        if !clientWritable && !clientWritablePollArmed
            && (t2cSlot != nil || controlCount > controlSent || httpOutSent < httpOut.count)
        {
            clientWritablePollArmed = (try? worker.reactor.awaitWritable(clientFD, for: token, tag: Self.clientTag)) != nil
        }
        if !targetWritable && !targetWritablePollArmed && targetFD >= 0 && c2tCount > c2tFirst {
            targetWritablePollArmed = (try? worker.reactor.awaitWritable(targetFD, for: token, tag: Self.targetTag)) != nil
        }
    }

    /// Decodes client frames in `slot[range]` (unmasking in place) and queues their payload for the target.
    private func decodeClientBytes(_ slot: UnsafeMutableRawPointer, range: Range<Int>) {
        var span = UnsafeMutableRawBufferPointer(start: slot, count: worker.pool.slotSize).mutableBytes
        var offset = range.lowerBound
        var frames = 0
        let bytesBefore = bytesToTarget
        defer { worker.metrics.relayedClientToTarget(bytesToTarget - bytesBefore) }
        c2tCount = 0
        c2tFirst = 0
        // Each round consumes bytes or reports an event; the decoder returns nil once the range is used up.
        while true {
            let step: (event: WebSocketConnection.Event, consumed: Int)?
            do {
                step = try ws.next(&span, in: offset..<range.upperBound)
            } catch {
                // Forward what was decoded before the bad frame, then fail the connection (§7.1.7).
                worker.log("\(peerHost) - - [\(worker.logTimestamp())] \(peerHost): \(error.reason)")
                clientReadable = false
                queueClose(error.closeCode, reason: error.reason)
                break
            }
            guard let step else { break }
            offset += step.consumed
            switch step.event {
            case .data(let payload):
                // Before appendC2T, which may move the payload down to join the previous range.
                if let tap {
                    frames += 1
                    tap.clientFrame(UnsafeRawBufferPointer(start: slot + payload.lowerBound, count: payload.count))
                }
                appendC2T(slot, payload)
            case .ping:
                ws.withControlPayload { payload in queueControl(opcode: .pong, payload: payload) }
            case .pong:
                break
            case .close(let code):
                closeCode = code ?? .noStatusReceived
                // websockify echoes the peer's code and reason.
                ws.withControlPayload { payload in queueCloseEcho(payload) }
            }
            if step.consumed == 0 && offset >= range.upperBound { break }
        }
        tap?.clientRead(frames: frames)
        if c2tCount == 0 {
            worker.release(slot)
            c2tSlot = nil
        }
    }

    @inline(__always)
    private func appendC2T(_ slot: UnsafeMutableRawPointer, _ payload: Range<Int>) {
        bytesToTarget += payload.count
        if c2tCount > 0 && Int(c2tEnds[c2tCount - 1]) == payload.lowerBound {
            c2tEnds[c2tCount - 1] = Int32(payload.upperBound)
            return
        }
        if c2tCount == 16 {
            // Out of vectors: append to the last range by moving these (small-frame) bytes down over the gap.
            let end = Int(c2tEnds[15])
            (slot + end).copyMemory(from: slot + payload.lowerBound, byteCount: payload.count)
            c2tEnds[15] = Int32(end + payload.count)
            return
        }
        c2tStarts[c2tCount] = Int32(payload.lowerBound)
        c2tEnds[c2tCount] = Int32(payload.upperBound)
        c2tCount += 1
    }

    private func dropC2T() {
        if let slot = c2tSlot {
            worker.release(slot)
            c2tSlot = nil
        }
        c2tCount = 0
        c2tFirst = 0
    }

    /// Writes queued client payload to the target with one `sendmsg` per round; true when bytes moved.
    private func flushC2T() -> Bool {
        guard let slot = c2tSlot else { return false }
        let status: IOStatus
        do {
            if let targetTLS, !targetTLS.kernelSend {
                status = try sendC2TOverTLS(targetTLS, slot: slot)
            } else {
                status = try c2tStarts.span.withUnsafeBufferPointer { starts throws(Errno) in
                    try c2tEnds.span.withUnsafeBufferPointer { ends throws(Errno) in
                        try Sockets.send(targetFD, base: slot, starts: starts, ends: ends, indices: c2tFirst..<c2tCount)
                    }
                }
            }
        } catch {
            targetFailed(error)
            return true  // a Close is now queued: the caller must keep pumping to send it
        }
        switch status {
        case .wouldBlock, .endOfStream:
            targetWritable = false
            return false
        case .transferred(var n):
            while n > 0 && c2tFirst < c2tCount {
                let length = Int(c2tEnds[c2tFirst] - c2tStarts[c2tFirst])
                if n >= length {
                    n -= length
                    c2tFirst += 1
                } else {
                    c2tStarts[c2tFirst] += Int32(n)
                    n = 0
                    targetWritable = false
                }
            }
            if c2tFirst == c2tCount {
                dropC2T()
            }
            tap?.targetSent(complete: c2tSlot == nil)
            return true
        }
    }

    private func readTarget() -> Bool {
        let input: Input
        do {
            input = try completionMode
                ? nextCompletedInput(&targetInput, fd: targetFD, tag: Self.targetTag) : nextReadyInput(fromClient: false)
        } catch {
            targetFailed(error)
            return true  // a Close is now queued: the caller must keep pumping to send it
        }
        switch input {
        case .wouldBlock:
            targetReadable = false
            return false
        case .endOfStream:
            targetReadable = false
            targetEOF = true
            if worker.configuration.verbose {
                worker.log("\(peerHost) - - [\(worker.logTimestamp())] \(target.map { "\($0)" } ?? ""): Target closed connection")
            }
            dropC2T()
            queueClose(.normalClosure, reason: "Target closed")
            return true
        case .bytes(let slot, let range):
            let n = range.count
            let headroom = range.lowerBound
            if worker.sessionIdleMs != nil { lastActivityAt = MonotonicClock.milliseconds() }
            var span = UnsafeMutableRawBufferPointer(start: slot, count: worker.pool.slotSize).mutableBytes
            t2cStart = FrameEncoder.writeHeader(
                into: &span, endingAt: headroom, opcode: .binary, isFinal: true, payloadLength: n, maskingKey: nil)
            t2cEnd = headroom + n
            t2cSlot = slot
            bytesToClient += n
            worker.metrics.relayedTargetToClient(n)
            tap?.targetReceived(UnsafeRawBufferPointer(start: slot + headroom, count: n))
            return true
        }
    }

    /// Writes the frame in flight to the client; true when bytes moved.
    private func flushT2C() -> Bool {
        guard let slot = t2cSlot else { return false }
        let status: IOStatus
        do {
            status = try sendToClient(from: slot + t2cStart, count: t2cEnd - t2cStart)
        } catch {
            clientEOF = true
            closeCode = .abnormalClosure
            finish(reason: "client error \(error)")
            return false
        }
        switch status {
        case .wouldBlock, .endOfStream:
            clientWritable = false
            return false
        case .transferred(let n):
            t2cStart += n
            if t2cStart == t2cEnd {
                worker.release(slot)
                t2cSlot = nil
            } else {
                clientWritable = false
            }
            tap?.clientSent(complete: t2cSlot == nil)
            return true
        }
    }

    private func targetFailed(_ error: any Error) {
        if worker.configuration.verbose {
            worker.log("\(peerHost) - - [\(worker.logTimestamp())] target error: \(error)")
        }
        targetEOF = true
        dropC2T()
        if targetFD >= 0 {
            closeTarget()
        }
        queueClose(.normalClosure, reason: "Target closed")
    }

    // MARK: control frames

    /// Appends a control frame to the client's control queue. Pongs beyond the queue's room are dropped: only the
    /// most recent ping needs an answer (§5.5.3), and a flood of pings must not grow memory.
    private func queueControl(opcode: Opcode, payload: UnsafeRawBufferPointer) {
        guard !closeQueued, controlCount + 2 + payload.count <= 256 else { return }
        var bytes = control.mutableSpan
        var raw = bytes.mutableBytes
        controlCount += FrameEncoder.writeControlFrame(
            into: &raw, at: controlCount, opcode: opcode, payload: payload, maskingKey: nil)
    }

    /// Queues our Close (`code`, `reason`) after whatever is in flight, and stops reading the client.
    private func queueClose(_ code: CloseCode, reason: String) {
        guard !closeQueued else { return }
        if closeCode == nil { closeCode = code }
        var bytes = control.mutableSpan
        var raw = bytes.mutableBytes
        if controlCount + 2 + 125 > 256 { controlCount = controlSent }  // drop unsent pongs to make room
        controlCount += FrameEncoder.writeCloseFrame(
            into: &raw, at: controlCount, code: code, reason: reason, maskingKey: nil)
        closeQueued = true
        controlIsClose = true
    }

    /// Queues the echo of the peer's Close payload (websockify echoes code and reason).
    private func queueCloseEcho(_ payload: UnsafeRawBufferPointer) {
        guard !closeQueued else { return }
        var bytes = control.mutableSpan
        var raw = bytes.mutableBytes
        if controlCount + 2 + 125 > 256 { controlCount = controlSent }
        controlCount += FrameEncoder.writeControlFrame(
            into: &raw, at: controlCount, opcode: .close, payload: payload, maskingKey: nil)
        closeQueued = true
        controlIsClose = true
    }

    private func flushControl() -> Bool {
        let status: IOStatus
        do {
            status = try control.span.withUnsafeBytes { raw throws(TLSError) in
                try sendToClient(from: raw.baseAddress! + controlSent, count: controlCount - controlSent)
            }
        } catch {
            clientEOF = true
            finish(reason: "client error \(error)")
            return false
        }
        switch status {
        case .wouldBlock, .endOfStream:
            clientWritable = false
            return false
        case .transferred(let n):
            controlSent += n
            if controlSent < controlCount {
                clientWritable = false
                return true
            }
            controlCount = 0
            controlSent = 0
            if controlIsClose {
                controlIsClose = false
                closeSent = true
                ws.didSendClose()
                // Bounded: a target that stops reading cannot keep a closed WebSocket alive.
                deadline = MonotonicClock.milliseconds() + 5000
            }
            return true
        }
    }

    // MARK: ending

    /// Shuts our write side and drains client input until EOF or the linger deadline, so the client reads our last
    /// bytes instead of a reset.
    private func beginClosing() {
        releaseHeadSlot()
        tls?.shutdown()
        Sockets.shutdownWrite(clientFD)
        phase = .lingering
        deadline = MonotonicClock.milliseconds() + 2000
        clientReadable = true
    }

    private func drainLinger() -> Bool {
        guard clientReadable else { return false }
        let scratch = worker.scratch
        for _ in 0..<16 {
            let status: IOStatus
            do {
                status = completionMode
                    ? try discardCompletedInput()
                    : try Sockets.receive(clientFD, into: scratch.baseAddress!, count: scratch.count)
            } catch {
                finish(reason: "closed")
                return false
            }
            switch status {
            case .wouldBlock:
                clientReadable = false
                return false
            case .endOfStream:
                finish(reason: "closed")
                return false
            case .transferred:
                continue
            }
        }
        return true
    }

    /// `drainLinger` in completion mode: takes the next received buffer and drops it.
    private func discardCompletedInput() throws(TLSError) -> IOStatus {
        switch try nextCompletedInput(&clientInput, fd: clientFD, tag: Self.clientTag) {
        case .wouldBlock: return .wouldBlock
        case .endOfStream: return .endOfStream
        case .bytes(let slot, let range):
            worker.release(slot)
            return .transferred(range.count)
        }
    }

    /// Called about every tick: deadlines and heartbeats.
    func tick(now: Int64) {
        switch phase {
        case .tlsHandshake, .readingHead, .lingering:
            if deadline != 0 && now >= deadline {
                if case .readingHead = phase, headCount > 0 { worker.metrics.handshakeFailed(.headTimeout) }
                finish(reason: "timeout")
            }
        case .resolving:
            if now >= deadline {
                worker.metrics.handshakeFailed(.lookupTimeout)
                worker.log("\(peerHost): target lookup timed out after \(worker.lookupTimeoutMs / 1000)s")
                finish(reason: "lookup timeout")
            }
        case .relaying:
            if deadline != 0 && now >= deadline {
                finish(reason: "close timeout")
                return
            }
            if let limit = worker.pongTimeoutMs, !closeQueued, now - lastClientInputAt >= limit {
                worker.log("\(peerHost) - - [\(worker.logTimestamp())] \(peerHost): no data or pong from the client for \(limit / 1000)s, closing")
                closeCode = .abnormalClosure
                finish(reason: "pong timeout")
                return
            }
            if let limit = worker.sessionIdleMs, !closeQueued, now - lastActivityAt >= limit {
                dropC2T()
                queueClose(.goingAway, reason: "Idle timeout")
                pump()
                return
            }
            if let interval = worker.heartbeatMs, !closeQueued, now - lastPingAt >= interval, controlCount == 0 {
                lastPingAt = now
                queueControl(opcode: .ping, payload: UnsafeRawBufferPointer(start: nil, count: 0))
                pump()
            }
        default:
            break
        }
    }

    /// Server shutdown: a WebSocket gets Close 1001, anything else is closed.
    func shutdown() {
        switch phase {
        case .relaying:
            dropC2T()
            queueClose(.goingAway, reason: "Server shutting down")
            pump()
        case .lingering, .closed:
            break
        default:
            finish(reason: "shutdown")
        }
    }

    /// Releases everything, logs the summary line for WebSockets, and leaves the reactor.
    func finish(reason: String) {
        if case .closed = phase { return }
        phase = .closed
        releaseHeadSlot()
        dropC2T()
        if let slot = t2cSlot {
            worker.release(slot)
            t2cSlot = nil
        }
        clientInput.drain(worker.release)
        closeFile()
        if targetFD >= 0 {
            closeTarget()
        }
        worker.reactor.close(clientFD, for: token, tag: Self.clientTag)
        targetTLS = nil
        let clientTLS = tls.map { "\($0.protocolVersion) \($0.kernelSend ? "kernel" : "user")" }
        tls = nil
        if let tap {
            tap.finish()
            self.tap = nil
        }
        if isWebSocket {
            worker.metrics.closeCodeSent(closeCode?.rawValue ?? CloseCode.abnormalClosure.rawValue)
            let seconds = Double(MonotonicClock.milliseconds() - startedAt) / 1000
            let code = closeCode.map { "\($0.rawValue)" } ?? "none"
            if worker.configuration.structuredLogs {
                worker.log(structuredSummary(seconds: seconds, tls: clientTLS))
            } else {
                worker.log(
                    "\(peerHost) - - [\(worker.logTimestamp())] session closed: target \(target.map { "\($0)" } ?? "-"), "
                        + "client->target \(bytesToTarget) bytes, target->client \(bytesToClient) bytes, "
                        + "duration \(Self.formatSeconds(seconds))s, close \(code)"
                        + (clientTLS.map { ", tls \($0)" } ?? ""))
            }
        }
        worker.connectionFinished(self, wasWebSocket: isWebSocket)
    }

    /// The session summary as one JSON object (`--log-format json`).
    private func structuredSummary(seconds: Double, tls: String?) -> String {
        var fields: [(String, String)] = [
            ("event", JSONText.string("session_closed")), ("id", "\(handlerID)"), ("client", JSONText.string(peerHost)),
        ]
        let token = upgradeTarget.flatMap { TokenQuery.token(inRequestTarget: $0) }
        fields.append(("token", token.map(JSONText.string) ?? "null"))
        fields.append(("path", upgradeTarget.map(JSONText.string) ?? "null"))
        fields.append(("target", target.map { JSONText.string("\($0)") } ?? "null"))
        fields.append(("bytes_client_to_target", "\(bytesToTarget)"))
        fields.append(("bytes_target_to_client", "\(bytesToClient)"))
        fields.append(("duration_seconds", Self.formatSeconds(seconds)))
        fields.append(("close_code", closeCode.map { "\($0.rawValue)" } ?? "null"))
        fields.append(("tls", tls.map(JSONText.string) ?? "null"))
        return "{" + fields.map { JSONText.string($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }

    private static func formatSeconds(_ value: Double) -> String {
        let millis = Int((value * 1000).rounded())
        let fraction = millis % 1000
        return "\(millis / 1000)." + (fraction < 10 ? "00" : fraction < 100 ? "0" : "") + "\(fraction)"
    }
}

extension Connection.Phase {
    /// The client's input is still read (relayed, or drained while lingering).
    var readsClient: Bool {
        switch self {
        case .relaying, .lingering: true
        default: false
        }
    }
}
