import SockifyTargets
import Testing

// The optparse-compatible parser. Every message and every accepted form below was produced by running
// websockify 0.13.0's own `websockify_init` on the same argv (with the server class stubbed out), unless the
// test name says "Sockify".
@testable import SockifyCLI

private let environment = ParseEnvironment(
    programName: "sockify", currentDirectory: "/work/dir",
    fileExists: { $0 == "/etc/hostname" || $0 == "exists.pem" })

private func parse(_ arguments: [String]) throws(CommandLineError) -> ParseOutcome {
    try parseCommandLine(arguments, environment: environment)
}

/// The options of a successful parse (records an issue otherwise).
private func options(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) -> WebsockifyOptions? {
    do {
        guard case .run(let options) = try parse(arguments) else {
            Issue.record("help instead of options", sourceLocation: sourceLocation)
            return nil
        }
        return options
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The defaults for `6080 h:1` with the test environment.
private func baseline(target: HostPort? = HostPort(host: "h", port: 1)) -> WebsockifyOptions {
    var options = WebsockifyOptions(cert: "/work/dir/self.pem", listen: .tcp(HostPort(host: "", port: 6080)))
    options.target = target
    return options
}

@Suite("Command line: usage errors (confirmed with websockify 0.13.0)")
struct UsageErrorTests {
    @Test(
        "optparse scanning errors",
        arguments: [
            (["--h"], "ambiguous option: --h (--heartbeat, --help, --host-token?)"),
            (["--he"], "ambiguous option: --he (--heartbeat, --help?)"),
            (["--ke", "k", "6080", "h:1"], "ambiguous option: --ke (--key, --key-password?)"),
            (["--unix", "x"], "ambiguous option: --unix (--unix-listen, --unix-listen-mode, --unix-target?)"),
            (["--i", "6080"], "ambiguous option: --i (--idle-timeout, --inetd?)"),
            (["--we=/x", "6080", "h:1"], "ambiguous option: --we (--web, --web-auth?)"),
            (["--bogus"], "no such option: --bogus"),
            (["--bogus", "-h"], "no such option: --bogus"),
            (["--bogus=1"], "no such option: --bogus"),
            (["-vx"], "no such option: -x"),
            (["-é"], "no such option: -é"),
            (["--verbose=x"], "--verbose option does not take a value"),
            (["--verb=x"], "--verbose option does not take a value"),
            (["--help="], "--help option does not take a value"),
            (["--web"], "--web option requires 1 argument"),
            (["6080", "h:1", "--tim"], "--timeout option requires 1 argument"),
            (["--timeout", "x", "1", "2"], "option --timeout: invalid integer value: 'x'"),
            (["--timeout", "08", "6080", "h:1"], "option --timeout: invalid integer value: '08'"),
            (["--timeout", "it's"], "option --timeout: invalid integer value: \"it's\""),
            (["--timeout", "a\tb\u{1}é"], "option --timeout: invalid integer value: 'a\\tb\\x01é'"),
            (["--idle=", "6080"], "option --idle-timeout: invalid integer value: ''"),
            (["--heartbeat", "1.5"], "option --heartbeat: invalid integer value: '1.5'"),
            (
                ["--ssl-version", "sslv3"],
                "option --ssl-version: invalid choice: 'sslv3' (choose from 'default', 'tlsv1_1', 'tlsv1_2', 'tlsv1_3')"
            ),
            (
                ["--wrap-mode", "x"],
                "option --wrap-mode: invalid choice: 'x' (choose from 'exit', 'ignore', 'respawn')"
            ),
            (["--wrap=Exit"], "option --wrap-mode: invalid choice: 'Exit' (choose from 'exit', 'ignore', 'respawn')"),
            (
                ["--=x"],
                "ambiguous option: -- (--auth-plugin, --auth-source, --cafile, --cert, --daemon, --file-only, "
                    + "--heartbeat, --help, --host-token, --idle-timeout, --inetd, --key, --key-password, "
                    + "--legacy-syslog, --libserver, --log-file, --prefer-ipv6, --record, --run-once, --ssl-ciphers, "
                    + "--ssl-only, --ssl-target, --ssl-version, --syslog, --target-config, --timeout, "
                    + "--token-plugin, --token-source, --traffic, --unix-listen, --unix-listen-mode, --unix-target, "
                    + "--verbose, --verify-client, --web, --web-auth, --wrap-mode?)"
            ),
        ] as [([String], String)])
    func scanning(arguments: [String], message: String) {
        #expect(throws: CommandLineError.usage(UsageError(message: message))) { try parse(arguments) }
    }

    @Test(
        "websockify's validation table, in its order",
        arguments: [
            (["--token-source", "/t", "6080"], "You must use --token-plugin to use --token-source"),
            (["--token-source", "/t", "--host-token"], "You must use --token-plugin to use --token-source"),
            (
                ["--token-plugin", "", "--token-source", "x", "6080", "h:1"],
                "You must use --token-plugin to use --token-source"
            ),
            (["--host-token", "6080", "h:1"], "You must use --token-plugin to use --host-token"),
            (["--auth-source", "x", "6080", "h:1"], "You must use --auth-plugin to use --auth-source"),
            (["--web-auth", "6080", "h:1"], "You must use --auth-plugin to use --web-auth"),
            (["--web-auth", "--auth-plugin", "BasicHTTPAuth", "6080", "h:1"], "You must use --web to use --web-auth"),
            (
                ["--web", "", "--web-auth", "--auth-plugin", "BasePlugin", "6080", "h:1"],
                "You must use --web to use --web-auth"
            ),
            (["--legacy-syslog", "6080", "h:1"], "You must use --syslog to use --legacy-syslog"),
            (["--legacy-syslog", "--syslog=", "6080", "h:1"], "You must use --syslog to use --legacy-syslog"),
            (["--syslog", "host:x", "6080", "h:1"], "Error parsing syslog port"),
            (["--syslog", "host:x"], "Error parsing syslog port"),
            (["--ssl-only", "6080", "h:1"], "SSL only and self.pem not found"),
            (["--ssl-only", "--cert", "nope.pem"], "SSL only and nope.pem not found"),
            (["--unix-listen", "/s", "--unix-listen-mode", "9", "h:1"], "Error parsing listen unix socket mode"),
            (["--unix-listen", "/s", "--unix-listen-mode", "rw"], "Error parsing listen unix socket mode"),
            ([], "Too few arguments"),
            (["6080"], "Too few arguments"),
            (["6080", "--"], "Too few arguments"),
            (["x"], "Error parsing listen port"),
            (["-", "h:1"], "Error parsing listen port"),
            (["6080:", "h:1"], "Error parsing listen port"),
            (["6080", "5900"], "Error parsing target"),
            (["--unix-listen", "/s", "6080", "h:1"], "Error parsing target"),
            (["6080", "h:x"], "Error parsing target port"),
            (["6080", "h:1", "extra"], "Too many arguments"),
            (["6080", "h:1", "-"], "Too many arguments"),
            (["--token-plugin", "TokenFile", "6080", "h:1"], "Too many arguments"),
            (["--unix-target", "/v.sock", "6080", "h:1"], "Too many arguments"),
        ] as [([String], String)])
    func validation(arguments: [String], message: String) {
        #expect(throws: CommandLineError.usage(UsageError(message: message))) { try parse(arguments) }
    }

    @Test(
        "unknown plugins fail like Python's import (exit 1)",
        arguments: [
            (
                ["--token-plugin", "Nope", "6080"],
                "AttributeError: module 'websockify.token_plugins' has no attribute 'Nope'"
            ),
            (["--token-plugin", "foo.Bar", "6080"], "ModuleNotFoundError: No module named 'foo'"),
            (
                ["--token-plugin", "", "6080", "h:1"],
                "AttributeError: module 'websockify.token_plugins' has no attribute ''"
            ),
            (
                ["--token-plugin", "tokenfile", "6080"],
                "AttributeError: module 'websockify.token_plugins' has no attribute 'tokenfile'"
            ),
            (
                ["--token-plugin", "websockify.Nope", "6080"],
                "AttributeError: module 'websockify' has no attribute 'Nope'"
            ),
            (["--token-plugin", "websockify.x.Y", "6080"], "ModuleNotFoundError: No module named 'websockify.x'"),
            (["--token-plugin", ".TokenFile", "6080"], "ValueError: Empty module name"),
            (
                ["--auth-plugin", "Nope", "6080", "h:1"],
                "AttributeError: module 'websockify.auth_plugins' has no attribute 'Nope'"
            ),
        ] as [([String], String)])
    func plugins(arguments: [String], message: String) {
        let error = CommandLineError.pluginLoad(PluginLoadError(message: message))
        #expect(throws: error) { try parse(arguments) }
        #expect(error.exitStatus == 1)
        #expect(CommandLineError.usage(UsageError(message: "")).exitStatus == 2)
    }

    @Test("a usage error wins over an unknown plugin, as in websockify")
    func usageBeforePlugin() {
        #expect(throws: CommandLineError.usage(UsageError(message: "Too many arguments"))) {
            try parse(["--token-plugin", "Nope", "6080", "h:1", "x"])
        }
    }
}

@Suite("Command line: accepted forms (confirmed with websockify 0.13.0)")
struct AcceptedFormTests {
    @Test("the plain form")
    func plain() {
        var expected = baseline(target: HostPort(host: "localhost", port: 5900))
        expected.listen = .tcp(HostPort(host: "", port: 6080))
        #expect(options(["6080", "localhost:5900"]) == expected)
    }

    @Test("prefixes, combined short flags, interspersed positionals")
    func syntaxForms() {
        var verbose = baseline()
        verbose.verbose = true
        #expect(options(["--verb", "6080", "h:1"]) == verbose)
        #expect(options(["6080", "-v", "h:1"]) == verbose)
        #expect(options(["6080", "h:1", "--verbose"]) == verbose)

        var combined = baseline()
        combined.verbose = true
        combined.daemon = true
        combined.preferIPv6 = true
        #expect(options(["-vD6", "6080", "h:1"]) == combined)
        #expect(options(["-6", "-D", "-v", "6080", "h:1"]) == combined)

        var web = baseline()
        web.web = "/x"
        #expect(options(["6080", "h:1", "--web", "/x"]) == web)
        #expect(options(["6080", "h:1", "--web=/x"]) == web)
        web.fileOnly = true
        #expect(options(["6080", "h:1", "--web=/x", "--file-only"]) == web)
    }

    @Test("an option value may start with a dash or be --")
    func dashValues() {
        var expected = baseline(target: nil)
        expected.record = "/work/dir/--"
        expected.wrapCommand = ["h:1"]  // websockify counts the `--` value as the wrap separator
        #expect(options(["--record", "--", "6080", "h:1"]) == expected)

        var password = baseline()
        password.keyPassword = "-v"
        #expect(options(["--key-password", "-v", "6080", "h:1"]) == password)
    }

    @Test("IPv6 listen and target forms", arguments: ["[::1]", "::1"])
    func ipv6(host: String) {
        var expected = baseline(target: HostPort(host: "::1", port: 5900))
        expected.listen = .tcp(HostPort(host: "::1", port: 6080))
        #expect(options(["\(host):6080", "\(host):5900"]) == expected)
    }

    @Test("ports are Python ints: not range-checked, whitespace and underscores allowed")
    func pythonPorts() {
        #expect(options(["6080", "h:99999"])?.target == HostPort(host: "h", port: 99999))
        #expect(options(["6080", "h: 5_9 "])?.target == HostPort(host: "h", port: 59))
        #expect(options(["0.0.0.0:+80", "h:1"])?.listen == .tcp(HostPort(host: "0.0.0.0", port: 80)))
    }

    @Test("integer options use optparse's radix prefixes")
    func integers() {
        let parsed = options(["--timeout", "010", "--idle-timeout=0x10", "--heartbeat", "0b101", "6080", "h:1"])
        #expect(parsed?.timeout == 8)
        #expect(parsed?.idleTimeout == 16)
        #expect(parsed?.heartbeat == 5)
        #expect(options(["--timeout", "-5", "6080", "h:1"])?.timeout == -5)
        #expect(options(["--timeout", "0b", "6080", "h:1"])?.timeout == 0)
        #expect(options(["--timeout", " 7 ", "6080", "h:1"])?.timeout == 7)
        #expect(options(["--timeout", "0", "6080", "h:1"])?.timeout == 0)
        #expect(options(["--timeout", "1", "--timeout", "2", "6080", "h:1"])?.timeout == 2)
    }

    @Test("choices")
    func choices() {
        #expect(options(["--ssl-v=tlsv1_3", "6080", "h:1"])?.sslVersion == .tlsv1_3)
        #expect(options(["6080", "h:1"])?.sslVersion == .default)
        #expect(options(["--wr=ignore", "6080", "h:1"])?.wrapMode == .ignore)
    }

    @Test("wrap mode: everything after the listen positional, when -- appears")
    func wrap() {
        var expected = baseline(target: nil)
        expected.wrapCommand = ["vncserver", ":1"]
        #expect(options(["6080", "--", "vncserver", ":1"]) == expected)
        expected.wrapCommand = ["cmd", "arg"]
        expected.wrapMode = .respawn
        #expect(options(["--wr=respawn", "6080", "--", "cmd", "arg"]) == expected)

        var withTarget = baseline(target: nil)
        withTarget.wrapCommand = ["h:1", "cmd"]
        #expect(options(["6080", "h:1", "--", "cmd"]) == withTarget)
        withTarget.wrapCommand = ["h:1"]
        #expect(options(["--", "6080", "h:1"]) == withTarget)
        #expect(options(["6080", "--", "-v"])?.wrapCommand == ["-v"])
        #expect(options(["6080", "--", "-v"])?.verbose == false)
    }

    @Test("token plugins, short and dotted")
    func tokenPlugins() {
        var expected = baseline(target: nil)
        expected.tokenPlugin = .tokenFile
        expected.tokenSource = "/t"
        #expect(options(["--token-plugin", "TokenFile", "--token-source", "/t", "6080"]) == expected)
        #expect(options(["--token-p=websockify.token_plugins.TokenFile", "--token-s", "/t", "6080"]) == expected)

        expected.tokenSource = nil
        expected.wrapCommand = ["h:1", "x"]
        #expect(options(["--token-plugin=TokenFile", "6080", "h:1", "--", "x"]) == expected)

        for kind in TokenPluginKind.allCases {
            #expect(options(["--token-plugin", kind.rawValue, "6080"])?.tokenPlugin == kind)
        }
        var hostToken = baseline(target: nil)
        hostToken.tokenPlugin = .tokenRedis
        hostToken.tokenSource = "r:6379"
        hostToken.hostToken = true
        #expect(
            options(["--host-token", "--token-plugin", "TokenRedis", "--token-source", "r:6379", "6080"]) == hostToken)
    }

    @Test("--target-config: TokenFile with an absolute path, overriding --token-plugin/--token-source")
    func targetConfig() {
        var expected = baseline(target: nil)
        expected.tokenPlugin = .tokenFile
        expected.tokenSource = "/work/dir/tok"
        #expect(options(["--target-config", "tok", "6080"]) == expected)
        #expect(
            options(["--target-config", "tok", "--token-plugin", "TokenRedis", "--token-source", "r", "6080"])
                == expected)
        expected.tokenSource = "/etc/tokens"
        #expect(options(["--target-c=/etc//tokens/", "6080"]) == expected)
        // An empty --target-config is ignored (Python truthiness).
        #expect(options(["--target-config", "", "6080", "h:1"]) == baseline())
    }

    @Test("auth plugins")
    func authPlugins() {
        var expected = baseline()
        expected.authPlugin = .basicHTTPAuth
        expected.authSource = "user:pw"
        expected.web = "/work/dir/www"
        expected.webAuth = true
        #expect(
            options([
                "--auth-plugin", "BasicHTTPAuth", "--auth-source", "user:pw", "--web", "www", "--web-auth", "6080",
                "h:1",
            ])
                == expected)
        for kind in AuthPluginKind.allCases {
            #expect(
                options(["--auth-plugin", "websockify.auth_plugins." + kind.rawValue, "6080", "h:1"])?.authPlugin
                    == kind)
        }
    }

    @Test("listen sources: --inetd over --unix-listen over the positional")
    func listenSources() {
        #expect(options(["--inetd", "h:1"])?.listen == .inetd)
        #expect(options(["--inetd", "--unix-listen", "/s", "h:1"])?.listen == .inetd)
        #expect(options(["--unix-listen", "/s", "h:1"])?.listen == .unixSocket(path: "/s", mode: 0o600))
        #expect(
            options(["--unix-listen", "s", "--unix-listen-mode", "0o660", "h:1"])?.listen
                == .unixSocket(path: "s", mode: 0o660))
        #expect(
            options(["--unix-listen", "/s", "--unix-listen-mode", "660", "h:1"])?.listen
                == .unixSocket(path: "/s", mode: 0o660))
        // The mode is only parsed with --unix-listen.
        #expect(options(["--unix-listen-mode", "x", "6080", "h:1"]) == baseline())
        // An empty --unix-listen falls back to the positional.
        #expect(options(["--unix-listen", "", "6080", "h:1"]) == baseline())
    }

    @Test("targets: --unix-target replaces the positional")
    func unixTarget() {
        var expected = baseline(target: nil)
        expected.unixTarget = "v.sock"
        #expect(options(["--unix-target", "v.sock", "6080"]) == expected)
    }

    @Test("TLS and paths: absolute where websockify makes them absolute")
    func tlsAndPaths() {
        var expected = baseline()
        expected.cert = "/etc/hostname"
        expected.sslOnly = true
        #expect(options(["--ssl-only", "--cert", "/etc/hostname", "6080", "h:1"]) == expected)
        #expect(options(["--ssl-only", "--cert", "exists.pem", "6080", "h:1"])?.cert == "/work/dir/exists.pem")

        var all = baseline()
        all.verifyClient = true
        all.cafile = "/work/dir/ca.pem"
        all.keyPassword = "pw"
        all.sslCiphers = ""
        all.key = "/k.pem"
        all.sslTarget = true
        all.record = "/work/rec"
        all.logFile = "/work/dir/log.txt"
        all.traffic = true
        all.runOnce = true
        all.libserver = true
        #expect(
            options([
                "--verify-client", "--cafile", "ca.pem", "--key-password", "pw", "--ssl-ciphers", "", "--key", "/k.pem",
                "--ssl-target", "--record", "../rec", "--log-file", "./log.txt", "--traffic", "--run-once",
                "--libserver", "6080", "h:1",
            ]) == all)
        // Empty path options are off, as in websockify.
        #expect(
            options(["--key", "", "--web", "", "--record", "", "--cafile", "", "--log-file", "", "6080", "h:1"])
                == baseline())
    }

    @Test("syslog destinations")
    func syslog() {
        #expect(options(["--syslog", "dev/log", "6080", "h:1"])?.syslog == .localSocket(path: "/work/dir/dev/log"))
        #expect(
            options(["--syslog", "logs.example:514", "6080", "h:1"])?.syslog == .udp(host: "logs.example", port: 514))
        // websockify keeps the brackets (and then fails to resolve the host at start-up).
        #expect(options(["--syslog", "[::1]:514", "6080", "h:1"])?.syslog == .udp(host: "[::1]", port: 514))
        var legacy = baseline()
        legacy.syslog = .localSocket(path: "/dev/log")
        legacy.legacySyslog = true
        #expect(options(["--syslog=/dev/log", "--legacy-syslog", "6080", "h:1"]) == legacy)
    }

    @Test("-h and --help stop the scan, wherever they are")
    func help() throws {
        for arguments in [
            ["-h"], ["--help"], ["--hel"], ["-h", "--bogus"], ["6080", "-vh"], ["--timeout", "1", "--help", "x"],
        ] {
            #expect(try parse(arguments) == .help(helpText(programName: "sockify")), "\(arguments)")
        }
        #expect(throws: CommandLineError.usage(UsageError(message: "option --timeout: invalid integer value: 'x'"))) {
            try parse(["--timeout", "x", "--help"])
        }
    }
}

