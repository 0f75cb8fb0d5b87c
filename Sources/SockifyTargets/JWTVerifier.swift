// JWS compact verification and claim checks as websockify's `JWTTokenApi` performs them (jwcrypto 1.6 `JWT(key=,
// jwt=)` followed by `token_plugins.py:165-186`), with jwcrypto's error texts, since websockify logs them.

/// Verifies a `JWTTokenApi` token and extracts its target. Pure: the key and the clock are passed in.
public enum JWTVerifier {
    /// jwcrypto's allowed clock skew for its own `exp`/`nbf` check, in seconds.
    static let jwcryptoLeeway = 60.0

    /// Verifies `token` with `key` at time `now` and returns the `host`/`port` claims as a target.
    ///
    /// What happens, in order (each failure is declined with `Failed to parse token: <jwcrypto's message>` at
    /// ERROR unless noted):
    /// 1. Exactly two `.` (compact JWS) is required: four is JWE, which Sockify does not decrypt
    ///    (`encrypted tokens (JWE) are not supported`; also for a JWS whose header has `enc`); other counts are
    ///    `Token format unrecognized`. Segments are base64url-decoded leniently (``Base64URL``); a bad segment
    ///    or a header that is not a JSON object is `Invalid JWS Object [Invalid format]`.
    /// 2. The header must have `alg`, allowed by jwcrypto (`none` never is), and implemented here
    ///    (``JWTAlgorithm``); `crit` may only list registered header names that are present. The signature
    ///    over `header.payload` must verify with `key`, which must be of the algorithm's type. These failures
    ///    read `Verification failed for all signatures[…]` exactly as jwcrypto words them.
    /// 3. The payload must be UTF-8. If it is a JSON object, jwcrypto's registered-claim checks run:
    ///    `iss`/`sub`/`jti`/`typ` strings, `aud` string or list of strings, `exp`/`nbf`/`iat` integers; `exp` more
    ///    than 60 s past is `Expired at <exp>, time: <now>(leeway: 60)`, `nbf` more than 60 s ahead is
    ///    `Valid from <nbf>, time: <now>(leeway: 60)`.
    /// 4. websockify's own checks, with no leeway: `now < nbf` is declined with `Token can not be used yet!` and
    ///    `now > exp` with `Token has expired!` (both WARNING).
    /// 5. `host` and `port` are required (`Failed to parse token: 'host'`); see
    ///    ``PluginTarget/address(host:port:)-(JSONValue,JSONValue)``.
    ///
    /// - Parameters:
    ///   - token: the compact JWT.
    ///   - key: the verification key.
    ///   - now: the current time in seconds since the epoch (`time.time()`).
    /// - Returns: the target.
    /// - Throws: ``TokenPluginError/declined(_:)`` for every rejection above (websockify logs and answers "not
    ///   found"); ``TokenPluginError/failed(_:)`` only for a target that cannot be resolved.
    public static func target(token: String, key: JWTKey, now: Double) throws(TokenPluginError) -> TargetAddress {
        let claims: JSONValue
        do {
            claims = try verifiedClaims(token: token, key: key, now: now)
        } catch {
            throw .declined(TokenPluginMessage(.error, "Failed to parse token: \(error.message)"))
        }
        switch websockifyTimeCheck(claims, now: now) {
        case .passed: break
        case .declined(let warning): throw .declined(warning)
        case .failed(let message): throw .declined(TokenPluginMessage(.error, "Failed to parse token: \(message)"))
        }
        let host: JSONValue
        let port: JSONValue
        do {
            host = try TokenAPIFormat.subscriptKey(claims, "host")
            port = try TokenAPIFormat.subscriptKey(claims, "port")
        } catch {
            throw .declined(TokenPluginMessage(.error, "Failed to parse token: \(error.description)"))
        }
        do {
            return try PluginTarget.address(host: host, port: port)
        } catch {
            throw .failed(error)
        }
    }

