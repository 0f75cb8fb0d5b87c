// https token APIs: HTTPClient against Python's http.server behind Python's ssl module (an independent TLS
// server), with a CA and a 127.0.0.1 certificate made by the openssl CLI for each test.
import Foundation
import Glibc
import SockifyLookup
import SockifyReactor
import SockifyTargets
import Testing

/// A throwaway PKI in a temporary directory: a CA, a server certificate for 127.0.0.1 (an IP SAN only) signed by
/// it, and an unrelated CA that signed nothing here.
final class TestCertificates {
    let directory: String
    var caFile: String { "\(directory)/ca.pem" }
    var otherCAFile: String { "\(directory)/other-ca.pem" }
    var serverCertificate: String { "\(directory)/server.pem" }
    var serverKey: String { "\(directory)/server.key" }

    private static let config = """
        [req]
        distinguished_name = dn
        [dn]
        [ca]
        basicConstraints = critical, CA:TRUE
        keyUsage = critical, keyCertSign, cRLSign
        subjectKeyIdentifier = hash
        [server]
        basicConstraints = CA:FALSE
        keyUsage = critical, digitalSignature
        extendedKeyUsage = serverAuth
        subjectAltName = IP:127.0.0.1
        authorityKeyIdentifier = keyid

        """

    init() throws {
        let openssl = try #require(executable("openssl"), "the openssl CLI is not installed: apt-get install openssl")
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("sockify-https-\(getpid())-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(Self.config.utf8).write(to: URL(fileURLWithPath: "\(directory)/openssl.cnf"))
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        for name in ["ca", "other-ca"] {
            try Self.run(
                openssl,
                ["req", "-x509", "-config", "openssl.cnf", "-extensions", "ca"] + key
                    + ["-keyout", "\(name).key", "-out", "\(name).pem", "-days", "2", "-subj", "/CN=Sockify \(name)"],
                in: directory)
        }
        try Self.run(
            openssl,
            ["req", "-new", "-config", "openssl.cnf"] + key
                + ["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
            in: directory)
        try Self.run(
            openssl,
            [
                "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "2",
                "-out", "server.pem", "-days", "2", "-extfile", "openssl.cnf", "-extensions", "server",
            ],
            in: directory)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Runs `openssl` to completion (it takes milliseconds with EC keys), failing with its stderr.
    private static func run(_ executable: String, _ arguments: [String], in directory: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        let text = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let command = arguments.prefix(2).joined(separator: " ")
            throw PeerError("openssl \(command) failed: \(String(decoding: text, as: UTF8.self))")
        }
    }
}

/// Python's `http.server` (threaded) behind `ssl.SSLContext.wrap_socket`, serving a directory, plus `/head` (the
/// request's Host and Connection headers as the body) and `/truncated` (a response cut short by a bare TCP close).
final class PythonHTTPSServer {
    let port: UInt16
    private let child: ChildPeer

    private static let script = """
        import http.server, ssl, sys
        port, cert, key, root = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=root, **kwargs)
            def log_message(self, *args):
                pass
            def do_GET(self):
                if self.path == '/head':
                    body = ('%s|%s' % (self.headers['Host'], self.headers['Connection'])).encode()
                    self.send_response(200)
                    self.send_header('Content-Length', str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                elif self.path == '/truncated':
                    self.wfile.write(b'HTTP/1.1 200 OK\\r\\nContent-Length: 100\\r\\n\\r\\nonly this')
                    self.close_connection = True
                else:
                    super().do_GET()
        server = http.server.ThreadingHTTPServer(('127.0.0.1', port), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.serve_forever()
        """

    /// Starts the server and waits (at most 10 s) until it accepts TCP connections.
    init(certificates: TestCertificates, directory: String) throws {
        let python = "/usr/bin/python3"
        try #require(
            FileManager.default.isExecutableFile(atPath: python), "\(python) is missing: apt-get install python3")
        port = try freePort()
        child = try ChildPeer(
            python,
            ["-c", Self.script, String(port), certificates.serverCertificate, certificates.serverKey, directory])
        let address = try SocketAddress.resolve(host: "127.0.0.1", port: port)
        for _ in 0..<500 {
            // A bare TCP probe: the server's handshake on it fails at our close, and the server goes on serving.
            if (try? BlockingSocket.connect(to: address, deadline: .after(.milliseconds(500)))) != nil { return }
            guard child.isRunning else { break }
            ReactorThread.sleep(milliseconds: 20)
        }
        throw PeerError("python https server on port \(port) did not start within 10 s")
    }

    var url: String { "https://127.0.0.1:\(port)" }

    deinit { child.stop() }
}

/// A TLS server, its CA and the files it serves, for one test.
final class HTTPSFixture {
    let certificates: TestCertificates
    let server: PythonHTTPSServer

