// wss:// end to end: websockify 0.13 with `--cert` (a real TLS server we did not write) in front of the in-process
// targets, certificates made by the `openssl` command for each test, verification that passes and that fails.
import Foundation
import Glibc
import Testing

@testable import SockifyLoad

/// A private CA, a server certificate it signed for the IP address 127.0.0.1 (IP SAN), a client certificate it
/// signed, and an unrelated CA, written by `openssl` into a fresh directory removed when the value goes away.
final class TestCertificates {
    let directory: String
    var caFile: String { directory + "/ca.pem" }
    var serverCertificate: String { directory + "/server.pem" }
    var serverKey: String { directory + "/key.pem" }
    var clientCertificate: String { directory + "/client.pem" }
    var clientKey: String { directory + "/client-key.pem" }
    /// A CA that signed nothing here.
    var otherCAFile: String { directory + "/other-ca.pem" }

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/sockify-load-tls.XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw UsageError("mkdtemp failed: \(errno)") }
        directory = String(cString: made)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        let ca = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
        try openssl(["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Sockify Load Test CA"] + ca)
        try openssl(["req", "-x509"] + ec + ["-keyout", "other-ca.key", "-out", "other-ca.pem", "-days", "2", "-subj", "/CN=Unrelated CA"] + ca)
        try sign("key.pem", "server", subject: "/CN=127.0.0.1", extensions: "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        try sign("client-key.pem", "client", subject: "/CN=load-client", extensions: "extendedKeyUsage=clientAuth\n")
    }

    deinit {
        // Only the files this value wrote: the directory's own, flat.
        if let names = try? FileManager.default.contentsOfDirectory(atPath: directory) {
            for name in names { unlink(directory + "/" + name) }
        }
        rmdir(directory)
    }

    /// A key and a certificate `<name>.pem` signed by ca.pem, with `extensions` (basicConstraints CA:FALSE added).
    private func sign(_ keyFile: String, _ name: String, subject: String, extensions: String) throws {
        try ("basicConstraints=CA:FALSE\n" + extensions).write(toFile: "\(directory)/\(name).ext", atomically: true, encoding: .utf8)
        try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", keyFile, "-out", "\(name).csr", "-subj", subject])
        try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", String(Int.random(in: 2..<1 << 40)),
                     "-days", "2", "-extfile", "\(name).ext", "-out", "\(name).pem"])
    }

    /// Runs the `openssl` command in `directory`; a missing command or a failure is a test failure, not a skip.
    private func openssl(_ arguments: [String]) throws {
        let candidates = ["/usr/bin/openssl", "/usr/local/bin/openssl", "/bin/openssl"]
        let path = try #require(candidates.first { FileManager.default.isExecutableFile(atPath: $0) }, "the openssl command is missing")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw UsageError("openssl \(arguments.joined(separator: " ")) failed: \(String(decoding: message, as: UTF8.self))")
        }
    }
}

@Suite("LoadRun over wss:// through websockify --cert", .serialized, .timeLimit(.minutes(2)))
struct TLSLoadTests {
    /// websockify with the test server certificate, in front of the target `mode` needs.
    func proxy(_ certificates: TestCertificates, _ targets: Targets, mode: String, options: [String] = []) throws -> SpawnedPeer {
        try SpawnedPeer.websockify(
            to: targets.port(for: mode),
            options: ["--cert", certificates.serverCertificate, "--key", certificates.serverKey] + options)
    }

    @Test("rtt, up, down, conns and soak over wss:// verified with --cafile: every byte checked, TLS reported",
          arguments: ["rtt", "up", "down", "conns", "soak"])
    func modes(mode: String) throws {
        let certificates = try TestCertificates()
        let targets = try Targets()
        let websockify = try proxy(certificates, targets, mode: mode)
        defer { websockify.stop() }
        let bound = ["rtt": "-n 300 -c 2 -s 1000", "up": "-b 4M -c 2", "down": "-b 8M", "conns": "-c 10 -d 0.2",
                     "soak": "-d 1 -c 3 -s 5000"][mode]!
        let result = try runLoad("\(mode) wss://127.0.0.1:\(websockify.port)/ --cafile \(certificates.caFile) \(bound) --timeout 30")
        #expect(result.isSuccess, "\(result.statistics.failureMessages)")
        #expect(result.statistics.failures == 0)
        switch mode {
        case "up": #expect(result.statistics.bytes == 4 << 20 && targets.sink.counters.sunk == 4 << 20)
        case "down": #expect(result.statistics.bytes == 8 << 20)
        case "rtt": #expect(result.statistics.messages == 300)
        case "soak": #expect(result.statistics.rttJobs + result.statistics.upJobs + result.statistics.downJobs > 3)
        default: #expect(result.statistics.opened == 10 && result.rechecked == 10)
        }
        let tls = result.statistics.tls
        // One TLS session per connection attempt that opened (soak reconnects after every job).
        #expect(tls.sessionCount == result.statistics.opened && tls.sessionCount >= result.plan.connectionCount)
        #expect(tls.protocolVersion?.hasPrefix("TLSv1.") == true && tls.cipher?.isEmpty == false)
        // The handshake histogram spans TCP connect + TLS + the opening handshake: one sample per session.
        #expect(result.statistics.handshake.totalCount == UInt64(tls.sessionCount))
        let json = LoadReport.json(result).rendered
        #expect(json.contains("\"transport\":{\"scheme\":\"wss\",\"tls\":{\"version\":\"TLSv1."))
        #expect(json.contains("\"kernel_tls_send\":") && json.contains("\"verify\":\"cafile\""))
        #expect(LoadReport.table(result).contains("tls           TLSv1."))
    }

