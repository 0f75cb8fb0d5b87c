import Foundation
import SockifyLookup
import SockifyReactor
import Synchronization
import Testing

/// Request heads a scripted server received.
final class RecordedRequests: Sendable {
    let heads = Mutex<[String]>([])
}

/// A scripted HTTP server that reads one request head, records it, and answers with `response`.
func cannedServer(_ response: String, requests: RecordedRequests? = nil) throws -> ScriptedServer {
    try ScriptedServer { _, connection in
        guard let head = connection.read(through: Array("\r\n\r\n".utf8)) else { return }
        requests?.heads.withLock { $0.append(String(decoding: head, as: UTF8.self)) }
        connection.write(response)
    }
}

@Suite("HTTPClient", .timeLimit(.minutes(1)))
struct HTTPClientTests {
    @Test("the request is an HTTP/1.1 GET with Host, User-Agent and Connection: close")
    func requestHead() throws {
        let requests = RecordedRequests()
        let server = try cannedServer("HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n127.0.0.1:5900", requests: requests)
        let (status, body) = try HTTPClient().get(url: "\(server.url)/api?token=a b", timeout: .seconds(5))
        server.finish()
        #expect(status == 200 && body == Array("127.0.0.1:5900".utf8))
        let head = requests.heads.withLock { $0.first } ?? ""
        #expect(head.hasPrefix("GET /api?token=a%20b HTTP/1.1\r\n"))
        #expect(head.contains("\r\nHost: 127.0.0.1:\(server.port)\r\n"))
        #expect(head.contains("\r\nUser-Agent: sockify\r\n"))
        #expect(head.contains("\r\nConnection: close\r\n"))
    }

    @Test(
        "bodies framed by Content-Length, chunked coding or the close; statuses returned as they are",
        arguments: [
            ("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhost:5900", 200, "host:5900"),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhost:\r\n4\r\n5900\r\n0\r\n\r\n", 200,
                "host:5900"
            ),
            ("HTTP/1.0 200 OK\r\n\r\n{\"host\": \"h\", \"port\": 1}", 200, "{\"host\": \"h\", \"port\": 1}"),
            ("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 404, ""),
            ("HTTP/1.1 302 Found\r\nLocation: http://elsewhere/\r\nContent-Length: 3\r\n\r\nbye", 302, "bye"),
        ])
    func framing(response: String, status: Int, body: String) throws {
        let server = try cannedServer(response)
        let result = try HTTPClient().get(url: "\(server.url)/t", timeout: .seconds(5))
        server.finish()
        #expect(result.status == status)
        #expect(String(decoding: result.body, as: UTF8.self) == body)
    }

    @Test("a body over the limit fails the request")
    func bodyTooLarge() throws {
        let big = String(repeating: "x", count: 70_000)
        let server = try cannedServer("HTTP/1.0 200 OK\r\n\r\n\(big)")
        let error = try #require(throws: HTTPClientError.self) {
            try HTTPClient().get(url: "\(server.url)/", timeout: .seconds(5))
        }
        server.finish()
        #expect(error.reason == .response(.bodyTooLarge(limit: 65536)))
        #expect(error.description == "HTTP server at 127.0.0.1:\(server.port): response body larger than 65536 bytes")
    }

    @Test("a response cut short is an error, not a short body")
    func truncated() throws {
        let server = try cannedServer("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
        let error = try #require(throws: HTTPClientError.self) {
            try HTTPClient().get(url: "\(server.url)/", timeout: .seconds(5))
        }
        server.finish()
        #expect(error.reason == .response(.truncated))
    }

    @Test("a server that reads the request and never answers: timeout within the deadline")
    func slowServerTimesOut() throws {
        let server = try ScriptedServer { _, connection in
            _ = connection.read(through: Array("\r\n\r\n".utf8))
            connection.write("HTTP/1.1 200 OK\r\n")  // a status line, then silence
            connection.waitForClose()
        }
        var thrown: HTTPClientError?
        let elapsed = elapsedMilliseconds {
            do throws(HTTPClientError) {
                _ = try HTTPClient().get(url: "\(server.url)/slow", timeout: .milliseconds(250))
            } catch {
                thrown = error
            }
        }
        server.finish()
        let error = try #require(thrown)
        #expect(error.reason == .timedOut(after: .milliseconds(250)))
        #expect(error.description == "HTTP server at 127.0.0.1:\(server.port): timed out after 250ms")
        #expect(elapsed >= 250 && elapsed < 3000, "took \(elapsed) ms")
    }

    @Test("a black-hole server (never accepts): timeout within the deadline")
    func blackHoleTimesOut() throws {
        let hole = try BlackHole()
        let error = try #require(throws: HTTPClientError.self) {
            try HTTPClient().get(url: "http://127.0.0.1:\(hole.address.port)/", timeout: .seconds(1))
        }
        #expect(error.description == "HTTP server at 127.0.0.1:\(hole.address.port): timed out after 1s")
    }

    @Test("nothing listening: connection refused, over http and https alike", arguments: ["http", "https"])
    func refused(scheme: String) throws {
        let port = try freePort()
        let error = try #require(throws: HTTPClientError.self) {
            try HTTPClient().get(url: "\(scheme)://127.0.0.1:\(port)/", timeout: .seconds(2))
        }
        #expect(error.description == "HTTP server at 127.0.0.1:\(port): connection refused")
    }

    @Test("error descriptions: budgets read as 2s, 1.5s or 250ms")
    func descriptions() {
        let endpoint = "10.0.0.1:80"
        #expect(HTTPClientError(endpoint: endpoint, reason: .timedOut(after: .seconds(2))).description
            == "HTTP server at 10.0.0.1:80: timed out after 2s")
        #expect(RedisError(endpoint: "r:6379", reason: .timedOut(after: .milliseconds(1500))).description
            == "Redis at r:6379: timed out after 1.5s")
        #expect(RedisError(endpoint: "r:6379", reason: .timedOut(after: .milliseconds(2050))).description
            == "Redis at r:6379: timed out after 2.05s")
        #expect(RedisError(endpoint: "/run/redis.sock", reason: .system(.noSuchFile)).description
            == "Redis at /run/redis.sock: no such file or directory")
        #expect(RedisError(endpoint: "r:1", reason: .resolution("Name or service not known")).description
            == "Redis at r:1: cannot resolve host: Name or service not known")
    }

    @Test("Python http.server (an independent peer): a file, and a 404 for a missing one")
    func pythonHTTPServer() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sockify-lookup-http-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data("10.1.2.3:5901\n".utf8).write(to: directory.appendingPathComponent("tok"))
        let server = try PythonHTTPServer(directory: directory.path)
        let found = try HTTPClient().get(url: "http://127.0.0.1:\(server.port)/tok", timeout: .seconds(5))
        #expect(found.status == 200 && found.body == Array("10.1.2.3:5901\n".utf8))
        let missing = try HTTPClient().get(url: "http://localhost:\(server.port)/nope?token=x", timeout: .seconds(5))
        #expect(missing.status == 404)
    }
}
