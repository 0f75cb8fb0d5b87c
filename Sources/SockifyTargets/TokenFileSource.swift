// The file-system operations a token table needs, as injectable closures, so the parsing and caching logic stays
// pure and testable. The Glibc-backed implementation is in TokenFileSource+Glibc.swift.

/// What `stat(2)` says about a token source path: its kind and an identity that changes whenever its contents
/// may have changed.
public struct TokenFileStatus: Hashable, Sendable {
    /// The kinds of file a token source distinguishes.
    public enum Kind: Hashable, Sendable {
        /// A regular file (symbolic links are followed).
        case regularFile
        /// A directory: every regular file in it is a token file.
        case directory
        /// A Unix domain socket (`S_ISSOCK`): what UnixDomainSocketDirectory looks for.
        case socket
        /// Anything else (FIFO, device). Skipped inside a directory; read as a file when named directly.
        case other
    }

    /// The kind of file.
    public var kind: Kind
    /// Device, inode, size, modification and status-change times (ns). Any difference means "reload".
    public var changeStamp: [Int64]

    /// Creates a status.
    public init(kind: Kind, changeStamp: [Int64]) {
        self.kind = kind
        self.changeStamp = changeStamp
    }
}

/// Why a file-system operation on a token source failed, in Python's words so log lines match websockify's
/// `handler exception: [Errno 2] No such file or directory: '/etc/tokens'`.
public struct TokenSourceError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The message, e.g. `[Errno 2] No such file or directory: '/etc/tokens'`.
    public var message: String

    /// Creates an error with a ready message.
    public init(message: String) {
        self.message = message
    }

    /// An `OSError`-style message: `[Errno <code>] <reason>: '<path>'`.
    public init(errno code: Int32, reason: String, path: String) {
        self.message = "[Errno \(code)] \(reason): \(PythonText.repr(path))"
    }

    public var description: String { message }
}

/// The three file-system operations a ``TokenFileTable`` performs, injectable for tests.
///
/// The closures may block (they do file I/O); call the table from a thread that may block.
public struct TokenFileSource: Sendable {
    /// `stat(2)` following symbolic links.
    public var status: @Sendable (String) throws(TokenSourceError) -> TokenFileStatus
    /// The whole contents of a file.
    public var readFile: @Sendable (String) throws(TokenSourceError) -> [UInt8]
    /// The entry names of a directory, without `.` and `..`, in any order.
    public var listDirectory: @Sendable (String) throws(TokenSourceError) -> [String]

    /// Creates a source from the three operations.
    public init(
        status: @escaping @Sendable (String) throws(TokenSourceError) -> TokenFileStatus,
        readFile: @escaping @Sendable (String) throws(TokenSourceError) -> [UInt8],
        listDirectory: @escaping @Sendable (String) throws(TokenSourceError) -> [String]
    ) {
        self.status = status
        self.readFile = readFile
        self.listDirectory = listDirectory
    }
}
