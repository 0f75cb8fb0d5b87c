// BaseTokenAPI / JSONTokenApi URL building and response parsing. Expectations from Python 3.11 (`template % token`,
// websockify 0.13.0 `process_result`).
import SockifyTargets
import Testing

@Suite("TokenAPIFormat")
struct TokenAPIFormatTests {
    @Test(
        "template % token",
        arguments: [
            ("http://x/%s", "http://x/tök"), ("http://x/?t=%s&x=%%", "http://x/?t=tök&x=%"),
            ("http://x/%5s|", "http://x/  tök|"), ("http://x/%-5s|", "http://x/tök  |"),
            ("http://x/%.2s|", "http://x/tö|"),
            ("http://x/%r", "http://x/'tök'"), ("http://x/%a", "http://x/'t\\xf6k'"), ("http://x/%ls", "http://x/tök"),
            ("%05s", "  tök"), ("%#s", "tök"), ("x%s%%", "xtök%"), ("http://x/%%%s", "http://x/%tök"),
        ])
    func formats(template: String, url: String) throws {
        #expect(try TokenAPIFormat.url(template: template, token: "tök") == url)
    }

    @Test("the token is not URL-encoded (websockify inserts it verbatim)")
    func verbatim() throws {
        #expect(try TokenAPIFormat.url(template: "http://x/%s", token: "a b&c=/") == "http://x/a b&c=/")
    }

