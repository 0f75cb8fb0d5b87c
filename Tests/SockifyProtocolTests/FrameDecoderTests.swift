// FrameDecoder against RFC 6455 §5.7 vectors at every chunk size, length encodings, and every framing rejection.
import SockifyProtocol
import Testing

@Suite("FrameDecoder")
struct FrameDecoderTests {
    @Test("§5.7 single-frame unmasked text \"Hello\" decodes at every chunk size", arguments: 1...7)
    func unmaskedHello(chunkSize: Int) throws {
        let frames = try dripFeedFrames(RFCVectors.unmaskedHello, chunkSize: chunkSize, role: .client)
        #expect(
            frames == [
                DecodedFrame(
                    header: FrameHeader(isFinal: true, opcode: .text, payloadLength: 5, maskingKey: nil),
                    payload: RFCVectors.hello
                )
            ]
        )
    }

    @Test("§5.7 single-frame masked text \"Hello\" is unmasked in place at every chunk size", arguments: 1...11)
    func maskedHello(chunkSize: Int) throws {
        let frames = try dripFeedFrames(RFCVectors.maskedHello, chunkSize: chunkSize, role: .server)
        let header = FrameHeader(isFinal: true, opcode: .text, payloadLength: 5, maskingKey: RFCVectors.exampleKey)
        #expect(frames == [DecodedFrame(header: header, payload: RFCVectors.hello)])
    }

    @Test("§5.7 fragmented unmasked text \"Hel\" + \"lo\" decodes at every chunk size", arguments: 1...9)
    func fragmentedHello(chunkSize: Int) throws {
        let frames = try dripFeedFrames(RFCVectors.fragmentedHello, chunkSize: chunkSize, role: .client)
        #expect(
            frames == [
                DecodedFrame(
                    header: FrameHeader(isFinal: false, opcode: .text, payloadLength: 3, maskingKey: nil),
                    payload: Array("Hel".utf8)
                ),
                DecodedFrame(
                    header: FrameHeader(isFinal: true, opcode: .continuation, payloadLength: 2, maskingKey: nil),
                    payload: Array("lo".utf8)
                ),
            ]
        )
    }

    @Test("§5.7 unmasked Ping \"Hello\" decodes at every chunk size", arguments: 1...7)
    func unmaskedPing(chunkSize: Int) throws {
        let frames = try dripFeedFrames(RFCVectors.unmaskedPing, chunkSize: chunkSize, role: .client)
        #expect(
            frames == [
                DecodedFrame(
                    header: FrameHeader(isFinal: true, opcode: .ping, payloadLength: 5, maskingKey: nil),
                    payload: RFCVectors.hello
                )
            ]
        )
    }

    @Test("§5.7 masked Pong \"Hello\" decodes at every chunk size", arguments: 1...11)
    func maskedPong(chunkSize: Int) throws {
        let frames = try dripFeedFrames(RFCVectors.maskedPong, chunkSize: chunkSize, role: .server)
        let header = FrameHeader(isFinal: true, opcode: .pong, payloadLength: 5, maskingKey: RFCVectors.exampleKey)
        #expect(frames == [DecodedFrame(header: header, payload: RFCVectors.hello)])
    }

    @Test("§5.7 256-byte binary frame uses the 16-bit length, at every chunk size", arguments: 1...260)
    func binary256(chunkSize: Int) throws {
        var generator = SeededGenerator(seed: 256)
        let payload = randomBytes(256, using: &generator)
        let frames = try dripFeedFrames(RFCVectors.binary256Header + payload, chunkSize: chunkSize, role: .client)
        #expect(
            frames == [
                DecodedFrame(
                    header: FrameHeader(isFinal: true, opcode: .binary, payloadLength: 256, maskingKey: nil),
                    payload: payload
                )
            ]
        )
    }

    @Test(
        "§5.7 64 KiB binary frame uses the 64-bit length",
        arguments: [1, 2, 3, 5, 9, 10, 11, 13, 14, 127, 1400, 4096, 65535, 65536, 65545, 65546]
    )
    func binary65536(chunkSize: Int) throws {
        var generator = SeededGenerator(seed: 65536)
        let payload = randomBytes(65536, using: &generator)
        let frames = try dripFeedFrames(RFCVectors.binary65536Header + payload, chunkSize: chunkSize, role: .client)
        #expect(frames.count == 1)
        #expect(
            frames.first?.header == FrameHeader(isFinal: true, opcode: .binary, payloadLength: 65536, maskingKey: nil)
        )
        #expect(frames.first?.payload == payload)
    }

    @Test("Masked 126-byte and 65536-byte frames unmask across every kind of split", arguments: [126, 65536])
    func maskedExtendedLengths(length: Int) throws {
        var generator = SeededGenerator(seed: UInt64(length))
        let payload = randomBytes(length, using: &generator)
        let frame = maskedFrame(0x82, payload: payload)
        for chunkSize in [1, 3, 7, 8, 64, 65, 1000, frame.count] {
            let frames = try dripFeedFrames(frame, chunkSize: chunkSize, role: .server)
            #expect(frames.map(\.payload) == [payload], "chunk size \(chunkSize)")
            #expect(frames.first?.header.payloadLength == UInt64(length))
        }
    }

    @Test("A zero-length frame yields .header then .frameEnd, with no .payload")
    func zeroLengthFrame() throws {
        var input = maskedFrame(0x82, payload: [])
        var decoder = FrameDecoder(role: .server, maxPayloadLength: 100)
        try withSpan(&input) { span in
            let first = try decoder.next(&span, in: 0..<6)
            #expect(
                first?.event
                    == .header(
                        FrameHeader(isFinal: true, opcode: .binary, payloadLength: 0, maskingKey: RFCVectors.exampleKey)
                    )
            )
            #expect(first?.consumed == 6)
            let second = try decoder.next(&span, in: 6..<6)
            #expect(second?.event == .frameEnd)
            #expect(second?.consumed == 0)
            #expect(try decoder.next(&span, in: 6..<6) == nil)
        }
    }

    @Test("A split header returns nil and keeps its bytes; payload ranges point into the caller's buffer")
    func splitHeaderReturnsNil() throws {
        var input = RFCVectors.maskedHello
        var decoder = FrameDecoder(role: .server, maxPayloadLength: 100)
        try withSpan(&input) { span in
            #expect(try decoder.next(&span, in: 0..<4) == nil)
            let header = try decoder.next(&span, in: 4..<8)
            #expect(header?.consumed == 2)
            let payload = try decoder.next(&span, in: 6..<11)
            #expect(payload?.event == .payload(6..<11))
            #expect(payload?.consumed == 5)
        }
        #expect(Array(input[6...]) == RFCVectors.hello)
    }

    @Test("Several frames in one buffer decode back to back")
    func backToBack() throws {
        let input =
            maskedFrame(0x82, payload: [1, 2, 3]) + maskedFrame(0x89, payload: []) + maskedFrame(0x82, payload: [4])
        let frames = try dripFeedFrames(input, chunkSize: input.count, role: .server)
        #expect(frames.map(\.payload) == [[1, 2, 3], [], [4]])
        #expect(frames.map(\.header.opcode) == [.binary, .ping, .binary])
    }

    @Test("Payload at exactly maxPayloadLength is accepted")
    func payloadAtLimit() throws {
        let frames = try dripFeedFrames(
            maskedFrame(0x82, payload: [UInt8](repeating: 7, count: 300)),
            chunkSize: 50,
            role: .server,
            maxPayloadLength: 300
        )
        #expect(frames.first?.payload.count == 300)
    }

    @Test("A non-minimal length encoding is accepted (minimality is the sender's MUST)")
    func nonMinimalLength() throws {
        let input = hex("82 7E 00 03 01 02 03")
        let frames = try dripFeedFrames(input, chunkSize: 1, role: .client)
        #expect(frames.map(\.payload) == [[1, 2, 3]])
    }

    // MARK: Rejections, each with its close code.

    struct Rejection: Sendable, CustomTestStringConvertible {
        var name: String
        var input: [UInt8]
        var role: FrameDecoder.Role
        var maxPayloadLength: UInt64 = 1 << 20
        var error: ProtocolError
        var closeCode: UInt16
        var testDescription: String { name }
    }

    static let key: [UInt8] = [1, 2, 3, 4]
    static let rejections: [Rejection] = [
        Rejection(
            name: "§5.2 RSV1 set",
            input: [0xC2, 0x80] + key,
            role: .server,
            error: .reservedBitsSet,
            closeCode: 1002
        ),
        Rejection(
            name: "§5.2 RSV2 set",
            input: [0xA2, 0x80] + key,
            role: .server,
            error: .reservedBitsSet,
            closeCode: 1002
        ),
        Rejection(
            name: "§5.2 RSV3 set",
            input: [0x92, 0x80] + key,
            role: .server,
            error: .reservedBitsSet,
            closeCode: 1002
        ),
        Rejection(
            name: "§5.1 unmasked client frame",
            input: [0x82, 0x01, 0x00],
            role: .server,
            error: .unmaskedClientFrame,
            closeCode: 1002
        ),
        Rejection(
            name: "§5.1 masked server frame",
            input: [0x82, 0x81] + key + [0],
            role: .client,
            error: .maskedServerFrame,
            closeCode: 1002
        ),
        Rejection(
            name: "§5.5 fragmented ping",
            input: [0x09, 0x80] + key,
            role: .server,
            error: .fragmentedControlFrame,
            closeCode: 1002
        ),
        Rejection(
            name: "§5.5 fragmented close",
            input: [0x08, 0x80] + key,
            role: .server,
            error: .fragmentedControlFrame,
            closeCode: 1002
        ),
        Rejection(
            name: "§5.5 126-byte ping",
            input: [0x89, 0xFE, 0x00, 0x7E] + key,
            role: .server,
            error: .oversizedControlFrame,
            closeCode: 1002
        ),
        Rejection(
            name: "§5.5 control frame with 64-bit length",
            input: [0x8A, 0xFF] + [UInt8](repeating: 0, count: 7) + [5] + key,
            role: .server,
            error: .oversizedControlFrame,
            closeCode: 1002
        ),
        Rejection(
            name: "§5.2 64-bit length with MSB set",
            input: [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0] + key,
            role: .server,
            error: .invalidLength,
            closeCode: 1002
        ),
        Rejection(
            name: "frame longer than maxPayloadLength, rejected at its header",
            input: [0x82, 0xFE, 0x01, 0x00] + key,
            role: .server,
            maxPayloadLength: 255,
            error: .frameTooLarge(256),
            closeCode: 1009
        ),
        Rejection(
            name: "64-bit length above the limit",
            input: [0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF] + key,
            role: .server,
            error: .frameTooLarge(UInt64(Int64.max)),
            closeCode: 1009
        ),
    ]

    @Test("Framing violations are rejected with their close code", arguments: rejections)
    func rejection(_ rejection: Rejection) {
        for chunkSize in [1, 2, 3, rejection.input.count] {
            #expect(throws: rejection.error, "chunk size \(chunkSize)") {
                _ = try dripFeedFrames(
                    rejection.input,
                    chunkSize: chunkSize,
                    role: rejection.role,
                    maxPayloadLength: rejection.maxPayloadLength
                )
            }
        }
        #expect(rejection.error.closeCode.rawValue == rejection.closeCode)
        #expect(!rejection.error.reason.isEmpty && rejection.error.reason.utf8.count <= 123)
    }

    @Test(
        "§5.2 reserved opcodes are rejected with 1002",
        arguments: [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] as [UInt8]
    )
    func reservedOpcode(opcode: UInt8) {
        #expect(throws: ProtocolError.unknownOpcode(opcode)) {
            _ = try dripFeedFrames([0x80 | opcode, 0x80] + Self.key, chunkSize: 1, role: .server)
        }
        #expect(ProtocolError.unknownOpcode(opcode).closeCode == .protocolError)
    }

    @Test("websockify's wire text for an unknown opcode is reproduced")
    func unknownOpcodeText() {
        #expect(ProtocolError.unknownOpcode(0x3).reason == "Unsupported: Unknown opcode 0x03")
        #expect(ProtocolError.unknownOpcode(0xB).reason == "Unsupported: Unknown opcode 0x0b")
    }

    @Test("The size limit fires before any payload arrives")
    func limitBeforePayload() {
        var input: [UInt8] = [0x82, 0xFE, 0x10, 0x00] + Self.key
        var decoder = FrameDecoder(role: .server, maxPayloadLength: 1000)
        _ = withSpan(&input) { span in
            #expect(throws: ProtocolError.frameTooLarge(4096)) { _ = try decoder.next(&span, in: 0..<8) }
        }
    }

    @Test("A violation is detected from the first two bytes, before the rest of the header")
    func earlyDetection() {
        var input: [UInt8] = [0xC2, 0x80]
        var decoder = FrameDecoder(role: .server, maxPayloadLength: 1000)
        _ = withSpan(&input) { span in
            #expect(throws: ProtocolError.reservedBitsSet) { _ = try decoder.next(&span, in: 0..<2) }
        }
    }

    @Test("After an error the decoder keeps throwing it")
    func failureIsSticky() {
        var input: [UInt8] = [0x82, 0x00] + maskedFrame(0x82, payload: [1])
        let count = input.count
        var decoder = FrameDecoder(role: .server, maxPayloadLength: 1000)
        withSpan(&input) { span in
            #expect(throws: ProtocolError.unmaskedClientFrame) { _ = try decoder.next(&span, in: 0..<2) }
            #expect(throws: ProtocolError.unmaskedClientFrame) { _ = try decoder.next(&span, in: 2..<count) }
        }
    }
}
