// The parsed `sockify` command line: every websockify 0.13.0 option with websockify's defaults and types
// (reference §1.4), plus Sockify's own options. Produced by `parseCommandLine(_:environment:)`.
import SockifyProtocol
import SockifyTargets
import SockifyReactor

/// Every option and positional of a `sockify` command line, after websockify's own post-processing
/// (`websocketproxy.py:568-712`): defaults filled in, `--target-config` folded into the token plugin, paths made
/// absolute where websockify makes them absolute, the listen address and target parsed.
///
/// Empty strings that websockify only ever tests for truthiness (`--web ''`, `--record ''`, …) are stored as
/// `nil`, so `nil` always means "off". Nothing here is checked against the file system except `--ssl-only`'s
/// certificate, which websockify checks while parsing.
struct WebsockifyOptions: Equatable, Sendable {
    // MARK: Logging and lifecycle

    /// `-v/--verbose`: debug logging.
    var verbose = false
    /// `--traffic`: per-frame traffic tokens on stdout.
    var traffic = false
    /// `--record=FILE`, absolute: record each session to `FILE.<n>`.
    var record: String?
    /// `-D/--daemon`: detach.
    var daemon = false
    /// `--run-once`: exit after the first WebSocket connection.
    var runOnce = false
    /// `--timeout=N` seconds (0 = off). Python `int`: may be negative, which websockify accepts.
    var timeout = 0
    /// `--idle-timeout=N` seconds (0 = off).
    var idleTimeout = 0
    /// `--heartbeat=N` seconds between empty pings (0 = off).
    var heartbeat = 0
    /// `--log-file=FILE`, absolute.
    var logFile: String?
    /// `--syslog=SERVER`: a UDP `host:port` (split with `rsplit(':', 1)`, no bracket stripping) or a local
    /// socket path (absolute).
    var syslog: SyslogDestination?
    /// `--legacy-syslog`: `<pri>ident[pid]: ` headers instead of RFC 5424.
    var legacySyslog = false

    // MARK: TLS

    /// `--cert=CERT`, absolute (default `self.pem` in the working directory).
    var cert: String
    /// `--key=KEY`, absolute.
    var key: String?
    /// `--key-password=KEY_PASSWORD`, verbatim.
    var keyPassword: String?
    /// `--ssl-only`: refuse non-TLS clients.
    var sslOnly = false
    /// `--ssl-target`: TLS to the target, verifying it against the system CAs.
    var sslTarget = false
    /// `--verify-client`: require a client certificate.
    var verifyClient = false
    /// `--cafile=FILE`, absolute.
    var cafile: String?
    /// `--ssl-version=…`: the minimum TLS version.
    var sslVersion = MinimumTLSVersion.default
    /// `--ssl-ciphers=…`, verbatim (websockify passes even `''` to `set_ciphers`).
    var sslCiphers: String?

    // MARK: Listening

    /// Where to accept connections: `--inetd` wins over `--unix-listen`, which wins over the positional.
    var listen: ListenSource
    /// `-6/--prefer-ipv6`: prefer IPv6 when resolving the listen host.
    var preferIPv6 = false
    /// `--libserver`: websockify's (broken) threaded engine; parsed only.
    var libserver = false

    // MARK: Targets

    /// The target positional; `nil` when a wrapped command, `--unix-target` or a token plugin supplies targets.
    var target: HostPort?
    /// `--unix-target=FILE`, verbatim (a relative path is resolved at connect time).
    var unixTarget: String?
    /// `--token-plugin` (or `TokenFile` from `--target-config`).
    var tokenPlugin: TokenPluginKind?
    /// `--token-source`, verbatim, or the absolute `--target-config` path. `nil` when not given (websockify
    /// passes `None` to the plugin).
    var tokenSource: String?
    /// `--host-token`: the token is the `Host` header, not the `token` query parameter.
    var hostToken = false
    /// The command after `--` (websockify: every positional after the listen one, when `--` appears anywhere in
    /// argv). `nil` when absent or empty.
    var wrapCommand: [String]?
    /// `--wrap-mode`: what to do when the wrapped command exits.
    var wrapMode = WrapMode.exit

    // MARK: Authentication and web

