// RFC 6455 §4 opening handshake against the running binary, with hand-written request bytes: variants that must
// be accepted, errors with their exact status, oversize heads and the --handshake-timeout slowloris bound.
import Foundation
import Glibc
import Testing

/// One raw request and the status it must get.
struct HandshakeCase: Sendable, CustomTestStringConvertible {
    var testDescription: String
    var request: [UInt8]
    var status: Int
    /// A header the response must carry, with its exact value.
    var header: (name: String, value: String)? = nil

    init(_ description: String, _ request: [UInt8], _ status: Int, header: (String, String)? = nil) {
        testDescription = description
        self.request = request
        self.status = status
        self.header = header.map { (name: $0.0, value: $0.1) }
    }

    /// A request built by hand from raw lines (CRLF-terminated, then the empty line).
    static func lines(_ lines: [String], ending: String = "\r\n") -> [UInt8] {
        Array((lines.map { $0 + ending }.joined() + ending).utf8)
    }

    static let key = WireClient.sampleKey

    /// Variants a conforming server accepts with 101 and the §4.2.2 accept value.
    static let accepted = [
        HandshakeCase("§4.1 the standard request", WireClient.upgradeRequest(), 101),
        HandshakeCase(
            "§4.2.1 / RFC 9110 §5.1 header names in lower case",
            lines([
                "GET / HTTP/1.1", "host: 127.0.0.1", "upgrade: websocket", "connection: upgrade",
                "sec-websocket-key: \(key)", "sec-websocket-version: 13",
            ]), 101),
        HandshakeCase(
            "§4.2.1 the Upgrade value is case-insensitive (WebSocket)",
            WireClient.upgradeRequest(drop: ["Upgrade"], extra: ["Upgrade: WebSocket"]), 101),
        HandshakeCase(
            "§4.2.1 Connection is a token list (Firefox: keep-alive, Upgrade)",
            WireClient.upgradeRequest(drop: ["Connection"], extra: ["Connection: keep-alive, Upgrade"]), 101),
        HandshakeCase(
            "§4.1 the Upgrade list may hold other tokens besides websocket (Upgrade: websocket, foo)",
            WireClient.upgradeRequest(drop: ["Upgrade"], extra: ["Upgrade: websocket, foo"]), 101),
        HandshakeCase(
            "RFC 9112 §2.2 bare LF line endings are accepted",
            lines(
                [
                    "GET / HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade",
                    "Sec-WebSocket-Key: \(key)", "Sec-WebSocket-Version: 13",
                ], ending: "\n"), 101),
        HandshakeCase(
            "lenient by design (websockify): no Connection header is accepted",
            WireClient.upgradeRequest(drop: ["Connection"]), 101),
        HandshakeCase(
            "§4.2.1 extra headers (Origin, Sec-WebSocket-Extensions) are accepted and no extension is echoed",
            WireClient.upgradeRequest(extra: [
                "Origin: http://127.0.0.1", "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
            ]), 101),
    ]

