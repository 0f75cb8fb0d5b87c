// JWTTokenApi: tokens signed here with swift-crypto, two signed by jwcrypto 1.6 (PS256, ES256), and RFC 7515
// Appendix A.1. Expected log texts are what websockify 0.13.0 + jwcrypto 1.6.1 log for the same tokens.
import Crypto
import SockifyTargets
import Synchronization
import Testing
import _CryptoExtras

/// A fixed clock: 2026-01-01T00:00:00Z.
private let now = 1_767_225_600.0

private func json(_ text: String) -> String { Base64URL.encode(Array(text.utf8)) }

/// `header.payload` and its signature with `sign`.
private func token(_ header: String, _ claims: String, sign: ([UInt8]) throws -> [UInt8]) rethrows -> String {
    let input = json(header) + "." + json(claims)
    return input + "." + Base64URL.encode(try sign(Array(input.utf8)))
}

private let secret = Array("0123456789abcdef0123456789abcdef".utf8)
private let secretFile = Base64URL.encode(secret)  // websockify: the file holds the base64url `k`

private func hs256(_ claims: String, header: String = #"{"alg":"HS256"}"#) -> String {
    token(header, claims) { Array(HMAC<SHA256>.authenticationCode(for: $0, using: SymmetricKey(data: secret))) }
}

/// A plugin over a key file in a fresh directory, with its log.
private struct Fixture {
    let directory = TemporaryDirectory()
    let sink = MessageSink()
    let plugin: JWTTokenAPI
    let keyPath: String

    init(key: String, clock: @escaping @Sendable () -> Double = { now }) {
        keyPath = directory.write("key", key)
        plugin = JWTTokenAPI(keyPath: keyPath, files: .system, now: clock, log: sink.log)
    }

    /// The plugin's answer; keeps the key file alive until the lookup is done.
    func lookup(_ token: String) throws(TokenLookupError) -> TargetAddress? {
        try withExtendedLifetime(directory) { () throws(TokenLookupError) in try plugin.lookup(token) }
    }

    /// Checks that the lookup answers "not found" after logging exactly `text` at `level`.
    func declined(_ token: String, _ level: TokenPluginMessage.Level = .error, _ text: String) throws {
        let before = sink.messages.count
        #expect(try lookup(token) == nil)
        #expect(Array(sink.messages.dropFirst(before)) == [TokenPluginMessage(level, text)])
    }
}

private func verificationFailed(_ entry: String) -> String {
    "Failed to parse token: Verification failed for all signatures" + entry
}

