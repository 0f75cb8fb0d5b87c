// websockify's `TokenFileName` plugin (`token_plugins.py:86-101`, since 0.12.0): the token names a file in a
// directory, and that file holds `host:port`.

/// A plugin's `--token-source` that cannot work; websockify raises from the plugin's constructor (exit 1).
public struct TokenPluginConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The message, e.g. `TokenFileName plugin requires a directory`.
    public var message: String

    public init(message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// Resolves a token by reading the file `<directory>/<basename(token)>`, whose content is `host:port`.
///
/// Exactly websockify 0.13.0:
/// - only the text after the token's last `/` is used (`os.path.basename`), so a token cannot leave the
///   directory; an empty basename (`""`, `a/`) names the directory itself, `.` and `..` name directories, and
///   reading them fails with `[Errno 21] Is a directory: '<path>'`;
/// - a path that does not exist (or cannot be `stat`ed, or contains NUL) is "not found";
/// - the content is decoded as strict UTF-8, `strip()`ped and `split(':')`; anything but exactly two fields
///   fails the lookup with Python's unpacking message (`too many values to unpack (expected 2)`), so IPv6
///   literals cannot be written here;
/// - `unix_socket:<path>` selects a Unix socket, as for every plugin.
///
/// The file is read on every lookup (websockify reads it once per connection too).
public struct TokenFileName: TokenPlugin {
    /// The `--token-source` directory, verbatim.
    public let directory: String
    private let files: TokenFileSource

    /// Checks that `directory` is a directory, as websockify's constructor does.
    ///
    /// - Parameters:
    ///   - directory: the `--token-source` value.
    ///   - files: the file system; ``TokenFileSource/system`` in production.
    /// - Throws: ``TokenPluginConfigurationError`` `TokenFileName plugin requires a directory` when it is not one
    ///   (or does not exist).
    public init(directory: String, files: TokenFileSource) throws(TokenPluginConfigurationError) {
        guard !directory.unicodeScalars.contains("\0"),
            (try? files.status(directory))?.kind == .directory
        else {
            throw TokenPluginConfigurationError(message: "TokenFileName plugin requires a directory")
        }
        self.directory = directory
        self.files = files
    }

    /// Reads the token's file.
    ///
    /// - Parameter token: the token; only its basename is used.
    /// - Returns: the target, or `nil` when the file does not exist.
    /// - Throws: ``TokenLookupError/pluginFailure(_:)`` for an unreadable file, invalid UTF-8 or content that is
    ///   not exactly `host:port`; ``TokenLookupError/unresolvableTarget(host:port:)`` for a non-numeric port.
    public func lookup(_ token: String) throws(TokenLookupError) -> TargetAddress? {
        let scalars = token.unicodeScalars
        let name = scalars.lastIndex(of: "/").map { String(scalars[scalars.index(after: $0)...]) } ?? token
        let path = directory.isEmpty || directory.hasSuffix("/") ? directory + name : directory + "/" + name
        // os.path.exists: false for any stat failure, and for an embedded NUL.
        if path.unicodeScalars.contains("\0") { return nil }
        guard (try? files.status(path)) != nil else { return nil }
        let bytes: [UInt8]
        do {
            bytes = try files.readFile(path)
        } catch {
            throw .pluginFailure(error.message)
        }
        let text = try TokenFileFormat.decode(bytes, path: path)
        return try Self.target(content: text)
    }

    /// `content.strip().split(':')` unpacked into `host, port`.
    ///
    /// - Parameter content: the file's text.
    /// - Returns: the target.
    /// - Throws: ``TokenLookupError`` as described in ``lookup(_:)``.
    public static func target(content: String) throws(TokenLookupError) -> TargetAddress {
        let fields = PythonText.strip(Substring(content).unicodeScalars)
            .split(separator: ":", omittingEmptySubsequences: false)
        let (host, port) = try unpackPair(fields.map { String($0) })
        return try PluginTarget.address(host: host, port: port)
    }

    /// Python's `a, b = fields`.
    static func unpackPair(_ fields: [String]) throws(TokenLookupError) -> (String, String) {
        guard fields.count == 2 else { throw .pluginFailure(unpackMessage(count: fields.count)) }
        return (fields[0], fields[1])
    }

    /// Python's `ValueError` message for unpacking `count` values into two names.
    static func unpackMessage(count: Int) -> String {
        count > 2
            ? "too many values to unpack (expected 2)"
            : "not enough values to unpack (expected 2, got \(count))"
    }
}
