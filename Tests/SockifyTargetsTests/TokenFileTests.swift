// Token files and directories (websockify TokenFile/ReadOnlyTokenFile). The fixtures in Tests/Fixtures/tokens were
// loaded with websockify 0.13.0's `TokenFile(path)._load_targets()`; the expectations below are its output,
// except where a test name says "Sockify" (documented differences).
import SockifyTargets
import Synchronization
import Testing

private let fixtures: String = {
    // #filePath is …/Tests/SockifyTargetsTests/TokenFileTests.swift; the fixtures are in …/Tests/Fixtures/tokens.
    let components = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
    return components.dropLast(2).joined(separator: "/") + "/Fixtures/tokens"
}()

/// Collects log lines from a table.
private final class LogSink: Sendable {
    private let storage = Mutex<[String]>([])
    var lines: [String] { storage.withLock { $0 } }
    func append(_ line: String) { storage.withLock { $0.append(line) } }
}

@Suite("TokenFile fixtures (confirmed with websockify 0.13.0)")
struct TokenFileFixtureTests {
    @Test("lines.txt: every line form")
    func lines() throws {
        let log = LogSink()
        let path = fixtures + "/lines.txt"
        let table = TokenFileTable(sourcePath: path, files: .system, log: log.append)
        let entries = try table.entries()
        #expect(
            entries == [
                "vm1": .address(.tcp(host: "10.0.0.5", port: 5900)),
                "vm2": .address(.tcp(host: "::1", port: 5901)),
                "vm3": .address(.unixSocket(path: "/run/vnc.sock")),
                "vm4": .address(.tcp(host: "host4", port: 5904)),
                "tok:with:colons": .address(.tcp(host: "host5", port: 5905)),
                "tokD\t": .address(.tcp(host: "hostD", port: 5906)),
                "inline": .unresolvable(host: "hostI", port: "1 # x"),
                "dup": .address(.tcp(host: "second", port: 2)),
                "service": .unresolvable(host: "host", port: "x11"),
                "big": .unresolvable(host: "host", port: "70000"),
                "noport": .missingPort("justahost"),
                "bracket": .address(.tcp(host: "[::1]", port: 5900)),
                "plus": .address(.tcp(host: "host", port: 5907)),
                "zero": .address(.tcp(host: "host", port: 0)),
                "last": .address(.tcp(host: "hostL", port: 5908)),
            ])
        #expect(
            log.lines == [8, 9, 17].map { "Syntax error in \(path) on line \($0)" })
    }

    @Test("lookup maps each entry kind to websockify's behaviour")
    func lookupKinds() throws {
        let table = TokenFileTable(sourcePath: fixtures + "/lines.txt", files: .system, log: { _ in })
        #expect(try table.lookup("vm1") == .tcp(host: "10.0.0.5", port: 5900))
        #expect(try table.lookup("vm3") == .unixSocket(path: "/run/vnc.sock"))
        #expect(try table.lookup("VM1") == nil)  // case-sensitive
        #expect(try table.lookup("vm1 ") == nil)
        #expect(try table.lookup("") == nil)
        #expect(throws: TokenLookupError.unresolvableTarget(host: "host", port: "x11")) {
            try table.lookup("service")
        }
        #expect(throws: TokenLookupError.pluginFailure("not enough values to unpack (expected 2, got 1)")) {
            try table.lookup("noport")
        }
    }

    @Test("crlf.txt: universal newlines")
    func crlf() throws {
        let log = LogSink()
        let path = fixtures + "/crlf.txt"
        let entries = try TokenFileTable(sourcePath: path, files: .system, log: log.append).entries()
        #expect(
            entries == [
                "crlf1": .address(.tcp(host: "h1", port: 1)), "crlf2": .address(.tcp(host: "h2", port: 2)),
                "crlf3": .address(.tcp(host: "h3", port: 3)), "crlf4": .address(.tcp(host: "h4", port: 4)),
            ])
        #expect(log.lines == ["Syntax error in \(path) on line 5"])
    }

    @Test("Sockify: a directory is read in name order, so the later file wins and lines count on")
    func directory() throws {
        let log = LogSink()
        let path = fixtures + "/dir"
        let entries = try TokenFileTable(sourcePath: path, files: .system, log: log.append).entries()
        // websockify read b.conf first here (os.listdir order) and so kept shared → from-a.
        #expect(
            entries == [
                "alpha": .address(.tcp(host: "ha", port: 1)), "beta": .address(.tcp(host: "hb", port: 2)),
                "shared": .address(.tcp(host: "from-b", port: 2)),
            ])
        #expect(log.lines == ["Syntax error in \(path) on line 6"])
    }

    @Test("a missing source fails each lookup like Python's open()")
    func missing() {
        let path = fixtures + "/does-not-exist"
        let table = TokenFileTable(sourcePath: path, files: .system, log: { _ in })
        #expect(throws: TokenLookupError.pluginFailure("[Errno 2] No such file or directory: '\(path)'")) {
            try table.lookup("vm1")
        }
    }
}

