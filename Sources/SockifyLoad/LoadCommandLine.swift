// The command line of `sockify-load`: load modes against a URL, or `--serve` to run a matching target.

/// What the load tool measures.
enum LoadMode: String, Sendable, CaseIterable {
    /// Request/response latency: each connection sends a message and waits for its echo.
    case rtt
    /// Client → target throughput, verified by a `sink` target.
    case up
    /// Target → client throughput from a `source` target, verified here.
    case down
    /// Connection rate, handshake latency, and the proxy's memory per held connection.
    case conns
    /// All of the above mixed, with reconnects, for a bounded time; any integrity failure fails the run.
    case soak
}

/// The targets `--serve` runs.
enum TargetKind: String, Sendable, CaseIterable {
    /// Writes back every byte it reads.
    case echo
    /// After a `StreamRequest`, writes the requested number of pattern bytes.
    case source
    /// After a `StreamRequest`, verifies the pattern bytes and answers with a `StreamReport`.
    case sink
    /// Picks echo, source or sink per connection from the first bytes (what `soak` needs).
    case mixed
}

/// How a `wss://` run sets up TLS (ignored for ws:// and tcp://, where the options are refused).
struct TLSOptions: Sendable, Equatable {
    /// Verify the server's chain and its name (the URL host: a DNS name, or an IP literal against IP SANs).
    var verifiesPeer = true
    /// CAs to verify against (`--cafile`); nil = the system's.
    var caFile: String?
    /// A client certificate (`--cert`) and its key (`--key`; the certificate file when nil).
    var certificateFile: String?
    var keyFile: String?
    /// Let OpenSSL hand the record layer to the kernel when it can (`--ktls auto`, the default; `off`).
    var kernelTLS = true

    /// What `verify` in the report says: `cafile`, `system` or `none`.
    var verification: String { !verifiesPeer ? "none" : caFile == nil ? "system" : "cafile" }
}

/// One fully validated load run.
struct LoadPlan: Sendable {
    var mode: LoadMode
    var endpoint: Endpoint
    var connectionCount: Int
    /// rtt: message size; up: frame payload size; down: the source's write size; soak: the largest frame.
    var messageSize: Int
    /// Time bound of the measurement (rtt, soak; conns: how long to hold).
    var duration: Duration?
    /// rtt: total message bound.
    var messageCount: Int?
    /// up/down: bytes to move, split over the connections.
    var byteCount: Int64
    /// rtt: open-loop target rate in messages per second; conns: connections per second. `nil`: as fast as possible.
    var rate: Double?
    /// conns: how long connections are held before they are re-checked.
    var hold: Duration
    /// conns: the proxy process whose memory (with its descendants) is measured.
    var proxyPID: Int32?
    var threadCount: Int
    var isJSON: Bool
    var histogramPath: String?
    /// The hard bound on the whole run; what is unfinished then is a failure.
    var timeout: Duration
    var allowsRemote: Bool
    var subprotocol: String?
    var seed: UInt64
    var showsProgress: Bool?
    var label: String?
    /// wss:// only.
    var tls = TLSOptions()
}

/// `--serve KIND --listen HOST:PORT`.
struct ServePlan: Sendable {
    var kind: TargetKind
    var host: String
    var port: UInt16
    var threadCount: Int
    var duration: Duration?
    var allowsRemote: Bool
}

/// What the command line asks for.
enum LoadCommand: Sendable {
    case help
    case version
    case load(LoadPlan)
    case serve(ServePlan)
}

