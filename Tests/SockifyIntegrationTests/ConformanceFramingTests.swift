// RFC 6455 §5 framing, §5.4 fragmentation, §5.5 control frames and §7 close codes against the running binary.
// The client's frames are hand-built (ConformanceWire.swift); every case asserts the exact close code the proxy
// sends and the exact bytes that reached the target.
import Testing

/// Frames sent after a successful upgrade, and what must come back.
struct FrameExchangeCase: Sendable, CustomTestStringConvertible {
    var testDescription: String
    var frames: [[UInt8]]
    /// The close code the proxy must send (nil: a Close with an empty payload).
    var closeCode: UInt16?
    /// The exact Close payload expected, when the case checks more than the code (an echo).
    var closePayload: [UInt8]? = nil
    /// The exact bytes the target must have received when its connection ends.
    var target: [UInt8] = []
    /// The exact payloads of the pongs the client must receive, in order.
    var pongs: [[UInt8]] = []
    var options: [String] = []

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// A case whose frames end with a normal Close 1000, which the proxy echoes.
    static func relayed(
        _ description: String, _ frames: [[UInt8]], target: [UInt8], pongs: [[UInt8]] = [], options: [String] = []
    ) -> FrameExchangeCase {
        FrameExchangeCase(
            testDescription: description, frames: frames + [WireFrame.close(1000)], closeCode: 1000,
            closePayload: [0x03, 0xE8], target: target, pongs: pongs, options: options)
    }

    /// A case where the proxy must fail the connection with `code` after delivering `target`.
    static func failed(
        _ description: String, _ frames: [[UInt8]], _ code: UInt16, target: [UInt8] = [], options: [String] = []
    ) -> FrameExchangeCase {
        FrameExchangeCase(
            testDescription: description, frames: frames, closeCode: code, target: target, options: options)
    }

    static let abc = bytes("abc")

