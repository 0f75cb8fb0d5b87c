// TokenFileName and UnixDomainSocketDirectory on a real directory (real files, real bound AF_UNIX sockets).
// Expected messages are websockify 0.13.0's (Python 3.11).
import SockifyTargets
import Testing

@Suite("TokenFileName")
struct TokenFileNameTests {
    @Test("source must be a directory (websockify raises in the constructor: exit 1)")
    func requiresDirectory() {
        let directory = TemporaryDirectory()
        defer { withExtendedLifetime(directory) {} }
        let file = directory.write("plain", "h:1")
        for source in [file, directory.path + "/missing"] {
            #expect(throws: TokenPluginConfigurationError(message: "TokenFileName plugin requires a directory")) {
                try TokenFileName(directory: source, files: .system)
            }
        }
    }

    @Test("the token's basename names a file holding host:port")
    func lookups() throws {
        let directory = TemporaryDirectory()
        defer { withExtendedLifetime(directory) {} }
        directory.write("vm1", " 10.0.0.5:5900\n")
        directory.write("sock", "unix_socket:/run/vnc.sock")
        directory.write("svc", "host:vnc")
        let plugin = try TokenFileName(directory: directory.path, files: .system)
        #expect(try plugin.lookup("vm1") == .tcp(host: "10.0.0.5", port: 5900))
        #expect(try plugin.lookup("../../etc/vm1") == .tcp(host: "10.0.0.5", port: 5900))  // basename only
        #expect(try plugin.lookup("sock") == .unixSocket(path: "/run/vnc.sock"))
        #expect(try plugin.lookup("missing") == nil)
        #expect(try plugin.lookup("a\u{0}b") == nil)
        #expect(throws: TokenLookupError.unresolvableTarget(host: "host", port: "vnc")) { try plugin.lookup("svc") }
    }

    @Test(
        "malformed content raises Python's unpacking error (handler exception)",
        arguments: [
            ("::1:5900", "too many values to unpack (expected 2)"),
            ("host", "not enough values to unpack (expected 2, got 1)"),
            ("", "not enough values to unpack (expected 2, got 1)"),
        ])
    func malformed(content: String, message: String) throws {
        let directory = TemporaryDirectory()
        defer { withExtendedLifetime(directory) {} }
        directory.write("t", content)
        let plugin = try TokenFileName(directory: directory.path, files: .system)
        #expect(throws: TokenLookupError.pluginFailure(message)) { try plugin.lookup("t") }
    }

    @Test("an empty basename names the directory itself: Is a directory; invalid UTF-8 is a decode error")
    func readFailures() throws {
        let directory = TemporaryDirectory()
        defer { withExtendedLifetime(directory) {} }
        directory.write("bad", [0x68, 0xFF, 0x3A, 0x31])
        let plugin = try TokenFileName(directory: directory.path, files: .system)
        #expect(throws: TokenLookupError.pluginFailure("[Errno 21] Is a directory: '\(directory.path)/'")) {
            try plugin.lookup("a/")
        }
        #expect(
            throws: TokenLookupError.pluginFailure(
                "'utf-8' codec can't decode byte 0xff in position 1: invalid start byte")
        ) { try plugin.lookup("bad") }
    }
}

@Suite("UnixDomainSocketDirectory")
struct UnixDomainSocketDirectoryTests {
    @Test("a relative token naming a socket inside the directory resolves to its absolute path")
    func sockets() throws {
        let directory = TemporaryDirectory()
        defer { withExtendedLifetime(directory) {} }
        directory.makeDirectory("sub")
        let socket = directory.bindSocket("vnc.sock")
        let nested = directory.bindSocket("sub/n.sock")
        directory.write("file", "x")
        let plugin = UnixDomainSocketDirectory(directory: directory.path, currentDirectory: "/", files: .system)
        #expect(try plugin.lookup("vnc.sock") == .unixSocket(path: socket))
        #expect(try plugin.lookup("sub/n.sock") == .unixSocket(path: nested))
        #expect(try plugin.lookup("./sub/../vnc.sock") == .unixSocket(path: socket))
        #expect(try plugin.lookup("file") == nil)  // not a socket
        #expect(try plugin.lookup("sub") == nil)
        #expect(try plugin.lookup("missing.sock") == nil)
        #expect(try plugin.lookup("") == nil)
        #expect(try plugin.lookup("vnc.sock\u{0}x") == nil)
    }

    @Test("escapes are refused: ../, absolute tokens, and the sibling <dir>X websockify lets through")
    func escapes() throws {
        let parent = TemporaryDirectory()
        defer { withExtendedLifetime(parent) {} }
        let inside = parent.makeDirectory("vnc")
        let sibling = parent.makeDirectory("vncX")
        let outside = parent.bindSocket("outside.sock")
        let siblingSocket = parent.bindSocket("vncX/s.sock")
        let own = parent.bindSocket("vnc/own.sock")
        let plugin = UnixDomainSocketDirectory(directory: inside, currentDirectory: "/", files: .system)
        #expect(try plugin.lookup("../outside.sock") == nil)
        #expect(try plugin.lookup(outside) == nil)
        #expect(try plugin.lookup("../vncX/s.sock") == nil)  // websockify: accepted (prefix check without '/')
        #expect(try plugin.lookup(siblingSocket) == nil)
        #expect(plugin.resolvedPath("../vncX/s.sock") == nil)
        #expect(try plugin.lookup(own) == .unixSocket(path: own))  // absolute but inside
        #expect(try plugin.lookup("../vnc/own.sock") == .unixSocket(path: own))
        _ = sibling
    }

    @Test("a relative directory is resolved against the working directory at start-up")
    func relativeDirectory() throws {
        let parent = TemporaryDirectory()
        defer { withExtendedLifetime(parent) {} }
        parent.makeDirectory("d")
        let socket = parent.bindSocket("d/s")
        let plugin = UnixDomainSocketDirectory(directory: "d/./", currentDirectory: parent.path, files: .system)
        #expect(plugin.directory == parent.path + "/d")
        #expect(try plugin.lookup("s") == .unixSocket(path: socket))
        let gone = UnixDomainSocketDirectory(directory: parent.path + "/nope", currentDirectory: "/", files: .system)
        #expect(try gone.lookup("s") == nil)
    }
}
