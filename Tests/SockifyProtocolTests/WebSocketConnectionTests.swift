// WebSocketConnection: fragmentation (§5.4), control frames (§5.5), closing handshake (§7) and message rejections.
import SockifyProtocol
import Testing

@Suite("WebSocketConnection")
struct WebSocketConnectionTests {
    static let reason = Array("bye".utf8)
    /// binary "ab" (not final), ping "p", continuation "cd" (not final), pong "", continuation "e" (final),
    /// then Close 1000 "bye".
    static let conversation =
        maskedFrame(0x02, payload: Array("ab".utf8)) + maskedFrame(0x89, payload: Array("p".utf8))
        + maskedFrame(0x00, payload: Array("cd".utf8)) + maskedFrame(0x8A, payload: [])
        + maskedFrame(0x80, payload: Array("e".utf8)) + maskedFrame(0x88, payload: [0x03, 0xE8] + reason)

    @Test("§5.4 control frames interleave with a fragmented binary message, at every chunk size", arguments: 1...47)
    func interleavedControlFrames(chunkSize: Int) throws {
        var connection = WebSocketConnection(maxPayloadLength: 1000)
        let outputs = try dripFeedConnection(Self.conversation, chunkSize: chunkSize, connection: &connection)
        #expect(
            outputs == [
                .data(Array("ab".utf8)), .ping(Array("p".utf8)), .data(Array("cd".utf8)), .pong([]),
                .data(Array("e".utf8)), .close(.normalClosure, reason: Self.reason),
            ]
        )
        #expect(connection.state == .closeReceived)
    }

    @Test("The conversation is exactly 47 bytes long, so the chunk sizes above cover every split")
    func conversationLength() { #expect(Self.conversation.count == 47) }

    @Test("§5.7 masked \"Hello\" as binary reaches the target as one data range")
    func binaryHello() throws {
        var connection = WebSocketConnection(maxPayloadLength: 1000)
        var input = maskedFrame(0x82, payload: RFCVectors.hello)
        let step = try withSpan(&input) { try connection.next(&$0, in: 0..<11) }
        #expect(step?.event == .data(6..<11))
        #expect(step?.consumed == 11)
        #expect(Array(input[6...]) == RFCVectors.hello)
    }

    @Test("An empty binary frame produces no event")
    func emptyBinaryFrame() throws {
        var connection = WebSocketConnection(maxPayloadLength: 1000)
        var input = maskedFrame(0x82, payload: [])
        #expect(try withSpan(&input) { try connection.next(&$0, in: 0..<6) } == nil)
        let outputs = try dripFeedConnection(
            maskedFrame(0x82, payload: []) + maskedFrame(0x82, payload: [9]),
            chunkSize: 1,
            connection: &connection
        )
        #expect(outputs == [.data([9])])
    }

    @Test("Ping payload is readable until the next call; pong is answered by the caller")
    func pingPayload() throws {
        var connection = WebSocketConnection(maxPayloadLength: 1000)
        var input = RFCVectors.maskedPong
        input[0] = 0x89
        let step = try withSpan(&input) { try connection.next(&$0, in: 0..<11) }
        #expect(step?.event == .ping)
        #expect(connection.withControlPayload { Array($0) } == RFCVectors.hello)
    }

    @Test("A 125-byte ping is accepted in full")
    func maximalPing() throws {
        var connection = WebSocketConnection(maxPayloadLength: 10)
        let payload = [UInt8](repeating: 0xAB, count: 125)
        let outputs = try dripFeedConnection(
            maskedFrame(0x89, payload: payload),
            chunkSize: 13,
            connection: &connection
        )
        #expect(outputs == [.ping(payload)])
    }

    @Test("An empty Close is reported as nil (1005) and leaves no reason")
    func emptyClose() throws {
        var connection = WebSocketConnection(maxPayloadLength: 1000)
        let outputs = try dripFeedConnection(maskedFrame(0x88, payload: []), chunkSize: 2, connection: &connection)
        #expect(outputs == [.close(nil, reason: [])])
    }

    @Test(
        "§7.4 valid close codes are accepted",
        arguments: [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999]
            as [UInt16]
    )
    func validCloseCode(code: UInt16) throws {
        var connection = WebSocketConnection(maxPayloadLength: 1000)
        let outputs = try dripFeedConnection(
            maskedFrame(0x88, payload: [UInt8(code >> 8), UInt8(code & 0xFF)]),
            chunkSize: 3,
            connection: &connection
        )
        #expect(outputs == [.close(CloseCode(rawValue: code), reason: [])])
    }

    @Test(
        "§7.4 invalid close codes are rejected with 1002",
        arguments: [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535] as [UInt16]
    )
    func invalidCloseCode(code: UInt16) {
        var connection = WebSocketConnection(maxPayloadLength: 1000)
        #expect(throws: ProtocolError.invalidCloseCode(code)) {
            _ = try dripFeedConnection(
                maskedFrame(0x88, payload: [UInt8(code >> 8), UInt8(code & 0xFF)]),
                chunkSize: 1,
                connection: &connection
            )
        }
        #expect(ProtocolError.invalidCloseCode(code).closeCode == .protocolError)
        #expect(!CloseCode(rawValue: code).isValidInCloseFrame)
    }

    @Test("Valid UTF-8 reasons (multi-byte, 4-byte) are accepted")
    func validUTF8Reason() throws {
        var connection = WebSocketConnection(maxPayloadLength: 1000)
        let reason = Array("fin ✓ 🎉".utf8)
        let outputs = try dripFeedConnection(
            maskedFrame(0x88, payload: [0x0F, 0xA0] + reason),
            chunkSize: 1,
            connection: &connection
        )
        #expect(outputs == [.close(CloseCode(rawValue: 4000), reason: reason)])
    }

    struct Rejection: Sendable, CustomTestStringConvertible {
        var name: String
        var input: [UInt8]
        var error: ProtocolError
        var closeCode: UInt16
        var testDescription: String { name }
    }

    static let rejections: [Rejection] = [
        Rejection(name: "text frame", input: RFCVectors.maskedHello, error: .textFrame, closeCode: 1003),
        Rejection(
            name: "§5.4 continuation with no message open",
            input: maskedFrame(0x80, payload: [1]),
            error: .unexpectedContinuation,
            closeCode: 1002
        ),
        Rejection(
            name: "§5.4 continuation after a complete message",
            input: maskedFrame(0x82, payload: [1]) + maskedFrame(0x80, payload: [2]),
            error: .unexpectedContinuation,
            closeCode: 1002
        ),
        Rejection(
            name: "§5.4 new binary frame inside a fragmented message",
            input: maskedFrame(0x02, payload: [1]) + maskedFrame(0x82, payload: [2]),
            error: .unexpectedNewFrame,
            closeCode: 1002
        ),
        Rejection(
            name: "§5.4 text frame inside a fragmented message",
            input: maskedFrame(0x02, payload: [1]) + maskedFrame(0x81, payload: [2]),
            error: .textFrame,
            closeCode: 1003
        ),
        Rejection(
            name: "§5.5.1 1-byte close payload",
            input: maskedFrame(0x88, payload: [3]),
            error: .invalidClosePayload,
            closeCode: 1002
        ),
        Rejection(
            name: "§5.5.1 invalid UTF-8 close reason",
            input: maskedFrame(0x88, payload: [0x03, 0xE8, 0xC3, 0x28]),
            error: .invalidUTF8InClose,
            closeCode: 1007
        ),
        Rejection(
            name: "§5.5.1 overlong UTF-8 in close reason",
            input: maskedFrame(0x88, payload: [0x03, 0xE8, 0xC0, 0xAF]),
            error: .invalidUTF8InClose,
            closeCode: 1007
        ),
        Rejection(
            name: "§5.5.1 UTF-16 surrogate in close reason",
            input: maskedFrame(0x88, payload: [0x03, 0xE8, 0xED, 0xA0, 0x80]),
            error: .invalidUTF8InClose,
            closeCode: 1007
        ),
        Rejection(
            name: "§5.5.1 truncated UTF-8 in close reason",
            input: maskedFrame(0x88, payload: [0x03, 0xE8, 0xE2, 0x9C]),
            error: .invalidUTF8InClose,
            closeCode: 1007
        ),
        Rejection(
            name: "frame above the limit",
            input: maskedFrame(0x82, payload: [UInt8](repeating: 0, count: 1001)),
            error: .frameTooLarge(1001),
            closeCode: 1009
        ),
        Rejection(name: "§5.1 unmasked frame", input: [0x82, 0x00], error: .unmaskedClientFrame, closeCode: 1002),
    ]

    @Test("Message-level violations are rejected with their close code", arguments: rejections)
    func rejection(_ rejection: Rejection) {
        for chunkSize in [1, 2, 5, rejection.input.count] {
            var connection = WebSocketConnection(maxPayloadLength: 1000)
            #expect(throws: rejection.error, "chunk size \(chunkSize)") {
                _ = try dripFeedConnection(rejection.input, chunkSize: chunkSize, connection: &connection)
            }
        }
        #expect(rejection.error.closeCode.rawValue == rejection.closeCode)
    }

    @Test("websockify's close reason texts are reproduced")
    func websockifyTexts() {
        #expect(ProtocolError.unmaskedClientFrame.reason == "Procotol error: Frame not masked")
        #expect(ProtocolError.textFrame.reason == "Unsupported: Text frames are not supported")
        #expect(ProtocolError.unexpectedContinuation.reason == "Procotol error: Unexpected continuation frame")
        #expect(ProtocolError.unexpectedNewFrame.reason == "Procotol error: Unexpected new frame")
        #expect(ProtocolError.invalidUTF8InClose.reason == "Procotol error: Invalid UTF-8 in close")
    }

    @Test("After an error every call rethrows it")
    func failureIsSticky() {
        var connection = WebSocketConnection(maxPayloadLength: 1000)
        var input = RFCVectors.maskedHello
        withSpan(&input) { span in
            #expect(throws: ProtocolError.textFrame) { _ = try connection.next(&span, in: 0..<11) }
            #expect(throws: ProtocolError.textFrame) { _ = try connection.next(&span, in: 11..<11) }
        }
    }

    @Test("§7.1 closing handshake: peer first, then our reply")
    func peerClosesFirst() throws {
        var connection = WebSocketConnection(maxPayloadLength: 1000)
        #expect(connection.state == .open)
        _ = try dripFeedConnection(maskedFrame(0x88, payload: []), chunkSize: 6, connection: &connection)
        #expect(connection.state == .closeReceived)
        connection.didSendClose()
        #expect(connection.state == .closed)
    }

    @Test("§7.1 closing handshake: we close first; data still flows until the peer's Close")
    func weCloseFirst() throws {
        var connection = WebSocketConnection(maxPayloadLength: 1000)
        connection.didSendClose()
        #expect(connection.state == .closeSent)
        let outputs = try dripFeedConnection(
            maskedFrame(0x82, payload: [1]) + maskedFrame(0x88, payload: [0x03, 0xE9]),
            chunkSize: 4,
            connection: &connection
        )
        #expect(outputs == [.data([1]), .close(.goingAway, reason: [])])
        #expect(connection.state == .closed)
        connection.didSendClose()
        #expect(connection.state == .closed)
    }

    @Test("Bytes after the peer's Close are discarded")
    func bytesAfterClose() throws {
        var connection = WebSocketConnection(maxPayloadLength: 1000)
        let outputs = try dripFeedConnection(
            maskedFrame(0x88, payload: []) + maskedFrame(0x82, payload: [1]) + [0xFF, 0xFF],
            chunkSize: 100,
            connection: &connection
        )
        #expect(outputs == [.close(nil, reason: [])])
    }

    @Test("Client role accepts unmasked server frames")
    func clientRole() throws {
        var connection = WebSocketConnection(role: .client, maxPayloadLength: 1000)
        let outputs = try dripFeedConnection(
            RFCVectors.binary256Header + [UInt8](repeating: 5, count: 256) + RFCVectors.unmaskedPing,
            chunkSize: 7,
            connection: &connection
        )
        #expect(outputs == [.data([UInt8](repeating: 5, count: 256)), .ping(RFCVectors.hello)])
    }

    @Test("Event stays small (≤ 24 bytes) so returning it is cheap")
    func eventSize() {
        #expect(MemoryLayout<WebSocketConnection.Event>.size <= 24)
        #expect(MemoryLayout<FrameDecoder.Event>.size <= 24)
    }
}