    static let framing: [FrameExchangeCase] =
        (1...7).map { rsv in
            failed(
                "§5.2 RSV bits \(rsv) without an extension → 1002",
                [WireFrame.build(WireFrame.binary, abc, rsv: UInt8(rsv))], 1002)
        }
        + ([3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] as [UInt8]).map { opcode in
            failed(
                "§5.2 reserved opcode 0x\(String(opcode, radix: 16)) → 1002", [WireFrame.build(opcode, abc)], 1002)
        }
        + [
            failed(
                "§5.1 an unmasked client frame → 1002", [WireFrame.build(WireFrame.binary, abc, masked: false)], 1002),
            failed(
                "§5.5 a 126-byte ping → 1002",
                [WireFrame.build(WireFrame.ping, [UInt8](repeating: 1, count: 126))], 1002),
            failed(
                "§5.5 a 126-byte pong → 1002",
                [WireFrame.build(WireFrame.pong, [UInt8](repeating: 1, count: 126))], 1002),
            failed(
                "§5.5 a 126-byte close → 1002",
                [
                    WireFrame.build(
                        WireFrame.close, WireFrame.closePayload(1000, reason: [UInt8](repeating: 0x61, count: 124)))
                ],
                1002),
            failed(
                "§5.5 a fragmented ping (FIN 0) → 1002", [WireFrame.build(WireFrame.ping, abc, fin: false)], 1002),
            failed(
                "§5.5 a fragmented pong (FIN 0) → 1002", [WireFrame.build(WireFrame.pong, abc, fin: false)], 1002),
            failed(
                "§5.5 a fragmented close (FIN 0) → 1002",
                [WireFrame.build(WireFrame.close, WireFrame.closePayload(1000), fin: false)], 1002),
            failed(
                "§5.2 a 64-bit length with the most significant bit set → 1002",
                [WireFrame.build(WireFrame.binary, abc, length: .declared(1 << 63 | 3))], 1002),
            failed(
                "--max-frame-size default 16 MiB: a header declaring 2^62 bytes → 1009 before any payload",
                [WireFrame.build(WireFrame.binary, abc, length: .declared(1 << 62))], 1009),
            failed(
                "--max-frame-size 1024: a 1025-byte frame → 1009, nothing reaches the target",
                [WireFrame.binary([UInt8](repeating: 7, count: 1025))], 1009, options: ["--max-frame-size", "1024"]),
            relayed(
                "--max-frame-size 1024: a 1024-byte frame is relayed",
                [WireFrame.binary([UInt8](repeating: 7, count: 1024))], target: [UInt8](repeating: 7, count: 1024),
                options: ["--max-frame-size", "1024"]),
            relayed(
                "--max-frame-size 1024: the limit is per frame, a 3000-byte message in 3 fragments is relayed",
                [
                    WireFrame.binary([UInt8](repeating: 1, count: 1000), fin: false),
                    WireFrame.continuation([UInt8](repeating: 2, count: 1000), fin: false),
                    WireFrame.continuation([UInt8](repeating: 3, count: 1000)),
                ],
                target: [UInt8](repeating: 1, count: 1000) + [UInt8](repeating: 2, count: 1000)
                    + [UInt8](repeating: 3, count: 1000),
                options: ["--max-frame-size", "1024"]),
            failed(
                "--max-frame-size 1024: frames before the oversize one are delivered, then 1009",
                [WireFrame.binary(bytes("before")), WireFrame.binary([UInt8](repeating: 7, count: 2000))], 1009,
                target: bytes("before"), options: ["--max-frame-size", "1024"]),
            relayed(
                "§5.2 non-minimal 16- and 64-bit lengths are accepted",
                [
                    WireFrame.build(WireFrame.binary, bytes("sixteen"), length: .extended16),
                    WireFrame.build(WireFrame.binary, bytes("sixty-four"), length: .extended64),
                ], target: bytes("sixteensixty-four")),
            relayed(
                "§5.2 a 65536-byte frame (first 64-bit length) is relayed byte-exact",
                [WireFrame.binary(PatternStream.bytes(offset: 0, count: 65536))],
                target: PatternStream.bytes(offset: 0, count: 65536)),
            relayed(
                "§5.3 the all-zero masking key is a valid key",
                [WireFrame.build(WireFrame.binary, bytes("zero key"), key: [0, 0, 0, 0])], target: bytes("zero key")),
            relayed(
                "§5.6 empty binary frames are accepted and add nothing",
                [WireFrame.binary([]), WireFrame.binary(bytes("x")), WireFrame.binary([])], target: bytes("x")),
        ]

    /// Binary fragments with control frames between them (§5.4 allows that, and only that, interleaving).
    static let interleaved = relayed(
            "§5.4 binary fragments with pings and a pong between them: the target gets the concatenation, "
                + "the client the pongs",
            [
                WireFrame.binary(bytes("ab"), fin: false), WireFrame.build(WireFrame.ping, bytes("p1")),
                WireFrame.continuation(bytes("cd"), fin: false), WireFrame.build(WireFrame.pong, bytes("x")),
                WireFrame.build(WireFrame.ping, bytes("p2")), WireFrame.continuation(bytes("ef")),
            ],
            target: bytes("abcdef"), pongs: [bytes("p1"), bytes("p2")])