    /// Serves `files` (name → contents) from a directory inside the certificates' one.
    init(files: [String: String] = [:]) throws {
        // OpenSSL writes to the socket itself, without MSG_NOSIGNAL; sockify ignores SIGPIPE (Signals.swift) and so
        // must this process, or a server closing first could kill the test runner.
        signal(SIGPIPE, SIG_IGN)
        certificates = try TestCertificates()
        let root = "\(certificates.directory)/www"
        for (name, contents) in files {
            let path = "\(root)/\(name)"
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(contents.utf8).write(to: URL(fileURLWithPath: path))
        }
        if files.isEmpty { try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true) }
        server = try PythonHTTPSServer(certificates: certificates, directory: root)
    }

    /// A client that trusts the test CA (or `caFile`) only.
    func client(caFile: String? = nil) -> HTTPClient {
        var settings = HTTPClient.defaultTLSSettings
        settings.caFile = caFile ?? certificates.caFile
        return HTTPClient(tls: settings)
    }
}

@Suite("HTTPClient over TLS", .timeLimit(.minutes(1)))
struct HTTPSClientTests {
    @Test("a GET over https: status and body (several TLS records too), Host, Connection: close")
    func get() throws {
        let big = String(repeating: "0123456789abcdef", count: 4000)  // 64000 bytes: several TLS records
        let fixture = try HTTPSFixture(files: ["tok": "10.1.2.3:5901\n", "big": big])
        let client = fixture.client()
        let found = try client.get(url: "\(fixture.server.url)/tok", timeout: .seconds(5))
        #expect(found.status == 200 && found.body == Array("10.1.2.3:5901\n".utf8))
        let missing = try client.get(url: "\(fixture.server.url)/nope?token=x", timeout: .seconds(5))
        #expect(missing.status == 404)
        let head = try client.get(url: "\(fixture.server.url)/head", timeout: .seconds(5))
        #expect(String(decoding: head.body, as: UTF8.self) == "127.0.0.1:\(fixture.server.port)|close")
        let large = try client.get(url: "\(fixture.server.url)/big", timeout: .seconds(5))
        #expect(large.status == 200 && large.body == Array(big.utf8))
    }

    @Test("one client, one shared TLS context, requests from several threads at once")
    func concurrent() throws {
        let fixture = try HTTPSFixture(files: ["tok": "host:1"])
        let client = fixture.client()
        let url = "\(fixture.server.url)/tok"
        let failures = RecordedRequests()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            do {
                let result = try client.get(url: url, timeout: .seconds(10))
                if result.status != 200 || result.body != Array("host:1".utf8) {
                    failures.heads.withLock { $0.append("status \(result.status)") }
                }
            } catch {
                failures.heads.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.heads.withLock { $0 } == [])
    }

