// An optparse-compatible parser for websockify's option table (Python 3.11 `optparse`, reference §1.2) and
// websockify's post-parse validation (`websocketproxy.py:568-712`), in the same order, with the same messages.
import SockifyProtocol
import SockifyTargets

/// One option of the table.
struct OptionSpec: Sendable {
    /// How the option takes its value (optparse `action`/`type`).
    enum Kind: Sendable {
        /// `store_true`.
        case flag
        /// `store` of a string.
        case string
        /// `store` with `type=int` (optparse `_parse_num`: `0x`, `0b` and leading-`0` octal prefixes).
        case integer
        /// `store` with `type="choice"`.
        case choice([String])
        /// `help`: stop and print the help.
        case help
    }

    /// Long name including `--`.
    var long: String
    /// Short name including `-`, if any.
    var short: String?
    var kind: Kind
    /// Sockify's own option (not in websockify): matched by abbreviation only when no websockify option matches.
    var isExtra = false
}

/// websockify 0.13.0's options in its `add_option` order, then Sockify's.
let optionTable: [OptionSpec] = [
    OptionSpec(long: "--help", short: "-h", kind: .help),
    OptionSpec(long: "--verbose", short: "-v", kind: .flag),
    OptionSpec(long: "--traffic", kind: .flag),
    OptionSpec(long: "--record", kind: .string),
    OptionSpec(long: "--daemon", short: "-D", kind: .flag),
    OptionSpec(long: "--run-once", kind: .flag),
    OptionSpec(long: "--timeout", kind: .integer),
    OptionSpec(long: "--idle-timeout", kind: .integer),
    OptionSpec(long: "--cert", kind: .string),
    OptionSpec(long: "--key", kind: .string),
    OptionSpec(long: "--key-password", kind: .string),
    OptionSpec(long: "--ssl-only", kind: .flag),
    OptionSpec(long: "--ssl-target", kind: .flag),
    OptionSpec(long: "--verify-client", kind: .flag),
    OptionSpec(long: "--cafile", kind: .string),
    OptionSpec(long: "--ssl-version", kind: .choice(MinimumTLSVersion.allCases.map(\.rawValue))),
    OptionSpec(long: "--ssl-ciphers", kind: .string),
    OptionSpec(long: "--unix-listen", kind: .string),
    OptionSpec(long: "--unix-listen-mode", kind: .string),
    OptionSpec(long: "--unix-target", kind: .string),
    OptionSpec(long: "--inetd", kind: .flag),
    OptionSpec(long: "--web", kind: .string),
    OptionSpec(long: "--web-auth", kind: .flag),
    OptionSpec(long: "--wrap-mode", kind: .choice(WrapMode.allCases.map(\.rawValue))),
    OptionSpec(long: "--prefer-ipv6", short: "-6", kind: .flag),
    OptionSpec(long: "--libserver", kind: .flag),
    OptionSpec(long: "--target-config", kind: .string),
    OptionSpec(long: "--token-plugin", kind: .string),
    OptionSpec(long: "--token-source", kind: .string),
    OptionSpec(long: "--host-token", kind: .flag),
    OptionSpec(long: "--auth-plugin", kind: .string),
    OptionSpec(long: "--auth-source", kind: .string),
    OptionSpec(long: "--heartbeat", kind: .integer),
    OptionSpec(long: "--log-file", kind: .string),
    OptionSpec(long: "--syslog", kind: .string),
    OptionSpec(long: "--legacy-syslog", kind: .flag),
    OptionSpec(long: "--file-only", kind: .flag),
    OptionSpec(long: "--workers", kind: .integer, isExtra: true),
    OptionSpec(long: "--max-frame-size", kind: .integer, isExtra: true),
    OptionSpec(long: "--io-backend", kind: .choice(IOBackendChoice.allCases.map(\.rawValue)), isExtra: true),
    OptionSpec(long: "--handshake-timeout", kind: .integer, isExtra: true),
    OptionSpec(long: "--max-connections", kind: .integer, isExtra: true),
    OptionSpec(long: "--max-connections-per-ip", kind: .integer, isExtra: true),
    OptionSpec(long: "--pong-timeout", kind: .integer, isExtra: true),
    OptionSpec(long: "--session-idle-timeout", kind: .integer, isExtra: true),
    OptionSpec(long: "--buffer-size", kind: .integer, isExtra: true),
    OptionSpec(long: "--metrics", kind: .string, isExtra: true),
    OptionSpec(long: "--proxy-protocol", kind: .flag, isExtra: true),
    OptionSpec(long: "--trusted-proxy", kind: .string, isExtra: true),
    OptionSpec(long: "--log-format", kind: .choice(["text", "json"]), isExtra: true),
    OptionSpec(long: "--sni-cert", kind: .string, isExtra: true),
    OptionSpec(long: "--ktls", kind: .choice(["auto", "off"]), isExtra: true),
    OptionSpec(long: "--ssl-target-cafile", kind: .string, isExtra: true),
    OptionSpec(long: "--ssl-target-name", kind: .string, isExtra: true),
    OptionSpec(long: "--ssl-target-insecure", kind: .flag, isExtra: true),
]

