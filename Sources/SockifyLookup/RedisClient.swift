// A small blocking Redis client for token lookups (websockify's TokenRedis, reference §2.3): RESP2 over one
// kept-open connection, every request bounded by a deadline. It runs on a lookup thread, never on a reactor.
import Logging
import SockifyReactor
import SockifyTargets

/// Where a Redis server is and how to talk to it.
public struct RedisConfiguration: Hashable, Sendable {
    /// The server: TCP `host:port` (a name or a literal) or a Unix socket path.
    public var address: TargetAddress
    /// The database `SELECT`ed after connecting; 0 (the default database) sends no `SELECT`.
    public var database: Int
    /// Sent as `AUTH <password>` after connecting; `nil` or empty sends no `AUTH` (websockify's empty field).
    public var password: String?
    /// The time one request may take in all: connecting, `AUTH`, `SELECT`, the command and its reply.
    public var timeout: Duration
    /// Bounds on one reply.
    public var replyLimits: RESPParser.Limits

    /// Creates a configuration for any address.
    public init(
        address: TargetAddress, database: Int = 0, password: String? = nil, timeout: Duration = .seconds(2),
        replyLimits: RESPParser.Limits = RESPParser.Limits()
    ) {
        self.address = address
        self.database = database
        self.password = password
        self.timeout = timeout
        self.replyLimits = replyLimits
    }

    /// Creates a configuration for a TCP server (`TokenRedis` defaults: port 6379, database 0, no password).
    public init(
        host: String, port: UInt16 = 6379, database: Int = 0, password: String? = nil, timeout: Duration = .seconds(2)
    ) {
        self.init(address: .tcp(host: host, port: port), database: database, password: password, timeout: timeout)
    }
}

/// A Redis connection for one thread: requests go out one at a time and wait for their reply.
///
/// The connection opens on the first request (with `AUTH` and `SELECT` as configured) and stays open for the
/// next ones. If a kept-open connection turns out to be dead (the server restarted or dropped an idle client),
/// the request is retried once on a fresh connection, within the same deadline. Any other failure closes the
/// connection, so the next request starts clean. Server error replies (`-ERR …`) leave it open.
///
/// Not `Sendable`: keep one client per lookup thread (a `LookupPool` context).
public final class RedisClient {
    /// The server and settings this client uses.
    public let configuration: RedisConfiguration
    /// Connections opened so far (a reconnect after a failure counts again).
    public private(set) var connectionCount = 0

    private let logger: Logger
    private var connection: BlockingSocket?
    /// The current request's time budget, for the "timed out after" text.
    private var budgetMilliseconds: Int64 = 0

    /// Size of each receive; a token reply fits in one.
    private static let receiveSize = 16 << 10

    /// Creates a client; it connects on the first request.
    /// - Parameter logger: gets a debug line when a kept-open connection is found broken and replaced.
    public init(configuration: RedisConfiguration, logger: Logger = Logger(label: "sockify.lookup.redis")) {
        self.configuration = configuration
        self.logger = logger
    }

    deinit { connection?.close() }

    /// Whether a connection is open (it may still turn out to be dead on the next request).
    public var isConnected: Bool { connection?.isOpen ?? false }

    /// Closes the connection, if any; the next request opens a new one.
    public func close() {
        connection?.close()
        connection = nil
    }

    /// `GET key`: the value's bytes, or `nil` when the key does not exist.
    /// - Parameter deadline: when to give up; default `configuration.timeout` from now.
    /// - Throws: `RedisError` (connection failures, timeouts, `-WRONGTYPE`, …).
    public func get(_ key: [UInt8], deadline: Deadline? = nil) throws(RedisError) -> [UInt8]? {
        let reply = try command([Array("GET".utf8), key], deadline: deadline)
        switch reply {
        case .bulkString(let value): return value
        default: throw error(.unexpectedReply("GET answered with \(Self.kind(of: reply))"))
        }
    }

    /// `GET key` with a UTF-8 key.
    public func get(_ key: String, deadline: Deadline? = nil) throws(RedisError) -> [UInt8]? {
        try get(Array(key.utf8), deadline: deadline)
    }

    /// Sends one command (`arguments[0]` is its name) and returns the reply.
    /// - Parameter deadline: when to give up; default `configuration.timeout` from now.
    /// - Throws: `RedisError`; an error reply becomes `.server(command:message:)`.
    public func command(_ arguments: [[UInt8]], deadline: Deadline? = nil) throws(RedisError) -> RESPValue {
        precondition(!arguments.isEmpty, "a Redis command needs a name")
        let started = MonotonicClock.milliseconds()
        let deadline = deadline ?? .after(configuration.timeout)
        let (left, overflowed) = deadline.uptimeMilliseconds.subtractingReportingOverflow(started)
        budgetMilliseconds = overflowed ? 0 : left
        let name = String(decoding: arguments[0], as: UTF8.self).uppercased()
        do {
            return try exchange(RESPCommand.encode(arguments), command: name, deadline: deadline)
        } catch {
            throw self.error(error)
        }
    }

