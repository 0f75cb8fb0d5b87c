// The real file system behind `TokenFileSource`: stat, read and readdir through Glibc.
#if canImport(Glibc)
    import Glibc

    extension TokenFileSource {
        /// The process's file system. Relative paths are resolved against the current working directory at each
        /// call, as websockify does.
        public static let system = TokenFileSource(
            status: { path throws(TokenSourceError) in try GlibcFiles.status(path) },
            readFile: { path throws(TokenSourceError) in try GlibcFiles.read(path) },
            listDirectory: { path throws(TokenSourceError) in try GlibcFiles.list(path) }
        )
    }

    extension UnixDomainSocketDirectory {
        /// Creates the plugin with `directory` resolved against the process's working directory now, as
        /// websockify's constructor does.
        ///
        /// - Parameters:
        ///   - directory: the `--token-source` value.
        ///   - files: the file system.
        public init(directory: String, files: TokenFileSource = .system) {
            self.init(directory: directory, currentDirectory: GlibcFiles.currentDirectory(), files: files)
        }
    }

    private enum GlibcFiles {
        static func currentDirectory() -> String {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            guard getcwd(&buffer, buffer.count) != nil else { return "/" }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }

        static func error(_ path: String) -> TokenSourceError {
            let code = errno
            return TokenSourceError(errno: code, reason: String(cString: strerror(code)), path: path)
        }

        static func status(_ path: String) throws(TokenSourceError) -> TokenFileStatus {
            var info = stat()
            guard stat(path, &info) == 0 else { throw error(path) }
            let kind: TokenFileStatus.Kind =
                switch info.st_mode & S_IFMT {
                case S_IFREG: .regularFile
                case S_IFDIR: .directory
                case S_IFSOCK: .socket
                default: .other
                }
            let stamp: [Int64] = [
                Int64(bitPattern: UInt64(info.st_dev)), Int64(bitPattern: UInt64(info.st_ino)), Int64(info.st_size),
                Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
                Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec),
            ]
            return TokenFileStatus(kind: kind, changeStamp: stamp)
        }

        static func read(_ path: String) throws(TokenSourceError) -> [UInt8] {
            var fd: Int32
            repeat { fd = open(path, O_RDONLY | O_CLOEXEC) } while fd == -1 && errno == EINTR
            guard fd != -1 else { throw error(path) }
            defer { close(fd) }
            var contents: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 16 * 1024)
            while true {
                let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if count == 0 { return contents }
                if count == -1 {
                    if errno == EINTR { continue }
                    throw error(path)
                }
                contents.append(contentsOf: chunk[..<count])
            }
        }

        static func list(_ path: String) throws(TokenSourceError) -> [String] {
            guard let directory = opendir(path) else { throw error(path) }
            defer { closedir(directory) }
            var names: [String] = []
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name != "." && name != ".." { names.append(name) }
            }
            return names
        }
    }
#endif