/// Parses a `sockify` command line exactly as websockify 0.13.0 parses its own.
///
/// Option syntax is optparse's: long options by any unique prefix (`--verb`), `--opt=value` or `--opt value`,
/// combined short flags (`-vD6`), options anywhere among the positionals, `--` ending the options. Errors come in
/// optparse's order: while scanning (unknown, ambiguous, missing or unexpected value, bad integer or choice, in
/// argv order; `-h` stops the scan and wins over anything after it), then websockify's validation table, then
/// Sockify's own range checks, then the plugin names.
///
/// Sockify's extra options (`--workers`, `--max-frame-size`, `--io-backend`) never change what a websockify
/// command line means or which message it gets: an abbreviation is matched against websockify's options first,
/// and against the extras only when no websockify option has that prefix.
///
/// - Parameters:
///   - arguments: the process arguments without `argv[0]`.
///   - environment: program name, working directory and file-existence check.
/// - Returns: ``ParseOutcome/help(_:)`` for `-h/--help`, else ``ParseOutcome/run(_:)``.
/// - Throws: ``CommandLineError``: `.usage` (exit 2) or `.pluginLoad` (exit 1).
func parseCommandLine(_ arguments: [String], environment: ParseEnvironment) throws(CommandLineError)
    -> ParseOutcome
{
    var scan = OptionScan()
    do {
        if try scan.run(arguments) {
            return .help(helpText(programName: environment.programName))
        }
    } catch {
        throw .usage(error)
    }
    do {
        return .run(try validate(scan, arguments: arguments, environment: environment))
    } catch let error as UsageError {
        throw .usage(error)
    } catch let error as PluginLoadError {
        throw .pluginLoad(error)
    } catch {
        preconditionFailure("validate throws only UsageError and PluginLoadError: \(error)")
    }
}

/// optparse's `_process_args`: the values seen, in the order seen.
private struct OptionScan {
    var flags: Set<String> = []
    var strings: [String: String] = [:]
    var integers: [String: Int] = [:]
    var positionals: [String] = []

    /// Scans `arguments`; returns `true` when `-h/--help` was reached.
    mutating func run(_ arguments: [String]) throws(UsageError) -> Bool {
        var remaining = arguments[...]
        while let argument = remaining.first {
            if argument == "--" {
                remaining.removeFirst()
                positionals.append(contentsOf: remaining)
                return false
            }
            if argument.hasPrefix("--") {
                if try longOption(&remaining) { return true }
            } else if argument.hasPrefix("-") && argument.unicodeScalars.count > 1 {
                if try shortOptions(&remaining) { return true }
            } else {
                positionals.append(argument)
                remaining.removeFirst()
            }
        }
        return false
    }

