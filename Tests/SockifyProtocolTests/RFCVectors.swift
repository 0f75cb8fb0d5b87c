// Byte vectors quoted from RFC 6455 §5.7 and §1.3/§4.2.2, named after their section.

enum RFCVectors {
    /// §5.7: a single-frame unmasked text message containing "Hello".
    static let unmaskedHello = hex("81 05 48 65 6c 6c 6f")
    /// §5.7: a single-frame masked text message containing "Hello" (key 37 fa 21 3d).
    static let maskedHello = hex("81 85 37 fa 21 3d 7f 9f 4d 51 58")
    /// §5.7: a fragmented unmasked text message: "Hel" then "lo".
    static let fragmentedHello = hex("01 03 48 65 6c 80 02 6c 6f")
    /// §5.7: an unmasked Ping request with body "Hello".
    static let unmaskedPing = hex("89 05 48 65 6c 6c 6f")
    /// §5.7: a masked Pong response with body "Hello".
    static let maskedPong = hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58")
    /// §5.7: 256 bytes of binary data in a single unmasked frame (16-bit length).
    static let binary256Header = hex("82 7E 01 00")
    /// §5.7: 64 KiB of binary data in a single unmasked frame (64-bit length).
    static let binary65536Header = hex("82 7F 00 00 00 00 00 01 00 00")

    /// The masking key 37 fa 21 3d in FrameHeader's convention (wire bytes loaded little-endian).
    static let exampleKey: UInt32 = 0x3D21_FA37
    static let hello = Array("Hello".utf8)

    /// §1.3 and §4.2.2: the sample nonce and its Sec-WebSocket-Accept value.
    static let sampleKey = "dGhlIHNhbXBsZSBub25jZQ=="
    static let sampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
}
