// Maps parsed websockify options to a ProxyConfiguration, refusing (never silently ignoring) what is not built yet.
import Glibc
import Logging
import SockifyProxy
import SockifyReactor
import SockifyTargets

/// A configuration that cannot run; exit status 1 with this message.
struct ConfigurationError: Error {
    var message: String
}

/// Builds the proxy configuration for `options`.
/// - Throws: `ConfigurationError` for options Sockify does not implement yet, with the option named.
func makeConfiguration(_ options: WebsockifyOptions, logger: Logger) throws(ConfigurationError) -> ProxyConfiguration {
    if options.libserver {
        logger.warning("warning: option --libserver ignored: Sockify has a single engine")
    }
    var listenHost: String?
    var listenPort: UInt16 = 0
    var shared: SharedListener?
    switch options.listen {
    case .tcp(let listen):
        guard let port = listen.tcpPort else {
            throw ConfigurationError(message: "listen port \(listen.port) is out of range")
        }
        listenHost = listen.host.isEmpty ? nil : listen.host
        listenPort = port
    case .unixSocket(let path, let mode):
        shared = .unixSocket(path: path, mode: UInt32(truncatingIfNeeded: mode))
    case .inetd:
        shared = .inherited(fd: 0)
    case .systemdSocket:
        shared = .inherited(fd: 3)
    }

    var lookup: (@Sendable (TargetRequest, TargetReply) -> TargetDecision?)?
    var resolve: @Sendable (TargetRequest) -> TargetDecision = { _ in .reject(logLine: "no target") }
    let description: String
    if let plugin = options.tokenPlugin {
        let tokens = try makeTokenLookup(
            plugin: plugin, source: options.tokenSource, hostToken: options.hostToken, verbose: options.verbose,
            logger: logger)
        for line in tokens.startupLines { logger.info("\(line)") }
        lookup = tokens.lookup
        description = tokens.description
    } else if let path = options.unixTarget {
        resolve = { _ in .connect(.unixSocket(path: path)) }
        description = path
    } else if let command = options.wrapCommand {
        // Wrap mode: main.swift has put the wrapped command's loopback port (WrapPlan.target) in `options.target`.
        guard let target = options.target, let port = target.tcpPort else {
            throw ConfigurationError(message: "wrap mode: no loopback port was chosen for the wrapped command")
        }
        let host = target.host
        resolve = { _ in .connect(.tcp(host: host, port: port)) }
        description = "'\(command.joined(separator: " "))' (port \(port))"
    } else if let target = options.target {
        guard let port = target.tcpPort else {
            throw ConfigurationError(message: "target port \(target.port) is out of range")
        }
        let host = target.host
        resolve = { _ in .connect(.tcp(host: host, port: port)) }
        description = "\(host):\(port)"
    } else {
        throw ConfigurationError(message: "no target: give target_addr:target_port, --target-config or --unix-target")
    }

    var config =
        if let lookup {
            ProxyConfiguration(
                listenHost: listenHost, listenPort: listenPort, targetDescription: description, lookupTarget: lookup)
        } else {
            ProxyConfiguration(
                listenHost: listenHost, listenPort: listenPort, targetDescription: description, resolveTarget: resolve)
        }
    config.sharedListener = shared
    config.ioBackend = try resolveBackend(options.ioBackend, logger: logger)
    config.preferIPv6 = options.preferIPv6
    config.webRoot = options.web
    config.fileOnly = options.fileOnly
    if let workers = options.workers { config.workers = workers }
    config.maxFramePayload = options.maxFrameSize == 0 ? UInt64(Int64.max) : UInt64(options.maxFrameSize)
    config.heartbeat = options.heartbeat > 0 ? .seconds(options.heartbeat) : nil
    config.listenTimeout = options.timeout > 0 ? .seconds(options.timeout) : nil
    config.idleTimeout = options.idleTimeout > 0 ? .seconds(options.idleTimeout) : nil
    config.runOnce = options.runOnce
    config.requestHeadTimeout = .seconds(max(1, options.handshakeTimeout))
    config.bufferSize = options.bufferSize
    config.maxConnections = options.maxConnections
    config.maxConnectionsPerAddress = options.maxConnectionsPerIP
    if options.heartbeat > 0 {
        let pong = options.pongTimeout ?? 2 * options.heartbeat
        config.pongTimeout = pong > 0 ? .seconds(pong) : nil
    }
    config.sessionIdleTimeout = options.sessionIdleTimeout > 0 ? .seconds(options.sessionIdleTimeout) : nil
    config.verbose = options.verbose
    config.authPlugin = authPlugin(options)
    config.authenticatesWebRequests = options.webAuth
    config.recordPath = options.record
    config.traffic = options.traffic
    config.daemon = options.daemon
    config.proxyProtocol = options.proxyProtocol
    config.structuredLogs = options.jsonLogs
    config.trustedProxies = options.trustedProxies
    if let metrics = options.metrics, let port = metrics.tcpPort {
        config.metricsListen = (metrics.host.isEmpty ? "127.0.0.1" : metrics.host, port)
    }
    if options.wrapCommand != nil { config.wrappedCommand = description }
    try configureTLS(&config, options)
    return config
}

