// Plain HTTP requests without `--web` (reference/websockify.md §4.2): 405 for GET/HEAD, 501 for the rest.
import SockifyProtocol
import SockifyProxy
import Testing

@Suite("WebFallback: no --web")
struct WebFallbackTests {
    /// §4.2's page, verbatim.
    private let methodNotAllowedPage = """
        <!DOCTYPE HTML>
        <html lang="en">
            <head>
                <meta charset="utf-8">
                <title>Error response</title>
            </head>
            <body>
                <h1>Error response</h1>
                <p>Error code: 405</p>
                <p>Message: Method Not Allowed.</p>
                <p>Error code explanation: 405 - Specified method is invalid for this resource.</p>
            </body>
        </html>

        """

    @Test func getIs405WithPythonsPage() throws {
        let text = WebFallback.respond(to: request("GET", "/vnc.html"), now: testNow, serverName: testServer)
        let response = try parse(.complete(text))
        #expect(response.statusLine == "HTTP/1.1 405 Method Not Allowed")
        #expect(response.headerNames == ["Server", "Date", "Connection", "Content-Type", "Content-Length"])
        #expect(response.header("Server") == testServer)
        #expect(response.header("Date") == testDate)
        #expect(response.header("Connection") == "close")
        #expect(response.header("Content-Type") == "text/html;charset=utf-8")
        #expect(response.header("Content-Length") == String(methodNotAllowedPage.utf8.count))
        #expect(response.body == methodNotAllowedPage)
        #expect(response.closesConnection)
    }

    @Test func headIs405WithoutTheBody() throws {
        let text = WebFallback.respond(to: request("HEAD", "/"), now: testNow, serverName: testServer)
        let response = try parse(.complete(text))
        #expect(response.statusLine == "HTTP/1.1 405 Method Not Allowed")
        #expect(response.header("Content-Length") == String(methodNotAllowedPage.utf8.count))
        #expect(response.body == "")
    }

    @Test(arguments: ["POST", "PUT", "DELETE", "OPTIONS", "PATCH", "head"])
    func otherMethodsAre501(method: String) throws {
        let upgrade: [(name: String, value: String)] = [("Upgrade", "websocket"), ("Connection", "Upgrade")]
        let text = WebFallback.respond(to: request(method, "/", upgrade), now: testNow, serverName: testServer)
        let response = try parse(.complete(text))
        #expect(response.statusLine == "HTTP/1.1 501 Unsupported method ('\(method)')")
        #expect(response.body.contains("<p>Message: Unsupported method ('\(method)').</p>"))
        #expect(response.closesConnection)
    }
}
