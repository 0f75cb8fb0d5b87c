// Key files that are not RSA public keys must be refused without reaching swift-crypto 3.12's RSA public-key
// parser, which frees its key twice on such input (found by the ASan pass); well-formed ones must still load.
import SockifyTargets
import Testing

@Suite("JWT key files (PEM)")
struct JWTKeyPEMTests {
    /// Whether `key` came out as an RSA key (a PEM that fails as a key falls back to jwcrypto's `oct` reading).
    static func isRSA(_ key: JWTKey?) -> Bool {
        if case .rsa? = key { return true }
        return false
    }

    @Test("an Ed25519 public key, a truncated RSA key and garbage in PEM armour are not RSA keys, and do not crash")
    func refused() {
        let ed25519 = """
            -----BEGIN PUBLIC KEY-----
            MCowBQYDK2VwAyEAF74qHFYezECy2ql2qMA0RW4OoqAKn9gSdiHI/Igij4E=
            -----END PUBLIC KEY-----
            """
        #expect(!Self.isRSA(JWTKey(fileContents: Array(ed25519.utf8))))
        let truncated = """
            -----BEGIN RSA PUBLIC KEY-----
            MIGJAoGBAKduiTqurSLbmuvsf9SQSefi5YkGm+il9c0cHE4QJZEsiX+QUrEIVR5n
            -----END RSA PUBLIC KEY-----
            """
        #expect(!Self.isRSA(JWTKey(fileContents: Array(truncated.utf8))))
        let garbage = "-----BEGIN PUBLIC KEY-----\nnot base64 at all!\n-----END PUBLIC KEY-----\n"
        #expect(!Self.isRSA(JWTKey(fileContents: Array(garbage.utf8))))
    }

    @Test("a PKCS#1 RSA public key (BEGIN RSA PUBLIC KEY) loads")
    func pkcs1() {
        let pem = """
            -----BEGIN RSA PUBLIC KEY-----
            MIIBCgKCAQEAwiR7I1tQmCQ/bRGdYAI2Nypg4+xkv3S4FBsUqtzIm+n/SaG3fuD7
            MIrJGdYJn3YSLe40zpP6lJs3s5MYVoCLWOCZpcneEq4qZ/aSM3k/eqneYszWjdQJ
            RG72fUe9BuY9C5DBqz5hATlGCdcwlzK/niE2gC7piv0R4BEbZKLJ6T93vZdD0vHN
            FwojlnkCgA34Av7eeTkLoaOn9cpV1UiUQVkVW8JRG6O0xirfcCMxD7dGPcFxOpO1
            mmGJRW72/xdeN/Xmjrn6vEu+On2QHpImIUSc9O7gWdlXi09BwMjBEYiAIMH3rUk6
            LtRFEHIF+phRL3Rd/TXS/GlsYQpr4RtQPQIDAQAB
            -----END RSA PUBLIC KEY-----
            """
        guard case .rsa? = JWTKey(fileContents: Array(pem.utf8)) else {
            Issue.record("PKCS#1 RSA public key did not load")
            return
        }
    }
}
