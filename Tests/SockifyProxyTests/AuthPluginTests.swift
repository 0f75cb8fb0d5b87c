// AuthPlugin decisions on parsed request heads (websockify's auth_plugins.py, reference §3).
import SockifyProtocol
import SockifyProxy
import Testing

@Suite("Auth plugin decisions")
struct AuthPluginTests {
    static func head(_ headers: [(String, String)]) -> HTTPRequestHead {
        HTTPRequestHead(method: "GET", target: "/websockify", headers: headers.map { (name: $0.0, value: $0.1) })
    }

    static let plugin = AuthPlugin.basicHTTP(credentials: "user:pa:ss")

    @Test("BasicHTTPAuth: right credentials allow; the password may contain ':'")
    func basicAllows() {
        // "user:pa:ss"
        #expect(Self.plugin.authenticate(Self.head([("Authorization", "Basic dXNlcjpwYTpzcw==")])) == .allow)
    }

    @Test(
        "BasicHTTPAuth: 401 + challenge for none or wrong, 403 for other schemes, bad base64 or no ':'",
        arguments: [
            (nil, 401), ("Basic dXNlcjp3cm9uZw==", 401), ("Basic dXNlcjpwYTpz", 401), ("Bearer abc", 403),
            ("Basic abc", 403), ("Basic dXNlcg==", 403), ("basic dXNlcjpwYTpzcw==", 403),
        ] as [(String?, Int)])
    func basicDenies(header: String?, status: Int) {
        let outcome = Self.plugin.authenticate(Self.head(header.map { [("Authorization", $0)] } ?? []))
        guard case .deny(let got, _, let headers, let logLine) = outcome else {
            Issue.record("allowed \(String(describing: header))")
            return
        }
        #expect(got == status)
        #expect(logLine == "\(status) None")
        #expect(headers == (status == 401 ? [AuthPlugin.Header("WWW-Authenticate", "Basic realm=\"Websockify\"")] : []))
    }

    @Test("BasicHTTPAuth: credentials are ISO-8859-1 (one character per byte)")
    func basicLatin1() {
        let plugin = AuthPlugin.basicHTTP(credentials: "j\u{F6}rg:pw")
        // base64 of the bytes 6a f6 72 67 3a 70 77 ("jörg:pw" in ISO-8859-1)
        #expect(plugin.authenticate(Self.head([("Authorization", "Basic avZyZzpwdw==")])) == .allow)
    }

    @Test("ExpectOrigin: exact match only; the log line names the list and what came")
    func origin() {
        let plugin = AuthPlugin.expectOrigin(["https://a", "http://b:8080"])
        #expect(plugin.authenticate(Self.head([("Origin", "http://b:8080")])) == .allow)
        #expect(
            plugin.authenticate(Self.head([("Origin", "http://b")]))
                == .deny(
                    status: 403, reason: "Invalid Origin", headers: [],
                    logLine: "403 Invalid Origin Header: Expected one of ['https://a', 'http://b:8080'], got 'http://b'"))
        guard case .deny(_, _, _, let line) = plugin.authenticate(Self.head([])) else {
            Issue.record("no Origin was allowed")
            return
        }
        #expect(line.hasSuffix("got 'None'"))
    }
}