enum LoadCommandLine {
    static let usage = """
        usage: sockify-load MODE URL [options]
               sockify-load --serve echo|source|sink|mixed --listen HOST:PORT [--threads N] [--duration T]

        modes:
          rtt     each connection sends --size bytes and waits for the echo (target: --serve echo)
          up      client -> target throughput, every byte verified (target: --serve sink)
          down    target -> client throughput, every byte verified (target: --serve source)
          conns   open --connections at --rate, hold, re-check, report rate/handshake/memory (target: echo)
          soak    mixed rtt/up/down with reconnects for --duration (target: --serve mixed)
        URL: ws://host:port/path?query, wss://host:port/path?query or tcp://host:port
             (loopback only unless --allow-remote)

        options:
          -c, --connections N   concurrent connections (rtt/up/down 1, conns 1000, soak 8)
          -s, --size BYTES      message/frame size (rtt 64, up/down/soak 64K); suffixes K M G (binary)
          -d, --duration T      time bound, e.g. 10, 2.5s, 500ms, 1m (rtt 10s, soak 30s, conns: hold time)
          -n, --messages N      rtt: stop after N messages in total
          -b, --bytes N         up/down: bytes to move in total (default 1G)
          -r, --rate R          rtt: open loop at R msgs/s (coordinated-omission corrected); conns: R conns/s
              --pid PID         conns: measure the PSS of PID and its descendants per connection
          -t, --threads N       load threads (default 1)
              --timeout T       hard bound on the whole run (default: duration + 30s, else 300s)
              --json            print one JSON object instead of the table
              --hgrm FILE       write the latency distribution (HdrHistogram percentile format, microseconds)
              --subprotocol P   send Sec-WebSocket-Protocol: P
              --seed N          pattern seed (default random)
              --label TEXT      copied into the JSON output
              --progress / --no-progress   live progress line (default: when stdout is a terminal)
              --allow-remote    allow non-loopback targets
        wss:// (the handshake time includes the TLS handshake; the report names the TLS version and cipher):
              --cafile FILE     verify the server against the CAs in FILE (default: the system's CAs); the
                                certificate must name the URL host (DNS name, or IP address SAN for an IP)
              --insecure        do not verify the server at all (self-signed targets)
              --cert FILE       present a client certificate (PEM chain)
              --key FILE        its private key (default: in the --cert file)
              --ktls auto|off   kernel TLS where the kernel and cipher allow it (default auto)
          -h, --help, --version
        exit status: 0 success, 1 integrity or connection failure, 2 usage error
        """

    /// Parses `arguments` (without the program name).
    static func parse(_ arguments: [String], randomSeed: UInt64) throws(UsageError) -> LoadCommand {
        var positional: [String] = []
        var values: [String: String] = [:]
        var flags: Set<String> = []
        let valued: [String: String] = [
            "-c": "connections", "--connections": "connections", "-s": "size", "--size": "size",
            "-d": "duration", "--duration": "duration", "-n": "messages", "--messages": "messages",
            "-b": "bytes", "--bytes": "bytes", "-r": "rate", "--rate": "rate", "--pid": "pid",
            "-t": "threads", "--threads": "threads", "--timeout": "timeout", "--hgrm": "hgrm",
            "--subprotocol": "subprotocol", "--seed": "seed", "--label": "label", "--serve": "serve",
            "--listen": "listen", "--hold": "duration", "--cafile": "cafile", "--cert": "cert", "--key": "key",
            "--ktls": "ktls",
        ]
        let boolean: Set<String> = [
            "--json", "--allow-remote", "--progress", "--no-progress", "-h", "--help", "--version", "--insecure",
        ]
        var index = 0
        while index < arguments.count {
            var argument = arguments[index]
            index += 1
            var inlineValue: String? = nil
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") {
                inlineValue = String(argument[argument.index(after: equals)...])
                argument = String(argument[..<equals])
            }
            if let name = valued[argument] {
                if let inlineValue {
                    values[name] = inlineValue
                } else {
                    guard index < arguments.count else { throw UsageError("\(argument) needs a value") }
                    values[name] = arguments[index]
                    index += 1
                }
            } else if boolean.contains(argument) {
                guard inlineValue == nil else { throw UsageError("\(argument) takes no value") }
                flags.insert(argument)
            } else if argument.hasPrefix("-") && argument.count > 1 {
                throw UsageError("unknown option \(argument)")
            } else {
                positional.append(argument)
            }
        }
        if flags.contains("-h") || flags.contains("--help") { return .help }
        if flags.contains("--version") { return .version }
        let threadCount = try values["threads"].map { v throws(UsageError) in try count(v, "--threads", range: 1...64) } ?? 1
        let allowsRemote = flags.contains("--allow-remote")

