// TLSServerContext / TLSClientContext / TLSStream over a non-blocking socket pair, with certificates the openssl CLI
// makes for each test: handshake and bulk bytes both ways, client certificates, verification failures, SNI, reload,
// encrypted keys.
import Glibc
import SockifyReactor
import Testing

@Suite("TLS streams")
struct TLSStreamTests {
    @Test("a handshake, then 1 MiB each way arrives byte for byte (TLS 1.3, non-blocking, records split)")
    func roundTrip() throws {
        let pki = try TestPKI()
        let server = try TLSServerContext(settings: pki.serverSettings())
        let client = try TLSClientContext(settings: pki.clientSettings())
        let pair = try SocketPair()
        let s = try #require(server.makeStream(fd: pair.server))
        let c = try client.makeStream(fd: pair.client, serverName: "127.0.0.1")
        try handshake(server: s, client: c)
        #expect(s.protocolVersion == "TLSv1.3" && c.protocolVersion == "TLSv1.3")
        let up = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let down = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        #expect(try transfer(up, from: c, to: s) == up)
        #expect(try transfer(down, from: s, to: c) == down)
        c.shutdown()
        var byte: UInt8 = 0
        var status = IOStatus.wouldBlock
        for _ in 0..<100 where status == .wouldBlock { status = try s.receive(into: &byte, count: 1) }
        #expect(status == .endOfStream)
    }

