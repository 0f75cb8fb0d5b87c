// Paths of the repository, its fixtures and the tools the black-box suite needs; a missing tool is a failure.
import Foundation

/// Where things live, derived from this file's path (Tests/SockifyIntegrationTests/RepositoryLayout.swift).
enum RepositoryLayout {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let peers: URL = root.appendingPathComponent("Tests/Fixtures/peers")

    /// The virtualenv Python with `websockets` and numpy (installed by tools/setup-deps.sh).
    static func python() throws -> String {
        try requireExecutable(root.appendingPathComponent(".venv/bin/python").path, fix: "run tools/setup-deps.sh")
    }

    /// websockify 0.13.0 from the virtualenv.
    static func websockify() throws -> String {
        try requireExecutable(root.appendingPathComponent(".venv/bin/websockify").path, fix: "run tools/setup-deps.sh")
    }

    /// The `sockify` binary: `SOCKIFY_BIN`, else the one built next to the running test bundle
    /// (`swift build --build-tests` puts both in the same directory).
    static func sockify() throws -> String {
        if let explicit = ProcessInfo.processInfo.environment["SOCKIFY_BIN"] {
            return try requireExecutable(explicit, fix: "SOCKIFY_BIN must name the built sockify binary")
        }
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        var directory = URL(fileURLWithPath: me).deletingLastPathComponent()
        // The bundle may be a directory (`x.xctest/...`) on some toolchains: walk up to the build directory.
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("sockify").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        throw HarnessError(
            "no sockify binary next to the test bundle (\(me)); build it with "
                + "`swift build --build-tests` (same --scratch-path) or set SOCKIFY_BIN"
        )
    }

    /// A system tool from a Debian package installed by tools/setup-deps.sh.
    static func systemTool(_ name: String, package: String) throws -> String {
        for directory in ["/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin"] {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw HarnessError("\(name) is missing: run tools/setup-deps.sh (Debian package \(package))")
    }

    /// The noVNC web root from Debian's `novnc` package.
    static func novnc() throws -> String {
        let path = "/usr/share/novnc"
        guard FileManager.default.fileExists(atPath: "\(path)/vnc.html") else {
            throw HarnessError("\(path)/vnc.html is missing: run tools/setup-deps.sh (Debian package novnc)")
        }
        return path
    }

    private static func requireExecutable(_ path: String, fix: String) throws -> String {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw HarnessError("\(path) is missing: \(fix)")
        }
        return path
    }
}

/// A scratch directory removed when the value is dropped by `defer { dir.remove() }`.
struct ScratchDirectory: Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("sockify-integ-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func remove() { try? FileManager.default.removeItem(at: url) }
}