    static let controlFrames: [FrameExchangeCase] = [
        relayed("§5.5.2 a ping gets a pong with the same payload", [WireFrame.build(WireFrame.ping, bytes("hello"))],
                target: [], pongs: [bytes("hello")]),
        relayed("§5.5.2 an empty ping gets an empty pong", [WireFrame.build(WireFrame.ping)], target: [], pongs: [[]]),
        relayed(
            "§5.5.2 a 125-byte ping gets a 125-byte pong",
            [WireFrame.build(WireFrame.ping, PatternStream.bytes(offset: 9, count: 125))], target: [],
            pongs: [PatternStream.bytes(offset: 9, count: 125)]),
        relayed(
            "§5.5.3 an unsolicited pong is ignored and data still flows",
            [WireFrame.build(WireFrame.pong, bytes("unasked")), WireFrame.binary(bytes("after"))],
            target: bytes("after")),
        interleaved,
        relayed(
            "§5.4 empty fragments are accepted",
            [
                WireFrame.binary([], fin: false), WireFrame.continuation(bytes("a"), fin: false),
                WireFrame.continuation([], fin: false), WireFrame.continuation(bytes("b")),
            ], target: bytes("ab")),
        failed("§5.4 a continuation without a started message → 1002", [WireFrame.continuation(abc)], 1002),
        failed(
            "§5.4 a new binary frame inside a fragmented message → 1002, the bad frame never reaches the target",
            [WireFrame.binary(bytes("first"), fin: false), WireFrame.binary(bytes("second"))], 1002,
            target: bytes("first")),
        failed(
            "§5.4 a continuation after the final fragment → 1002",
            [
                WireFrame.binary(bytes("one"), fin: false), WireFrame.continuation(bytes("two")),
                WireFrame.continuation(bytes("three")),
            ],
            1002, target: bytes("onetwo")),
        failed(
            "§5.6 a text frame → 1003 (binary only, as websockify)", [WireFrame.build(WireFrame.text, bytes("hi"))],
            1003),
        failed(
            "§5.6 a fragmented text message → 1003",
            [WireFrame.build(WireFrame.text, bytes("h"), fin: false), WireFrame.continuation(bytes("i"))], 1003),
        failed(
            "§5.4 / §5.6 a text frame inside a fragmented binary message → 1003 (text is refused first)",
            [WireFrame.binary(bytes("bin"), fin: false), WireFrame.build(WireFrame.text, bytes("txt"))], 1003,
            target: bytes("bin")),
    ]

    static let validCloseCodes: [UInt16] = [
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999,
    ]
    static let invalidCloseCodes: [UInt16] = [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]

    static let closeFrames: [FrameExchangeCase] =
        validCloseCodes.map { code in
            let payload = WireFrame.closePayload(code, reason: bytes("bye"))
            return FrameExchangeCase(
                testDescription: "§5.5.1 / §7.4.1 close \(code) \"bye\" is echoed",
                frames: [WireFrame.build(WireFrame.close, payload)],
                closeCode: code, closePayload: payload)
        }
        + invalidCloseCodes.map { code in
            failed("§7.4.1 / §7.4.2 close code \(code) → 1002", [WireFrame.close(code, reason: bytes("x"))], 1002)
        }
        + [
            FrameExchangeCase(
                testDescription: "§5.5.1 an empty close is answered with an empty close",
                frames: [WireFrame.close(nil)], closeCode: nil, closePayload: []),
            failed("§5.5.1 a 1-byte close payload → 1002", [WireFrame.build(WireFrame.close, [0x03])], 1002),
            FrameExchangeCase(
                testDescription: "§5.5.1 a 125-byte close with a multi-byte UTF-8 reason is echoed byte-exact",
                frames: [WireFrame.close(1000, reason: utf8Reason123)], closeCode: 1000,
                closePayload: WireFrame.closePayload(1000, reason: utf8Reason123)),
            FrameExchangeCase(
                testDescription: "§5.5.1 data after the client's close never reaches the target",
                frames: [WireFrame.binary(bytes("kept")), WireFrame.close(1000), WireFrame.binary(bytes("late"))],
                closeCode: 1000, closePayload: [0x03, 0xE8], target: bytes("kept")),
        ]
        + invalidUTF8Reasons.map { reason in
            failed(
                "§8.1 invalid UTF-8 in a close reason (\(reason.map { String($0, radix: 16) }.joined(separator: " ")))"
                    + " → 1007",
                [WireFrame.close(1000, reason: reason)], 1007)
        }

