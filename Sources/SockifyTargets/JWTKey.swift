// The verification key of websockify's `JWTTokenApi` (`token_plugins.py:146-163`): the key file is tried as a PEM key
// first, and otherwise its text is the `k` value of a JWK `oct` key (base64url of the HMAC secret).
import Crypto
import _CryptoExtras

/// A key that verifies JWS signatures, read from a `JWTTokenApi` key file.
public enum JWTKey: Sendable {
    /// An HMAC secret (HS256/HS384/HS512).
    case hmac([UInt8])
    /// An RSA public key (RS256/RS384/RS512, PS256/PS384/PS512).
    case rsa(_RSA.Signing.PublicKey)
    /// A P-256 public key (ES256), as ANSI X9.63 bytes (swift-crypto's EC keys are not `Sendable`).
    case p256(x963: [UInt8])
    /// A P-384 public key (ES384), as ANSI X9.63 bytes.
    case p384(x963: [UInt8])
    /// A P-521 public key (ES512), as ANSI X9.63 bytes.
    case p521(x963: [UInt8])

    /// Reads a key file the way websockify (jwcrypto 1.6) does.
    ///
    /// 1. A PEM private or public key, RSA (1024 bits or more) or EC (P-256, P-384, P-521), PKCS#8, SEC 1,
    ///    SPKI or PKCS#1; a private key stands for its public key.
    /// 2. Otherwise, the content as UTF-8 text is the base64url `k` of an `oct` key, decoded as jwcrypto decodes it
    ///    (``Base64URL/decodeLeniently(_:)``): the HMAC secret is the *decoded* bytes, not the file's bytes.
    ///    Mind the trailing newline of `echo`: `c2VjcmV0\n` is 9 scalars, which jwcrypto (and so Sockify)
    ///    rejects.
    /// 3. Sockify extension: a JWK JSON object `{"kty": "oct", "k": "<base64url>"}` is read as that JWK.
    ///    websockify would take the JSON text itself as `k`, which gives a useless key or none.
    ///
    /// Not supported: X.509 certificates, encrypted PEM, Ed25519/Ed448, secp256k1.
    ///
    /// - Parameter contents: the file's bytes.
    /// - Returns: the key, or `nil` where websockify logs `Failed to correctly parse key data!`.
    public init?(fileContents contents: [UInt8]) {
        let text = String(decoding: contents, as: UTF8.self)
        if text.contains("-----BEGIN"), let key = Self.pem(text) {
            self = key
            return
        }
        guard let utf8 = String(validating: contents, as: UTF8.self) else { return nil }
        if utf8.unicodeScalars.first == "{", let document = try? JSONValue.parse(utf8),
            case .string("oct")? = document["kty"], case .string(let k)? = document["k"],
            let secret = try? Base64URL.decodeLeniently(k)
        {
            self = .hmac(secret)
            return
        }
        guard let secret = try? Base64URL.decodeLeniently(utf8) else { return nil }
        self = .hmac(secret)
    }

    private static func pem(_ text: String) -> JWTKey? {
        if let key = try? P256.Signing.PublicKey(pemRepresentation: text) {
            return .p256(x963: Array(key.x963Representation))
        }
        if let key = try? P256.Signing.PrivateKey(pemRepresentation: text) {
            return .p256(x963: Array(key.publicKey.x963Representation))
        }
        if let key = try? P384.Signing.PublicKey(pemRepresentation: text) {
            return .p384(x963: Array(key.x963Representation))
        }
        if let key = try? P384.Signing.PrivateKey(pemRepresentation: text) {
            return .p384(x963: Array(key.publicKey.x963Representation))
        }
        if let key = try? P521.Signing.PublicKey(pemRepresentation: text) {
            return .p521(x963: Array(key.x963Representation))
        }
        if let key = try? P521.Signing.PrivateKey(pemRepresentation: text) {
            return .p521(x963: Array(key.publicKey.x963Representation))
        }
        // RSA public keys are decoded here, not by `_RSA.Signing.PublicKey(pemRepresentation:)`: in swift-crypto
        // 3.12 that initializer frees its key twice when the input is not an RSA public key (seen by ASan), so it
        // only ever gets a modulus and exponent that are already known to be well-formed.
        if let (modulus, exponent) = RSAPublicKeyDER.components(pem: text),
            let key = try? _RSA.Signing.PublicKey(n: modulus, e: exponent)
        {
            return .rsa(key)
        }
        if text.contains("PRIVATE KEY-----"), let key = try? _RSA.Signing.PrivateKey(unsafePEMRepresentation: text) {
            return .rsa(key.publicKey)
        }
        return nil
    }

