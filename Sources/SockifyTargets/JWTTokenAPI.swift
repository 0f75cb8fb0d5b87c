// websockify's `JWTTokenApi` plugin (`token_plugins.py:136-191`, since 0.9.0): the token itself is a signed JWT
// carrying `host` and `port`; `--token-source` is the verification key file.
import Synchronization

/// Resolves tokens that are JWTs signed with the key in a file (see ``JWTVerifier`` and ``JWTKey``).
///
/// websockify re-reads the key file on every lookup. Sockify `stat`s it on every lookup and re-reads and re-parses
/// it only when its device, inode, size or timestamps changed (as ``TokenFileTable`` does), so key rotation takes
/// effect on the next connection.
///
/// Every failure is logged through `log` with websockify's message and answers "not found":
/// `Error loading key file: [Errno 2] No such file or directory: '<path>'`, `Failed to correctly parse key data!`,
/// `Failed to parse token: …` (ERROR), `Token can not be used yet!`, `Token has expired!` (WARNING). Only a
/// target that cannot be resolved is thrown.
///
/// Thread-safe; lookups are serialised by a mutex and may block on file I/O.
public final class JWTTokenAPI: TokenPlugin {
    /// The key file, verbatim.
    public let keyPath: String
    private let files: TokenFileSource
    private let now: @Sendable () -> Double
    private let log: TokenPluginLog
    private let cache = Mutex<(stamp: TokenFileStatus, key: JWTKey?)?>(nil)

    /// Creates the plugin. Nothing is read until the first lookup (websockify reads the key per lookup).
    ///
    /// - Parameters:
    ///   - keyPath: the `--token-source` value.
    ///   - files: the file system; ``TokenFileSource/system`` in production.
    ///   - now: the current time in seconds since the epoch (`time.time()`), injected for tests.
    ///   - log: receives the messages websockify logs.
    public init(
        keyPath: String, files: TokenFileSource, now: @escaping @Sendable () -> Double,
        log: @escaping TokenPluginLog
    ) {
        self.keyPath = keyPath
        self.files = files
        self.now = now
        self.log = log
    }

    /// Verifies the token and returns its target.
    ///
    /// - Parameter token: the compact JWT.
    /// - Returns: the target, or `nil` after logging why not.
    /// - Throws: ``TokenLookupError/unresolvableTarget(host:port:)`` for a port that is not a number.
    public func lookup(_ token: String) throws(TokenLookupError) -> TargetAddress? {
        let key: JWTKey
        switch currentKey() {
        case .unusable(let message): return try TokenPluginError.declined(message).answer(log: log)
        case .usable(let loaded): key = loaded
        }
        do {
            return try JWTVerifier.target(token: token, key: key, now: now())
        } catch {
            return try error.answer(log: log)
        }
    }

    /// The key, or why it is unusable as websockify logs it.
    private enum KeyState {
        case usable(JWTKey)
        case unusable(TokenPluginMessage)
    }

    private func currentKey() -> KeyState {
        cache.withLock { cached -> KeyState in
            let stamp: TokenFileStatus
            let contents: [UInt8]
            do {
                stamp = try files.status(keyPath)
                if let cached, cached.stamp == stamp {
                    return cached.key.map { .usable($0) } ?? .unusable(Self.unparsable)
                }
                contents = try files.readFile(keyPath)
            } catch let error as TokenSourceError {
                cached = nil
                return .unusable(TokenPluginMessage(.error, "Error loading key file: \(error.message)"))
            } catch {
                cached = nil
                return .unusable(TokenPluginMessage(.error, "Error loading key file: \(error)"))
            }
            let key = JWTKey(fileContents: contents)
            cached = (stamp, key)
            return key.map { .usable($0) } ?? .unusable(Self.unparsable)
        }
    }

    private static let unparsable = TokenPluginMessage(.error, "Failed to correctly parse key data!")
}