@Suite("Command line: Sockify's own options")
struct SockifyOptionTests {
    @Test("defaults")
    func defaults() {
        let parsed = options(["6080", "h:1"])
        #expect(parsed?.workers == nil)
        #expect(parsed?.maxFrameSize == 16 << 20)
        #expect(parsed?.ioBackend == .auto)
    }

    @Test("values, full and abbreviated")
    func values() {
        let parsed = options(["--workers", "4", "--max-frame-size=1048576", "--io-backend", "io_uring", "6080", "h:1"])
        #expect(parsed?.workers == 4)
        #expect(parsed?.maxFrameSize == 1 << 20)
        #expect(parsed?.ioBackend == .ioUring)
        let short = options(["--wo", "2", "--max-f=0", "--io=epoll", "6080", "h:1"])
        #expect(short?.workers == 2)
        #expect(short?.maxFrameSize == 0)
        #expect(short?.ioBackend == .epoll)
    }

    @Test("hardening limits: defaults, values, and the exact name winning over a longer one")
    func limits() {
        let defaults = options(["6080", "h:1"])
        #expect(defaults?.handshakeTimeout == 10)
        #expect(defaults?.maxConnections == 0)
        #expect(defaults?.maxConnectionsPerIP == 0)
        #expect(defaults?.pongTimeout == nil)
        #expect(defaults?.sessionIdleTimeout == 0)
        let given = options([
            "--handshake-timeout=3", "--max-connections", "100", "--max-connections-per-ip=7", "--pong-timeout", "9",
            "--session-idle-timeout=60", "6080", "h:1",
        ])
        #expect(given?.handshakeTimeout == 3)
        #expect(given?.maxConnections == 100)
        #expect(given?.maxConnectionsPerIP == 7)
        #expect(given?.pongTimeout == 9)
        #expect(given?.sessionIdleTimeout == 60)
    }

