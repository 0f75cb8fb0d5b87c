// Fuzz harness: JWTTokenApi's token verification (`JWTVerifier.target`), which runs on whatever a client puts in
// `?token=`, with the base64url and JSON decoders under it.
//
// Checks: never traps, for HMAC and P-256 keys; a token built from fuzzed claims but signed with a wrong key is
// never accepted; JSON parsing of the raw input never traps either.
import FuzzSupport
import SockifyTargets

/// Keys the harness verifies against: an HMAC secret (32 bytes, base64url) and a P-256 public key (PEM). Made per
/// input: LeakSanitizer reports key storage kept in a Swift global as leaked at exit.
private func makeKeys() -> [JWTKey] {
    var keys: [JWTKey] = []
    if let hmac = JWTKey(fileContents: Array("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY".utf8)) { keys.append(hmac) }
    let p256 = """
        -----BEGIN PUBLIC KEY-----
        MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYLxxZSBkO3FWZFItZeyh8MR98HX+
        65ykLPZCS8KwXnjbDJB5atL1jWWklhxdbEpUZwxi18tAdYtYpR8mRRcWUg==
        -----END PUBLIC KEY-----
        """
    if let key = JWTKey(fileContents: Array(p256.utf8)) { keys.append(key) }
    check(keys.count == 2, "the harness keys did not load")
    return keys
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJWT(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = FuzzInput(data, count)
    let text = String(decoding: input.bytes, as: UTF8.self)
    let keys = makeKeys()
    _ = try? JSONValue.parse(text)
    for key in keys {
        _ = try? JWTVerifier.target(token: text, key: key, now: 1_800_000_000)
    }
    // Fuzzed claims under a fuzzed header, with a signature that cannot be right: never accepted.
    let parts = text.split(separator: "\u{0}", maxSplits: 1, omittingEmptySubsequences: false)
    if parts.count == 2 {
        let token = Base64URL.encode(Array(parts[0].utf8)) + "." + Base64URL.encode(Array(parts[1].utf8)) + ".AAAA"
        for key in keys {
            let accepted = (try? JWTVerifier.target(token: token, key: key, now: 1_800_000_000)) != nil
            check(!accepted, "accepted a token with a bogus signature: \(token)")
        }
    }
    return 0
}