        if let kindText = values["serve"] {
            guard let kind = TargetKind(rawValue: kindText) else {
                throw UsageError("--serve takes echo, source, sink or mixed (got \(kindText))")
            }
            guard positional.isEmpty else { throw UsageError("--serve takes no positional arguments") }
            guard let listen = values["listen"] else { throw UsageError("--serve needs --listen HOST:PORT") }
            let (host, port) = try hostPort(listen)
            return .serve(
                ServePlan(
                    kind: kind, host: host, port: port, threadCount: threadCount,
                    duration: try values["duration"].map { v throws(UsageError) in try Self.duration(v) },
                    allowsRemote: allowsRemote))
        }
        guard values["listen"] == nil else { throw UsageError("--listen is only for --serve") }
        guard positional.count == 2 else {
            throw UsageError(positional.isEmpty ? "missing MODE and URL" : "expected MODE URL, got \(positional)")
        }
        guard let mode = LoadMode(rawValue: positional[0]) else {
            throw UsageError("unknown mode \"\(positional[0])\"; use rtt, up, down, conns or soak")
        }
        let endpoint = try Endpoint(parsing: positional[1])

        let defaultConnections = [LoadMode.conns: 1000, .soak: 8][mode] ?? 1
        let connections = try values["connections"].map { v throws(UsageError) in try count(v, "--connections", range: 1...1_000_000) } ?? defaultConnections
        let defaultSize = mode == .rtt || mode == .conns ? 64 : 65536
        let size = try values["size"].map { v throws(UsageError) in try byteSize(v, "--size") } ?? defaultSize
        guard size >= 1 && size <= 64 << 20 else { throw UsageError("--size must be 1 B ... 64 MiB") }
        if mode == .soak && size < 8 { throw UsageError("soak needs --size of at least 8 bytes") }
        var duration = try values["duration"].map { v throws(UsageError) in try Self.duration(v) }
        let messages = try values["messages"].map { v throws(UsageError) in try count(v, "--messages", range: 1...Int.max) }
        let bytes = try values["bytes"].map { v throws(UsageError) in Int64(try byteSize(v, "--bytes")) }
        let rate = try values["rate"].map { v throws(UsageError) in
            guard let r = Double(v), r > 0, r.isFinite else { throw UsageError("--rate must be a positive number") }
            return r
        }
        switch mode {
        case .rtt:
            if duration == nil && messages == nil { duration = .seconds(10) }
            guard bytes == nil else { throw UsageError("rtt is bounded by --duration or --messages, not --bytes") }
        case .up, .down:
            guard duration == nil && messages == nil else { throw UsageError("\(mode) is bounded by --bytes") }
            guard rate == nil else { throw UsageError("--rate applies to rtt and conns") }
        case .conns:
            guard messages == nil && bytes == nil else { throw UsageError("conns takes --duration (hold time), not --messages/--bytes") }
        case .soak:
            if duration == nil { duration = .seconds(30) }
            guard messages == nil && bytes == nil && rate == nil else { throw UsageError("soak is bounded by --duration only") }
        }
        let byteCount = bytes ?? (1 << 30)
        guard byteCount >= Int64(connections) else { throw UsageError("--bytes must be at least one byte per connection") }
        let pid = try values["pid"].map { v throws(UsageError) in
            guard let p = Int32(v), p > 0 else { throw UsageError("--pid must be a process id") }
            return p
        }
        guard pid == nil || mode == .conns else { throw UsageError("--pid applies to conns") }
        let hold = mode == .conns ? (duration ?? .seconds(1)) : .zero
        let bounded = mode == .conns ? hold : duration
        let timeout = try values["timeout"].map { v throws(UsageError) in try Self.duration(v) }
            ?? (bounded.map { $0 + .seconds(30) } ?? .seconds(300))
        let seed: UInt64 = try values["seed"].map { v throws(UsageError) in
            guard let s = UInt64(v) else { throw UsageError("--seed must be an unsigned integer") }
            return s
        } ?? randomSeed
        var progress: Bool? = nil
        if flags.contains("--progress") { progress = true }
        if flags.contains("--no-progress") { progress = false }
        let tls = try tlsOptions(values, isInsecure: flags.contains("--insecure"), endpoint: endpoint)
        var plan = LoadPlan(
            mode: mode, endpoint: endpoint, connectionCount: connections, messageSize: size,
            duration: mode == .conns ? nil : duration, messageCount: messages, byteCount: byteCount, rate: rate,
            hold: hold, proxyPID: pid, threadCount: min(threadCount, connections), isJSON: flags.contains("--json"),
            histogramPath: values["hgrm"], timeout: timeout, allowsRemote: allowsRemote,
            subprotocol: values["subprotocol"], seed: seed, showsProgress: progress, label: values["label"])
        plan.tls = tls
        return .load(plan)
    }

    /// The TLS options, refused unless the URL is `wss://`.
    private static func tlsOptions(
        _ values: [String: String], isInsecure: Bool, endpoint: Endpoint
    ) throws(UsageError) -> TLSOptions {
        let given = ["cafile", "cert", "key", "ktls"].filter { values[$0] != nil }.map { "--\($0)" }
            + (isInsecure ? ["--insecure"] : [])
        guard endpoint.isTLS else {
            guard given.isEmpty else { throw UsageError("\(given.joined(separator: ", ")) apply to wss:// URLs only") }
            return TLSOptions()
        }
        var options = TLSOptions()
        options.verifiesPeer = !isInsecure
        options.caFile = values["cafile"]
        guard !(isInsecure && options.caFile != nil) else {
            throw UsageError("--insecure turns verification off; --cafile would verify: pick one")
        }
        options.certificateFile = values["cert"]
        options.keyFile = values["key"]
        guard options.keyFile == nil || options.certificateFile != nil else { throw UsageError("--key needs --cert") }
        switch values["ktls"] ?? "auto" {
        case "auto": options.kernelTLS = true
        case "off": options.kernelTLS = false
        case let other: throw UsageError("--ktls takes auto or off (got \(other))")
        }
        return options
    }

    /// `12`, `64K`, `1M`, `1G`, `1KiB`, `2MB` (binary multiples; `B` optional).
    static func byteSize(_ text: String, _ option: String) throws(UsageError) -> Int {
        var digits = Substring(text)
        var multiplier = 1
        for (suffixes, factor) in [(["KIB", "KB", "K"], 1 << 10), (["MIB", "MB", "M"], 1 << 20), (["GIB", "GB", "G"], 1 << 30)] {
            if let suffix = suffixes.first(where: { text.uppercased().hasSuffix($0) }) {
                digits = digits.dropLast(suffix.count)
                multiplier = factor
                break
            }
        }
        if multiplier == 1 && digits.uppercased().hasSuffix("B") { digits = digits.dropLast() }
        guard let value = Int(digits), value >= 0, value <= Int.max / multiplier else {
            throw UsageError("\(option): \"\(text)\" is not a byte count")
        }
        return value * multiplier
    }

    /// `10`, `2.5s`, `500ms`, `1m`.
    static func duration(_ text: String) throws(UsageError) -> Duration {
        var number = Substring(text)
        var scale = 1.0
        if number.hasSuffix("ms") {
            number = number.dropLast(2)
            scale = 0.001
        } else if number.hasSuffix("s") {
            number = number.dropLast()
        } else if number.hasSuffix("m") {
            number = number.dropLast()
            scale = 60
        }
        guard let value = Double(number), value >= 0, value.isFinite else {
            throw UsageError("\"\(text)\" is not a duration (e.g. 10, 2.5s, 500ms, 1m)")
        }
        return .nanoseconds(Int64(value * scale * 1e9))
    }

    static func count(_ text: String, _ option: String, range: ClosedRange<Int>) throws(UsageError) -> Int {
        guard let value = Int(text.filter { $0 != "_" }), range.contains(value) else {
            throw UsageError("\(option) must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// `HOST:PORT` or `[V6]:PORT`; port 0 picks a free port.
    static func hostPort(_ text: String) throws(UsageError) -> (String, UInt16) {
        guard let colon = text.lastIndex(of: ":") else { throw UsageError("--listen needs HOST:PORT (got \(text))") }
        var host = text[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty, let port = UInt16(text[text.index(after: colon)...]) else {
            throw UsageError("--listen needs HOST:PORT (got \(text))")
        }
        return (String(host), port)
    }
}
