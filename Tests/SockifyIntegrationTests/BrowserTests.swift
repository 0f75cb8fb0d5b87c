// A real browser session: Debian's noVNC in headless Chromium, through the proxy (--web and a --target-config
// token), to TigerVNC's Xvnc. The remote screen must reach the canvas and typed keys must reach an X client.
//
//   SOCKIFY_PROXY=websockify swift test --scratch-path .build-browser --filter SockifyIntegrationTests.BrowserTests
//   SOCKIFY_SCREENSHOT=/tmp/novnc-sockify.png swift test … (also saves a PNG of the connected page)
//
// Time bounds, worst case: Xvnc 10 s + xsetroot 5 s + xterm 5 s + proxy 10 s + browser 55 s = 85 s; a passing run
// takes a few seconds.
import Foundation
import Testing

@Suite("noVNC in headless Chromium (black box)", .serialized, .timeLimit(.minutes(2)))
struct BrowserTests {
    /// The root window colour `xsetroot` paints; the canvas must show exactly this at every sample point.
    static let rootColour = "3366cc"
    /// Framebuffer points away from the xterm in the top-left corner of the 640×480 screen.
    static let samples = ["639,479", "630,10", "10,470", "320,400", "400,200"]
    /// Upper and lower case, digits and punctuation: noVNC turns each into a keysym, and Xvnc adds Shift itself.
    static let text = "Hello Sockify 42!"

    @Test(
        "noVNC 1.3 via --web and token tok1 shows Xvnc's #3366cc root window, and typed keys reach an xterm",
        arguments: [false, true])
    func novncSession(https: Bool) async throws {
        let novnc = try RepositoryLayout.novnc()
        let xsetroot = try RepositoryLayout.systemTool("xsetroot", package: "x11-xserver-utils")
        let xterm = try RepositoryLayout.systemTool("xterm", package: "xterm")
        // The Python peer uses these two fixed paths (Selenium must not look for, or download, anything else).
        _ = try RepositoryLayout.systemTool("chromium", package: "chromium")
        _ = try RepositoryLayout.systemTool("chromedriver", package: "chromium-driver")

        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let vnc = try await VirtualVNCServer.start(geometry: "640x480")
        defer { vnc.stop() }
        let display = ["DISPLAY": ":\(vnc.display)"]

        let paint = try SpawnedProcess(xsetroot, ["-solid", "#\(Self.rootColour)"], environment: display)
        defer { paint.terminate() }
        guard try await offload({ paint.waitForExit(timeout: .seconds(5)) }), paint.exitStatus == 0 else {
            let state = paint.exitStatus.map { "exit status \($0)" } ?? "still running after 5 s"
            throw HarnessError("xsetroot failed (\(state)):\n\(paint.stderr)")
        }

        // An xterm in the top-left corner whose shell copies what it reads into a file. The X server's focus is
        // PointerRoot (no window manager), so keys go to the window under the pointer: the browser clicks there.
        let typed = scratch.path("typed.txt")
        let terminal = try SpawnedProcess(
            xterm,
            ["-geometry", "40x6+0+0", "-e", "/bin/sh", "-c", "exec cat > \"$0\"", typed],
            environment: display
        )
        defer { terminal.terminate() }
        try await Self.waitForFile(typed, created: terminal)

        let tokens = scratch.path("tokens.cfg")
        try "tok1: 127.0.0.1:\(vnc.port)\n".write(toFile: tokens, atomically: true, encoding: .utf8)
        var options = ["--web", novnc, "--target-config", tokens]
        var material: TLSMaterial?
        defer { material?.remove() }
        if https {
            // The page over https makes noVNC use wss:// on the same port (issue 6).
            material = try await TLSMaterial.make()
            options += ["--cert", material!.server, "--ssl-only"]
        }
        let proxy = try await ProxyUnderTest.start(options: options, target: [])
        defer { proxy.stop() }

        // noVNC 1.3 has no token parameter: the token travels in the WebSocket path.
        let scheme = https ? "https" : "http"
        let url = "\(scheme)://127.0.0.1:\(proxy.port)/vnc.html?autoconnect=1&path=websockify%3Ftoken%3Dtok1"
        var arguments = ["--url", url, "--expect-rgb", Self.rootColour, "--timeout", "45"]
        if https { arguments.append("--ignore-certificate-errors") }
        arguments += Self.samples.flatMap { ["--sample", $0] }
        arguments += ["--focus", "100,40", "--type", Self.text, "--typed-file", typed]
        if let screenshot = ProcessInfo.processInfo.environment["SOCKIFY_SCREENSHOT"] {
            arguments += ["--screenshot", screenshot]
        }
        let result = try await PythonPeer.run(
            "novnc_browser.py",
            arguments,
            timeout: .seconds(55),
            as: NoVNCBrowserResult.self
        )
        let context = Comment(rawValue: "\(result.diagnostics)\n\(proxy.kind) log:\n\(proxy.log)")

        #expect(result.error == nil, context)
        try #require(result.connected == true, context)
        #expect(result.status == "Connected (\(https ? "encrypted" : "unencrypted")) to sockify-integ", context)
        if https { #expect(proxy.log.contains("SSL/TLS (wss://) WebSocket connection"), context) }
        #expect(result.canvasWidth == 640 && result.canvasHeight == 480, context)
        let expected = [0x33, 0x66, 0xCC]
        #expect(result.pixels == Array(repeating: expected, count: Self.samples.count), context)
        #expect(result.screenMatches == true, context)
        #expect(result.typedFile == Self.text + "\n", context)
        let onDisk = try String(contentsOfFile: typed, encoding: .utf8)
        #expect(onDisk == Self.text + "\n", "the xterm's shell wrote \(onDisk.debugDescription)")
    }

    /// Waits until `path` exists: the xterm's shell creates it just before `cat` starts reading (bounded: 100 × 50 ms).
    private static func waitForFile(_ path: String, created process: SpawnedProcess) async throws {
        let ready = try await offload { () -> Bool in
            for _ in 0..<100 {
                if FileManager.default.fileExists(atPath: path) { return true }
                if !process.isRunning { return false }
                usleep(50_000)  // bounded readiness poll of a separate process, not synchronisation
            }
            return false
        }
        guard ready else {
            let state = process.exitStatus.map { "exited with status \($0)" } ?? "did not start its shell within 5 s"
            throw HarnessError("xterm \(state):\n\(process.stderr)")
        }
    }
}

/// The JSON result of novnc_browser.py.
struct NoVNCBrowserResult: Decodable, Sendable {
    var error: String?
    var connected: Bool?
    var screenMatches: Bool?
    var browser: String?
    /// noVNC's status line, e.g. "Connected (unencrypted) to <desktop name>".
    var status: String?
    var title: String?
    var canvasWidth: Int?
    var canvasHeight: Int?
    /// RGB of each `--sample` point, as last read from the canvas.
    var pixels: [[Int]]?
    var typed: String?
    /// What the typed file held when the peer stopped waiting (nil: no such file).
    var typedFile: String?
    var screenshot: Bool?
    /// The browser console's last lines.
    var console: [String]?
    var seconds: Double?

    var diagnostics: String {
        let lines = [
            "error: \(error ?? "none")", "status: \(status ?? "?")", "pixels: \(pixels.map { "\($0)" } ?? "?")",
            "typed file: \(typedFile.debugDescription)", "browser \(browser ?? "?"), \(seconds ?? 0) s",
        ]
        return (lines + ["console:"] + (console ?? [])).joined(separator: "\n")
    }
}