    @Test("a peer that closes in the middle of its ClientHello: 'EOF occurred in violation of protocol' (websockify's text)")
    func eofDuringHandshake() throws {
        let pki = try TestPKI()
        let server = try TLSServerContext(settings: pki.serverSettings())
        let pair = try SocketPair()
        let s = try #require(server.makeStream(fd: pair.server))
        let partial: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00]  // a record header promising 64 bytes
        #expect(partial.withUnsafeBytes { write(pair.client, $0.baseAddress, $0.count) } == partial.count)
        #expect(try s.handshake() == .wouldBlock)
        shutdown(pair.client, CInt(SHUT_WR))
        let error = try #require(throws: TLSError.self) { _ = try s.handshake() }
        #expect(error.description == "EOF occurred in violation of protocol")
    }

    @Test("--verify-client: a client certificate from the CA gives its CN; no certificate fails the handshake")
    func clientCertificates() throws {
        let pki = try TestPKI()
        var settings = pki.serverSettings()
        settings.verifyClient = true
        settings.caFile = pki.path("ca.pem")
        let server = try TLSServerContext(settings: settings)

        var withCertificate = pki.clientSettings()
        withCertificate.certificate = TLSCertificateFiles(
            certificateFile: pki.path("alice.pem"), keyFile: pki.path("alice.key"))
        let pair = try SocketPair()
        let s = try #require(server.makeStream(fd: pair.server))
        try handshake(server: s, client: try TLSClientContext(settings: withCertificate).makeStream(
            fd: pair.client, serverName: "127.0.0.1"))
        #expect(s.verifiedPeerCommonName == "alice")

        let anonymous = try TLSClientContext(settings: pki.clientSettings())
        let other = try SocketPair()
        let s2 = try #require(server.makeStream(fd: other.server))
        let c2 = try anonymous.makeStream(fd: other.client, serverName: "127.0.0.1")
        let error = try #require(throws: TLSError.self) { try handshake(server: s2, client: c2) }
        #expect(error.description.contains("PEER_DID_NOT_RETURN_A_CERTIFICATE"), "\(error)")
        #expect(s2.verifiedPeerCommonName == nil)
    }

    @Test("without --verify-client a presented certificate is not trusted for its CN")
    func unverifiedCertificateHasNoName() throws {
        let pki = try TestPKI()
        let server = try TLSServerContext(settings: pki.serverSettings())
        var settings = pki.clientSettings()
        settings.certificate = TLSCertificateFiles(certificateFile: pki.path("alice.pem"), keyFile: pki.path("alice.key"))
        let pair = try SocketPair()
        let s = try #require(server.makeStream(fd: pair.server))
        try handshake(server: s, client: try TLSClientContext(settings: settings).makeStream(
            fd: pair.client, serverName: "127.0.0.1"))
        #expect(s.verifiedPeerCommonName == nil)
    }

    @Test("a client verifying against another CA, or for another name, refuses the server", arguments: [
        ("other-ca.pem", "127.0.0.1"), ("ca.pem", "elsewhere.example"), ("ca.pem", "10.1.2.3"),
    ])
    func verificationFailures(caFile: String, name: String) throws {
        let pki = try TestPKI()
        let server = try TLSServerContext(settings: pki.serverSettings())
        var settings = pki.clientSettings()
        settings.caFile = pki.path(caFile)
        let pair = try SocketPair()
        let s = try #require(server.makeStream(fd: pair.server))
        let c = try TLSClientContext(settings: settings).makeStream(fd: pair.client, serverName: name)
        let error = try #require(throws: TLSError.self) { try handshake(server: s, client: c) }
        #expect(error.description.contains("CERTIFICATE_VERIFY_FAILED") || error.description.contains("ALERT"), "\(error)")
    }

    @Test("verifyPeer off accepts a certificate no CA vouches for")
    func insecureClient() throws {
        let pki = try TestPKI()
        let server = try TLSServerContext(settings: pki.serverSettings())
        var settings = TLSClientSettings()
        settings.verifyPeer = false
        let pair = try SocketPair()
        let s = try #require(server.makeStream(fd: pair.server))
        try handshake(server: s, client: try TLSClientContext(settings: settings).makeStream(
            fd: pair.client, serverName: "whatever.example"))
    }

    @Test("SNI picks the certificate whose DNS names cover the requested name (wildcards too), else the default")
    func serverNameIndication() throws {
        let pki = try TestPKI()
        var settings = pki.serverSettings()
        settings.sniCertificates = [TLSCertificateFiles(certificateFile: pki.path("wild.pem"), keyFile: pki.path("wild.key"))]
        let server = try TLSServerContext(settings: settings)
        for (name, expected) in [("vm7.example.test", "wild"), ("127.0.0.1", "server")] {
            let pair = try SocketPair()
            let s = try #require(server.makeStream(fd: pair.server))
            let c = try TLSClientContext(settings: pki.clientSettings()).makeStream(fd: pair.client, serverName: name)
            try handshake(server: s, client: c)
            #expect(c.verifiedPeerCommonName == expected, "SNI \(name)")
        }
    }

    @Test("a changed certificate file is reloaded; a broken one keeps the previous contexts")
    func reload() throws {
        let pki = try TestPKI()
        let server = try TLSServerContext(settings: pki.serverSettings())
        #expect(server.reloadIfChanged() == .unchanged)
        try pki.run("cp \(pki.path("server2.pem")) \(pki.path("server.pem")) && cp \(pki.path("server2.key")) \(pki.path("server.key"))")
        #expect(server.reloadIfChanged() == .reloaded)
        let pair = try SocketPair()
        let c = try TLSClientContext(settings: pki.clientSettings()).makeStream(fd: pair.client, serverName: "127.0.0.1")
        try handshake(server: try #require(server.makeStream(fd: pair.server)), client: c)
        #expect(c.verifiedPeerCommonName == "server2")

        try pki.run("echo garbage > \(pki.path("server.pem"))")
        guard case .failed(let error) = server.reloadIfChanged() else {
            Issue.record("a broken certificate file was not reported")
            return
        }
        #expect(error.description.contains("server.pem"), "\(error)")
        #expect(server.reloadIfChanged() == .unchanged)  // not retried until the files change again
        let again = try SocketPair()
        let c2 = try TLSClientContext(settings: pki.clientSettings()).makeStream(fd: again.client, serverName: "127.0.0.1")
        try handshake(server: try #require(server.makeStream(fd: again.server)), client: c2)
        #expect(c2.verifiedPeerCommonName == "server2")
    }

    @Test("--cafile is watched too: a client CA added to the file is trusted without a restart")
    func clientCAReload() throws {
        let pki = try TestPKI()
        try pki.run(
            "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout bob.key -subj /CN=bob -out bob.csr"
                + " && openssl x509 -req -in bob.csr -CA other-ca.pem -CAkey other-ca.key -CAcreateserial -days 2 -out bob.pem")
        var settings = pki.serverSettings()
        settings.verifyClient = true
        settings.caFile = pki.path("ca.pem")
        let server = try TLSServerContext(settings: settings)
        var bob = pki.clientSettings()
        bob.certificate = TLSCertificateFiles(certificateFile: pki.path("bob.pem"), keyFile: pki.path("bob.key"))
        let client = try TLSClientContext(settings: bob)
        let before = try SocketPair()
        #expect(throws: TLSError.self) {
            try handshake(
                server: try #require(server.makeStream(fd: before.server)),
                client: try client.makeStream(fd: before.client, serverName: "127.0.0.1"))
        }
        try pki.run("cat other-ca.pem >> ca.pem")
        #expect(server.reloadIfChanged() == .reloaded)
        let after = try SocketPair()
        let s = try #require(server.makeStream(fd: after.server))
        try handshake(server: s, client: try client.makeStream(fd: after.client, serverName: "127.0.0.1"))
        #expect(s.verifiedPeerCommonName == "bob")
    }

    @Test("a missing certificate file means no TLS (no stream); a mismatched key or bad password is an error")
    func loadErrors() throws {
        let pki = try TestPKI()
        let missing = try TLSServerContext(
            settings: TLSServerSettings(certificate: TLSCertificateFiles(certificateFile: pki.path("nope.pem"))))
        #expect(!missing.hasCertificate)
        #expect(missing.makeStream(fd: 0) == nil)

        let mismatched = TLSServerSettings(
            certificate: TLSCertificateFiles(certificateFile: pki.path("server.pem"), keyFile: pki.path("alice.key")))
        #expect(throws: TLSError.self) { try TLSServerContext(settings: mismatched) }

        var encrypted = TLSServerSettings(
            certificate: TLSCertificateFiles(certificateFile: pki.path("server.pem"), keyFile: pki.path("server-enc.key")))
        encrypted.keyPassword = "wrong"
        #expect(throws: TLSError.self) { try TLSServerContext(settings: encrypted) }
        encrypted.keyPassword = "s3cret"
        #expect(try TLSServerContext(settings: encrypted).hasCertificate)

        var ciphers = pki.serverSettings()
        ciphers.ciphers = "NO-SUCH-CIPHER"
        let error = try #require(throws: TLSError.self) { try TLSServerContext(settings: ciphers) }
        #expect(error.description.contains("NO-SUCH-CIPHER"))
    }
}

