// FrameEncoder: header bytes, headroom placement, control/close frames, and encoder → decoder round trips.
import SockifyProtocol
import Testing

@Suite("FrameEncoder")
struct FrameEncoderTests {
    @Test("Header lengths are 2, 4 or 10 bytes (+4 masked) at the encoding boundaries")
    func headerLengths() {
        #expect(FrameEncoder.headerLength(payloadLength: 0, masked: false) == 2)
        #expect(FrameEncoder.headerLength(payloadLength: 125, masked: false) == 2)
        #expect(FrameEncoder.headerLength(payloadLength: 126, masked: false) == 4)
        #expect(FrameEncoder.headerLength(payloadLength: 65535, masked: false) == 4)
        #expect(FrameEncoder.headerLength(payloadLength: 65536, masked: false) == 10)
        #expect(FrameEncoder.headerLength(payloadLength: 65536, masked: true) == 14)
        #expect(FrameEncoder.headerLength(payloadLength: 5, masked: true) == 6)
        #expect(FrameEncoder.maxServerHeaderLength == 10)
    }

    @Test(
        "§5.7 header bytes match the RFC's examples",
        arguments: [
            (5, [0x82, 0x05]), (256, [0x82, 0x7E, 0x01, 0x00]),
            (65536, [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]),
        ] as [(Int, [UInt8])]
    )
    func rfcHeaderBytes(payloadLength: Int, expected: [UInt8]) {
        var buffer = [UInt8](repeating: 0xEE, count: 12)
        let start = withSpan(&buffer) {
            FrameEncoder.writeHeader(
                into: &$0,
                endingAt: 10,
                opcode: .binary,
                isFinal: true,
                payloadLength: payloadLength,
                maskingKey: nil
            )
        }
        #expect(start == 10 - expected.count)
        #expect(Array(buffer[start..<10]) == expected)
        #expect(buffer[..<start].allSatisfy { $0 == 0xEE }, "bytes before the header changed")
        #expect(buffer[10...].allSatisfy { $0 == 0xEE }, "payload bytes changed")
    }

    @Test("§5.7 masked header carries the key bytes in wire order")
    func maskedHeaderBytes() {
        var buffer = [UInt8](repeating: 0, count: 11)
        buffer.replaceSubrange(6..<11, with: RFCVectors.hello)
        withSpan(&buffer) { span in
            let start = FrameEncoder.writeHeader(
                into: &span,
                endingAt: 6,
                opcode: .text,
                isFinal: true,
                payloadLength: 5,
                maskingKey: RFCVectors.exampleKey
            )
            #expect(start == 0)
            Masking.apply(&span, in: 6..<11, key: RFCVectors.exampleKey, phase: 0)
        }
        #expect(buffer == RFCVectors.maskedHello)
    }