    /// Runs a request on the kept-open connection, or on a new one; retries once if the kept one was dead.
    private func exchange(_ request: [UInt8], command name: String, deadline: Deadline) throws(RedisError.Reason)
        -> RESPValue
    {
        if let socket = connection {
            // A kept connection that already shows EOF or stray bytes is replaced before anything is sent on it.
            if !socket.hasPendingInputOrHangup {
                do {
                    return try roundTrip(request, command: name, on: socket, deadline: deadline)
                } catch where error.meansBrokenConnection {
                    logger.debug("Redis at \(configuration.address): kept connection broken (\(error)), reconnecting")
                }
            }
            close()
        }
        let socket = try open(deadline: deadline)
        return try roundTrip(request, command: name, on: socket, deadline: deadline)
    }

    /// Connects and authenticates: `AUTH` and `SELECT` as configured.
    private func open(deadline: Deadline) throws(RedisError.Reason) -> BlockingSocket {
        let address: SocketAddress
        switch configuration.address.kind {
        case .tcp(let host, let port):
            do { address = try SocketAddress.resolve(host: host, port: port) } catch {
                throw .resolution(error.message)
            }
        case .unixSocket(let path):
            do { address = try SocketAddress(unixPath: path) } catch { throw .system(error) }
        }
        let socket: BlockingSocket
        do { socket = try BlockingSocket.connect(to: address, deadline: deadline) } catch { throw reason(error) }
        connectionCount += 1
        connection = socket
        do {
            if let password = configuration.password, !password.isEmpty {
                _ = try roundTrip(
                    RESPCommand.encode(["AUTH", password]), command: "AUTH", on: socket, deadline: deadline)
            }
            if configuration.database != 0 {
                _ = try roundTrip(
                    RESPCommand.encode(["SELECT", String(configuration.database)]), command: "SELECT", on: socket,
                    deadline: deadline)
            }
        } catch {
            close()  // not usable: unauthenticated, or on the wrong database
            throw error
        }
        return socket
    }

    /// Sends one request and reads its reply. Everything but an error reply closes the connection, since the
    /// request/reply stream is then out of step.
    private func roundTrip(_ request: [UInt8], command name: String, on socket: BlockingSocket, deadline: Deadline)
        throws(RedisError.Reason) -> RESPValue
    {
        let reply: RESPValue
        do throws(RedisError.Reason) {
            do { try socket.sendAll(request, deadline: deadline) } catch { throw reason(error) }
            reply = try readReply(on: socket, deadline: deadline)
        } catch {
            close()
            throw error
        }
        if case .error(let message) = reply { throw .server(command: name, message: message) }
        return reply
    }

    /// Reads exactly one reply. Bytes after it are a protocol error: this client never pipelines.
    private func readReply(on socket: BlockingSocket, deadline: Deadline) throws(RedisError.Reason) -> RESPValue {
        var parser = RESPParser(limits: configuration.replyLimits)
        // Bounded: each round either completes the reply, receives at least one byte (within the parser's limits)
        // or throws (end of stream, error, deadline).
        while true {
            let value: RESPValue?
            do { value = try parser.next() } catch { throw .protocolViolation(error.description) }
            if let value {
                guard parser.bufferedByteCount == 0 else {
                    throw .protocolViolation("\(parser.bufferedByteCount) unexpected bytes after the reply")
                }
                return value
            }
            let bytes: [UInt8]
            do { bytes = try socket.receive(upTo: Self.receiveSize, deadline: deadline) } catch { throw reason(error) }
            if bytes.isEmpty { throw .connectionClosed }
            parser.append(bytes)
        }
    }

    private func reason(_ error: BlockingSocketError) -> RedisError.Reason {
        switch error {
        case .timedOut: .timedOut(after: .milliseconds(budgetMilliseconds))
        case .system(let errno): .system(errno)
        }
    }

    private func error(_ reason: RedisError.Reason) -> RedisError {
        RedisError(endpoint: configuration.address.description, reason: reason)
    }

    private static func kind(of value: RESPValue) -> String {
        switch value {
        case .simpleString: "a simple string"
        case .error: "an error"
        case .integer: "an integer"
        case .bulkString: "a bulk string"
        case .array: "an array"
        }
    }
}
