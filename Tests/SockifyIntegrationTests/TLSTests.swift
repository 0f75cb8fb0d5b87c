// TLS (issue 6; reference §2, §3, §4.1): wss://, ws:// and HTTP on one port, client certificates, --ssl-only,
// --ssl-version/--ssl-ciphers, --ssl-target, certificate replacement and ClientCertCNAuth, with certificates made
// by openssl for each test. The same expectations hold for websockify 0.13 (SOCKIFY_PROXY=websockify) and Sockify;
// Sockify's own options (--ssl-target-cafile/-insecure, --sni-cert, --ktls) are in `Extras`.
import Foundation
import Testing

extension ProxyBinaryTests {
    @Suite("TLS")
    struct TLSTests {
        /// Makes fresh certificates, starts an echo target and the proxy with `options(material)`, runs `body`.
        static func withTLSProxy(
            options: (TLSMaterial) -> [String],
            _ body: (ProxyUnderTest, LoopbackTarget, TLSMaterial) async throws -> Void
        ) async throws {
            let material = try await TLSMaterial.make()
            defer { material.remove() }
            try await withProxy(to: .echo, options: options(material)) { proxy, target in
                try await body(proxy, target, material)
            }
        }

        /// Whether one line of `log` contains every one of `parts`.
        static func logLine(_ log: String, containing parts: String...) -> Bool {
            log.split(separator: "\n").contains { line in parts.allSatisfy { line.contains($0) } }
        }