/// An in-memory file system whose stamps change on every write.
private final class MemoryFiles: Sendable {
    private struct State {
        var files: [String: [UInt8]] = [:]
        var directories: Set<String> = []
        var versions: [String: Int64] = [:]
        var reads = 0
        var stats = 0
    }
    private let state = Mutex(State())

    func write(_ path: String, _ text: String) {
        state.withLock {
            $0.files[path] = Array(text.utf8)
            $0.versions[path, default: 0] += 1
        }
    }

    func writeBytes(_ path: String, _ bytes: [UInt8]) {
        state.withLock {
            $0.files[path] = bytes
            $0.versions[path, default: 0] += 1
        }
    }

    func makeDirectory(_ path: String) {
        state.withLock {
            $0.directories.insert(path)
            $0.versions[path, default: 0] += 1
        }
    }

    /// Adds or removes a directory entry: bumps the directory's stamp, as the kernel does.
    func touchDirectory(_ path: String) {
        state.withLock { $0.versions[path, default: 0] += 1 }
    }

    func remove(_ path: String) {
        state.withLock {
            $0.files[path] = nil
            $0.versions[path] = nil
        }
    }

    var reads: Int { state.withLock { $0.reads } }
    var stats: Int { state.withLock { $0.stats } }

    var source: TokenFileSource {
        TokenFileSource(
            status: { path throws(TokenSourceError) in
                try self.state.withLock { (state: inout State) throws(TokenSourceError) in
                    state.stats += 1
                    guard let version = state.versions[path] else {
                        throw TokenSourceError(errno: 2, reason: "No such file or directory", path: path)
                    }
                    let kind: TokenFileStatus.Kind = state.directories.contains(path) ? .directory : .regularFile
                    return TokenFileStatus(kind: kind, changeStamp: [version])
                }
            },
            readFile: { path throws(TokenSourceError) in
                try self.state.withLock { (state: inout State) throws(TokenSourceError) in
                    state.reads += 1
                    guard let bytes = state.files[path] else {
                        throw TokenSourceError(errno: 2, reason: "No such file or directory", path: path)
                    }
                    return bytes
                }
            },
            listDirectory: { path throws(TokenSourceError) in
                self.state.withLock { state in
                    state.files.keys.filter { $0.hasPrefix(path + "/") }.map { String($0.dropFirst(path.count + 1)) }
                }
            })
    }
}

@Suite("TokenFileTable reloading")
struct TokenFileTableReloadTests {
    @Test("a file is re-read only when its stamp changes; one stat per lookup")
    func fileReload() throws {
        let files = MemoryFiles()
        files.write("/t", "a: h:1\n")
        let table = TokenFileTable(sourcePath: "/t", files: files.source, log: { _ in })
        #expect(try table.lookup("a") == .tcp(host: "h", port: 1))
        #expect(try table.lookup("a") == .tcp(host: "h", port: 1))
        #expect(files.reads == 1)
        #expect(files.stats == 2)
        files.write("/t", "a: h:2\nb: unix_socket:/s\n")
        #expect(try table.lookup("a") == .tcp(host: "h", port: 2))
        #expect(try table.lookup("b") == .unixSocket(path: "/s"))
        #expect(files.reads == 2)
    }

    @Test("syntax errors are logged once per reload, not per lookup (Sockify)")
    func logOncePerReload() throws {
        let files = MemoryFiles()
        files.write("/t", "bad\na: h:1\n")
        let log = LogSink()
        let table = TokenFileTable(sourcePath: "/t", files: files.source, log: log.append)
        for _ in 0..<3 { _ = try table.lookup("a") }
        #expect(log.lines == ["Syntax error in /t on line 1"])
        files.write("/t", "a: h:1\nbad\n")
        _ = try table.lookup("a")
        #expect(log.lines == ["Syntax error in /t on line 1", "Syntax error in /t on line 2"])
    }

    @Test("a directory notices added, removed and edited files")
    func directoryReload() throws {
        let files = MemoryFiles()
        files.makeDirectory("/d")
        files.write("/d/one", "a: h:1\n")
        let table = TokenFileTable(sourcePath: "/d", files: files.source, log: { _ in })
        #expect(try table.lookup("a") == .tcp(host: "h", port: 1))
        #expect(try table.lookup("b") == nil)
        #expect(files.reads == 1)

        files.write("/d/two", "b: h:2\n")
        files.touchDirectory("/d")
        #expect(try table.lookup("b") == .tcp(host: "h", port: 2))

        files.write("/d/one", "a: h:9\n")  // edited in place: the directory's stamp does not change
        #expect(try table.lookup("a") == .tcp(host: "h", port: 9))

        files.remove("/d/one")
        files.touchDirectory("/d")
        #expect(try table.lookup("a") == nil)
        #expect(try table.lookup("b") == .tcp(host: "h", port: 2))
    }