    /// `_process_long_opt`.
    private mutating func longOption(_ remaining: inout ArraySlice<String>) throws(UsageError) -> Bool {
        let argument = remaining.removeFirst()
        var name = argument
        var explicitValue: String?
        if let equals = argument.unicodeScalars.firstIndex(of: "=") {
            name = String(argument.unicodeScalars[..<equals])
            explicitValue = String(argument.unicodeScalars[argument.unicodeScalars.index(after: equals)...])
        }
        let spec = try matchLong(name)
        if spec.takesValue {
            let value: String
            if let explicitValue {
                value = explicitValue
            } else if let next = remaining.first {
                value = next
                remaining.removeFirst()
            } else {
                throw UsageError(message: "\(spec.long) option requires 1 argument")
            }
            try store(spec, as: spec.long, value: value)
            return false
        }
        if explicitValue != nil { throw UsageError(message: "\(spec.long) option does not take a value") }
        return store(flag: spec)
    }

    /// `_process_short_opts`: each character is an option; one that takes a value takes the rest of the
    /// argument, or the next argument.
    private mutating func shortOptions(_ remaining: inout ArraySlice<String>) throws(UsageError) -> Bool {
        let argument = remaining.removeFirst()
        var characters = argument.unicodeScalars.dropFirst()
        while let character = characters.popFirst() {
            let name = "-" + String(character)
            guard let spec = optionTable.first(where: { $0.short == name }) else {
                throw UsageError(message: "no such option: \(name)")
            }
            guard spec.takesValue else {
                if store(flag: spec) { return true }
                continue
            }
            let value: String
            if !characters.isEmpty {
                value = String(String.UnicodeScalarView(characters))
            } else if let next = remaining.first {
                value = next
                remaining.removeFirst()
            } else {
                throw UsageError(message: "\(name) option requires 1 argument")
            }
            try store(spec, as: name, value: value)
            return false
        }
        return false
    }

    /// Records a flag; returns `true` for `--help`.
    private mutating func store(flag spec: OptionSpec) -> Bool {
        if case .help = spec.kind { return true }
        flags.insert(spec.long)
        return false
    }

    /// Converts and records a value; `shownName` is the spelling optparse puts in messages.
    private mutating func store(_ spec: OptionSpec, as shownName: String, value: String) throws(UsageError) {
        switch spec.kind {
        case .integer:
            guard let number = optparseInteger(value) else {
                throw UsageError(message: "option \(shownName): invalid integer value: \(PythonText.repr(value))")
            }
            integers[spec.long] = number
        case .choice(let choices):
            guard choices.contains(value) else {
                let listed = choices.map { PythonText.repr($0) }.joined(separator: ", ")
                throw UsageError(
                    message: "option \(shownName): invalid choice: \(PythonText.repr(value)) (choose from \(listed))")
            }
            strings[spec.long] = value
        case .string:
            strings[spec.long] = value
        case .flag, .help:
            preconditionFailure("\(spec.long) takes no value")
        }
    }
}

extension OptionSpec {
    fileprivate var takesValue: Bool {
        switch kind {
        case .flag, .help: false
        case .string, .integer, .choice: true
        }
    }
}

/// optparse `_match_abbrev`, websockify's options first (see ``parseCommandLine(_:environment:)``).
private func matchLong(_ name: String) throws(UsageError) -> OptionSpec {
    if let exact = optionTable.first(where: { $0.long == name }) { return exact }
    for extras in [false, true] {
        let candidates = optionTable.filter { $0.isExtra == extras && $0.long.hasPrefix(name) }
        if candidates.count == 1 { return candidates[0] }
        if candidates.count > 1 {
            let names = candidates.map(\.long).sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
            throw UsageError(message: "ambiguous option: \(name) (\(names.joined(separator: ", "))?)")
        }
    }
    throw UsageError(message: "no such option: \(name)")
}