    @Test(
        "bad templates fail with Python's TypeError/ValueError text",
        arguments: [
            ("http://x/", "not all arguments converted during string formatting"),
            ("http://x/%d", "%d format: a real number is required, not str"),
            ("http://x/%i", "%i format: a real number is required, not str"),
            ("http://x/%x", "%x format: an integer is required, not str"),
            ("http://x/%f", "must be real number, not str"),
            ("http://x/%c", "%c requires int or char"),
            ("http://x/%(a)s", "format requires a mapping"),
            ("http://x/%s%s", "not enough arguments for format string"),
            ("http://x/%", "incomplete format"),
            ("http://x/%10", "incomplete format"),
            ("%s%", "incomplete format"),
            ("http://x/%y", "unsupported format character 'y' (0x79) at index 10"),
            ("http://x/%é", "unsupported format character '?' (0xe9) at index 10"),
            ("a%5%b%s", "unsupported format character '%' (0x25) at index 3"),
            ("http://x/%*s", "* wants int"),
            ("http://x/%.*s", "* wants int"),
        ])
    func badTemplates(template: String, message: String) {
        #expect(throws: TokenLookupError.pluginFailure(message)) {
            try TokenAPIFormat.url(template: template, token: "tök")
        }
    }

    @Test("BaseTokenAPI body: exactly host:port, no stripping, non-ASCII dropped from the port")
    func plain() throws {
        #expect(try TokenAPIFormat.plainTarget(text: "10.0.0.1:5900") == .tcp(host: "10.0.0.1", port: 5900))
        #expect(try TokenAPIFormat.plainTarget(text: "h:59é00") == .tcp(host: "h", port: 5900))
        #expect(try TokenAPIFormat.plainTarget(text: "unix_socket:/run/s") == .unixSocket(path: "/run/s"))
        #expect(throws: TokenLookupError.unresolvableTarget(host: "h", port: "5900\n")) {
            try TokenAPIFormat.plainTarget(text: "h:5900\n")
        }
        #expect(throws: TokenLookupError.pluginFailure("too many values to unpack (expected 2)")) {
            try TokenAPIFormat.plainTarget(text: "::1:5900")
        }
        #expect(throws: TokenLookupError.pluginFailure("not enough values to unpack (expected 2, got 1)")) {
            try TokenAPIFormat.plainTarget(text: "host")
        }
    }

    @Test("JSONTokenApi body: host and port, port a number or a string")
    func json() throws {
        #expect(try TokenAPIFormat.jsonTarget(text: #"{"host": "h", "port": 5900}"#) == .tcp(host: "h", port: 5900))
        #expect(
            try TokenAPIFormat.jsonTarget(text: #"{"port": "5901", "host": "::1"}"#) == .tcp(host: "::1", port: 5901))
        #expect(try TokenAPIFormat.jsonTarget(text: #"{"host": "h", "port": true}"#) == .tcp(host: "h", port: 1))
        #expect(
            try TokenAPIFormat.jsonTarget(text: #"{"host": "unix_socket", "port": "/run/s"}"#)
                == .unixSocket(path: "/run/s"))
        #expect(throws: TokenLookupError.unresolvableTarget(host: "h", port: "70000")) {
            try TokenAPIFormat.jsonTarget(text: #"{"host": "h", "port": 70000}"#)
        }
        #expect(throws: TokenLookupError.unresolvableTarget(host: "h", port: "5900.0")) {
            try TokenAPIFormat.jsonTarget(text: #"{"host": "h", "port": 5900.0}"#)
        }
        #expect(throws: TokenLookupError.unresolvableTarget(host: "None", port: "1")) {
            try TokenAPIFormat.jsonTarget(text: #"{"host": null, "port": 1}"#)
        }
    }

    @Test(
        "JSONTokenApi failures are Python's exception texts",
        arguments: [
            (#"{"host": "h"}"#, "'port'"), (#"{"port": 1}"#, "'host'"),
            ("", "Expecting value: line 1 column 1 (char 0)"),
            ("[1]", "list indices must be integers or slices, not str"),
            (#""x""#, "string indices must be integers, not 'str'"),
            ("5", "'int' object is not subscriptable"), ("null", "'NoneType' object is not subscriptable"),
        ])
    func jsonFailures(body: String, message: String) {
        #expect(throws: TokenLookupError.pluginFailure(message)) { try TokenAPIFormat.jsonTarget(text: body) }
    }

    @Test("response text decoding follows requests: charset, else Latin-1 for text/*, else UTF-8")
    func bodyText() {
        let bytes: [UInt8] = [0x68, 0xC3, 0xA9]
        #expect(TokenAPIFormat.text(body: bytes, contentType: "text/plain") == "h\u{C3}\u{A9}")
        #expect(TokenAPIFormat.text(body: bytes, contentType: "text/plain; charset=UTF-8") == "hé")
        #expect(TokenAPIFormat.text(body: bytes, contentType: "application/json") == "hé")
        #expect(TokenAPIFormat.text(body: bytes, contentType: nil) == "hé")
        #expect(TokenAPIFormat.text(body: [0xFF], contentType: nil) == "\u{FFFD}")
    }
}

@Suite("TokenRedis formats")
struct TokenRedisFormatTests {
    @Test(
        "--token-source fields (websockify parse_source_args + TokenRedis.__init__)",
        arguments: [
            ("my-redis", TokenRedisSource(host: "my-redis")),
            ("my-redis:::secret", TokenRedisSource(host: "my-redis", password: "secret")),
            (#"my-redis::::"ns1:ns2""#, TokenRedisSource(host: "my-redis", keyPrefix: "ns1:ns2:")),
            (
                "r:6380:1:pw:app",
                TokenRedisSource(host: "r", port: 6380, database: 1, password: "pw", keyPrefix: "app:")
            ),
            (#""a""#, TokenRedisSource(host: "a")),
            ("", TokenRedisSource(host: "")),
            ("a::", TokenRedisSource(host: "a")),
            ("h: 6380 :2", TokenRedisSource(host: "h", port: 6380, database: 2)),
            (#"h:1:2:"p:w""#, TokenRedisSource(host: "h", port: 1, database: 2, password: "p:w")),
        ])
    func sources(text: String, expected: TokenRedisSource) throws {
        #expect(try TokenRedisSource(parsing: text) == expected)
    }

    @Test(
        "rejected sources carry websockify's exact message",
        arguments: [
            #"a:"b:c":d"#, #"a:"b:c"x:d"#, #"a:"b:"c:d""#, #""":x"#, ":x", "a:b:c:d:e:f", "h:x", "h:1:y",
        ])
    func rejected(text: String) {
        #expect(throws: TokenRedisSourceError(source: text)) { try TokenRedisSource(parsing: text) }
        #expect(
            TokenRedisSourceError(source: text).message
                == "The provided --token-source='\(text)' is not in the expected format "
                + "<host>[:<port>[:<db>[:<password>[:<namespace>]]]]")
    }

    @Test("key and start-up line")
    func keyAndMessage() throws {
        let source = try TokenRedisSource(parsing: "r:6380:1:pw:app")
        #expect(source.key(for: "tok") == "app:tok")
        #expect(source.initializedMessage == "TokenRedis backend initialized (r:6380)")
    }

    @Test(
        "values that resolve",
        arguments: [
            ("h:5900", TargetAddress.tcp(host: "h", port: 5900)), ("  h:5900\n", .tcp(host: "h", port: 5900)),
            (#"{"host": "h:5900"}"#, .tcp(host: "h", port: 5900)), ("unix_socket:/tmp/s", .unixSocket(path: "/tmp/s")),
        ])
    func resolves(value: String, expected: TargetAddress) throws {
        #expect(try TokenRedisFormat.target(value: Array(value.utf8)) == expected)
    }

    @Test(
        "values websockify declines (logged at ERROR, then not found)",
        arguments: [
            (#"{"host": "::1:5900"}"#, #"Unable to decode JSON token: {"host": "::1:5900"}"#),
            (#"{"hos": 1}"#, #"Unable to find 'host' key in JSON token: {"hos": 1}"#),
            ("{bad", "Unable to decode JSON token: {bad"),
            (#"{"host": "h:1"} trailing"#, #"Unable to decode JSON token: {"host": "h:1"} trailing"#),
            ("nocolon", "Unable to parse token: nocolon"), (":5900", "Unable to parse token: :5900"),
            ("h: 5900", "Unable to parse token: h: 5900"),
        ])
    func declined(value: String, message: String) {
        #expect(throws: TokenPluginError.declined(TokenPluginMessage(.error, message))) {
            try TokenRedisFormat.target(value: Array(value.utf8))
        }
    }

    @Test(
        "values that make websockify raise (handler exception)",
        arguments: [
            (Array(#"{"host": 5}"#.utf8), "'int' object has no attribute 'split'"),
            (Array(#"{"host": null}"#.utf8), "'NoneType' object has no attribute 'split'"),
            (Array(#"{"host": [1]}"#.utf8), "'list' object has no attribute 'split'"),
            (Array("::1:5900".utf8), "too many values to unpack (expected 2)"),
            ([0xFF], "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"),
        ] as [([UInt8], String)])
    func raises(value: [UInt8], message: String) {
        #expect(throws: TokenPluginError.failed(.pluginFailure(message))) { try TokenRedisFormat.target(value: value) }
    }

    @Test("a non-numeric port fails at connect time")
    func unresolvable() {
        #expect(throws: TokenPluginError.failed(.unresolvableTarget(host: "h", port: "1 x"))) {
            try TokenRedisFormat.target(value: Array("h:1 x".utf8))
        }
    }
}
