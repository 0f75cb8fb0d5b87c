// websockify's `UnixDomainSocketDirectory` plugin (`token_plugins.py:349-374`, since 0.10.0): the token is the
// relative path of a Unix socket inside a directory.

/// Resolves a token to a Unix domain socket inside a directory.
///
/// As websockify 0.13.0: the directory is made absolute once (`os.path.abspath`, against the working directory at
/// start-up); each lookup checks that it is still a directory, joins the token to it (an absolute token replaces
/// it), normalises `.`, `..` and repeated `/` lexically (symbolic links are not resolved), requires the result to
/// be inside the directory, and requires it to exist and be a socket (`S_ISSOCK`, following links). The answer is
/// `unix_socket` with the normalised absolute path; every failure is "not found".
///
/// **Deliberate difference (security fix):** websockify checks containment with
/// `uds_path.startswith(dir_path)`, a prefix test *without a separator*, so with the directory `/run/vnc` the
/// token `../vncX/s` resolves to `/run/vncX/s` and is accepted. Sockify accepts only the directory itself or paths
/// below `<directory>/`, so sibling directories that share the prefix are out of reach.
public struct UnixDomainSocketDirectory: TokenPlugin {
    /// The directory, absolute and normalised.
    public let directory: String
    private let files: TokenFileSource

    /// Creates the plugin. Nothing is checked yet: websockify only checks the directory per lookup.
    ///
    /// - Parameters:
    ///   - directory: the `--token-source` value.
    ///   - currentDirectory: the absolute working directory a relative `directory` is resolved against.
    ///   - files: the file system; ``TokenFileSource/system`` in production.
    public init(directory: String, currentDirectory: String, files: TokenFileSource) {
        self.directory = PythonText.absolutePath(directory, currentDirectory: currentDirectory)
        self.files = files
    }

    /// Resolves the token to a socket path.
    ///
    /// - Parameter token: a path relative to the directory.
    /// - Returns: `.unixSocket(path:)` with the absolute path, or `nil`.
    public func lookup(_ token: String) throws(TokenLookupError) -> TargetAddress? {
        guard let path = resolvedPath(token) else { return nil }
        guard (try? files.status(directory))?.kind == .directory,
            (try? files.status(path))?.kind == .socket
        else { return nil }
        return .unixSocket(path: path)
    }

    /// `abspath(join(directory, token))` if it stays inside ``directory`` (separator-aware), else `nil`.
    ///
    /// - Parameter token: the token.
    /// - Returns: the absolute, normalised path, or `nil` when it escapes or contains NUL.
    public func resolvedPath(_ token: String) -> String? {
        if token.unicodeScalars.contains("\0") { return nil }
        let joined: String
        if token.unicodeScalars.first == "/" {
            joined = token
        } else {
            joined = directory.hasSuffix("/") ? directory + token : directory + "/" + token
        }
        let path = PythonText.normalizePath(joined)
        // Prefix compared by scalars: Python compares code points, Swift's hasPrefix compares Characters.
        let base = directory.hasSuffix("/") ? directory : directory + "/"
        let inside =
            path.unicodeScalars.elementsEqual(directory.unicodeScalars)
            || path.unicodeScalars.starts(with: base.unicodeScalars)
        return inside ? path : nil
    }
}
