// The static web server of --web DIR, serving Debian's noVNC (reference §4.8).
import Foundation
import Testing

/// One request to the --web server and what must come back.
struct WebRequestCase: Sendable, CustomTestStringConvertible {
    var method = "GET"
    var path: String
    var fileOnly = false
    var status: Int
    var contentTypeContains: String? = nil
    var location: String? = nil
    var bodyContains: String? = nil
    /// For 200 responses: the file under the web root whose size Content-Length must equal.
    var file: String? = nil

    var testDescription: String { "\(method) \(path)\(fileOnly ? " --file-only" : "") → \(status)" }

    static let all: [WebRequestCase] = [
        WebRequestCase(
            path: "/vnc.html",
            status: 200,
            contentTypeContains: "text/html",
            bodyContains: "noVNC",
            file: "vnc.html"
        ),
        WebRequestCase(path: "/app/ui.js", status: 200, contentTypeContains: "javascript", file: "app/ui.js"),
        WebRequestCase(
            method: "HEAD",
            path: "/vnc.html",
            status: 200,
            contentTypeContains: "text/html",
            file: "vnc.html"
        ),
        WebRequestCase(path: "/vnc.html?token=abc", status: 200, contentTypeContains: "text/html", file: "vnc.html"),
        WebRequestCase(path: "/app", status: 301, location: "/app/"),
        WebRequestCase(path: "/app/", status: 200, contentTypeContains: "text/html", bodyContains: "ui.js"),
        WebRequestCase(path: "/app/", fileOnly: true, status: 404),
        WebRequestCase(path: "/vnc.html", fileOnly: true, status: 200, file: "vnc.html"),
        WebRequestCase(path: "/no-such-file.html", status: 404),
        WebRequestCase(path: "/../etc/passwd", status: 404),
        WebRequestCase(path: "/%2e%2e/x", status: 404),
        WebRequestCase(path: "/app/../../etc/passwd", status: 404),
    ]
}

extension ProxyBinaryTests {
    @Suite("Web server")
    struct WebServer {
        @Test("--web /usr/share/novnc answers", arguments: WebRequestCase.all)
        func request(_ request: WebRequestCase) async throws {
            let root = try RepositoryLayout.novnc()
            let options = ["--web", root] + (request.fileOnly ? ["--file-only"] : [])
            try await withProxy(to: .echo, options: options) { proxy, _ in
                let result = try await RawClientResult.run(
                    port: proxy.port,
                    ["--method", request.method, "--path", request.path]
                )
                #expect(result.error == nil)
                #expect(result.status == request.status)
                if let type = request.contentTypeContains {
                    #expect(result.header("Content-Type")?.contains(type) == true, "Content-Type \(result.headers)")
                }
                if let location = request.location {
                    #expect(result.header("Location") == location)
                }
                if let text = request.bodyContains {
                    #expect(result.body?.contains(text) == true)
                }
                if let file = request.file {
                    let size = try FileManager.default.attributesOfItem(atPath: "\(root)/\(file)")[.size] as? Int
                    #expect(result.header("Content-Length").flatMap(Int.init) == size)
                    #expect(result.bodyLen == (request.method == "HEAD" ? 0 : size))
                }
                #expect(result.body?.contains("root:") != true, "nothing outside the web root is served")
            }
        }

        @Test("file bodies are byte-exact: noVNC's core/rfb.js and a generated 8 MiB file")
        func largeBodies() async throws {
            let scratch = try ScratchDirectory()
            defer { scratch.remove() }
            let webRoot = scratch.url.appendingPathComponent("web")
            try FileManager.default.createDirectory(at: webRoot, withIntermediateDirectories: true)
            let novnc = try RepositoryLayout.novnc()
            try FileManager.default.copyItem(
                atPath: "\(novnc)/core/rfb.js",
                toPath: webRoot.appendingPathComponent("rfb.js").path
            )
            let big = Data(PatternStream.bytes(offset: 12345, count: 8 << 20))
            try big.write(to: webRoot.appendingPathComponent("big.bin"))
            try await withProxy(to: .echo, options: ["--web", webRoot.path]) { proxy, _ in
                for name in ["rfb.js", "big.bin"] {
                    let out = scratch.path("\(name).out")
                    let result = try await RawClientResult.run(
                        port: proxy.port,
                        ["--path", "/\(name)", "--body-out", out]
                    )
                    #expect(result.error == nil)
                    #expect(result.status == 200)
                    let expected = try Data(contentsOf: webRoot.appendingPathComponent(name))
                    let received = try Data(contentsOf: URL(fileURLWithPath: out))
                    #expect(received.count == expected.count, "\(name)")
                    #expect(received == expected, "\(name) body differs")
                }
            }
        }
    }
}