@Suite("JWTTokenAPI")
struct JWTTokenAPITests {
    @Test("HS256 with the key file holding base64url(k), as websockify reads it")
    func hmacValid() throws {
        let fixture = Fixture(key: secretFile)
        #expect(try fixture.lookup(hs256(#"{"host":"h","port":5900}"#)) == .tcp(host: "h", port: 5900))
        #expect(try fixture.lookup(hs256(#"{"host":"h","port":"5901"}"#)) == .tcp(host: "h", port: 5901))
        #expect(
            try fixture.lookup(hs256(#"{"host":"unix_socket","port":"/run/s"}"#)) == .unixSocket(path: "/run/s"))
        #expect(fixture.sink.messages.isEmpty)
    }

    @Test("HS384 and HS512, and a JWK JSON key file (Sockify extension)")
    func hmacVariants() throws {
        let long = secret + secret
        let fixture = Fixture(key: #"{"kty":"oct","k":""# + Base64URL.encode(long) + #""}"#)
        let t384 = token(#"{"alg":"HS384"}"#, #"{"host":"a","port":1}"#) {
            Array(HMAC<SHA384>.authenticationCode(for: $0, using: SymmetricKey(data: long)))
        }
        let t512 = token(#"{"alg":"HS512"}"#, #"{"host":"b","port":2}"#) {
            Array(HMAC<SHA512>.authenticationCode(for: $0, using: SymmetricKey(data: long)))
        }
        #expect(try fixture.lookup(t384) == .tcp(host: "a", port: 1))
        #expect(try fixture.lookup(t512) == .tcp(host: "b", port: 2))
    }

    @Test("RFC 7515 Appendix A.1: the HS256 example verifies (and lacks host, as websockify reports)")
    func rfc7515() throws {
        let key = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
        let example =
            "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
            + ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
            + ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        let fixture = Fixture(key: key) { 1_300_819_370 }
        try fixture.declined(example, .error, "Failed to parse token: 'host'")
        // Flip the signature's first character (its last one carries two discarded bits, so jwcrypto would
        // accept a change there).
        let parts = example.split(separator: ".").map(String.init)
        let tampered = parts[0] + "." + parts[1] + "." + (parts[2].hasPrefix("d") ? "e" : "d") + parts[2].dropFirst()
        try fixture.declined(
            tampered, .error, verificationFailed(#"["Failed: [InvalidJWSSignature('Verification failed')]"]"#))
    }

    @Test("time claims: websockify's own check (no leeway) and jwcrypto's (60 s leeway)")
    func timeClaims() throws {
        let fixture = Fixture(key: secretFile)
        let base = #""host":"h","port":1"#
        #expect(try fixture.lookup(hs256("{\(base),\"exp\":\(Int(now) + 10),\"nbf\":\(Int(now) - 10)}")) != nil)
        try fixture.declined(hs256("{\(base),\"exp\":\(Int(now) - 30)}"), .warning, "Token has expired!")
        try fixture.declined(hs256("{\(base),\"nbf\":\(Int(now) + 30)}"), .warning, "Token can not be used yet!")
        try fixture.declined(
            hs256("{\(base),\"exp\":\(Int(now) - 100)}"), .error,
            "Failed to parse token: Expired at \(Int(now) - 100), time: \(Int(now))(leeway: 60)")
        try fixture.declined(
            hs256("{\(base),\"nbf\":\(Int(now) + 100)}"), .error,
            "Failed to parse token: Valid from \(Int(now) + 100), time: \(Int(now))(leeway: 60)")
        try fixture.declined(
            hs256("{\(base),\"exp\":\"abc\"}"), .error, "Failed to parse token: Claim exp is not an integer")
        try fixture.declined(
            hs256("{\(base),\"exp\":\"123\"}"), .error,
            "Failed to parse token: '<' not supported between instances of 'str' and 'float'")
        try fixture.declined(
            hs256("{\(base),\"exp\":null}"), .error,
            "Failed to parse token: '<' not supported between instances of 'NoneType' and 'float'")
        try fixture.declined(
            hs256("{\(base),\"exp\":1e999}"), .error, "Failed to parse token: cannot convert float infinity to integer")
        try fixture.declined(
            hs256("{\(base),\"exp\":[1]}"), .error,
            "Failed to parse token: int() argument must be a string, a bytes-like object or a real number, not 'list'")
        try fixture.declined(
            hs256("{\(base),\"iss\":5}"), .error, "Failed to parse token: Claim iss is not a StringOrURI type")
        try fixture.declined(
            hs256("{\(base),\"aud\":5}"), .error, "Failed to parse token: Claim aud is not a StringOrURI type")
    }

    @Test("malformed, tampered and unacceptable tokens are declined with jwcrypto's words")
    func rejected() throws {
        let fixture = Fixture(key: secretFile)
        let valid = hs256(#"{"host":"h","port":1}"#)
        let parts = valid.split(separator: ".").map(String.init)
        try fixture.declined("abc", .error, "Failed to parse token: Token format unrecognized")
        try fixture.declined("a.b.c", .error, "Failed to parse token: Invalid JWS Object [Invalid format]")
        try fixture.declined(
            json("xx") + "." + parts[1] + ".", .error, "Failed to parse token: Invalid JWS Object [Invalid format]")
        try fixture.declined(
            json("[1]") + "." + parts[1] + ".", .error, "Failed to parse token: Invalid JWS Object [Invalid format]")
        try fixture.declined(
            "a.b.c.d.e", .error, "Failed to parse token: encrypted tokens (JWE) are not supported")
        let tamperedPayload = parts[0] + "." + json(#"{"host":"evil","port":1}"#) + "." + parts[2]
        try fixture.declined(
            tamperedPayload, .error, verificationFailed(#"["Failed: [InvalidJWSSignature('Verification failed')]"]"#))
        for alg in ["none", "XYZ"] {
            try fixture.declined(
                json(#"{"alg":""# + alg + #""}"#) + "." + parts[1] + ".", .error,
                verificationFailed(#"["Failed: [InvalidJWSOperation('Algorithm not allowed')]"]"#))
        }
        try fixture.declined(
            json(#"{"alg":5}"#) + "." + parts[1] + ".", .error,
            verificationFailed(#"["Failed: [InvalidJWSOperation('Algorithm not allowed')]"]"#))
        try fixture.declined(
            json("{}") + "." + parts[1] + ".", .error,
            verificationFailed(#"['Failed: [InvalidJWSSignature(\'No "alg" in headers\')]']"#))
        try fixture.declined(
            hs256(#"{"host":"h","port":1}"#, header: #"{"alg":"HS256","crit":["foo"]}"#), .error,
            verificationFailed(
                #"['Failed: [InvalidJWSObject(\'Invalid JWS Object [Unknown critical header: "foo"]\')]']"#))
        try fixture.declined(
            hs256(#"{"host":"h","port":1}"#, header: #"{"alg":"HS256","crit":["kid"]}"#), .error,
            verificationFailed(
                #"['Failed: [InvalidJWSObject(\'Invalid JWS Object [Missing critical header "kid"]\')]']"#))
        try fixture.declined(
            hs256(#"{"host":"h","port":1}"#, header: #"{"alg":"HS256","enc":"A128GCM"}"#), .error,
            "Failed to parse token: encrypted tokens (JWE) are not supported")
        // A valid HS256 signature presented as HS512 (algorithm substitution).
        try fixture.declined(
            json(#"{"alg":"HS512"}"#) + "." + parts[1] + "." + parts[2], .error,
            verificationFailed(#"["Failed: [InvalidJWSSignature('Verification failed')]"]"#))
    }

    @Test("claims that are not an object, or lack host/port")
    func claimShapes() throws {
        let fixture = Fixture(key: secretFile)
        try fixture.declined(hs256(#"{"port":1}"#), .error, "Failed to parse token: 'host'")
        try fixture.declined(hs256(#"{"host":"h"}"#), .error, "Failed to parse token: 'port'")
        try fixture.declined(
            hs256(#""abc""#), .error, "Failed to parse token: string indices must be integers, not 'str'")
        try fixture.declined(hs256("5"), .error, "Failed to parse token: argument of type 'int' is not iterable")
        try fixture.declined(
            hs256("null"), .error, "Failed to parse token: argument of type 'NoneType' is not iterable")
        try fixture.declined(
            hs256("[1,2]"), .error, "Failed to parse token: list indices must be integers or slices, not str")
        try fixture.declined(
            hs256("notjson"), .error, "Failed to parse token: Expecting value: line 1 column 1 (char 0)")
        #expect(throws: TokenLookupError.unresolvableTarget(host: "h", port: "vnc")) {
            try fixture.lookup(hs256(#"{"host":"h","port":"vnc"}"#))
        }
    }

    @Test("RS256/RS384/RS512 and PS256 with a PEM public or private key; wrong key and wrong type fail")
    func rsa() throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let other = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let claims = #"{"host":"r","port":5}"#
        func signed(_ alg: String, _ signer: _RSA.Signing.PrivateKey, _ padding: _RSA.Signing.Padding) throws -> String
        {
            try token(#"{"alg":""# + alg + #""}"#, claims) { input in
                let signature: _RSA.Signing.RSASignature =
                    switch alg.suffix(3) {
                    case "384": try signer.signature(for: SHA384.hash(data: input), padding: padding)
                    case "512": try signer.signature(for: SHA512.hash(data: input), padding: padding)
                    default: try signer.signature(for: SHA256.hash(data: input), padding: padding)
                    }
                return Array(signature.rawRepresentation)
            }
        }
        for pem in [key.publicKey.pemRepresentation, key.pemRepresentation] {
            let fixture = Fixture(key: pem)
            for alg in ["RS256", "RS384", "RS512"] {
                #expect(try fixture.lookup(signed(alg, key, .insecurePKCS1v1_5)) == .tcp(host: "r", port: 5))
            }
            #expect(try fixture.lookup(signed("PS256", key, .PSS)) == .tcp(host: "r", port: 5))
            try fixture.declined(
                signed("RS256", other, .insecurePKCS1v1_5), .error,
                verificationFailed(#"["Failed: [InvalidJWSSignature('Verification failed')]"]"#))
            try fixture.declined(
                hs256(claims), .error, verificationFailed(#"["Failed: [InvalidJWSSignature('Verification failed')]"]"#))
        }
        // An HMAC key file cannot verify RS256.
        try Fixture(key: secretFile).declined(
            signed("RS256", key, .insecurePKCS1v1_5), .error,
            verificationFailed(#"["Failed: [InvalidJWSSignature('Verification failed')]"]"#))
    }

    @Test("ES256 and ES384: raw r||s signatures; curve and algorithm must match")
    func ecdsa() throws {
        let p256 = P256.Signing.PrivateKey()
        let p384 = P384.Signing.PrivateKey()
        let claims = #"{"host":"e","port":6}"#
        let es256 = try token(#"{"alg":"ES256"}"#, claims) { Array(try p256.signature(for: $0).rawRepresentation) }
        let es384 = try token(#"{"alg":"ES384"}"#, claims) { Array(try p384.signature(for: $0).rawRepresentation) }
        let fixture256 = Fixture(key: p256.publicKey.pemRepresentation)
        #expect(try fixture256.lookup(es256) == .tcp(host: "e", port: 6))
        #expect(try Fixture(key: p256.pemRepresentation).lookup(es256) == .tcp(host: "e", port: 6))
        let fixture384 = Fixture(key: p384.publicKey.pemRepresentation)
        #expect(try fixture384.lookup(es384) == .tcp(host: "e", port: 6))
        let failed = verificationFailed(#"["Failed: [InvalidJWSSignature('Verification failed')]"]"#)
        try fixture384.declined(es256, .error, failed)
        try fixture256.declined(es384, .error, failed)
        let parts = es256.split(separator: ".").map(String.init)
        try fixture256.declined(json(#"{"alg":"ES384"}"#) + "." + parts[1] + "." + parts[2], .error, failed)
        try fixture256.declined(parts[0] + "." + parts[1] + "." + Base64URL.encode([1, 2, 3]), .error, failed)
    }

    @Test("tokens signed by jwcrypto 1.6 (PS256, ES256) verify")
    func jwcryptoTokens() throws {
        let rsaPublic = """
            -----BEGIN PUBLIC KEY-----
            MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAum6qzs5KO4kJHjjUXH7T
            4IrHVE6Q80cOijvQz94AkCfWC7bBMZzodZqqUAJ+B7xFhySIaH8n+8XteFcZr/6Y
            splFvWNDHXEA8Ma2Yzni0swLnvXGbqk/ecUlgP5uPrc5WAsCaP2lEqEJpSbZ/O7V
            JsKOjPyj6VQxgnvLGdTUj60d4zOitnLdU15XMUDPJOPveNF3CQBih4HMRU47G9mt
            Pmhv6G1PHnOmW3pl6Aj95QZujHfO2WeGAZUhcgyymcoSd8IvTwHIgkfRTzC6Ba2u
            45A+OpiilHhJ0igQ1wspQVobtj9mRYvWfm+LqeAHUkcunUN5HTv3KLNHLQNgmj6o
            pQIDAQAB
            -----END PUBLIC KEY-----
            """
        let ps256 =
            "eyJhbGciOiJQUzI1NiJ9.eyJob3N0IjoicHkiLCJwb3J0Ijo1OTAxfQ.oqZ0wx9uGz19RX9MxsWLsgzIKFS_5MStXONFaqoOlNvxSRbuaHfyo_"
            + "Tt6ulHgHs8gUTXToQGGMI66o2QiLfgtU5X84CzFqlOrkMEcCxuSAp8QSKhYM0Ij0MG3HP_VpebYx0fsBn-l4CjaP7vYyipDAB0yem1CVajLu9"
            + "QKP6K_zPrKoKHwVTDeWJy_nck_m2oDukrAtxnkb2IeBieR_TxzUZNTKdyHHPyt6LwWLVA6CDEUKP7FDEJVwEFbQ7aH6hswmhlIKqysmkq_kzD4P"
            + "9uZzyDcW-szS7UGwGsBFlubxzsSxzXDqVChNc_95bk8oRWv6FCVAaaBojizmx3oMfm5Q"
        #expect(try Fixture(key: rsaPublic).lookup(ps256) == .tcp(host: "py", port: 5901))
        let ecPublic = """
            -----BEGIN PUBLIC KEY-----
            MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEpVypZ5qa3gCxeoypb3jC+cBHNEgP
            WMvjxmFKL8EfVorXkSjiF7GwOWU2MrgylTnuuWuKEx0OYLFMh1eNxDTg6w==
            -----END PUBLIC KEY-----
            """
        let es256 =
            "eyJhbGciOiJFUzI1NiJ9.eyJob3N0IjoicHkiLCJwb3J0Ijo1OTAxfQ.LEqKmw2hGiTB8O-WETOCPJieXWo2dlWuZPVzm8UFdUTFhAZKJl8dkrq1"
            + "WpbIBDMlKQR1WoOPsgV3E-G4xY4uDQ"
        #expect(try Fixture(key: ecPublic).lookup(es256) == .tcp(host: "py", port: 5901))
    }

    @Test("key file problems: missing, undecodable, and a newline-terminated secret (as websockify)")
    func keyFiles() throws {
        let valid = hs256(#"{"host":"h","port":1}"#)
        let sink = MessageSink()
        let directory = TemporaryDirectory()
        defer { withExtendedLifetime(directory) {} }
        let missing = JWTTokenAPI(keyPath: directory.path + "/none", files: .system, now: { now }, log: sink.log)
        #expect(try missing.lookup(valid) == nil)
        #expect(
            sink.messages == [
                TokenPluginMessage(
                    .error, "Error loading key file: [Errno 2] No such file or directory: '\(directory.path)/none'")
            ])
        try Fixture(key: secretFile + "\n").declined(valid, .error, "Failed to correctly parse key data!")
        let badUTF8 = TemporaryDirectory()
        defer { withExtendedLifetime(badUTF8) {} }
        let path = badUTF8.write("key", [0xFF, 0xFE])
        let badSink = MessageSink()
        #expect(try JWTTokenAPI(keyPath: path, files: .system, now: { now }, log: badSink.log).lookup(valid) == nil)
        #expect(badSink.texts == ["Failed to correctly parse key data!"])
    }

    @Test("the key file is re-read when it changes and cached otherwise")
    func keyReload() throws {
        let reads = Mutex(0)
        let directory = TemporaryDirectory()
        defer { withExtendedLifetime(directory) {} }
        let path = directory.write("key", secretFile)
        let counting = TokenFileSource(
            status: { path throws(TokenSourceError) in try TokenFileSource.system.status(path) },
            readFile: { path throws(TokenSourceError) in
                reads.withLock { $0 += 1 }
                return try TokenFileSource.system.readFile(path)
            },
            listDirectory: { path throws(TokenSourceError) in try TokenFileSource.system.listDirectory(path) })
        let sink = MessageSink()
        let plugin = JWTTokenAPI(keyPath: path, files: counting, now: { now }, log: sink.log)
        let valid = hs256(#"{"host":"h","port":1}"#)
        for _ in 0..<3 { #expect(try plugin.lookup(valid) == .tcp(host: "h", port: 1)) }
        #expect(reads.withLock { $0 } == 1)
        let newSecret = Array("fedcba9876543210fedcba9876543210-longer".utf8)
        directory.write("key", Base64URL.encode(newSecret))  // a different size: the stamp changes
        #expect(try plugin.lookup(valid) == nil)
        #expect(reads.withLock { $0 } == 2)
        let rotated = token(#"{"alg":"HS256"}"#, #"{"host":"new","port":2}"#) {
            Array(HMAC<SHA256>.authenticationCode(for: $0, using: SymmetricKey(data: newSecret)))
        }
        #expect(try plugin.lookup(rotated) == .tcp(host: "new", port: 2))
        #expect(reads.withLock { $0 } == 2)
    }

    @Test("arbitrary tokens never trap (seeded, 5 000 cases)")
    func neverTraps() {
        let fixture = Fixture(key: secretFile)
        let pieces = ["eyJhbGciOiJIUzI1NiJ9", ".", "e30", "AAAA", "-_", "=", "e", "%", "ä", "", "eyJob3N0IjoiaCJ9"]
        var state: UInt64 = 42
        for _ in 0..<5_000 {
            var text = ""
            for _ in 0..<8 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                text += pieces[Int(state >> 33) % pieces.count]
            }
            _ = try? fixture.lookup(text)
        }
    }
}

@Suite("TokenPlugin")
struct TokenPluginTests {
    @Test("every plugin answers through the one protocol; BasePlugin finds nothing")
    func uniform() throws {
        let directory = TemporaryDirectory()
        defer { withExtendedLifetime(directory) {} }
        directory.write("t", "h:1")
        let plugins: [any TokenPlugin] = [
            BaseTokenPlugin(),
            try TokenFileName(directory: directory.path, files: .system),
            UnixDomainSocketDirectory(directory: directory.path, currentDirectory: "/", files: .system),
            TokenFileTable(sourcePath: directory.path, files: .system, log: { _ in }),
        ]
        #expect(try plugins.map { try $0.lookup("t") } == [nil, .tcp(host: "h", port: 1), nil, nil])
    }

    @Test("declined errors are logged and answer not found; failures are rethrown")
    func answer() throws {
        let sink = MessageSink()
        let message = TokenPluginMessage(.warning, "Token has expired!")
        #expect(try TokenPluginError.declined(message).answer(log: sink.log) == nil)
        #expect(sink.messages == [message])
        #expect(throws: TokenLookupError.pluginFailure("x")) {
            try TokenPluginError.failed(.pluginFailure("x")).answer(log: sink.log)
        }
    }
}
