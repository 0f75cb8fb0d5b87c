// `sockify --help` and optparse's usage-error layout. The websockify part of the help is websockify 0.13.0's
// `--help` verbatim (optparse, 80 columns, `COLUMNS` unset); Sockify's options follow in the same format.

/// The usage block optparse prints before the help and before every error (`"Usage: %s\n" % usage`, with a
/// trailing space after `Usage:`); `%prog` is `programName`.
func usageText(programName: String) -> String {
    "Usage: \n"
        + "    \(programName) [options] [source_addr:]source_port target_addr:target_port\n"
        + "    \(programName) [options] --token-plugin=CLASS [source_addr:]source_port\n"
        + "    \(programName) [options] --unix-target=FILE [source_addr:]source_port\n"
        + "    \(programName) [options] [source_addr:]source_port -- WRAP_COMMAND_LINE\n"
}

/// websockify's option help, exactly as websockify 0.13.0 prints it.
let websockifyOptionHelp = """
    Options:
      -h, --help            show this help message and exit
      -v, --verbose         verbose messages
      --traffic             per frame traffic
      --record=FILE         record sessions to FILE.[session_number]
      -D, --daemon          become a daemon (background process)
      --run-once            handle a single WebSocket connection and exit
      --timeout=TIMEOUT     after TIMEOUT seconds exit when not connected
      --idle-timeout=IDLE_TIMEOUT
                            server exits after TIMEOUT seconds if there are no
                            active connections
      --cert=CERT           SSL certificate file
      --key=KEY             SSL key file (if separate from cert)
      --key-password=KEY_PASSWORD
                            SSL key password
      --ssl-only            disallow non-encrypted client connections
      --ssl-target          connect to SSL target as SSL client
      --verify-client       require encrypted client to present a valid
                            certificate (needs Python 2.7.9 or newer or Python 3.4
                            or newer)
      --cafile=FILE         file of concatenated certificates of authorities
                            trusted for validating clients (only effective with
                            --verify-client). If omitted, system default list of
                            CAs is used.
      --ssl-version=SSL_VERSION
                            minimum TLS version to use (default, tlsv1_1, tlsv1_2,
                            tlsv1_3)
      --ssl-ciphers=SSL_CIPHERS
                            list of ciphers allowed for connection. For a list of
                            supported ciphers run `openssl ciphers`
      --unix-listen=FILE    listen to unix socket
      --unix-listen-mode=UNIX_LISTEN_MODE
                            specify mode for unix socket (defaults to 0600)
      --unix-target=FILE    connect to unix socket target
      --inetd               inetd mode, receive listening socket from stdin
      --web=DIR             run webserver on same port. Serve files from DIR.
      --web-auth            require authentication to access webserver.
      --wrap-mode=MODE      action to take when the wrapped program exits or
                            daemonizes: exit (default), ignore, respawn
      -6, --prefer-ipv6     prefer IPv6 when resolving source_addr
      --libserver           use Python library SocketServer engine
      --target-config=FILE  Configuration file containing valid targets in the
                            form 'token: host:port' or, alternatively, a directory
                            containing configuration files of this form
                            (DEPRECATED: use `--token-plugin TokenFile --token-
                            source  path/to/token/file` instead)
      --token-plugin=CLASS  use a Python class, usually one from
                            websockify.token_plugins, such as TokenFile, to
                            process tokens into host:port pairs
      --token-source=ARG    an argument to be passed to the token plugin on
                            instantiation
      --host-token          use the host HTTP header as token instead of the token
                            URL query parameter
      --auth-plugin=CLASS   use a Python class, usually one from
                            websockify.auth_plugins, such as BasicHTTPAuth, to
                            determine if a connection is allowed
      --auth-source=ARG     an argument to be passed to the auth plugin on
                            instantiation
      --heartbeat=INTERVAL  send a ping to the client every INTERVAL seconds
      --log-file=FILE       File where logs will be saved
      --syslog=SERVER       Log to syslog server. SERVER can be local socket, such
                            as /dev/log, or a UDP host:port pair.
      --legacy-syslog       Use the old syslog protocol instead of RFC 5424. Use
                            this if the messages produced by websockify seem
                            abnormal.
      --file-only           use this to disable directory listings in web server.
    """

/// Sockify's options, formatted by optparse itself (`IndentedHelpFormatter`, 80 columns) from these help strings.
let sockifyOptionHelp = """
      --workers=N           number of reactor threads (default: one per online
                            CPU)
      --max-frame-size=BYTES
                            largest WebSocket frame payload accepted from a
                            client; larger frames get close code 1009; 0 means no
                            limit (default 16777216 = 16 MiB)
      --io-backend=BACKEND  I/O backend: auto (default: io_uring if the kernel
                            allows it, else epoll), epoll, io_uring
      --handshake-timeout=SECONDS
                            close a connection that has not sent a complete HTTP
                            request within SECONDS (default 10)
      --max-connections=N   accept at most N open client connections (default 0:
                            no limit but the descriptor limit)
      --max-connections-per-ip=N
                            accept at most N open connections from one client
                            address (default 0: no limit)
      --pong-timeout=SECONDS
                            with --heartbeat, close a WebSocket whose client sent
                            nothing for SECONDS (default: twice the heartbeat; 0:
                            never)
      --session-idle-timeout=SECONDS
                            close a WebSocket with no traffic in either direction
                            for SECONDS (default 0: never)
      --buffer-size=BYTES   receive buffer per direction, held only while bytes
                            are in flight (default 262144)
      --metrics=HOST:PORT   serve Prometheus /metrics and /healthz on a separate
                            listener
      --proxy-protocol      every connection starts with a PROXY protocol v1/v2
                            header (HAProxy send-proxy); its source is the client
      --trusted-proxy=CIDRS
                            trust Forwarded/X-Forwarded-For from these peers
                            (comma-separated addresses or ranges)
      --log-format=FORMAT   text (websockify's lines, the default) or json (one
                            object per line, structured session summaries)
      --sni-cert=CERT[:KEY],...
                            more certificates, picked by the client's SNI name
      --ktls=KTLS           auto (kernel TLS where the kernel offers it) or off
      --ssl-target-cafile=FILE
                            CAs that verify --ssl-target targets (default: the
                            system's)
      --ssl-target-name=NAME
                            name a target's certificate must carry (default:
                            the target host)
      --ssl-target-insecure
                            do not verify --ssl-target targets (self-signed)
    """

/// The full `--help` text (optparse `format_help`): usage, a blank line, the options. Printed to standard output;
/// then the process exits 0.
///
/// - Parameter programName: `%prog`, normally ``programName(fromArgv0:)``.
/// - Returns: the text, ending with a newline.
func helpText(programName: String) -> String {
    usageText(programName: programName) + "\n" + websockifyOptionHelp + "\n" + sockifyOptionHelp + "\n"
}

/// What optparse's `parser.error` writes to standard error for `error`: the usage block, a blank line, then
/// `<prog>: error: <message>`. The caller then exits with status 2.
///
/// - Parameters:
///   - error: the usage error.
///   - programName: `%prog`.
/// - Returns: the text, ending with a newline.
func renderUsageError(_ error: UsageError, programName: String) -> String {
    usageText(programName: programName) + "\n" + "\(programName): error: \(error.message)\n"
}
