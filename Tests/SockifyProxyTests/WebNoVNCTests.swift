// The real client: Debian's noVNC under /usr/share/novnc (`make test` installs the `novnc` package).
import Glibc
import SockifyProxy
import Testing

@Suite("WebRoot: serving Debian's noVNC")
struct WebNoVNCTests {
    private let novnc = "/usr/share/novnc"

    private func get(_ target: String) throws -> ParsedWebResponse {
        try #require(access(novnc + "/vnc.html", R_OK) == 0, "noVNC is missing: apt-get install novnc")
        let root = WebRoot(directory: novnc, allowsListing: true)
        return try parse(
            root.respond(to: request("GET", target), now: testNow, serverName: testServer, keepAlive: true),
            maxBodyBytes: 4096)
    }

    @Test func vncHtmlIsHTML() throws {
        let response = try get("/vnc.html?host=127.0.0.1&port=6080&autoconnect=1")
        #expect(response.status == 200)
        #expect(response.header("Content-type") == "text/html")
        #expect(response.body.contains("<!DOCTYPE html>"))
        #expect(response.fileByteCount == Int(response.header("Content-Length") ?? ""))
    }

    @Test func uiScriptIsJavaScript() throws {
        let response = try get("/app/ui.js")
        #expect(response.status == 200)
        #expect(response.header("Content-type") == "text/javascript")
        #expect((response.fileByteCount ?? 0) > 1000)
    }

    @Test func rootListsTheClientAndAppRedirects() throws {
        let listing = try get("/")
        #expect(listing.header("Content-type") == "text/html; charset=utf-8")
        #expect(listing.body.contains("<li><a href=\"vnc.html\">vnc.html</a></li>"))
        #expect(listing.body.contains("<li><a href=\"app/\">app/</a></li>"))
        let redirect = try get("/app")
        #expect(redirect.status == 301)
        #expect(redirect.header("Location") == "/app/")
    }
}