    @Test("a server certificate signed by another CA fails the run with the verification error")
    func wrongCA() throws {
        let certificates = try TestCertificates()
        let targets = try Targets()
        let websockify = try proxy(certificates, targets, mode: "rtt")
        defer { websockify.stop() }
        let result = try runLoad("rtt wss://127.0.0.1:\(websockify.port)/ --cafile \(certificates.otherCAFile) -n 5 --timeout 10")
        #expect(!result.isSuccess)
        #expect(result.statistics.failures == 1 && result.statistics.integrityFailures == 0)
        #expect(result.statistics.opened == 0 && result.statistics.tls.sessionCount == 0)
        let message = result.statistics.failureMessages.first ?? ""
        #expect(message.contains("TLS handshake") && message.contains("certificate verify failed"), "\(message)")
        #expect(LoadReport.json(result).rendered.contains("\"tls\":null"))
    }

    @Test("without --cafile the system CAs are used, and they do not know the test CA")
    func systemCAs() throws {
        let certificates = try TestCertificates()
        let targets = try Targets()
        let websockify = try proxy(certificates, targets, mode: "rtt")
        defer { websockify.stop() }
        let result = try runLoad("rtt wss://127.0.0.1:\(websockify.port)/ -n 5 --timeout 10")
        #expect(!result.isSuccess && result.statistics.failures == 1)
        #expect(result.statistics.failureMessages.first?.contains("certificate verify failed") == true, "\(result.statistics.failureMessages)")
    }

    @Test("--insecure skips verification (a self-signed or unknown server passes)")
    func insecure() throws {
        let certificates = try TestCertificates()
        let targets = try Targets()
        let websockify = try proxy(certificates, targets, mode: "rtt")
        defer { websockify.stop() }
        let result = try runLoad("rtt wss://127.0.0.1:\(websockify.port)/ --insecure -n 50 --timeout 10")
        #expect(result.isSuccess, "\(result.statistics.failureMessages)")
        #expect(LoadReport.json(result).rendered.contains("\"verify\":\"none\""))
    }

    @Test("--cert/--key present a client certificate that websockify --verify-client requires")
    func clientCertificate() throws {
        let certificates = try TestCertificates()
        let targets = try Targets()
        let websockify = try proxy(certificates, targets, mode: "rtt", options: ["--verify-client", "--cafile", certificates.caFile])
        defer { websockify.stop() }
        let url = "wss://127.0.0.1:\(websockify.port)/"
        let with = try runLoad("rtt \(url) --cafile \(certificates.caFile) --cert \(certificates.clientCertificate) --key \(certificates.clientKey) -n 50 --timeout 10")
        #expect(with.isSuccess, "\(with.statistics.failureMessages)")
        let without = try runLoad("rtt \(url) --cafile \(certificates.caFile) -n 5 --timeout 10")
        #expect(!without.isSuccess && without.statistics.failures == 1, "\(without.statistics.failureMessages)")
    }

    @Test("wss:// to a server that does not speak TLS fails the TLS handshake, not the run's bookkeeping")
    func plainServer() throws {
        let targets = try Targets()
        let relay = try SpawnedPeer.websocketsRelay(to: targets.echo.port)
        defer { relay.stop() }
        let result = try runLoad("rtt wss://127.0.0.1:\(relay.port)/ --insecure -n 5 --timeout 10")
        #expect(!result.isSuccess && result.statistics.failures == 1 && result.statistics.integrityFailures == 0)
        #expect(result.statistics.failureMessages.first?.contains("TLS handshake") == true, "\(result.statistics.failureMessages)")
    }

    @Test("a CA file that cannot be loaded is a usage error before any connection")
    func missingCAFile() throws {
        #expect(throws: UsageError.self) { try runLoad("rtt wss://127.0.0.1:1/ --cafile /nonexistent/ca.pem -n 1") }
    }
}