/// optparse `_parse_num(value, int)`: the first characters pick the radix, then Python `int(text, radix)`.
func optparseInteger(_ value: String) -> Int? {
    let scalars = Array(value.unicodeScalars.prefix(2))
    let lowered = String(String.UnicodeScalarView(scalars)).lowercased()
    if lowered == "0x" { return PythonText.int(value, radix: 16) }
    if lowered == "0b" {
        let digits = String(String.UnicodeScalarView(value.unicodeScalars.dropFirst(2)))
        return PythonText.int(digits.isEmpty ? "0" : digits, radix: 2)
    }
    if scalars.first == "0" { return PythonText.int(value, radix: 8) }
    return PythonText.int(value, radix: 10)
}

/// websockify's post-parse checks and conversions (`websocketproxy.py:568-712`), in its order.
private func validate(_ scan: OptionScan, arguments: [String], environment: ParseEnvironment) throws
    -> WebsockifyOptions
{
    func string(_ name: String) -> String? { scan.strings[name] }
    /// Python truthiness of a string option: given and not empty.
    func given(_ name: String) -> Bool { !(scan.strings[name] ?? "").isEmpty }
    func flag(_ name: String) -> Bool { scan.flags.contains(name) }
    func absolute(_ path: String) -> String {
        PythonText.absolutePath(path, currentDirectory: environment.currentDirectory)
    }
    func absoluteIfGiven(_ name: String) -> String? { given(name) ? absolute(string(name)!) : nil }

    if given("--token-source") && !given("--token-plugin") {
        throw UsageError(message: "You must use --token-plugin to use --token-source")
    }
    if flag("--host-token") && !given("--token-plugin") {
        throw UsageError(message: "You must use --token-plugin to use --host-token")
    }
    if given("--auth-source") && !given("--auth-plugin") {
        throw UsageError(message: "You must use --auth-plugin to use --auth-source")
    }
    if flag("--web-auth") && !given("--auth-plugin") {
        throw UsageError(message: "You must use --auth-plugin to use --web-auth")
    }
    if flag("--web-auth") && !given("--web") {
        throw UsageError(message: "You must use --web to use --web-auth")
    }
    if flag("--legacy-syslog") && !given("--syslog") {
        throw UsageError(message: "You must use --syslog to use --legacy-syslog")
    }

    var options = WebsockifyOptions(cert: absolute(string("--cert") ?? "self.pem"), listen: .inetd)
    options.verbose = flag("--verbose")
    options.traffic = flag("--traffic")
    options.record = absoluteIfGiven("--record")
    options.daemon = flag("--daemon")
    options.runOnce = flag("--run-once")
    options.timeout = scan.integers["--timeout"] ?? 0
    options.idleTimeout = scan.integers["--idle-timeout"] ?? 0
    options.heartbeat = scan.integers["--heartbeat"] ?? 0
    options.logFile = absoluteIfGiven("--log-file")
    options.legacySyslog = flag("--legacy-syslog")
    options.key = absoluteIfGiven("--key")
    options.keyPassword = string("--key-password")
    options.sslOnly = flag("--ssl-only")
    options.sslTarget = flag("--ssl-target")
    options.verifyClient = flag("--verify-client")
    options.cafile = absoluteIfGiven("--cafile")
    options.sslVersion = string("--ssl-version").flatMap(MinimumTLSVersion.init(rawValue:)) ?? .default
    options.sslCiphers = string("--ssl-ciphers")
    options.preferIPv6 = flag("--prefer-ipv6")
    options.libserver = flag("--libserver")
    options.unixTarget = given("--unix-target") ? string("--unix-target") : nil
    options.hostToken = flag("--host-token")
    options.wrapMode = string("--wrap-mode").flatMap(WrapMode.init(rawValue:)) ?? .exit
    options.authSource = string("--auth-source")
    options.web = absoluteIfGiven("--web")
    options.webAuth = flag("--web-auth")
    options.fileOnly = flag("--file-only")
    options.workers = scan.integers["--workers"]
    options.maxFrameSize = scan.integers["--max-frame-size"] ?? WebsockifyOptions.defaultMaxFrameSize
    options.ioBackend = string("--io-backend").flatMap(IOBackendChoice.init(rawValue:)) ?? .auto
    options.handshakeTimeout = scan.integers["--handshake-timeout"] ?? WebsockifyOptions.defaultHandshakeTimeout
    options.maxConnections = scan.integers["--max-connections"] ?? 0
    options.maxConnectionsPerIP = scan.integers["--max-connections-per-ip"] ?? 0
    options.pongTimeout = scan.integers["--pong-timeout"]
    options.sessionIdleTimeout = scan.integers["--session-idle-timeout"] ?? 0
    options.bufferSize = scan.integers["--buffer-size"] ?? WebsockifyOptions.defaultBufferSize
    options.proxyProtocol = flag("--proxy-protocol")
    options.jsonLogs = string("--log-format") == "json"
    options.kernelTLS = string("--ktls") != "off"
    options.sslTargetCAFile = absoluteIfGiven("--ssl-target-cafile")
    options.sslTargetName = string("--ssl-target-name")
    options.sslTargetInsecure = flag("--ssl-target-insecure")
    if let list = string("--sni-cert") {
        for item in list.split(separator: ",") where !item.isEmpty {
            let parts = item.split(separator: ":", maxSplits: 1).map(String.init)
            options.sniCertificates.append(
                CertificatePaths(certificate: absolute(parts[0]), key: parts.count > 1 ? absolute(parts[1]) : nil))
        }
    }
    if let metrics = string("--metrics") {
        do {
            options.metrics = try HostPort.parseListen(metrics)
        } catch {
            throw UsageError(message: "option --metrics: invalid HOST:PORT value: '\(metrics)'")
        }
        guard options.metrics?.tcpPort != nil else {
            throw UsageError(message: "option --metrics: invalid HOST:PORT value: '\(metrics)'")
        }
    }
    if let ranges = string("--trusted-proxy") {
        for item in ranges.split(whereSeparator: { $0 == "," || $0 == " " }) {
            do {
                options.trustedProxies.append(try AddressRange(String(item)))
            } catch {
                throw UsageError(message: "option --trusted-proxy: \(error)")
            }
        }
    }

    if given("--syslog"), let server = string("--syslog") {
        if let colon = server.unicodeScalars.lastIndex(of: ":") {
            let scalars = server.unicodeScalars
            guard let port = PythonText.int(Substring(scalars[scalars.index(after: colon)...]), radix: 10) else {
                throw UsageError(message: "Error parsing syslog port")
            }
            options.syslog = .udp(host: String(scalars[..<colon]), port: port)
        } else {
            options.syslog = .localSocket(path: absolute(server))
        }
    }

    // --target-config overrides --token-plugin/--token-source (websocketproxy.py:642-650).
    var tokenPluginName = string("--token-plugin")
    options.tokenSource = string("--token-source")
    if given("--target-config") {
        tokenPluginName = TokenPluginKind.tokenFile.rawValue
        options.tokenSource = absolute(string("--target-config")!)
    }

    // websockify tests `sys.argv.count('--')`, so a `--` consumed as an option's value counts too.
    var positionals = scan.positionals[...]
    let wrapCommand: [String]? = arguments.contains("--") ? Array(positionals.dropFirst()) : nil

    if options.sslOnly && !environment.fileExists(string("--cert") ?? "self.pem") {
        throw UsageError(message: "SSL only and \(string("--cert") ?? "self.pem") not found")
    }

    if flag("--inetd") {
        options.listen = .inetd
    } else if given("--unix-listen"), let path = string("--unix-listen") {
        var mode = 0o600
        if given("--unix-listen-mode") {
            guard let parsed = PythonText.int(string("--unix-listen-mode")!, radix: 8) else {
                throw UsageError(message: "Error parsing listen unix socket mode")
            }
            mode = parsed
        }
        options.listen = .unixSocket(path: path, mode: mode)
    } else {
        guard let argument = positionals.popFirst() else { throw UsageError(message: "Too few arguments") }
        do {
            options.listen = .tcp(try HostPort.parseListen(argument))
        } catch {
            throw UsageError(message: error.message)
        }
    }

    if !(wrapCommand ?? []).isEmpty || options.unixTarget != nil || !(tokenPluginName ?? "").isEmpty {
        options.target = nil
    } else {
        guard let argument = positionals.popFirst() else { throw UsageError(message: "Too few arguments") }
        do {
            options.target = try HostPort.parseTarget(argument)
        } catch {
            throw UsageError(message: error.message)
        }
    }

    if !positionals.isEmpty && wrapCommand == nil {
        throw UsageError(message: "Too many arguments")
    }
    options.wrapCommand = (wrapCommand ?? []).isEmpty ? nil : wrapCommand

    // Sockify's own options: checked after everything websockify checks, so websockify command lines are
    // judged exactly as websockify judges them.
    if let workers = options.workers, !(1...1024).contains(workers) {
        throw UsageError(message: "option --workers: must be between 1 and 1024, not \(workers)")
    }
    for (name, value) in [
        ("--handshake-timeout", options.handshakeTimeout), ("--max-connections", options.maxConnections),
        ("--max-connections-per-ip", options.maxConnectionsPerIP), ("--pong-timeout", options.pongTimeout ?? 0),
        ("--session-idle-timeout", options.sessionIdleTimeout),
    ] where value < 0 {
        throw UsageError(message: "option \(name): must not be negative, not \(value)")
    }
    if !(4096...(16 << 20)).contains(options.bufferSize) {
        throw UsageError(message: "option --buffer-size: must be between 4096 and 16777216, not \(options.bufferSize)")
    }
    if options.maxFrameSize < 0 {
        throw UsageError(message: "option --max-frame-size: must not be negative, not \(options.maxFrameSize)")
    }

    if let tokenPluginName {
        options.tokenPlugin = try loadPlugin(
            tokenPluginName, module: TokenPluginKind.moduleName, as: TokenPluginKind.self)
    }
    if let authPluginName = string("--auth-plugin") {
        options.authPlugin = try loadPlugin(authPluginName, module: AuthPluginKind.moduleName, as: AuthPluginKind.self)
    }
    return options
}