    /// Requests that must be refused, with the status Sockify documents (or the RFC requires).
    static let refused = [
        HandshakeCase(
            "§4.2.1 item 1: an HTTP/1.0 upgrade request is refused with 400",
            WireClient.upgradeRequest(requestLine: "GET / HTTP/1.0"), 400),
        HandshakeCase(
            "§11.3.1 Sec-WebSocket-Key given twice is refused with 400",
            WireClient.upgradeRequest(extra: ["Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA=="]), 400),
        HandshakeCase(
            "§4.2.1 no Upgrade header: a plain GET, 405 without --web",
            WireClient.upgradeRequest(drop: ["Upgrade"]), 405),
        HandshakeCase(
            "§4.2.1 item 5: no Sec-WebSocket-Key gets 400",
            WireClient.upgradeRequest(drop: ["Sec-WebSocket-Key"]), 400),
        HandshakeCase(
            "§4.2.1 item 5: an empty Sec-WebSocket-Key gets 400",
            WireClient.upgradeRequest(drop: ["Sec-WebSocket-Key"], extra: ["Sec-WebSocket-Key: "]), 400),
        HandshakeCase(
            "§4.2.1 item 5: a key that decodes to 8 bytes gets 400",
            WireClient.upgradeRequest(drop: ["Sec-WebSocket-Key"], extra: ["Sec-WebSocket-Key: AQIDBAUGBwg="]), 400),
        HandshakeCase(
            "§4.2.1 item 5: a key with a non-base64 character gets 400",
            WireClient.upgradeRequest(
                drop: ["Sec-WebSocket-Key"], extra: ["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j*Q=="]), 400),
        HandshakeCase(
            "§4.2.1 item 5: an unpadded 22-symbol key gets 400",
            WireClient.upgradeRequest(
                drop: ["Sec-WebSocket-Key"], extra: ["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ"]), 400),
        HandshakeCase(
            "§4.2.1 item 6: no Sec-WebSocket-Version gets 400",
            WireClient.upgradeRequest(drop: ["Sec-WebSocket-Version"]), 400),
        HandshakeCase(
            "§4.4 Sec-WebSocket-Version 12 gets 426 with Sec-WebSocket-Version: 13",
            WireClient.upgradeRequest(drop: ["Sec-WebSocket-Version"], extra: ["Sec-WebSocket-Version: 12"]), 426,
            header: ("Sec-WebSocket-Version", "13")),
        HandshakeCase(
            "§4.4 a non-numeric Sec-WebSocket-Version gets 426 with Sec-WebSocket-Version: 13",
            WireClient.upgradeRequest(drop: ["Sec-WebSocket-Version"], extra: ["Sec-WebSocket-Version: abc"]), 426,
            header: ("Sec-WebSocket-Version", "13")),
        HandshakeCase(
            "§4.2.1 item 1: POST with upgrade headers gets 501 (websockify)",
            WireClient.upgradeRequest(requestLine: "POST / HTTP/1.1", extra: ["Content-Length: 0"]), 501),
        HandshakeCase(
            "§4.2.1 item 1: HEAD with upgrade headers gets 405 (websockify)",
            WireClient.upgradeRequest(requestLine: "HEAD / HTTP/1.1"), 405),
        HandshakeCase("RFC 9112 §3 a garbage request line gets 400", lines(["HELLO"]), 400),
        HandshakeCase("RFC 9112 §2.3 HTTP/2.0 in an HTTP/1 request line gets 505", lines(["GET / HTTP/2.0"]), 505),
        HandshakeCase(
            "RFC 9112 §5 a header line without a colon gets 400",
            WireClient.upgradeRequest(extra: ["this line has no colon"]), 400),
        HandshakeCase(
            "RFC 6585 §5: a head above 16 KiB gets 431",
            WireClient.upgradeRequest(extra: ["X-Filler: " + String(repeating: "a", count: 20_000)]), 431),
        HandshakeCase(
            "RFC 6585 §5: more than 100 header lines get 431 (Python's limit)",
            WireClient.upgradeRequest(extra: (0..<101).map { "X-Line-\($0): y" }), 431),
        HandshakeCase(
            "RFC 9110 §15.5.15: a request line above 16 KiB gets 414",
            WireClient.upgradeRequest(path: "/" + String(repeating: "p", count: 20_000)), 414),
    ]
}

extension ProxyBinaryTests {
    /// Sockify's own behaviour and RFC 6455 strictness: websockify 0.13.0 differs on many of these by design
    /// (reference §4.3–§4.6), so the conformance suites run against sockify only.
    @Suite("Conformance: opening handshake", .enabled(if: ProxyKind.isSockify))
    struct ConformanceHandshake {
        @Test("accepted variant:", arguments: HandshakeCase.accepted)
        func accepted(_ handshake: HandshakeCase) async throws {
            try await withProxy(to: .echo) { proxy, target in
                let port = proxy.port
                let (head, transcript) = try await offload { () -> (WireResponseHead?, WireTranscript) in
                    let client = try WireClient(port: port)
                    defer { client.close() }
                    client.send(handshake.request)
                    let head = client.readHead()
                    client.send(WireFrame.binary(Array("ok".utf8)))
                    let echo = client.readFrame()
                    client.send(WireFrame.close(1000))
                    var transcript = client.readUntilClosed(answerClose: false)
                    if let echo { transcript.frames.insert(echo, at: 0) }
                    return (head, transcript)
                }
                try #require(head?.status == 101, "\(head?.status ?? 0) \(head?.reason ?? "no response")")
                #expect(head?.header("Sec-WebSocket-Accept") == WireClient.sampleAccept)
                #expect(head?.header("Upgrade")?.lowercased() == "websocket")
                #expect(head?.header("Sec-WebSocket-Extensions") == nil, "no extension is negotiated")
                #expect(transcript.data == Array("ok".utf8), "\(transcript.summary)")
                #expect(transcript.close?.closeCode == 1000, "\(transcript.summary)")
                #expect(transcript.closed)
                #expect(target.stats.value.accepted == 1)
            }
        }