    @Test("a certificate from a CA the client does not trust: certificate verify failed, with host:port")
    func wrongCA() throws {
        let fixture = try HTTPSFixture(files: ["tok": "x"])
        let expected =
            "TLS handshake failed: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed "
            + "(unable to get local issuer certificate)"
        // An unrelated CA file, then the default client (the system's CAs).
        for client in [fixture.client(caFile: fixture.certificates.otherCAFile), HTTPClient()] {
            let error = try #require(throws: HTTPClientError.self) {
                try client.get(url: "\(fixture.server.url)/tok", timeout: .seconds(5))
            }
            #expect(error.reason == .tls(expected))
            #expect(error.description == "HTTP server at 127.0.0.1:\(fixture.server.port): \(expected)")
        }
        // The server is still fine after the aborted handshakes.
        #expect(try fixture.client().get(url: "\(fixture.server.url)/tok", timeout: .seconds(5)).status == 200)
    }

    @Test("the certificate is checked against the URL's host: localhost does not match an IP-only certificate")
    func hostnameMismatch() throws {
        let fixture = try HTTPSFixture(files: ["tok": "x"])
        let error = try #require(throws: HTTPClientError.self) {
            try fixture.client().get(url: "https://localhost:\(fixture.server.port)/tok", timeout: .seconds(5))
        }
        #expect(
            error.description == "HTTP server at localhost:\(fixture.server.port): TLS handshake failed: "
                + "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed (hostname mismatch)")
    }

    @Test("verifyPeer off (an explicit opt-out): the untrusted certificate is accepted")
    func verificationOff() throws {
        let fixture = try HTTPSFixture(files: ["tok": "x"])
        var settings = HTTPClient.defaultTLSSettings
        settings.verifyPeer = false
        let result = try HTTPClient(tls: settings).get(url: "https://localhost:\(fixture.server.port)/tok")
        #expect(result.status == 200 && result.body == Array("x".utf8))
    }

    @Test("a server that accepts TCP and never answers the ClientHello: timeout within the deadline")
    func stalledHandshake() throws {
        let server = try ScriptedServer { _, connection in connection.waitForClose() }
        var settings = HTTPClient.defaultTLSSettings
        settings.verifyPeer = false
        var thrown: HTTPClientError?
        let elapsed = elapsedMilliseconds {
            do throws(HTTPClientError) {
                _ = try HTTPClient(tls: settings).get(
                    url: "https://127.0.0.1:\(server.port)/", timeout: .milliseconds(300))
            } catch {
                thrown = error
            }
        }
        server.finish()
        let error = try #require(thrown)
        #expect(error.description == "HTTP server at 127.0.0.1:\(server.port): timed out after 300ms")
        #expect(elapsed >= 300 && elapsed < 3000, "took \(elapsed) ms")
    }

    @Test("a plain-HTTP server on an https URL: the handshake fails with OpenSSL's reason, not a hang")
    func plainServer() throws {
        let server = try ScriptedServer { _, connection in  // answers the ClientHello with plain HTTP
            connection.write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            connection.waitForClose()
        }
        let error = try #require(throws: HTTPClientError.self) {
            try HTTPClient().get(url: "https://127.0.0.1:\(server.port)/", timeout: .seconds(5))
        }
        server.finish()
        guard case .tls(let message) = error.reason else {
            Issue.record("expected a TLS error, got \(error)")
            return
        }
        #expect(message.hasPrefix("TLS handshake failed: [SSL: "), "\(message)")
    }

    @Test("a response cut short by a TCP close under TLS is an error, not a short body")
    func truncated() throws {
        let fixture = try HTTPSFixture()
        let error = try #require(throws: HTTPClientError.self) {
            try fixture.client().get(url: "\(fixture.server.url)/truncated", timeout: .seconds(5))
        }
        #expect(error.reason == .response(.truncated))
    }

    @Test("an unreadable CA file: the TLS setup error, every time (nothing cached)")
    func unreadableCAFile() throws {
        var settings = HTTPClient.defaultTLSSettings
        settings.caFile = "/nonexistent/sockify-ca.pem"
        let client = HTTPClient(tls: settings)
        for _ in 0..<2 {
            let error = try #require(throws: HTTPClientError.self) {
                try client.get(url: "https://127.0.0.1:1/", timeout: .seconds(2))
            }
            guard case .tls(let message) = error.reason else {
                Issue.record("expected a TLS error, got \(error)")
                return
            }
            #expect(message.hasPrefix("TLS setup failed: /nonexistent/sockify-ca.pem: "), "\(message)")
        }
    }

    @Test("JSONTokenApi and BaseTokenAPI with an https source: token → URL → GET → target, as TokenLookup does")
    func tokenAPIs() throws {
        let fixture = try HTTPSFixture(files: [
            // No trailing newline in plain/: websockify would keep it in the port.
            "json/vm1": "{\"host\": \"127.0.0.1\", \"port\": 5901}", "plain/vm1": "10.0.0.7:5902",
        ])
        let client = fixture.client()
        func lookup(_ folder: String, _ token: String) throws -> TargetAddress? {
            let url = try TokenAPIFormat.url(template: "\(fixture.server.url)/\(folder)/%s", token: token)
            let response = try client.get(url: url, timeout: .seconds(5))
            guard response.status < 400 else { return nil }
            let text = TokenAPIFormat.text(body: response.body, contentType: nil)
            return folder == "json"
                ? try TokenAPIFormat.jsonTarget(text: text) : try TokenAPIFormat.plainTarget(text: text)
        }
        #expect(try lookup("json", "vm1")?.kind == .tcp(host: "127.0.0.1", port: 5901))
        #expect(try lookup("plain", "vm1")?.kind == .tcp(host: "10.0.0.7", port: 5902))
        #expect(try lookup("json", "vm2") == nil)
    }
}