    @Test(
        "Server frames written into headroom decode back (client role) with their payload untouched",
        arguments: [0, 1, 125, 126, 127, 1400, 65535, 65536, 70000]
    )
    func serverRoundTrip(length: Int) throws {
        var generator = SeededGenerator(seed: UInt64(length) + 1)
        let payload = randomBytes(length, using: &generator)
        let headroom = FrameEncoder.maxServerHeaderLength
        var buffer = [UInt8](repeating: 0, count: headroom) + payload
        let start = withSpan(&buffer) {
            FrameEncoder.writeHeader(
                into: &$0,
                endingAt: headroom,
                opcode: .binary,
                isFinal: true,
                payloadLength: length,
                maskingKey: nil
            )
        }
        #expect(start == headroom - FrameEncoder.headerLength(payloadLength: length, masked: false))
        #expect(Array(buffer[headroom...]) == payload)
        let frames = try dripFeedFrames(Array(buffer[start...]), chunkSize: 1021, role: .client)
        #expect(
            frames == [
                DecodedFrame(
                    header: FrameHeader(isFinal: true, opcode: .binary, payloadLength: UInt64(length), maskingKey: nil),
                    payload: payload
                )
            ]
        )
    }

    @Test(
        "Masked client frames round-trip through the server-role decoder",
        arguments: [0, 1, 3, 125, 126, 65535, 65536, 100_003]
    )
    func clientRoundTrip(length: Int) throws {
        var generator = SeededGenerator(seed: UInt64(length) + 99)
        let payload = randomBytes(length, using: &generator)
        let key = UInt32.random(in: .min ... .max, using: &generator)
        let headroom = 14
        var buffer = [UInt8](repeating: 0, count: headroom) + payload
        let start = withSpan(&buffer) { span in
            let start = FrameEncoder.writeHeader(
                into: &span,
                endingAt: headroom,
                opcode: .binary,
                isFinal: false,
                payloadLength: length,
                maskingKey: key
            )
            Masking.apply(&span, in: headroom..<(headroom + length), key: key, phase: 0)
            return start
        }
        #expect(length < 4 || Array(buffer[headroom...]) != payload, "payload was not masked")
        let frames = try dripFeedFrames(Array(buffer[start...]), chunkSize: 997, role: .server)
        #expect(
            frames == [
                DecodedFrame(
                    header: FrameHeader(
                        isFinal: false,
                        opcode: .binary,
                        payloadLength: UInt64(length),
                        maskingKey: key
                    ),
                    payload: payload
                )
            ]
        )
    }

    @Test("§5.7 unmasked Ping and masked Pong control frames are written byte for byte")
    func controlFrames() {
        var buffer = [UInt8](repeating: 0xEE, count: 20)
        let written = withSpan(&buffer) { span in
            RFCVectors.hello.withUnsafeBytes {
                FrameEncoder.writeControlFrame(into: &span, at: 1, opcode: .ping, payload: $0, maskingKey: nil)
            }
        }
        #expect(written == 7)
        #expect(Array(buffer[1..<8]) == RFCVectors.unmaskedPing)
        #expect(buffer[0] == 0xEE && buffer[8...].allSatisfy { $0 == 0xEE })
        let maskedWritten = withSpan(&buffer) { span in
            RFCVectors.hello.withUnsafeBytes {
                FrameEncoder.writeControlFrame(
                    into: &span,
                    at: 0,
                    opcode: .pong,
                    payload: $0,
                    maskingKey: RFCVectors.exampleKey
                )
            }
        }
        #expect(maskedWritten == 11)
        #expect(Array(buffer[0..<11]) == RFCVectors.maskedPong)
    }

    @Test("Close frames carry the code in network order and the reason; nil code gives an empty payload")
    func closeFrames() throws {
        var buffer = [UInt8](repeating: 0, count: 200)
        var written = withSpan(&buffer) {
            FrameEncoder.writeCloseFrame(
                into: &$0,
                at: 0,
                code: .normalClosure,
                reason: "Target closed",
                maskingKey: nil
            )
        }
        #expect(Array(buffer[0..<written]) == [0x88, 15, 0x03, 0xE8] + Array("Target closed".utf8))
        written = withSpan(&buffer) {
            FrameEncoder.writeCloseFrame(into: &$0, at: 0, code: nil, reason: "ignored", maskingKey: nil)
        }
        #expect(Array(buffer[0..<written]) == [0x88, 0x00])
        // Masked close decodes through the server-side connection with its code and reason.
        written = withSpan(&buffer) {
            FrameEncoder.writeCloseFrame(
                into: &$0,
                at: 0,
                code: .internalError,
                reason: "Failed to connect to downstream server",
                maskingKey: 0xDEAD_BEEF
            )
        }
        var connection = WebSocketConnection(maxPayloadLength: 10)
        let outputs = try dripFeedConnection(Array(buffer[0..<written]), chunkSize: 3, connection: &connection)
        #expect(outputs == [.close(.internalError, reason: Array("Failed to connect to downstream server".utf8))])
    }

    @Test("Long reasons are truncated to 123 bytes at a scalar boundary, so the frame stays valid")
    func longReasonTruncated() throws {
        var buffer = [UInt8](repeating: 0, count: 200)
        // 61 × "é" (2 bytes) = 122 bytes, then "€" (3 bytes) would exceed 123.
        let reason = String(repeating: "é", count: 61) + "€" + "tail"
        let written = withSpan(&buffer) {
            FrameEncoder.writeCloseFrame(into: &$0, at: 0, code: .normalClosure, reason: reason, maskingKey: nil)
        }
        #expect(written == 2 + 2 + 122)
        var connection = WebSocketConnection(role: .client, maxPayloadLength: 10)
        let outputs = try dripFeedConnection(Array(buffer[0..<written]), chunkSize: 50, connection: &connection)
        #expect(outputs == [.close(.normalClosure, reason: Array(String(repeating: "é", count: 61).utf8))])
        let ascii = String(repeating: "x", count: 300)
        let asciiWritten = withSpan(&buffer) {
            FrameEncoder.writeCloseFrame(into: &$0, at: 0, code: .normalClosure, reason: ascii, maskingKey: nil)
        }
        #expect(asciiWritten == 2 + 125)
    }
}