        @Test("refused:", arguments: HandshakeCase.refused)
        func refused(_ handshake: HandshakeCase) async throws {
            try await withProxy(to: .echo) { proxy, target in
                let port = proxy.port
                let (head, closed) = try await offload { () -> (WireResponseHead?, Bool) in
                    let client = try WireClient(port: port)
                    defer { client.close() }
                    client.send(handshake.request)
                    let head = client.readHead()
                    return (head, client.waitForClose(timeout: .seconds(5)))
                }
                #expect(head?.status == handshake.status, "got \(head?.status ?? 0) \(head?.reason ?? "no response")")
                if let expected = handshake.header {
                    #expect(head?.header(expected.name) == expected.value)
                }
                #expect(closed, "the proxy closes the connection after an error response")
                #expect(target.stats.value.accepted == 0, "a refused handshake opens no target connection")
            }
        }

        @Test("--handshake-timeout 2: a head that never completes is closed after about 2 s")
        func slowHead() async throws {
            try await withProxy(to: .echo, options: ["--handshake-timeout", "2"]) { proxy, target in
                let port = proxy.port
                let (closed, elapsed) = try await offload { () -> (Bool, Duration) in
                    let client = try WireClient(port: port)
                    defer { client.close() }
                    let started = ContinuousClock.now
                    client.send(Array("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n".utf8))
                    return (client.waitForClose(timeout: .seconds(8)), ContinuousClock.now - started)
                }
                #expect(closed, "still open after 8 s")
                #expect(elapsed >= .milliseconds(1500) && elapsed < .seconds(5), "closed after \(elapsed)")
                #expect(target.stats.value.accepted == 0)
            }
        }

        /// Slowloris: one byte every 250 ms keeps the socket busy, but the deadline counts from the connection's
        /// start, so dripping does not extend it.
        @Test("--handshake-timeout 2: dripping one header byte every 250 ms does not extend the deadline")
        func drippedHead() async throws {
            try await withProxy(to: .echo, options: ["--handshake-timeout", "2"]) { proxy, _ in
                let port = proxy.port
                let (closedAt, sent) = try await offload { () -> (Duration?, Int) in
                    let client = try WireClient(port: port)
                    defer { client.close() }
                    let started = ContinuousClock.now
                    let drip = Array("GET / HTTP/1.1\r\nX-Slow: ".utf8) + [UInt8](repeating: 0x61, count: 64)
                    for (index, byte) in drip.enumerated() {
                        guard client.send([byte]) else { return (ContinuousClock.now - started, index) }
                        if client.waitForClose(timeout: .milliseconds(250)) {
                            return (ContinuousClock.now - started, index + 1)
                        }
                    }
                    return (nil, drip.count)
                }
                #expect(closedAt != nil, "still open after dripping \(sent) bytes")
                if let closedAt { #expect(closedAt < .seconds(5), "closed after \(closedAt)") }
            }
        }

        @Test("§4.2.2 a head split into 1-byte writes is reassembled and upgraded")
        func headByteByByte() async throws {
            try await withProxy(to: .echo) { proxy, _ in
                let port = proxy.port
                let head = try await offload { () -> WireResponseHead? in
                    let client = try WireClient(port: port)
                    defer { client.close() }
                    for byte in WireClient.upgradeRequest() { client.send([byte]) }
                    return client.readHead()
                }
                #expect(head?.status == 101)
                #expect(head?.header("Sec-WebSocket-Accept") == WireClient.sampleAccept)
            }
        }
    }
}

extension ProxyKind {
    /// Whether the suite drives sockify (the conformance, limit and fault suites test Sockify's own behaviour).
    static var isSockify: Bool { (try? current()) == .sockify }
}