// MARK: - helpers

/// Drives both ends of a handshake on one thread (each call makes what progress the socket allows); bounded.
private func handshake(server: TLSStream, client: TLSStream) throws {
    var serverDone = false
    var clientDone = false
    for _ in 0..<10_000 where !(serverDone && clientDone) {
        if !clientDone { clientDone = try client.handshake() == .complete }
        if !serverDone { serverDone = try server.handshake() == .complete }
    }
    try #require(serverDone && clientDone, "handshake did not finish")
}

/// Sends `bytes` from one end and reads them at the other, interleaving so neither blocks; bounded.
private func transfer(_ bytes: [UInt8], from sender: TLSStream, to receiver: TLSStream) throws -> [UInt8] {
    var sent = 0
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    for _ in 0..<100_000 where received.count < bytes.count {
        if sent < bytes.count {
            let chunk = min(100_000, bytes.count - sent)
            let status = try bytes.withUnsafeBytes { try sender.send(from: $0.baseAddress! + sent, count: chunk) }
            if case .transferred(let n) = status { sent += n }
        }
        while true {
            let status = try buffer.withUnsafeMutableBytes { try receiver.receive(into: $0.baseAddress!, count: $0.count) }
            guard case .transferred(let n) = status else { break }
            received += buffer[0..<n]
        }
    }
    return received
}

/// A connected non-blocking Unix stream socket pair, closed at deinit.
private final class SocketPair {
    let server: CInt
    let client: CInt

    init() throws {
        var fds: [CInt] = [0, 0]
        try #require(socketpair(AF_UNIX, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue), 0, &fds) == 0)
        server = fds[0]
        client = fds[1]
    }

    deinit {
        close(server)
        close(client)
    }
}

/// A CA, a second CA, server certificates (127.0.0.1/localhost, a replacement, a wildcard), a client certificate and
/// an encrypted key, made by the openssl CLI in a fresh directory.
private struct TestPKI {
    let directory: String

    init() throws {
        var template = Array("/tmp/sockify-tls-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        try #require(made != nil, "mkdtemp")
        directory = String(cString: made!)
        let days = "-days 2"
        func leaf(_ name: String, _ cn: String, _ san: String?, ca: String) -> String {
            let ext = san.map { "-extfile <(printf 'subjectAltName=\($0)')" } ?? ""
            return """
                openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout \(name).key -subj '/CN=\(cn)' -out \(name).csr && \
                openssl x509 -req -in \(name).csr -CA \(ca).pem -CAkey \(ca).key -CAcreateserial \(days) \
                  -out \(name).pem \(ext)
                """
        }
        try run(
            [
                "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem \(days) -subj '/CN=Test CA'",
                "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout other-ca.key -out other-ca.pem \(days) -subj '/CN=Other CA'",
                leaf("server", "server", "IP:127.0.0.1,DNS:localhost", ca: "ca"),
                leaf("server2", "server2", "IP:127.0.0.1,DNS:localhost", ca: "ca"),
                leaf("wild", "wild", "DNS:*.example.test", ca: "ca"),
                leaf("alice", "alice", nil, ca: "ca"),
                "openssl pkey -in server.key -aes256 -passout pass:s3cret -out server-enc.key",
            ].joined(separator: " && "))
    }

    func path(_ name: String) -> String { "\(directory)/\(name)" }

    func serverSettings() -> TLSServerSettings {
        TLSServerSettings(certificate: TLSCertificateFiles(certificateFile: path("server.pem"), keyFile: path("server.key")))
    }

    func clientSettings() -> TLSClientSettings {
        var settings = TLSClientSettings()
        settings.caFile = path("ca.pem")
        return settings
    }

    /// Runs a bash command line in the directory; a failure fails the test with its output.
    func run(_ command: String) throws {
        let child = try ChildProcess.spawn(["/bin/bash", "-c", "cd \(directory) && (\(command)) >/dev/null 2>&1"])
        try #require(child.wait() == .exited(0), "failed: \(command)")
    }
}