        @Test("§0.2: wss://, ws:// and plain HTTP share one port; wss echoes byte for byte with the given certificate")
        func sharedPort() async throws {
            try await Self.withTLSProxy(options: { ["--cert", $0.server] }) { proxy, target, material in
                let secure = try await TLSClient.websocket(material, port: proxy.port, total: 300_000)
                #expect(secure.error == nil, "log:\n\(proxy.log)")
                #expect(secure.status == 101)
                #expect(secure.received == 300_000)
                #expect(secure.mismatch == nil)
                #expect(secure.served == "server.crt")
                #expect(secure.closeCode == 1000)
                #expect(
                    try await proxy.waitForLog("127.0.0.1: SSL/TLS (wss://) WebSocket connection"),
                    "log:\n\(proxy.log)")
                let plain = try await WebSocketClientResult.run("echo", url: proxy.url, ["--total", "20000"])
                #expect(plain.error == nil)
                #expect(plain.received == 20000)
                #expect(
                    try await proxy.waitForLog("127.0.0.1: Plain non-SSL (ws://) WebSocket connection"),
                    "log:\n\(proxy.log)")
                let http = try await RawClientResult.run(port: proxy.port, ["--path", "/"])
                #expect(http.status == 405, "a plain GET without --web")
                let https = try await TLSClient.handshake(material, port: proxy.port, ["--get", "/"])
                #expect(https.error == nil)
                #expect(https.status == 405, "the same GET over TLS")
                let stats = try await target.wait { $0.accepted == 2 }
                #expect(stats.accepted == 2)
            }
        }

        @Test("--key with --key-password: the key in its own encrypted file")
        func encryptedKey() async throws {
            let options = { (material: TLSMaterial) in
                ["--cert", material.path("server.crt"), "--key", material.path("server-encrypted.key"),
                 "--key-password", TLSMaterial.keyPassword]
            }
            try await Self.withTLSProxy(options: options) { proxy, _, material in
                let result = try await TLSClient.websocket(material, port: proxy.port, total: 50_000)
                #expect(result.error == nil, "log:\n\(proxy.log)")
                #expect(result.received == 50_000)
                #expect(result.mismatch == nil)
                #expect(result.served == "server.crt")
            }
        }

        @Test("--verify-client --cafile: a certificate from the CA passes; none or another CA's fails the handshake")
        func clientCertificates() async throws {
            let options = { (material: TLSMaterial) in
                ["--cert", material.server, "--verify-client", "--cafile", material.ca]
            }
            try await Self.withTLSProxy(options: options) { proxy, target, material in
                let alice = try await TLSClient.websocket(
                    material, port: proxy.port, total: 10_000, ["--cert", material.path("alice.pem")])
                #expect(alice.error == nil, "log:\n\(proxy.log)")
                #expect(alice.received == 10_000)
                #expect(alice.mismatch == nil)

                let none = try await TLSClient.websocket(material, port: proxy.port, total: 10)
                #expect(none.error != nil)
                #expect(none.status == nil)
                #expect(
                    try await proxy.waitForLog("handler exception: [SSL: PEER_DID_NOT_RETURN_A_CERTIFICATE]"),
                    "log:\n\(proxy.log)")

                let stranger = try await TLSClient.websocket(
                    material, port: proxy.port, total: 10, ["--cert", material.path("stranger.pem")])
                #expect(stranger.error != nil)
                #expect(stranger.status == nil)
                #expect(
                    try await proxy.waitForLog("handler exception: [SSL: CERTIFICATE_VERIFY_FAILED]"),
                    "log:\n\(proxy.log)")

                // Reference §2: plain ws:// is still accepted without --ssl-only.
                let plain = try await WebSocketClientResult.run("echo", url: proxy.url, ["--total", "1000"])
                #expect(plain.error == nil)
                #expect(plain.received == 1000)
                let stats = try await target.wait { $0.accepted == 2 }
                #expect(stats.accepted == 2, "only alice and the plain client reach the target")
            }
        }

        @Test("the server presents the certificate it is given: expired and wrong-host certificates fail verification")
        func presentedCertificate() async throws {
            let material = try await TLSMaterial.make()
            defer { material.remove() }
            try await withProxy(to: .echo, options: ["--cert", material.path("expired.pem")]) { proxy, _ in
                let verified = try await TLSClient.websocket(material, port: proxy.port, total: 10)
                #expect(verified.error?.contains("certificate has expired") == true, "\(verified)")
                #expect(verified.status == nil)
                let unverified = try await TLSClient.handshake(material, port: proxy.port, ["--no-verify"])
                #expect(unverified.error == nil)
                #expect(unverified.served == "expired.crt")
            }
            try await withProxy(to: .echo, options: ["--cert", material.path("other-host.pem")]) { proxy, _ in
                let wrongHost = try await TLSClient.websocket(material, port: proxy.port, total: 10)
                #expect(
                    wrongHost.error?.contains("IP address mismatch, certificate is not valid for '127.0.0.1'") == true,
                    "\(wrongHost)")
                #expect(wrongHost.status == nil)
                let rightName = try await TLSClient.websocket(
                    material, port: proxy.port, total: 1000, ["--server-name", "other.example"])
                #expect(rightName.error == nil, "log:\n\(proxy.log)")
                #expect(rightName.received == 1000)
                #expect(rightName.served == "other-host.crt")
            }
        }

        @Test("--ssl-only: a plain client is closed with no response and websockify's log line; wss works")
        func sslOnly() async throws {
            try await Self.withTLSProxy(options: { ["--cert", $0.server, "--ssl-only"] }) { proxy, target, material in
                let plain = try await RawClientResult.websocket(port: proxy.port, frames: [.close(1000)])
                #expect(plain.error == nil)
                #expect(plain.status == nil)
                #expect(plain.rawBytes == 0)
                #expect(
                    try await proxy.waitForLog("127.0.0.1: non-SSL connection received but disallowed"),
                    "log:\n\(proxy.log)")
                let http = try await RawClientResult.run(port: proxy.port, ["--path", "/"])
                #expect(http.status == nil)
                #expect(http.rawBytes == 0)
                let secure = try await TLSClient.websocket(material, port: proxy.port, total: 5000)
                #expect(secure.error == nil, "log:\n\(proxy.log)")
                #expect(secure.received == 5000)
                let stats = try await target.wait { $0.accepted == 1 }
                #expect(stats.accepted == 1, "only the wss client reaches the target")
            }
        }

        @Test("reference §1.3: --ssl-only without the certificate file is a usage error (exit 2)")
        func sslOnlyWithoutCertificate() async throws {
            let scratch = try ScratchDirectory()
            defer { scratch.remove() }
            let missing = scratch.path("missing.pem")
            let process = try SpawnedProcess(
                try ProxyUnderTest.executable(try ProxyKind.current()),
                ["--ssl-only", "--cert", missing, "127.0.0.1:\(try LoopbackSocket.freePort())", "127.0.0.1:1"])
            defer { process.terminate() }
            #expect(try await offload { process.waitForExit(timeout: .seconds(10)) }, "the proxy must exit")
            #expect(process.exitStatus == 2)
            #expect(process.stderr.contains("SSL only and \(missing) not found"), "stderr:\n\(process.stderr)")
        }

        @Test("reference §2: with the certificate file missing a TLS client is closed and logged; ws:// still works")
        func missingCertificate() async throws {
            let material = try await TLSMaterial.make()
            defer { material.remove() }
            let missing = material.path("missing.pem")
            try await withProxy(to: .echo, options: ["--cert", missing]) { proxy, _ in
                let secure = try await TLSClient.websocket(material, port: proxy.port, total: 10)
                #expect(secure.error != nil)
                #expect(secure.status == nil)
                #expect(
                    try await proxy.waitForLog("127.0.0.1: SSL connection but '\(missing)' not found"),
                    "log:\n\(proxy.log)")
                let plain = try await WebSocketClientResult.run("echo", url: proxy.url, ["--total", "1000"])
                #expect(plain.error == nil)
                #expect(plain.received == 1000)
            }
        }

        @Test("--ssl-version tlsv1_3 refuses a TLS 1.2 client; the default accepts TLS 1.2 and 1.3")
        func minimumVersion() async throws {
            let material = try await TLSMaterial.make()
            defer { material.remove() }
            try await withProxy(to: .echo, options: ["--cert", material.server, "--ssl-version", "tlsv1_3"]) {
                proxy, _ in
                let old = try await TLSClient.websocket(material, port: proxy.port, total: 10, ["--max-version", "1.2"])
                #expect(old.error != nil)
                #expect(old.status == nil)
                #expect(
                    try await proxy.waitForLog("handler exception: [SSL: UNSUPPORTED_PROTOCOL]"), "log:\n\(proxy.log)")
                let current = try await TLSClient.websocket(material, port: proxy.port, total: 1000)
                #expect(current.error == nil)
                #expect(current.tlsVersion == "TLSv1.3")
                #expect(current.received == 1000)
            }
            try await withProxy(to: .echo, options: ["--cert", material.server]) { proxy, _ in
                let old = try await TLSClient.websocket(
                    material, port: proxy.port, total: 1000, ["--max-version", "1.2"])
                #expect(old.error == nil, "log:\n\(proxy.log)")
                #expect(old.tlsVersion == "TLSv1.2")
                #expect(old.received == 1000)
                let current = try await TLSClient.handshake(material, port: proxy.port)
                #expect(current.tlsVersion == "TLSv1.3")
            }
        }

        @Test("--ssl-ciphers limits the TLS 1.2 cipher suites; no shared cipher fails the handshake")
        func ciphers() async throws {
            let cipher = "ECDHE-ECDSA-AES128-GCM-SHA256"
            try await Self.withTLSProxy(options: { ["--cert", $0.server, "--ssl-ciphers", cipher] }) {
                proxy, _, material in
                let chosen = try await TLSClient.websocket(
                    material, port: proxy.port, total: 1000, ["--max-version", "1.2"])
                #expect(chosen.error == nil, "log:\n\(proxy.log)")
                #expect(chosen.cipher == cipher)
                #expect(chosen.received == 1000)
                let other = try await TLSClient.websocket(
                    material, port: proxy.port, total: 10,
                    ["--max-version", "1.2", "--ciphers", "ECDHE-ECDSA-AES256-GCM-SHA384"])
                #expect(other.error != nil)
                #expect(other.status == nil)
                #expect(try await proxy.waitForLog("handler exception: [SSL: NO_SHARED_CIPHER]"), "log:\n\(proxy.log)")
            }
        }

        @Test("--ssl-target: a self-signed target fails verification (101, close 1011); trusted, it relays both ways")
        func sslTarget() async throws {
            let material = try await TLSMaterial.make()
            defer { material.remove() }
            let target = try await TLSEchoTarget(certificate: material.path("target.pem"), greeting: true)
            defer { target.stop() }
            let address = "127.0.0.1:\(target.port)"
            let proxy = try await ProxyUnderTest.start(options: ["--ssl-target"], target: [address])
            defer { proxy.stop() }
            let refused = try await TLSClient.websocket(material, port: proxy.port, tls: false, ["--wait-close"])
            #expect(refused.error == nil)
            #expect(refused.status == 101)
            #expect(refused.closeCode == 1011)
            #expect(refused.closeReason == "Failed to connect to downstream server")
            #expect(try await proxy.waitForLog("connecting to: \(address) (using SSL)"), "log:\n\(proxy.log)")
            #expect(try await proxy.waitForLog("Failed to connect to \(address)"), "log:\n\(proxy.log)")
            #expect(Self.logLine(proxy.log, containing: address, "certificate"), "log:\n\(proxy.log)")
            if proxy.kind == .websockify {
                #expect(
                    proxy.log.contains(
                        "Failed to connect to \(address): [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
                            + "self-signed certificate"),
                    "log:\n\(proxy.log)")
            }
            // The system trust store, as OpenSSL finds it (SSL_CERT_FILE), makes the same target acceptable:
            // websockify has no other way to trust it (reference §2, #506).
            let trusted = try await ProxyUnderTest.start(
                options: ["--ssl-target"], target: [address],
                environment: ["SSL_CERT_FILE": material.path("target.crt")])
            defer { trusted.stop() }
            let echo = try await TLSClient.websocket(
                material, port: trusted.port, tls: false, total: 100_000, ["--banner", "12"])
            #expect(echo.error == nil, "log:\n\(trusted.log)")
            #expect(echo.banner == TLSEchoTarget.banner)
            #expect(echo.received == 100_000)
            #expect(echo.mismatch == nil)
            #expect(echo.closeCode == 1000)
        }

        @Test("replacing the certificate file: new connections get the new certificate (Sockify logs the reload)")
        func certificateReplaced() async throws {
            let material = try await TLSMaterial.make()
            defer { material.remove() }
            let live = material.path("live.pem")
            try FileManager.default.copyItem(atPath: material.server, toPath: live)
            try await withProxy(to: .echo, options: ["--cert", live]) { proxy, _ in
                let before = try await TLSClient.handshake(material, port: proxy.port)
                #expect(before.error == nil, "log:\n\(proxy.log)")
                #expect(before.served == "server.crt")
                // Replaced the way certbot and cert-manager do it: a new file renamed over the old one.
                let renewed = try Data(contentsOf: URL(fileURLWithPath: material.path("renewed.pem")))
                try renewed.write(to: URL(fileURLWithPath: live), options: .atomic)
                var after = before
                let deadline = ContinuousClock.now + .seconds(6)
                while after.served != "renewed.crt" && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(200))  // bounded poll: the proxy notices by itself
                    after = try await TLSClient.handshake(material, port: proxy.port)
                }
                #expect(after.error == nil)
                #expect(after.served == "renewed.crt", "log:\n\(proxy.log)")
                if proxy.kind == .sockify {
                    // websockify loads the file per connection and logs nothing.
                    #expect(try await proxy.waitForLog("TLS certificate reloaded"), "log:\n\(proxy.log)")
                }
                let echo = try await TLSClient.websocket(material, port: proxy.port, total: 20_000)
                #expect(echo.error == nil)
                #expect(echo.received == 20_000)
                #expect(echo.served == "renewed.crt")
            }
        }

        @Test("ClientCertCNAuth: CN alice passes, mallory gets 403; a spoofed SSL_CLIENT_S_DN_CN header never passes")
        func clientCertCNAuth() async throws {
            let options = { (material: TLSMaterial) in
                ["--cert", material.server, "--verify-client", "--cafile", material.ca,
                 "--auth-plugin", "ClientCertCNAuth", "--auth-source", "alice bob"]
            }
            try await Self.withTLSProxy(options: options) { proxy, _, material in
                let alice = try await TLSClient.websocket(
                    material, port: proxy.port, total: 1000, ["--cert", material.path("alice.pem")])
                #expect(alice.error == nil, "log:\n\(proxy.log)")
                #expect(alice.status == 101)
                #expect(alice.received == 1000)
                let mallory = try await TLSClient.websocket(
                    material, port: proxy.port, total: 10, ["--cert", material.path("mallory.pem")])
                #expect(mallory.status == 403)
                #expect(try await proxy.waitForLog("handler exception: 403"), "log:\n\(proxy.log)")

                let close = [FrameSpec.close(1000)]
                let anonymous = try await RawClientResult.websocket(port: proxy.port, frames: close)
                #expect(anonymous.status == 403)
                let upper = try await RawClientResult.websocket(
                    port: proxy.port, frames: close, ["-H", "SSL_CLIENT_S_DN_CN: alice"])
                #expect(upper.status == 403)
                let lower = try await RawClientResult.websocket(
                    port: proxy.port, frames: close, ["-H", "ssl_client_s_dn_cn: alice"])
                let malloryAsAlice = try await TLSClient.websocket(
                    material, port: proxy.port, total: 10,
                    ["--cert", material.path("mallory.pem"), "-H", "ssl_client_s_dn_cn: alice"])
                // Asserting websockify's documented behaviour keeps the test discriminating for both proxies.
                let spoofable = proxy.kind.has(.clientCertCNHeaderSpoofable)
                #expect(lower.status == (spoofable ? 101 : 403))
                #expect(malloryAsAlice.status == (spoofable ? 101 : 403))
            }
        }
    }
}

