// The pure halves of websockify's `TokenRedis` plugin (`token_plugins.py:194-346`): the `--token-source` syntax
// `host[:port[:db[:password[:namespace]]]]` and the stored value formats. The Redis client is SockifyLookup's job.

/// Where `TokenRedis` finds its tokens, parsed from `--token-source` exactly as websockify 0.13.0 does.
public struct TokenRedisSource: Hashable, Sendable {
    /// The Redis host (may be empty, as websockify allows).
    public var host: String
    /// The port, as Python's `int()` read it; not range-checked (websockify only fails at connect time).
    public var port: Int
    /// The database number, as Python's `int()` read it.
    public var database: Int
    /// The password; `nil` when absent or empty.
    public var password: String?
    /// What is put before the token to form the key: empty, or `<namespace>:`.
    public var keyPrefix: String

    public init(host: String, port: Int = 6379, database: Int = 0, password: String? = nil, keyPrefix: String = "") {
        self.host = host
        self.port = port
        self.database = database
        self.password = password
        self.keyPrefix = keyPrefix
    }

    /// Parses `host[:port[:db[:password[:namespace]]]]` (`parse_source_args` plus `TokenRedis.__init__`).
    ///
    /// Fields are separated by `:` as with `split(':')`, except that a field which is `"…"` (non-empty, no `"`
    /// inside) followed by `:` or the end is taken whole without its quotes, so `r::::"a:b"` has the namespace
    /// `a:b`. An empty port means 6379, an empty database 0, an empty password none; a namespace `ns` becomes
    /// the key prefix `ns:`. Port and database go through Python's `int()` (so ` 6380 ` and `6_380` are fine).
    ///
    /// - Parameter source: the `--token-source` value.
    /// - Throws: ``TokenRedisSourceError`` for more than five fields or a port or database that is not an
    ///   integer. websockify logs its message and exits with status **0**.
    public init(parsing source: String) throws(TokenRedisSourceError) {
        let fields = Self.fields(source)
        guard fields.count <= 5 else { throw TokenRedisSourceError(source: source) }
        func field(_ index: Int) -> String? { index < fields.count && !fields[index].isEmpty ? fields[index] : nil }
        host = fields[0]
        if let text = field(1) {
            guard let value = PythonText.int(text, radix: 10) else { throw TokenRedisSourceError(source: source) }
            port = value
        } else {
            port = 6379
        }
        if let text = field(2) {
            guard let value = PythonText.int(text, radix: 10) else { throw TokenRedisSourceError(source: source) }
            database = value
        } else {
            database = 0
        }
        password = field(3)
        keyPrefix = field(4).map { $0 + ":" } ?? ""
    }

    /// websockify's start-up line, `TokenRedis backend initialized (<host>:<port>)` (INFO).
    public var initializedMessage: String { "TokenRedis backend initialized (\(host):\(port))" }

    /// The Redis key for a token: ``keyPrefix`` followed by the token.
    public func key(for token: String) -> String { keyPrefix + token }

    /// `parse_source_args`: the `findall` of websockify's `_SOURCE_SPLIT_REGEX`, reproduced field by field.
    static func fields(_ source: String) -> [String] {
        let scalars = Array(source.unicodeScalars)
        var fields: [String] = []
        var start = 0
        while true {
            // A quoted field: `"` + one or more non-quotes + `"`, then `:` or the end.
            if start < scalars.count, scalars[start] == "\"",
                let close = scalars[(start + 1)...].firstIndex(of: "\""), close > start + 1,
                close + 1 == scalars.count || scalars[close + 1] == ":"
            {
                fields.append(String(String.UnicodeScalarView(scalars[(start + 1)..<close])))
                start = close + 1
            } else {
                let end = scalars[start...].firstIndex(of: ":") ?? scalars.count
                fields.append(String(String.UnicodeScalarView(scalars[start..<end])))
                start = end
            }
            guard start < scalars.count else { return fields }
            start += 1  // past the `:`
        }
    }
}