/// websockify's plugin loading: a name without `.` gets `module.` prepended, then `rsplit('.', 1)` gives the
/// module and the class; anything but a known plugin fails the way Python's import would.
private func loadPlugin<Kind: RawRepresentable<String>>(_ name: String, module: String, as _: Kind.Type)
    throws(PluginLoadError) -> Kind
{
    let qualified = name.contains(".") ? name : module + "." + name
    let scalars = qualified.unicodeScalars
    let dot = scalars.lastIndex(of: ".")!
    let moduleName = String(scalars[..<dot])
    let className = String(scalars[scalars.index(after: dot)...])
    if moduleName == module, let kind = Kind(rawValue: className) { return kind }
    if moduleName.isEmpty { throw PluginLoadError(message: "ValueError: Empty module name") }
    // The first component of the module path that websockify's installation does not have.
    let knownModules: Set<String> = [
        "websockify", "websockify.auth_plugins", "websockify.token_plugins", "websockify.websocket",
        "websockify.websocketproxy", "websockify.websocketserver", "websockify.websockifyserver",
        "websockify.sysloghandler",
    ]
    var prefix = ""
    for component in moduleName.split(separator: ".", omittingEmptySubsequences: false) {
        prefix = prefix.isEmpty ? String(component) : prefix + "." + component
        if !knownModules.contains(prefix) {
            throw PluginLoadError(message: "ModuleNotFoundError: No module named \(PythonText.repr(prefix))")
        }
    }
    throw PluginLoadError(
        message: "AttributeError: module \(PythonText.repr(moduleName)) has no attribute \(PythonText.repr(className))")
}