    /// `--auth-plugin`.
    var authPlugin: AuthPluginKind?
    /// `--auth-source`, verbatim.
    var authSource: String?
    /// `--web=DIR`, absolute: serve static files from DIR on the same port.
    var web: String?
    /// `--web-auth`: run the auth plugin for plain HTTP requests too.
    var webAuth = false
    /// `--file-only`: no directory listings.
    var fileOnly = false

    // MARK: Sockify's own options

    /// `--workers=N`: reactor threads; `nil` means one per online CPU.
    var workers: Int?
    /// `--max-frame-size=BYTES`: largest client frame payload accepted (larger: close 1009); 0 means no limit.
    var maxFrameSize = WebsockifyOptions.defaultMaxFrameSize
    /// `--io-backend=…`.
    var ioBackend = IOBackendChoice.auto
    /// `--handshake-timeout=SECONDS`: time to send a complete HTTP request head (slowloris bound; also the
    /// keep-alive idle limit).
    var handshakeTimeout = WebsockifyOptions.defaultHandshakeTimeout
    /// `--max-connections=N`: open client connections at most (0 = only the descriptor limit).
    var maxConnections = 0
    /// `--max-connections-per-ip=N`: open client connections per client address (0 = no limit; behind a load
    /// balancer every client has the balancer's address).
    var maxConnectionsPerIP = 0
    /// `--pong-timeout=SECONDS`: with `--heartbeat`, close a WebSocket whose client sent nothing (not even a pong)
    /// for this long. `nil` = twice the heartbeat; 0 = never.
    var pongTimeout: Int?
    /// `--session-idle-timeout=SECONDS`: close a WebSocket with no traffic either way for this long (0 = never).
    var sessionIdleTimeout = 0

    /// `--buffer-size=BYTES`: bytes per receive buffer (one per direction, held only while bytes are in flight).
    var bufferSize = WebsockifyOptions.defaultBufferSize

    /// `--metrics=HOST:PORT`: the metrics/health listener.
    var metrics: HostPort?
    /// `--log-format=json`: one JSON object per log line, with a structured per-session summary.
    var jsonLogs = false
    /// `--proxy-protocol`: a PROXY v1/v2 header starts every connection.
    var proxyProtocol = false
    /// `--trusted-proxy=CIDRS`: peers whose Forwarded / X-Forwarded-For headers are believed.
    var trustedProxies: [AddressRange] = []
    /// `--sni-cert=CERT[:KEY],…`: further certificates, chosen by the client's SNI name (absolute paths).
    var sniCertificates: [CertificatePaths] = []
    /// `--ktls=auto|off`: offer kernel TLS for client (and target) sessions.
    var kernelTLS = true
    /// `--ssl-target-cafile=FILE`: CAs that verify a TLS target (default: the system's).
    var sslTargetCAFile: String?
    /// `--ssl-target-name=NAME`: the name a TLS target's certificate must carry (default: the target host).
    var sslTargetName: String?
    /// `--ssl-target-insecure`: do not verify TLS targets (self-signed VNC servers).
    var sslTargetInsecure = false

    /// The default of `--buffer-size`.
    static let defaultBufferSize = 256 * 1024
    /// The default of `--handshake-timeout`, in seconds.
    static let defaultHandshakeTimeout = 10

    /// The default of `--max-frame-size`: 16 MiB, far above what noVNC sends, small enough to bound memory.
    static let defaultMaxFrameSize = 16 << 20
}

/// Where `sockify` accepts connections.
enum ListenSource: Equatable, Sendable {
    /// The `[source_addr:]source_port` positional; an empty host means all interfaces.
    case tcp(HostPort)
    /// `--unix-listen=FILE` (verbatim) with `--unix-listen-mode` parsed as octal (default 0o600).
    case unixSocket(path: String, mode: Int)
    /// `--inetd`: standard input is a listening socket.
    case inetd
    /// systemd socket activation (`LISTEN_FDS`/`LISTEN_PID` name this process): descriptor 3 is the listening
    /// socket; it replaces the listen argument.
    case systemdSocket
}

