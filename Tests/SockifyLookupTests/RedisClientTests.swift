import Foundation
import SockifyLookup
import SockifyReactor
import SockifyTargets
import Synchronization
import Testing

@Suite("RedisClient (real redis-server)", .serialized, .timeLimit(.minutes(2)))
struct RedisClientTests {
    @Test("GET returns a stored value, nil for a missing key, and reuses one connection")
    func getExistingAndMissing() throws {
        let server = try RedisServer()
        let client = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port))
        #expect(
            try client.command([Array("SET".utf8), Array("tok1".utf8), Array("127.0.0.1:5901".utf8)])
                == .simpleString("OK"))
        #expect(try client.get("tok1") == Array("127.0.0.1:5901".utf8))
        #expect(try client.get("missing") == nil)
        let key: [UInt8] = [0x00, 0x0D, 0x0A, 0xFF]  // binary-safe keys and values
        _ = try client.command([Array("SET".utf8), key, [0x0A, 0x00]])
        #expect(try client.get(key) == [0x0A, 0x00])
        #expect(client.connectionCount == 1)
        #expect(client.isConnected)
    }

    @Test("a server error reply is reported with the server's message and keeps the connection")
    func serverError() throws {
        let server = try RedisServer()
        let client = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port))
        #expect(try client.command([Array("LPUSH".utf8), Array("list".utf8), Array("x".utf8)]) == .integer(1))
        do {
            _ = try client.get("list")
            Issue.record("GET on a list succeeded")
        } catch {
            guard case .server(let command, let message) = error.reason else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(command == "GET" && message.hasPrefix("WRONGTYPE"))
            #expect(error.description == "Redis at 127.0.0.1:\(server.port): GET failed: \(message)")
        }
        #expect(try client.get("absent") == nil)
        #expect(client.connectionCount == 1)
    }

    @Test("AUTH: the right password works, a wrong one fails with the server's message, none gets NOAUTH")
    func authentication() throws {
        let server = try RedisServer(password: "s3cret")
        let good = RedisClient(
            configuration: RedisConfiguration(host: "127.0.0.1", port: server.port, password: "s3cret"))
        _ = try good.command([Array("SET".utf8), Array("t".utf8), Array("h:1".utf8)])
        #expect(try good.get("t") == Array("h:1".utf8))

        let wrong = RedisClient(
            configuration: RedisConfiguration(host: "127.0.0.1", port: server.port, password: "nope"))
        let authError = try #require(throws: RedisError.self) { try wrong.get("t") }
        guard case .server("AUTH", let message) = authError.reason else {
            Issue.record("unexpected \(authError)")
            return
        }
        #expect(message.hasPrefix("WRONGPASS"))
        #expect(!authError.description.contains("nope"))  // the password never reaches a log line
        #expect(!wrong.isConnected)

        let none = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port))
        let noAuth = try #require(throws: RedisError.self) { try none.get("t") }
        guard case .server("GET", let noAuthMessage) = noAuth.reason else {
            Issue.record("unexpected \(noAuth)")
            return
        }
        #expect(noAuthMessage.hasPrefix("NOAUTH"))
    }

    @Test("SELECT picks the database; an out-of-range one fails with the server's message")
    func selectDatabase() throws {
        let server = try RedisServer()
        let db3 = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port, database: 3))
        _ = try db3.command([Array("SET".utf8), Array("only-in-3".utf8), Array("h:3".utf8)])
        #expect(try db3.get("only-in-3") == Array("h:3".utf8))
        let db0 = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port))
        #expect(try db0.get("only-in-3") == nil)
        #expect(try db0.command([Array("SELECT".utf8), Array("3".utf8)]) == .simpleString("OK"))
        #expect(try db0.get("only-in-3") == Array("h:3".utf8))

        let db99 = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port, database: 99))
        let error = try #require(throws: RedisError.self) { try db99.get("x") }
        guard case .server("SELECT", let message) = error.reason else {
            Issue.record("unexpected \(error)")
            return
        }
        #expect(message.contains("out of range"))
    }

    @Test("a Unix-socket server works like a TCP one")
    func unixSocket() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sockify-redis-\(getpid()).sock").path
        let server = try RedisServer(unixSocketPath: path)
        _ = server
        let client = RedisClient(configuration: RedisConfiguration(address: .unixSocket(path: path)))
        _ = try client.command([Array("SET".utf8), Array("u".utf8), Array("h:9".utf8)])
        #expect(try client.get("u") == Array("h:9".utf8))
    }

    @Test("server killed: the request fails; after a restart the client reconnects by itself")
    func killAndRestart() throws {
        let server = try RedisServer()
        let client = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port))
        _ = try client.command([Array("SET".utf8), Array("k".utf8), Array("v1".utf8)])
        #expect(try client.get("k") == Array("v1".utf8))
        server.kill()
        let down = try #require(throws: RedisError.self) { try client.get("k") }
        #expect(down.reason == .system(.connectionRefused))
        #expect(down.description == "Redis at 127.0.0.1:\(server.port): connection refused")
        try server.start()  // a fresh, empty server on the same port
        #expect(try client.get("k") == nil)
        _ = try client.command([Array("SET".utf8), Array("k".utf8), Array("v2".utf8)])
        #expect(try client.get("k") == Array("v2".utf8))
        #expect(client.connectionCount == 2)
    }

    @Test("server restarted between requests: the next request succeeds on a new connection")
    func restartBetweenRequests() throws {
        let server = try RedisServer()
        let client = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port))
        #expect(try client.get("k") == nil)
        server.kill()
        try server.start()
        #expect(try client.get("k") == nil)
        #expect(client.connectionCount == 2)
    }

    @Test("nothing listening: connection refused, worded for a log line")
    func refused() throws {
        let port = try freePort()
        let client = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: port))
        let error = try #require(throws: RedisError.self) { try client.get("k") }
        #expect(error.description == "Redis at 127.0.0.1:\(port): connection refused")
    }

    @Test("a black-hole server: the request times out within its deadline")
    func blackHoleTimesOut() throws {
        let hole = try BlackHole()
        let client = RedisClient(
            configuration: RedisConfiguration(host: "127.0.0.1", port: hole.address.port, timeout: .milliseconds(300)))
        var thrown: RedisError?
        let elapsed = elapsedMilliseconds {
            do throws(RedisError) { _ = try client.get("k") } catch { thrown = error }
        }
        let error = try #require(thrown)
        #expect(error.reason == .timedOut(after: .milliseconds(300)))
        #expect(error.description == "Redis at 127.0.0.1:\(hole.address.port): timed out after 300ms")
        #expect(elapsed >= 300 && elapsed < 3000, "took \(elapsed) ms")
        #expect(!client.isConnected)
    }

    @Test("lookup pool: one kept connection per thread serves many concurrent GETs")
    func poolOfClients() throws {
        let server = try RedisServer()
        let configuration = RedisConfiguration(host: "127.0.0.1", port: server.port)
        let setup = RedisClient(configuration: configuration)
        for i in 0..<20 { _ = try setup.command(["SET", "tok\(i)", "10.0.0.\(i):5900"].map { Array($0.utf8) }) }
        let pool = try LookupPool(threadCount: 4) { _ in RedisClient(configuration: configuration) }
        let results = ConditionLock((answers: [Int: String](), connections: [Int: Int](), failures: 0))
        for i in 0..<400 {
            let accepted = pool.submit { (redis: inout RedisClient) in
                let answer = Result { () throws(RedisError) in try redis.get("tok\(i % 20)") }
                let connections = redis.connectionCount
                let id = ObjectIdentifier(redis).hashValue
                results.withLock {
                    if case .success(let found) = answer, let value = found {
                        $0.answers[i] = String(decoding: value, as: UTF8.self)
                    } else {
                        $0.failures += 1
                    }
                    $0.connections[id] = connections
                }
                results.broadcast()
            }
            #expect(accepted)
        }
        let final = results.withLock(
            waitingUntil: { $0.answers.count + $0.failures == 400 }, deadline: .after(.seconds(60))
        ) {
            $0
        }
        pool.shutdown()
        let outcome = try #require(final)
        #expect(outcome.failures == 0)
        #expect((0..<400).allSatisfy { outcome.answers[$0] == "10.0.0.\($0 % 20):5900" })
        #expect(outcome.connections.count <= 4 && outcome.connections.values.allSatisfy { $0 == 1 })
    }
}