/// `--cert` and friends → the server's TLS context (loaded now: a broken certificate or key is an error at
/// start-up, not per connection); `--ssl-target` → the client context for targets.
private func configureTLS(_ config: inout ProxyConfiguration, _ options: WebsockifyOptions) throws(ConfigurationError) {
    var settings = TLSServerSettings(certificate: TLSCertificateFiles(certificateFile: options.cert, keyFile: options.key))
    settings.sniCertificates = options.sniCertificates.map {
        TLSCertificateFiles(certificateFile: $0.certificate, keyFile: $0.key)
    }
    settings.keyPassword = options.keyPassword
    settings.verifyClient = options.verifyClient
    settings.caFile = options.cafile
    // Python ≥ 3.10's default context already starts at TLS 1.2, so `default`, `tlsv1_1` and `tlsv1_2` are the same.
    settings.minimumVersion = options.sslVersion == .tlsv1_3 ? .tls1_3 : .tls1_2
    settings.ciphers = options.sslCiphers
    settings.kernelTLS = options.kernelTLS
    do {
        let context = try TLSServerContext(settings: settings)
        config.tls = context
    } catch {
        throw ConfigurationError(message: "TLS: \(error)")
    }
    config.sslOnly = options.sslOnly
    if options.sslTarget {
        var client = TLSClientSettings()
        client.verifyPeer = !options.sslTargetInsecure
        client.caFile = options.sslTargetCAFile
        client.kernelTLS = options.kernelTLS
        do {
            config.targetTLS = try TLSClientContext(settings: client)
        } catch {
            throw ConfigurationError(message: "--ssl-target: \(error)")
        }
        config.targetTLSName = options.sslTargetName
    }
}

/// The `--auth-plugin` with its `--auth-source`; `BasePlugin` (allow everyone) is no plugin at all.
func authPlugin(_ options: WebsockifyOptions) -> AuthPlugin? {
    switch options.authPlugin {
    case .basicHTTPAuth?: .basicHTTP(credentials: options.authSource ?? "")
    case .expectOrigin?: .expectOrigin((options.authSource ?? "").split(separator: " ").map(String.init))
    case .clientCertCNAuth?: .clientCertCN((options.authSource ?? "").split(separator: " ").map(String.init))
    case .basePlugin?, nil: nil
    }
}

/// `--io-backend`: `epoll` as asked; `io_uring` only when the probe says this process can use it (else exit 1
/// with the reason); `auto` takes `IOBackendChoice.autoPreference` when the probe allows and otherwise epoll, with
/// one log line saying why.
///
/// The environment variable `SOCKIFY_IO_BACKEND` (`epoll` or `io_uring`) stands in for `auto`, so a service
/// manager or a test run can pin the backend without editing command lines.
func resolveBackend(
    _ choice: IOBackendChoice, logger: Logger,
    pinned: String? = getenv("SOCKIFY_IO_BACKEND").map { String(cString: $0) },
    probe: () -> URingAvailability = URing.probe
) throws(ConfigurationError) -> IOBackend {
    var choice = choice
    if choice == .auto, let pinned, !pinned.isEmpty {
        guard let parsed = IOBackendChoice(rawValue: pinned) else {
            throw ConfigurationError(message: "SOCKIFY_IO_BACKEND=\(pinned): choose auto, epoll or io_uring")
        }
        choice = parsed
    }
    switch choice {
    case .epoll:
        return .epoll
    case .ioUring:
        let availability = probe()
        guard availability.isAvailable else {
            throw ConfigurationError(message: "--io-backend io_uring: \(availability)")
        }
        return .ioUring
    case .auto:
        guard IOBackendChoice.autoPreference == .ioUring else { return .epoll }
        let availability = probe()
        guard availability.isAvailable else {
            logger.info("\(availability); using epoll")
            return .epoll
        }
        return .ioUring
    }
}