    @Test("a negative limit is a usage error", arguments: [
        "--handshake-timeout", "--max-connections", "--max-connections-per-ip", "--pong-timeout", "--session-idle-timeout",
    ])
    func negativeLimit(option: String) {
        let environment = ParseEnvironment(programName: "sockify", currentDirectory: "/", fileExists: { _ in false })
        #expect(throws: CommandLineError.usage(UsageError(message: "option \(option): must not be negative, not -1"))) {
            try parseCommandLine([option, "-1", "6080", "h:1"], environment: environment)
        }
    }

    @Test("websockify's ambiguity messages are unchanged by the extra options")
    func ambiguityUnchanged() {
        // `--i` also prefixes --io-backend and `--w` --workers; websockify's candidates are listed alone.
        #expect(throws: CommandLineError.usage(UsageError(message: "ambiguous option: --i (--idle-timeout, --inetd?)")))
        {
            try parse(["--i", "6080"])
        }
        #expect(
            throws: CommandLineError.usage(
                UsageError(message: "ambiguous option: --w (--web, --web-auth, --wrap-mode?)"))
        ) { try parse(["--w", "x"]) }
        #expect(options(["--in", "h:1"])?.listen == .inetd)
    }

    @Test(
        "validation",
        arguments: [
            (["--workers", "0", "6080", "h:1"], "option --workers: must be between 1 and 1024, not 0"),
            (["--workers", "2000", "6080", "h:1"], "option --workers: must be between 1 and 1024, not 2000"),
            (["--workers", "x"], "option --workers: invalid integer value: 'x'"),
            (["--max-frame-size", "-1", "6080", "h:1"], "option --max-frame-size: must not be negative, not -1"),
            (
                ["--io-backend", "kqueue"],
                "option --io-backend: invalid choice: 'kqueue' (choose from 'auto', 'epoll', 'io_uring')"
            ),
            // websockify's own checks come first.
            (["--workers", "0", "6080"], "Too few arguments"),
        ] as [([String], String)])
    func validation(arguments: [String], message: String) {
        #expect(throws: CommandLineError.usage(UsageError(message: message))) { try parse(arguments) }
    }
}