/// `--syslog`'s destination.
enum SyslogDestination: Equatable, Sendable {
    /// `host:port`: UDP. The host is verbatim (brackets kept), the port a Python `int`.
    case udp(host: String, port: Int)
    /// A local datagram socket such as `/dev/log`, absolute.
    case localSocket(path: String)
}

/// A certificate file and its key file (nil: the key is in the certificate file).
struct CertificatePaths: Equatable, Sendable {
    var certificate: String
    var key: String?
}

/// `--ssl-version`'s choices.
enum MinimumTLSVersion: String, CaseIterable, Sendable {
    case `default` = "default"
    case tlsv1_1 = "tlsv1_1"
    case tlsv1_2 = "tlsv1_2"
    case tlsv1_3 = "tlsv1_3"
}

/// `--wrap-mode`'s choices.
enum WrapMode: String, CaseIterable, Sendable {
    case exit, ignore, respawn
}

/// `--io-backend`'s choices (Sockify only).
enum IOBackendChoice: String, CaseIterable, Sendable {
    /// Probe io_uring, fall back to epoll.
    case auto
    case epoll
    case ioUring = "io_uring"

    /// What `auto` picks when io_uring can be used (docs/benchmarks.md has the side-by-side numbers behind it).
    static let autoPreference = IOBackend.ioUring
}

/// The authentication plugins of `websockify.auth_plugins`, as `--auth-plugin` names them.
enum AuthPluginKind: String, CaseIterable, Sendable {
    /// `BasePlugin`: allows everything.
    case basePlugin = "BasePlugin"
    /// `BasicHTTPAuth`: `user:password` source, 401 with `WWW-Authenticate: Basic realm="Websockify"`.
    case basicHTTPAuth = "BasicHTTPAuth"
    /// `ExpectOrigin`: space-separated allowed origins, 403 "Invalid Origin".
    case expectOrigin = "ExpectOrigin"
    /// `ClientCertCNAuth`: space-separated allowed client certificate common names.
    case clientCertCNAuth = "ClientCertCNAuth"

    /// The Python module websockify prefixes to a name without a dot.
    static let moduleName = "websockify.auth_plugins"
}

/// What a successful parse asks for.
enum ParseOutcome: Equatable, Sendable {
    /// Run with these options.
    case run(WebsockifyOptions)
    /// `-h/--help`: print this text to standard output and exit 0.
    case help(String)
}

/// An optparse usage error. The caller prints ``renderUsageError(_:programName:)`` to standard error and exits 2.
struct UsageError: Error, Equatable, Sendable {
    /// The message after `sockify: error: `, e.g. `no such option: --bogus`.
    var message: String
}

/// An unknown `--token-plugin`/`--auth-plugin` class. websockify dies with a Python traceback and exit status 1;
/// the caller prints ``message`` to standard error and exits 1.
struct PluginLoadError: Error, Equatable, Sendable {
    /// The last line of websockify's traceback, e.g.
    /// `AttributeError: module 'websockify.token_plugins' has no attribute 'Foo'`.
    var message: String
}

/// Why a command line was refused.
enum CommandLineError: Error, Equatable, Sendable {
    /// Exit status 2, usage block and message on standard error.
    case usage(UsageError)
    /// Exit status 1, message on standard error.
    case pluginLoad(PluginLoadError)

    /// The exit status websockify uses for this error.
    var exitStatus: Int32 {
        switch self {
        case .usage: 2
        case .pluginLoad: 1
        }
    }
}

/// What the parser needs from the process, injected so parsing stays pure.
struct ParseEnvironment: Sendable {
    /// The program name for usage lines (`sockify`); see ``programName(fromArgv0:)``.
    var programName: String
    /// The absolute working directory, for the paths websockify makes absolute.
    var currentDirectory: String
    /// Whether a path exists (Python `os.path.exists`): only `--ssl-only` consults it.
    var fileExists: @Sendable (String) -> Bool
}

/// `os.path.basename(argv[0])`, optparse's `%prog`.
///
/// - Parameter argv0: the first element of the process arguments.
/// - Returns: the text after the last `/`.
func programName(fromArgv0 argv0: String) -> String {
    guard let slash = argv0.lastIndex(of: "/") else { return argv0 }
    return String(argv0[argv0.index(after: slash)...])
}
