// A token → target table backed by a websockify token file or directory, reloaded when the source changes.
import Synchronization

/// Why a token lookup could not produce a target. Each case maps to a distinct websockify behaviour.
public enum TokenLookupError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The plugin raised (source missing or unreadable, invalid UTF-8, a target with no `:`).
    /// websockify logs `handler exception: <message>` and closes the connection without a response.
    case pluginFailure(String)
    /// The token names `host:port` with a port that is not a number in 0…65535. websockify accepts the
    /// upgrade (101) and then sends Close 1011 "Failed to connect to downstream server" after
    /// `getaddrinfo` fails (`[Errno -8] Servname not supported for ai_socktype`). `port` is the text as
    /// written; a caller may still resolve it as a service name.
    case unresolvableTarget(host: String, port: String)

    public var description: String {
        switch self {
        case .pluginFailure(let message): message
        case .unresolvableTarget(let host, let port): "unresolvable target \(host):\(port)"
        }
    }
}

/// Resolves tokens through a websockify token file, or a directory of them (websockify's `TokenFile` and
/// `ReadOnlyTokenFile` plugins).
///
/// websockify re-reads the source on every lookup (forked child per connection), so edits apply to the next
/// connection. This table keeps that guarantee more cheaply: each lookup `stat`s the source (and, for a
/// directory, each file in it, since editing a file in place does not touch the directory) and re-reads only
/// when a device, inode, size or timestamp changed. Syntax errors are therefore logged once per reload, not once
/// per connection.
///
/// Differences from websockify 0.13.0, deliberate:
/// - directory entries are read in name order (websockify: `os.listdir` order, arbitrary), which fixes which of
///   two duplicate tokens wins and the numbering in syntax-error messages;
/// - entries of a directory that are not regular files are skipped (websockify fails every lookup with
///   `Is a directory` for a sub-directory, and blocks on a FIFO; its master branch skips sub-directories too).
///
/// Thread-safe; lookups are serialised by a mutex and may block on file I/O.
public final class TokenFileTable: Sendable {
    /// The configured source path (file or directory), verbatim. Relative paths follow the working directory.
    public let sourcePath: String
    private let files: TokenFileSource
    private let log: @Sendable (String) -> Void
    private let state = Mutex(LoadedTable?.none)

    /// What was read, and the stamps it was read at.
    private struct LoadedTable {
        var sourceStatus: TokenFileStatus
        /// For a directory: the regular files read (sorted), with their stamps. For a file: empty.
        var files: [(name: String, status: TokenFileStatus)]
        var entries: [TokenKey: TokenFileTarget]
    }

    /// Creates a table. Nothing is read until the first lookup (like websockify, a missing source is only an
    /// error per connection).
    ///
    /// - Parameters:
    ///   - sourcePath: the `--token-source` (or absolute `--target-config`) path.
    ///   - files: the file system; ``TokenFileSource/system`` in production.
    ///   - log: receives `Syntax error in <source> on line <n>` messages (websockify logs them at ERROR).
    public init(sourcePath: String, files: TokenFileSource, log: @escaping @Sendable (String) -> Void) {
        self.sourcePath = sourcePath
        self.files = files
        self.log = log
    }

    /// Looks a token up, reloading the source first if it changed.
    ///
    /// - Parameter token: the token from ``TokenQuery``; compared exactly (case-sensitive, no trimming).
    /// - Returns: the target, or `nil` when the token is not in the source ("Token '<t>' not found").
    /// - Throws: ``TokenLookupError``; see its cases for what websockify does in each.
    public func lookup(_ token: String) throws(TokenLookupError) -> TargetAddress? {
        let target = try state.withLock { (table: inout LoadedTable?) throws(TokenLookupError) -> TokenFileTarget? in
            let current = try refreshed(table)
            table = current
            return current.entries[TokenKey(token)]
        }
        switch target {
        case nil: return nil
        case .address(let address): return address
        case .unresolvable(let host, let port): throw .unresolvableTarget(host: host, port: port)
        case .missingPort: throw .pluginFailure("not enough values to unpack (expected 2, got 1)")
        }
    }

    /// All entries, after the same freshness check as ``lookup(_:)``. For diagnostics and tests.
    public func entries() throws(TokenLookupError) -> [TokenKey: TokenFileTarget] {
        try state.withLock { (table: inout LoadedTable?) throws(TokenLookupError) -> [TokenKey: TokenFileTarget] in
            let current = try refreshed(table)
            table = current
            return current.entries
        }
    }

    /// `table` if the source is unchanged, else a freshly read table.
    private func refreshed(_ table: LoadedTable?) throws(TokenLookupError) -> LoadedTable {
        let status = try wrapped { () throws(TokenSourceError) in try files.status(sourcePath) }
        guard status.kind == .directory else {
            if let table, table.sourceStatus == status, table.files.isEmpty { return table }
            var entries: [TokenKey: TokenFileTarget] = [:]
            let text = try TokenFileFormat.decode(
                try wrapped { () throws(TokenSourceError) in try files.readFile(sourcePath) }, path: sourcePath)
            _ = TokenFileFormat.parse(text, firstLineNumber: 1, sourceName: sourcePath, into: &entries, log: log)
            return LoadedTable(sourceStatus: status, files: [], entries: entries)
        }
        // A directory: its own stamp changes when entries are added, removed or renamed; each file's stamp
        // changes when it is edited in place.
        var names: [String]
        if let table, table.sourceStatus == status {
            names = table.files.map(\.name)
        } else {
            names = try wrapped { () throws(TokenSourceError) in try files.listDirectory(sourcePath) }.sorted()
        }
        var current: [(name: String, status: TokenFileStatus)] = []
        for name in names {
            let path = join(sourcePath, name)
            let fileStatus = try wrapped { () throws(TokenSourceError) in try files.status(path) }
            if fileStatus.kind == .regularFile { current.append((name, fileStatus)) }
        }
        if let table, table.sourceStatus == status, table.files.elementsEqual(current, by: { $0 == $1 }) {
            return table
        }
        var entries: [TokenKey: TokenFileTarget] = [:]
        var lineNumber = 1
        for file in current {
            let path = join(sourcePath, file.name)
            let text = try TokenFileFormat.decode(
                try wrapped { () throws(TokenSourceError) in try files.readFile(path) }, path: path)
            lineNumber = TokenFileFormat.parse(
                text, firstLineNumber: lineNumber, sourceName: sourcePath, into: &entries, log: log)
        }
        return LoadedTable(sourceStatus: status, files: current, entries: entries)
    }

    /// `os.path.join(directory, name)`.
    private func join(_ directory: String, _ name: String) -> String {
        directory.isEmpty || directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    private func wrapped<T>(_ body: () throws(TokenSourceError) -> T) throws(TokenLookupError) -> T {
        do {
            return try body()
        } catch {
            throw .pluginFailure(error.message)
        }
    }
}