extension ProxyBinaryTests.TLSTests {
    /// Options websockify does not have.
    @Suite("TLS: Sockify's own options", .enabled(if: ProxyKind.isSockify))
    struct Extras {
        @Test("--ssl-target-cafile and --ssl-target-insecure reach a self-signed target; the wrong CA fails")
        func targetTrust() async throws {
            let material = try await TLSMaterial.make()
            defer { material.remove() }
            // A target that waits for the client (the case websockify 0.13 can deadlock on, see TLSEchoTarget).
            let target = try await TLSEchoTarget(certificate: material.path("target.pem"), greeting: false)
            defer { target.stop() }
            let address = "127.0.0.1:\(target.port)"
            for trust in [["--ssl-target-cafile", material.path("target.crt")], ["--ssl-target-insecure"]] {
                let proxy = try await ProxyUnderTest.start(options: ["--ssl-target"] + trust, target: [address])
                defer { proxy.stop() }
                let echo = try await TLSClient.websocket(material, port: proxy.port, tls: false, total: 200_000)
                #expect(echo.error == nil, "\(trust) log:\n\(proxy.log)")
                #expect(echo.received == 200_000)
                #expect(echo.mismatch == nil)
                #expect(try await proxy.waitForLog("connecting to: \(address) (using SSL)"), "log:\n\(proxy.log)")
            }
            let proxy = try await ProxyUnderTest.start(
                options: ["--ssl-target", "--ssl-target-cafile", material.ca], target: [address])
            defer { proxy.stop() }
            let refused = try await TLSClient.websocket(material, port: proxy.port, tls: false, ["--wait-close"])
            #expect(refused.status == 101)
            #expect(refused.closeCode == 1011)
            #expect(ProxyBinaryTests.TLSTests.logLine(proxy.log, containing: address, "certificate"), "\(proxy.log)")
        }