    /// 123 bytes of valid UTF-8 with 1- to 4-byte sequences (the largest reason a 125-byte close can carry).
    static let utf8Reason123: [UInt8] = {
        var reason = bytes("Grüße ✓ 😀 ")
        while reason.count < 123 { reason.append(0x2E) }
        return reason
    }()

    static let invalidUTF8Reasons: [[UInt8]] = [
        [0x80],  // a lone continuation byte
        [0xC0, 0xAF],  // overlong "/"
        [0xED, 0xA0, 0x80],  // a UTF-16 surrogate (U+D800)
        [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
        [0x61, 0xE2, 0x82],  // truncated 3-byte sequence at the end
        [0xFF],  // never valid in UTF-8
    ]
}

extension ProxyBinaryTests {
    @Suite("Conformance: framing, control frames, close codes", .enabled(if: ProxyKind.isSockify))
    struct ConformanceFraming {
        /// Upgrades, sends the case's frames, reads until the proxy closes, and checks the close, the pongs and
        /// the exact bytes the (sink) target received before its connection ended.
        static func check(_ exchange: FrameExchangeCase) async throws {
            try await withProxy(to: .sink(captureLimit: 1 << 20), options: exchange.options) { proxy, target in
                let port = proxy.port
                let transcript = try await offload { try WireClient.exchange(port: port, frames: exchange.frames) }
                let close = transcript.close
                #expect(close != nil, "no close frame: \(transcript.summary)")
                if let expected = exchange.closeCode {
                    #expect(close?.closeCode == expected, "\(transcript.summary)")
                } else {
                    #expect(close?.payload == [], "\(transcript.summary)")
                }
                if let payload = exchange.closePayload {
                    #expect(close?.payload == payload, "\(transcript.summary)")
                }
                #expect(transcript.frames.allSatisfy { !$0.masked && $0.rsv == 0 && $0.fin }, "\(transcript.summary)")
                #expect(transcript.closed, "the proxy closes the TCP connection: \(transcript.summary)")
                let pongs = transcript.frames.filter { $0.opcode == WireFrame.pong }.map(\.payload)
                #expect(pongs == exchange.pongs, "\(transcript.summary)")
                let stats = try await target.wait(timeout: .seconds(10)) { $0.accepted > 0 && $0.open == 0 }
                #expect(stats.captured == exchange.target, "target got \(stats.captured.count) bytes")
                #expect(stats.errors.isEmpty, "\(stats.errors)")
            }
        }

        @Test("framing:", arguments: FrameExchangeCase.framing)
        func framing(_ exchange: FrameExchangeCase) async throws { try await Self.check(exchange) }

        @Test("control frames and fragmentation:", arguments: FrameExchangeCase.controlFrames)
        func controlFrames(_ exchange: FrameExchangeCase) async throws { try await Self.check(exchange) }

        @Test("close:", arguments: FrameExchangeCase.closeFrames)
        func closeFrames(_ exchange: FrameExchangeCase) async throws { try await Self.check(exchange) }

        /// The interleaved-control case again, but every byte in its own write: header and payload splits at
        /// every offset must not change what is delivered (§5.2 is a byte stream).
        @Test("§5.4 fragments and pings sent one byte per write give the same result")
        func dripFed() async throws {
            let exchange = FrameExchangeCase.interleaved
            try await withProxy(to: .sink(captureLimit: 1 << 20)) { proxy, target in
                let port = proxy.port
                let transcript = try await offload { () -> WireTranscript in
                    let client = try WireClient.upgrade(port: port)
                    defer { client.close() }
                    for byte in exchange.frames.joined() where !client.send([byte]) { break }
                    return client.readUntilClosed(answerClose: false)
                }
                #expect(transcript.close?.closeCode == 1000, "\(transcript.summary)")
                #expect(transcript.frames.filter { $0.opcode == WireFrame.pong }.map(\.payload) == exchange.pongs)
                let stats = try await target.wait(timeout: .seconds(10)) { $0.accepted > 0 && $0.open == 0 }
                #expect(stats.captured == exchange.target)
            }
        }
    }
}
