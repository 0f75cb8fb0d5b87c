// SHA-1, only to check the server's Sec-WebSocket-Accept (RFC 6455 §4.1, §4.2.2). Not for security.
import Crypto

/// A one-shot SHA-1 digest from swift-crypto (the proxy uses the same library; no hand-written crypto).
enum SHA1 {
    /// The 20-byte digest of `message`.
    static func digest(_ message: some Collection<UInt8>) -> [UInt8] {
        Array(Insecure.SHA1.hash(data: Array(message)))
    }
}