    /// A jwcrypto or Python exception message.
    struct Failure: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    /// Steps 1–3 of ``target(token:key:now:)``: the payload as websockify's `json.loads(token.claims)` sees it.
    static func verifiedClaims(token: String, key: JWTKey, now: Double) throws(Failure) -> JSONValue {
        let dots = token.unicodeScalars.count { $0 == "." }
        if dots == 4 { throw Failure("encrypted tokens (JWE) are not supported") }
        guard dots == 2 else { throw Failure("Token format unrecognized") }
        let segments = token.unicodeScalars.split(separator: ".", omittingEmptySubsequences: false).map { String($0) }
        let invalidFormat = Failure("Invalid JWS Object [Invalid format]")
        guard let headerBytes = try? Base64URL.decodeLeniently(segments[0]),
            let payload = try? Base64URL.decodeLeniently(segments[1]),
            let signature = try? Base64URL.decodeLeniently(segments[2])
        else { throw invalidFormat }
        var header: JSONValue?
        if !headerBytes.isEmpty {
            guard let text = String(validating: headerBytes, as: UTF8.self), let parsed = try? JSONValue.parse(text),
                case .object = parsed
            else { throw invalidFormat }
            if let b64 = parsed["b64"] {
                guard case .bool(let encoded) = b64 else { throw invalidFormat }
                if !encoded { throw Failure("unencoded payloads (b64: false) are not supported") }
            }
            header = parsed
        }
        try verifySignature(
            header: header ?? .object([]), signingInput: Array((segments[0] + "." + segments[1]).utf8),
            signature: signature, key: key)
        if header?["enc"] != nil { throw Failure("encrypted tokens (JWE) are not supported") }
        guard let text = String(validating: payload, as: UTF8.self) else {
            do {
                _ = try TokenFileFormat.decode(payload, path: "")
            } catch {
                throw Failure(error.description)
            }
            throw Failure("invalid UTF-8")  // unreachable: decode throws for invalid UTF-8
        }
        let parsed: JSONValue
        do {
            parsed = try JSONValue.parse(text)
        } catch {
            throw Failure(error.message)  // jwcrypto skips its checks; websockify's json.loads raises
        }
        if case .object = parsed { try jwcryptoClaimChecks(parsed, now: now) }
        return parsed
    }

    /// jwcrypto `JWS._verify` for one signature, wrapped as `JWS.verify` reports it.
    private static func verifySignature(header: JSONValue, signingInput: [UInt8], signature: [UInt8], key: JWTKey)
        throws(Failure)
    {
        func wrapped(_ exception: String, _ message: String) -> Failure {
            let entry = "Failed: [\(exception)(\(PythonText.repr(message)))]"
            return Failure("Verification failed for all signatures[\(PythonText.repr(entry))]")
        }
        if let crit = header["crit"] {
            let registered: Set<String> = [
                "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit", "b64",
            ]
            guard case .array(let names) = crit else {
                throw wrapped("InvalidJWSObject", "Invalid JWS Object [Invalid format]")
            }
            for name in names {
                guard case .string(let text) = name, registered.contains(text) else {
                    let shown = if case .string(let text) = name { text } else { PluginTarget.render(name) }
                    throw wrapped("InvalidJWSObject", "Invalid JWS Object [Unknown critical header: \"\(shown)\"]")
                }
            }
            for case .string(let text) in names where header[text] == nil {
                throw wrapped("InvalidJWSObject", "Invalid JWS Object [Missing critical header \"\(text)\"]")
            }
        }
        guard let alg = header["alg"] else { throw wrapped("InvalidJWSSignature", "No \"alg\" in headers") }
        guard case .string(let name) = alg, JWTAlgorithm.allowedByJWCrypto.contains(name) else {
            throw wrapped("InvalidJWSOperation", "Algorithm not allowed")
        }
        guard let algorithm = JWTAlgorithm(rawValue: name) else {
            throw Failure("algorithm \(PythonText.repr(name)) is not supported by Sockify")
        }
        guard key.isValid(signature: signature, for: signingInput, algorithm: algorithm) else {
            throw wrapped("InvalidJWSSignature", "Verification failed")
        }
    }