    /// Whether `signature` is valid for `input` under `algorithm` with this key. A key of the wrong type for the
    /// algorithm, an HMAC secret shorter than the hash (RFC 7518 §3.2, enforced by jwcrypto) or a malformed
    /// signature is simply invalid, as in jwcrypto.
    func isValid(signature: [UInt8], for input: [UInt8], algorithm: JWTAlgorithm) -> Bool {
        switch (self, algorithm) {
        case (.hmac(let secret), .hs256):
            return secret.count >= 32
                && HMAC<SHA256>.isValidAuthenticationCode(
                    signature, authenticating: input, using: SymmetricKey(data: secret))
        case (.hmac(let secret), .hs384):
            return secret.count >= 48
                && HMAC<SHA384>.isValidAuthenticationCode(
                    signature, authenticating: input, using: SymmetricKey(data: secret))
        case (.hmac(let secret), .hs512):
            return secret.count >= 64
                && HMAC<SHA512>.isValidAuthenticationCode(
                    signature, authenticating: input, using: SymmetricKey(data: secret))
        case (.rsa(let key), .rs256), (.rsa(let key), .ps256):
            return rsa(key, signature, SHA256.hash(data: input), algorithm)
        case (.rsa(let key), .rs384), (.rsa(let key), .ps384):
            return rsa(key, signature, SHA384.hash(data: input), algorithm)
        case (.rsa(let key), .rs512), (.rsa(let key), .ps512):
            return rsa(key, signature, SHA512.hash(data: input), algorithm)
        case (.p256(let x963), .es256):
            guard let key = try? P256.Signing.PublicKey(x963Representation: x963),
                let raw = try? P256.Signing.ECDSASignature(rawRepresentation: signature)
            else { return false }
            return key.isValidSignature(raw, for: SHA256.hash(data: input))
        case (.p384(let x963), .es384):
            guard let key = try? P384.Signing.PublicKey(x963Representation: x963),
                let raw = try? P384.Signing.ECDSASignature(rawRepresentation: signature)
            else { return false }
            return key.isValidSignature(raw, for: SHA384.hash(data: input))
        case (.p521(let x963), .es512):
            guard let key = try? P521.Signing.PublicKey(x963Representation: x963),
                let raw = try? P521.Signing.ECDSASignature(rawRepresentation: signature)
            else { return false }
            return key.isValidSignature(raw, for: SHA512.hash(data: input))
        default:
            return false
        }
    }

    private func rsa(
        _ key: _RSA.Signing.PublicKey, _ signature: [UInt8], _ digest: some Digest, _ algorithm: JWTAlgorithm
    ) -> Bool {
        let padding: _RSA.Signing.Padding =
            switch algorithm {
            case .ps256, .ps384, .ps512: .PSS
            default: .insecurePKCS1v1_5
            }
        return key.isValidSignature(
            _RSA.Signing.RSASignature(rawRepresentation: signature), for: digest, padding: padding)
    }
}

/// The JWS algorithms (RFC 7518 §3.1) Sockify verifies.
public enum JWTAlgorithm: String, CaseIterable, Sendable {
    case hs256 = "HS256"
    case hs384 = "HS384"
    case hs512 = "HS512"
    case rs256 = "RS256"
    case rs384 = "RS384"
    case rs512 = "RS512"
    case ps256 = "PS256"
    case ps384 = "PS384"
    case ps512 = "PS512"
    case es256 = "ES256"
    case es384 = "ES384"
    case es512 = "ES512"

    /// jwcrypto's `default_allowed_algs`; any other `alg`, `none` included, is "Algorithm not allowed".
    static let allowedByJWCrypto: Set<String> = [
        "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512",
        "EdDSA", "ES256K", "Ed25519", "Ed448", "ML-DSA-44", "ML-DSA-65", "ML-DSA-87",
    ]
}
