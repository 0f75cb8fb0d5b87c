// base64url as jwcrypto 1.6 decodes it (`jwcrypto.common.base64url_decode`): pad to a multiple of four, then
// Python's lenient `base64.urlsafe_b64decode`, which skips characters outside the alphabet. JWTTokenApi decodes
// both the token's segments and an `oct` key file this way, so Sockify must accept exactly the same inputs.

/// Base64url encoding (RFC 4648 §5) and jwcrypto's lenient decoding.
public enum Base64URL {
    /// Why decoding failed, in Python's words.
    public struct DecodingError: Error, Hashable, Sendable, CustomStringConvertible {
        /// `Invalid base64 string` (jwcrypto) or binascii's `Incorrect padding` / data-character message.
        public var message: String

        public init(message: String) {
            self.message = message
        }

        public var description: String { message }
    }

    /// Decodes like `jwcrypto.common.base64url_decode` (Python 3.11 `binascii.a2b_base64`, non-strict).
    ///
    /// - A length of 1 modulo 4 is `Invalid base64 string`; otherwise `=` padding is appended.
    /// - `-`/`+` and `_`/`/` are equivalent (Python maps the URL-safe alphabet onto the standard one);
    ///   other characters outside the alphabet and `=` are skipped.
    /// - A `=` after at least two data characters of a quantum ends the data once the quantum is complete.
    /// - Leftover data characters are `Incorrect padding` (or the "1 more than a multiple of 4" message).
    ///
    /// - Parameter text: the encoded text.
    /// - Returns: the bytes.
    public static func decodeLeniently(_ text: some StringProtocol) throws(DecodingError) -> [UInt8] {
        var input = Array(text.utf8)
        switch text.unicodeScalars.count % 4 {
        case 1: throw DecodingError(message: "Invalid base64 string")
        case 2: input += [0x3D, 0x3D]
        case 3: input.append(0x3D)
        default: break
        }
        var output: [UInt8] = []
        output.reserveCapacity(input.count / 4 * 3)
        var quadPosition = 0
        var pads = 0
        var leftover: UInt8 = 0
        var dataCount = 0
        for byte in input {
            if byte == 0x3D {
                if quadPosition >= 2 {
                    pads += 1
                    if quadPosition + pads >= 4 { return output }
                }
                continue
            }
            guard let value = sextet(byte) else { continue }
            pads = 0
            dataCount += 1
            switch quadPosition {
            case 0:
                leftover = value
                quadPosition = 1
            case 1:
                output.append(leftover << 2 | value >> 4)
                leftover = value & 0x0F
                quadPosition = 2
            case 2:
                output.append(leftover << 4 | value >> 2)
                leftover = value & 0x03
                quadPosition = 3
            default:
                output.append(leftover << 6 | value)
                quadPosition = 0
            }
        }
        if quadPosition == 1 {
            throw DecodingError(
                message: "Invalid base64-encoded string: number of data characters (\(dataCount)) "
                    + "cannot be 1 more than a multiple of 4")
        }
        if quadPosition != 0 { throw DecodingError(message: "Incorrect padding") }
        return output
    }

    /// Encodes without padding (RFC 7515 §2 `BASE64URL`).
    ///
    /// - Parameter bytes: the bytes.
    /// - Returns: the base64url text, no `=`.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var result: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = buffer << 8 | UInt32(byte)
            bits += 8
            while bits >= 6 {
                bits -= 6
                result.append(alphabet[Int(buffer >> UInt32(bits) & 0x3F)])
            }
        }
        if bits > 0 { result.append(alphabet[Int(buffer << UInt32(6 - bits) & 0x3F)]) }
        return String(decoding: result, as: UTF8.self)
    }

    private static func sextet(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x41...0x5A: byte - 0x41
        case 0x61...0x7A: byte - 0x61 + 26
        case 0x30...0x39: byte - 0x30 + 52
        case UInt8(ascii: "-"), UInt8(ascii: "+"): 62
        case UInt8(ascii: "_"), UInt8(ascii: "/"): 63
        default: nil
        }
    }
}