    /// jwcrypto `JWT._check_default_claims` with no `check_claims` (so `exp`/`nbf` with a 60 s leeway).
    private static func jwcryptoClaimChecks(_ claims: JSONValue, now: Double) throws(Failure) {
        func present(_ name: String) -> JSONValue? {
            guard let value = claims[name], value != .null else { return nil }
            return value
        }
        func stringClaim(_ name: String) throws(Failure) {
            guard let value = present(name) else { return }
            guard case .string = value else { throw Failure("Claim \(name) is not a StringOrURI type") }
        }
        func integerClaim(_ name: String) throws(Failure) {
            guard let value = present(name) else { return }
            switch value {
            case .bool: return
            case .number(let number):
                if number.double.isInfinite { throw Failure("cannot convert float infinity to integer") }
            case .string(let text):
                if PythonText.int(text, radix: 10) == nil && !isBigPythonInt(text) {
                    throw Failure("Claim \(name) is not an integer")
                }
            default:
                throw Failure(
                    "int() argument must be a string, a bytes-like object or a real number, "
                        + "not '\(value.pythonTypeName)'")
            }
        }
        try stringClaim("iss")
        try stringClaim("sub")
        if let audience = present("aud") {
            switch audience {
            case .string: break
            case .array(let items):
                if items.contains(where: { if case .string = $0 { false } else { true } }) {
                    throw Failure("Claim aud contains non StringOrURI types")
                }
            default: throw Failure("Claim aud is not a StringOrURI type")
            }
        }
        try integerClaim("exp")
        try integerClaim("nbf")
        try integerClaim("iat")
        try stringClaim("jti")
        try stringClaim("typ")
        if let exp = claims["exp"] {
            let value = try comparable(exp, other: "float", operator: "<")
            if value < now - jwcryptoLeeway {
                throw Failure("Expired at \(percentD(value)), time: \(percentD(now))(leeway: 60)")
            }
        }
        if let nbf = claims["nbf"] {
            let value = try comparable(nbf, other: "float", operator: ">")
            if value > now + jwcryptoLeeway {
                throw Failure("Valid from \(percentD(value)), time: \(percentD(now))(leeway: 60)")
            }
        }
    }

    /// The outcome of websockify's own `nbf`/`exp` checks.
    private enum TimeCheck {
        case passed
        case declined(TokenPluginMessage)
        case failed(String)
    }

    /// `if 'nbf' in parsed: if time.time() < parsed['nbf']` and the same for `exp`, on any JSON value.
    private static func websockifyTimeCheck(_ claims: JSONValue, now: Double) -> TimeCheck {
        for (name, isViolated, warning) in [
            ("nbf", { (value: Double) in now < value }, "Token can not be used yet!"),
            ("exp", { (value: Double) in now > value }, "Token has expired!"),
        ] {
            switch claims {
            case .object:
                guard let value = claims[name] else { continue }
                let op = name == "nbf" ? "<" : ">"
                guard let number = numeric(value) else {
                    return .failed(
                        "'\(op)' not supported between instances of 'float' and '\(value.pythonTypeName)'")
                }
                if isViolated(number) { return .declined(TokenPluginMessage(.warning, warning)) }
            case .array(let items):
                if items.contains(.string(name)) { return .failed("list indices must be integers or slices, not str") }
            case .string(let text):
                if containsScalars(text, name) {
                    return .failed("string indices must be integers, not 'str'")
                }
            default:
                return .failed("argument of type '\(claims.pythonTypeName)' is not iterable")
            }
        }
        return .passed
    }

    private static func containsScalars(_ text: String, _ needle: String) -> Bool {
        let haystack = Array(text.unicodeScalars)
        let pattern = Array(needle.unicodeScalars)
        guard haystack.count >= pattern.count else { return false }
        for start in 0...(haystack.count - pattern.count)
        where haystack[start..<start + pattern.count].elementsEqual(pattern) {
            return true
        }
        return false
    }

    /// A claim as Python compares it with a float; a `TypeError` message otherwise.
    private static func comparable(_ value: JSONValue, other: String, operator op: String) throws(Failure) -> Double {
        guard let number = numeric(value) else {
            throw Failure("'\(op)' not supported between instances of '\(value.pythonTypeName)' and '\(other)'")
        }
        return number
    }

    private static func numeric(_ value: JSONValue) -> Double? {
        switch value {
        case .number(let number): number.double
        case .bool(let flag): flag ? 1 : 0
        default: nil
        }
    }

    /// Python's `'%d' % value` for a float or int (truncation toward zero).
    private static func percentD(_ value: Double) -> String {
        if value.magnitude < 9e18 { return String(Int(value)) }
        return String(value)  // only for absurd claims; Python would print every digit
    }

    /// Whether `text` is a decimal integer too large for `Int` (Python's `int()` still accepts it).
    private static func isBigPythonInt(_ text: String) -> Bool {
        var scalars = PythonText.strip(Substring(text).unicodeScalars)
        if scalars.first == "+" || scalars.first == "-" { scalars.removeFirst() }
        return !scalars.isEmpty && scalars.allSatisfy { $0.value >= 0x30 && $0.value <= 0x39 }
    }
}