/// A `--token-source` that `TokenRedis` rejects.
public struct TokenRedisSourceError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The source as given.
    public var source: String

    public init(source: String) {
        self.source = source
    }

    /// websockify's exact message (logged at ERROR, then `sys.exit()`, status 0).
    public var message: String {
        "The provided --token-source='\(source)' is not in the expected format "
            + "<host>[:<port>[:<db>[:<password>[:<namespace>]]]]"
    }

    public var description: String { message }
}

/// The values `TokenRedis` understands under a token's key.
public enum TokenRedisFormat {
    /// Interprets the bytes of a `GET` reply as websockify does.
    ///
    /// 1. Decode as strict UTF-8 (failure raises: handler exception) and `strip()`.
    /// 2. Starting with `{`: JSON `{"host": "h:p"}` with host and port in one string. Bad JSON, or a `host` that
    ///    does not split into exactly two at `:`, is declined with `Unable to decode JSON token: <value>`; no
    ///    `host` key with `Unable to find 'host' key in JSON token: <value>`; a `host` that is not a string
    ///    raises (`'int' object has no attribute 'split'`).
    /// 3. Otherwise, if the value starts with `\S+:\S+`: `host, port = value.split(':')`, where anything but
    ///    exactly one `:` raises (so `::1:5900` closes the connection).
    /// 4. Otherwise declined with `Unable to parse token: <value>`.
    ///
    /// Declined values are logged at ERROR and answer "not found".
    ///
    /// - Parameter value: the reply (the caller answers "not found" for a nil reply without calling this).
    /// - Returns: the target (`unix_socket:<path>` selects a Unix socket).
    /// - Throws: ``TokenPluginError``.
    public static func target(value: [UInt8]) throws(TokenPluginError) -> TargetAddress {
        let text: String
        do {
            text = try TokenFileFormat.decode(value, path: "")
        } catch {
            throw .failed(error)
        }
        let stripped = String(PythonText.strip(Substring(text).unicodeScalars))
        if stripped.unicodeScalars.first == "{" {
            guard let document = try? JSONValue.parse(stripped) else {
                throw .declined(.init(.error, "Unable to decode JSON token: \(stripped)"))
            }
            guard let host = document["host"] else {
                throw .declined(.init(.error, "Unable to find 'host' key in JSON token: \(stripped)"))
            }
            guard case .string(let combined) = host else {
                throw .failed(.pluginFailure("'\(host.pythonTypeName)' object has no attribute 'split'"))
            }
            let fields = combined.unicodeScalars.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count == 2 else {
                throw .declined(.init(.error, "Unable to decode JSON token: \(stripped)"))
            }
            return try lift { () throws(TokenLookupError) in
                try PluginTarget.address(host: String(fields[0]), port: String(fields[1]))
            }
        }
        guard startsWithNonSpaceColonNonSpace(stripped) else {
            throw .declined(.init(.error, "Unable to parse token: \(stripped)"))
        }
        return try lift { () throws(TokenLookupError) in
            let fields = stripped.unicodeScalars.split(separator: ":", omittingEmptySubsequences: false)
            let (host, port) = try TokenFileName.unpackPair(fields.map { String($0) })
            return try PluginTarget.address(host: host, port: port)
        }
    }

    private static func lift<T>(_ body: () throws(TokenLookupError) -> T) throws(TokenPluginError) -> T {
        do {
            return try body()
        } catch {
            throw .failed(error)
        }
    }

    /// `re.match(r'\S+:\S+', text)`: the leading run of non-whitespace has a `:` with something on each side.
    static func startsWithNonSpaceColonNonSpace(_ text: String) -> Bool {
        let run = text.unicodeScalars.prefix { !PythonText.isWhitespace($0) }
        guard run.count >= 3 else { return false }
        return run.dropFirst().dropLast().contains(":")
    }
}