    @Test("a failed reload is retried on the next lookup")
    func failureThenRecovery() throws {
        let files = MemoryFiles()
        let table = TokenFileTable(sourcePath: "/t", files: files.source, log: { _ in })
        #expect(throws: TokenLookupError.pluginFailure("[Errno 2] No such file or directory: '/t'")) {
            try table.lookup("a")
        }
        files.write("/t", "a: h:1")
        #expect(try table.lookup("a") == .tcp(host: "h", port: 1))
    }

    @Test("invalid UTF-8 fails like Python's decoder (confirmed message)")
    func invalidUTF8() {
        let files = MemoryFiles()
        files.writeBytes("/t", Array("a: h:1\n".utf8) + [0xFF, 0x0A])
        let table = TokenFileTable(sourcePath: "/t", files: files.source, log: { _ in })
        #expect(
            throws: TokenLookupError.pluginFailure(
                "'utf-8' codec can't decode byte 0xff in position 7: invalid start byte")
        ) { try table.lookup("a") }
        files.writeBytes("/t", Array("a: h".utf8) + [0xC3])
        #expect(
            throws: TokenLookupError.pluginFailure(
                "'utf-8' codec can't decode byte 0xc3 in position 4: unexpected end of data")
        ) { try table.lookup("a") }
        files.writeBytes("/t", [0xE2, 0x28, 0xA1])
        #expect(
            throws: TokenLookupError.pluginFailure(
                "'utf-8' codec can't decode byte 0xe2 in position 0: invalid continuation byte")
        ) { try table.lookup("a") }
    }
}

@Suite("TokenFileFormat")
struct TokenFileFormatTests {
    @Test(
        "line rules (each confirmed with websockify's _load_targets)",
        arguments: [
            ("a: h:1", ["a": TokenFileTarget.address(.tcp(host: "h", port: 1))], 0),
            ("a:\th:1", ["a": .address(.tcp(host: "h", port: 1))], 0),
            ("a:\u{a0}h:1", ["a": .address(.tcp(host: "h", port: 1))], 0),
            ("a:\u{3000}h:1\u{3000}", ["a": .address(.tcp(host: "h", port: 1))], 0),
            ("a:h:1", [:], 1),
            ("a: b: c", [:], 1),
            ("a:  h:1", ["a": .address(.tcp(host: "h", port: 1))], 0),
            ("#a: h:1", [:], 0),
            (" \t#a: h:1", [:], 0),
            ("\u{FEFF}a: h:1", ["\u{FEFF}a": .address(.tcp(host: "h", port: 1))], 0),
            ("a: unix_socket:", ["a": .address(.unixSocket(path: ""))], 0),
            ("a: unix_socket:/x:y", ["a": .unresolvable(host: "unix_socket:/x", port: "y")], 0),
            ("a: unix_socket", ["a": .missingPort("unix_socket")], 0),
            ("a: h:-1", ["a": .unresolvable(host: "h", port: "-1")], 0),
            ("a: h:65535", ["a": .address(.tcp(host: "h", port: 65535))], 0),
            ("a: h:65536", ["a": .unresolvable(host: "h", port: "65536")], 0),
            ("a: h:05900", ["a": .address(.tcp(host: "h", port: 5900))], 0),
        ] as [(String, [TokenKey: TokenFileTarget], Int)])
    func line(text: String, expected: [TokenKey: TokenFileTarget], errors: Int) {
        var entries: [TokenKey: TokenFileTarget] = [:]
        var logged = 0
        let next = TokenFileFormat.parse(text, firstLineNumber: 4, sourceName: "s", into: &entries) { _ in logged += 1 }
        #expect(entries == expected)
        #expect(logged == errors)
        #expect(next == 5)
    }

    @Test("line counting: a final newline does not add a line")
    func counting() {
        var entries: [TokenKey: TokenFileTarget] = [:]
        #expect(TokenFileFormat.parse("", firstLineNumber: 1, sourceName: "s", into: &entries) { _ in } == 1)
        #expect(TokenFileFormat.parse("a\n", firstLineNumber: 1, sourceName: "s", into: &entries) { _ in } == 2)
        #expect(TokenFileFormat.parse("a\n\n", firstLineNumber: 1, sourceName: "s", into: &entries) { _ in } == 3)
        #expect(TokenFileFormat.parse("a\r\n\r", firstLineNumber: 1, sourceName: "s", into: &entries) { _ in } == 3)
    }
}

@Suite("TokenPluginKind")
struct TokenPluginKindTests {
    @Test("short and dotted names", arguments: TokenPluginKind.allCases)
    func names(kind: TokenPluginKind) {
        #expect(TokenPluginKind(className: kind.rawValue) == kind)
        #expect(TokenPluginKind(className: "websockify.token_plugins." + kind.rawValue) == kind)
    }

    @Test(
        "unknown names",
        arguments: ["tokenfile", "Nope", "", "other.TokenFile", "websockify.TokenFile", "token_plugins.TokenFile"])
    func unknown(name: String) {
        #expect(TokenPluginKind(className: name) == nil)
    }
}