        @Test("--sni-cert: the client's server name picks the certificate; no or an unknown name gets --cert")
        func sni() async throws {
            let material = try await TLSMaterial.make()
            defer { material.remove() }
            let options = [
                // One option, a comma-separated list of CERT[:KEY] (sni-a.pem holds its key, sni-b does not).
                "--cert", material.server,
                "--sni-cert", material.path("sni-a.pem") + "," + material.path("sni-b.crt") + ":" + material.path("sni-b.key"),
            ]
            try await withProxy(to: .echo, options: options) { proxy, _ in
                let a = try await TLSClient.handshake(material, port: proxy.port, ["--server-name", "a.example"])
                #expect(a.error == nil, "log:\n\(proxy.log)")
                #expect(a.served == "sni-a.crt")
                let b = try await TLSClient.websocket(
                    material, port: proxy.port, total: 5000, ["--server-name", "b.example"])
                #expect(b.error == nil, "log:\n\(proxy.log)")
                #expect(b.served == "sni-b.crt")
                #expect(b.received == 5000)
                // Python sends no SNI for an IP address.
                let none = try await TLSClient.handshake(material, port: proxy.port)
                #expect(none.error == nil)
                #expect(none.served == "server.crt")
                let unknown = try await TLSClient.handshake(
                    material, port: proxy.port, ["--server-name", "c.example", "--no-verify"])
                #expect(unknown.error == nil)
                #expect(unknown.served == "server.crt")
            }
        }

        @Test("--ktls off and auto both relay wss byte for byte", arguments: ["off", "auto"])
        func ktls(_ mode: String) async throws {
            try await ProxyBinaryTests.TLSTests.withTLSProxy(options: { ["--cert", $0.server, "--ktls", mode] }) {
                proxy, _, material in
                let echo = try await TLSClient.websocket(material, port: proxy.port, total: 1_000_000)
                #expect(echo.error == nil, "log:\n\(proxy.log)")
                #expect(echo.received == 1_000_000)
                #expect(echo.mismatch == nil)
                #expect(echo.closeCode == 1000)
                let old = try await TLSClient.websocket(
                    material, port: proxy.port, total: 100_000, ["--max-version", "1.2"])
                #expect(old.error == nil)
                #expect(old.received == 100_000)
                #expect(old.mismatch == nil)
            }
        }
    }
}
