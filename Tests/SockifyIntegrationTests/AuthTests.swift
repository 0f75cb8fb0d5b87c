// --auth-plugin BasicHTTPAuth / ExpectOrigin and --web-auth (reference §3), checked against the same expectations
// for websockify 0.13 (SOCKIFY_PROXY=websockify) and Sockify.
import Foundation
import Testing

extension ProxyBinaryTests {
    @Suite("Auth plugins")
    struct Auth {
        static let closeAfterUpgrade = [FrameSpec.close(1000)]
        static let basic = ["--auth-plugin", "BasicHTTPAuth", "--auth-source", "alice:s3cr:et"]

        /// `Authorization: Basic <base64 of text>`.
        static func basicHeader(_ text: String) -> [String] {
            ["-H", "Authorization: Basic " + Data(text.utf8).base64EncodedString()]
        }

        @Test("BasicHTTPAuth: no Authorization header gets 401 with the Basic challenge, and no target connection")
        func basicMissing() async throws {
            try await withProxy(to: .echo, options: Self.basic) { proxy, target in
                let result = try await RawClientResult.websocket(port: proxy.port, frames: Self.closeAfterUpgrade)
                #expect(result.error == nil)
                #expect(result.status == 401)
                #expect(result.reason == "Unauthorized")
                #expect(result.header("WWW-Authenticate") == "Basic realm=\"Websockify\"")
                #expect(result.frames.isEmpty)
                #expect(try await proxy.waitForLog("handler exception: 401 None"), "log:\n\(proxy.log)")
                #expect(target.stats.value.accepted == 0)
            }
        }

        @Test("BasicHTTPAuth: the right user:password (password containing ':') is let through to the target")
        func basicRight() async throws {
            try await withProxy(to: .echo, options: Self.basic) { proxy, target in
                let result = try await RawClientResult.websocket(
                    port: proxy.port, frames: [.binary(Array("hello".utf8)), .close(1000)],
                    Self.basicHeader("alice:s3cr:et"))
                #expect(result.error == nil)
                #expect(result.status == 101)
                #expect(result.acceptOk == true)
                let stats = try await target.wait { $0.accepted == 1 }
                #expect(stats.accepted == 1)
            }
        }

        @Test("BasicHTTPAuth: wrong credentials get 401, a non-Basic scheme or no ':' gets 403")
        func basicWrong() async throws {
            try await withProxy(to: .echo, options: Self.basic) { proxy, target in
                let wrong = try await RawClientResult.websocket(
                    port: proxy.port, frames: Self.closeAfterUpgrade, Self.basicHeader("alice:guess"))
                #expect(wrong.status == 401)
                #expect(wrong.header("WWW-Authenticate") == "Basic realm=\"Websockify\"")
                let bearer = try await RawClientResult.websocket(
                    port: proxy.port, frames: Self.closeAfterUpgrade, ["-H", "Authorization: Bearer abc"])
                #expect(bearer.status == 403)
                #expect(bearer.reason == "Forbidden")
                let noColon = try await RawClientResult.websocket(
                    port: proxy.port, frames: Self.closeAfterUpgrade, Self.basicHeader("alice"))
                #expect(noColon.status == 403)
                #expect(try await proxy.waitForLog("handler exception: 403 None"), "log:\n\(proxy.log)")
                #expect(target.stats.value.accepted == 0)
            }
        }

        @Test("BasicHTTPAuth: undecodable base64 gets 403 (websockify: silent close, 'Incorrect padding')")
        func basicMalformed() async throws {
            try await withProxy(to: .echo, options: Self.basic) { proxy, target in
                let result = try await RawClientResult.websocket(
                    port: proxy.port, frames: Self.closeAfterUpgrade, ["-H", "Authorization: Basic abc"])
                #expect(result.error == nil)
                if proxy.kind.has(.malformedBasicAuthClosesSilently) {
                    #expect(result.status == nil)
                    #expect(result.rawBytes == 0)
                    #expect(try await proxy.waitForLog("handler exception: Incorrect padding"), "log:\n\(proxy.log)")
                } else {
                    #expect(result.status == 403)
                }
                #expect(target.stats.value.accepted == 0)
            }
        }

        @Test("ExpectOrigin: a listed Origin passes, another or none gets 403 \"Invalid Origin\" with websockify's log")
        func expectOrigin() async throws {
            let options = ["--auth-plugin", "ExpectOrigin", "--auth-source", "https://a.example http://b.example:8080"]
            try await withProxy(to: .echo, options: options) { proxy, target in
                let good = try await RawClientResult.websocket(
                    port: proxy.port, frames: Self.closeAfterUpgrade, ["-H", "Origin: http://b.example:8080"])
                #expect(good.status == 101)
                let evil = try await RawClientResult.websocket(
                    port: proxy.port, frames: Self.closeAfterUpgrade, ["-H", "Origin: http://evil.example"])
                #expect(evil.status == 403)
                #expect(evil.reason == "Invalid Origin")
                #expect(
                    try await proxy.waitForLog(
                        "handler exception: 403 Invalid Origin Header: Expected one of ['https://a.example', "
                            + "'http://b.example:8080'], got 'http://evil.example'"),
                    "log:\n\(proxy.log)")
                let none = try await RawClientResult.websocket(port: proxy.port, frames: Self.closeAfterUpgrade)
                #expect(none.status == 403)
                #expect(try await proxy.waitForLog("got 'None'"), "log:\n\(proxy.log)")
                _ = try await target.wait { $0.accepted == 1 }
                #expect(target.stats.value.accepted == 1, "only the allowed origin reached the target")
            }
        }

        @Test("auth runs after the token lookup: an unknown token is a silent close even without credentials")
        func authAfterToken() async throws {
            let target = try LoopbackTarget(.echo)
            defer { target.stop() }
            let scratch = try ScratchDirectory()
            defer { scratch.remove() }
            let file = scratch.path("tokens.cfg")
            try "tok: 127.0.0.1:\(target.port)\n".write(toFile: file, atomically: true, encoding: .utf8)
            let proxy = try await ProxyUnderTest.start(options: ["--target-config", file] + Self.basic, target: [])
            defer { proxy.stop() }
            let unknown = try await RawClientResult.websocket(
                port: proxy.port, frames: Self.closeAfterUpgrade, ["--path", "/websockify?token=nope"])
            #expect(unknown.status == nil)
            #expect(unknown.rawBytes == 0)
            let known = try await RawClientResult.websocket(
                port: proxy.port, frames: Self.closeAfterUpgrade, ["--path", "/websockify?token=tok"])
            #expect(known.status == 401)
        }

        @Test("--web-auth: static files need credentials too; without it they do not")
        func webAuth() async throws {
            let scratch = try ScratchDirectory()
            defer { scratch.remove() }
            try "<html>hi</html>".write(toFile: scratch.path("index.html"), atomically: true, encoding: .utf8)
            try await withProxy(to: .echo, options: Self.basic + ["--web", scratch.url.path, "--web-auth"]) { proxy, _ in
                let denied = try await RawClientResult.run(port: proxy.port, ["--path", "/index.html"])
                #expect(denied.status == 401)
                let allowed = try await RawClientResult.run(
                    port: proxy.port, ["--path", "/index.html"] + Self.basicHeader("alice:s3cr:et"))
                #expect(allowed.status == 200)
            }
            try await withProxy(to: .echo, options: Self.basic + ["--web", scratch.url.path]) { proxy, _ in
                let open = try await RawClientResult.run(port: proxy.port, ["--path", "/index.html"])
                #expect(open.status == 200)
            }
        }
    }
}