@Suite("RedisClient (scripted server)", .timeLimit(.minutes(1)))
struct RedisClientScriptedTests {
    @Test("a kept connection that dies under a request is retried once on a new connection")
    func retryOnceAfterBrokenConnection() throws {
        let server = try ScriptedServer(connectionCount: 2) { index, connection in
            if index == 0 {
                guard connection.readRESPCommand() == ["GET", "a"] else { return }
                connection.write("$2\r\nh1\r\n")
                _ = connection.readRESPCommand()  // the second GET: read it, then hang up without a reply
            } else {
                guard connection.readRESPCommand() == ["GET", "b"] else { return }
                connection.write("$2\r\nh2\r\n")
                connection.waitForClose()
            }
        }
        let client = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port))
        #expect(try client.get("a") == Array("h1".utf8))
        #expect(try client.get("b") == Array("h2".utf8))
        #expect(client.connectionCount == 2)
        client.close()
        server.finish()
    }

    @Test("a fresh connection that dies is not retried: the error is reported")
    func noRetryOnFreshConnection() throws {
        let server = try ScriptedServer(connectionCount: 1) { _, connection in
            _ = connection.readRESPCommand()
        }
        let client = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port))
        let error = try #require(throws: RedisError.self) { try client.get("a") }
        #expect(error.reason == .connectionClosed || error.reason == .system(.connectionReset))
        #expect(client.connectionCount == 1)
        server.finish()
    }

    @Test("garbage from the server is a protocol error and closes the connection")
    func garbageReply() throws {
        let server = try ScriptedServer(connectionCount: 1) { _, connection in
            _ = connection.readRESPCommand()
            connection.write("HTTP/1.1 400 Bad Request\r\n\r\n")
            connection.waitForClose()
        }
        let client = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port))
        let error = try #require(throws: RedisError.self) { try client.get("a") }
        #expect(error.reason == .protocolViolation("unknown RESP type byte 0x48"))
        #expect(!client.isConnected)
        server.finish()
    }

    @Test("GET answered with a non-bulk reply is an unexpected reply")
    func unexpectedReply() throws {
        let server = try ScriptedServer(connectionCount: 1) { _, connection in
            _ = connection.readRESPCommand()
            connection.write(":7\r\n")
            connection.waitForClose()
        }
        let client = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port))
        let error = try #require(throws: RedisError.self) { try client.get("a") }
        #expect(error.reason == .unexpectedReply("GET answered with an integer"))
        client.close()
        server.finish()
    }
}
