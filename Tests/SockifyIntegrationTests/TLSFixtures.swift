// TLS test material: certificates made with the openssl CLI for each test, the Python TLS peer (ssl + websockets),
// and a TLS echo target (socat OPENSSL-LISTEN).
import Foundation
import Glibc

/// Certificates and keys for one test, generated into a scratch directory by `openssl` (OpenSSL 3.0: no
/// `-not_before`, so the expired certificate comes from `openssl ca -startdate/-enddate`). Keys are EC P-256, which
/// takes milliseconds to make. Call `remove()` in a `defer`.
///
/// | File | What |
/// |---|---|
/// | `ca.crt` | "Sockify Test CA", signs everything below except `other-*` and `target` |
/// | `other-ca.crt` | "Other Test CA" |
/// | `server.pem` / `.crt` / `.key` | CN localhost, SAN DNS:localhost, IP:127.0.0.1 (cert+key, cert, key) |
/// | `server-encrypted.key` | `server.key` encrypted with `keyPassword` |
/// | `renewed.pem` / `.crt` | another certificate with the same names (the hot-reload replacement) |
/// | `alice.pem`, `mallory.pem` | client certificates, CN alice / mallory |
/// | `stranger.pem` | client certificate CN alice from the other CA |
/// | `expired.pem` / `.crt` | the server names, valid only in January 2020 |
/// | `other-host.pem` / `.crt` | SAN DNS:other.example only |
/// | `sni-a.pem` / `.crt` | SAN DNS:a.example; `sni-b.crt` + `sni-b.key` SAN DNS:b.example (separate files) |
/// | `target.pem` / `.crt` | self-signed, SAN IP:127.0.0.1 (the TLS target) |
struct TLSMaterial: Sendable {
    static let keyPassword = "s3cr3t-pass"
    let scratch: ScratchDirectory

    /// Makes every file in the table above (one `sh` running `openssl`, bounded to 30 s).
    static func make() async throws -> TLSMaterial {
        let openssl = try RepositoryLayout.systemTool("openssl", package: "openssl")
        let scratch = try ScratchDirectory()
        let script = scratch.path("make-certificates.sh")
        try generator.write(toFile: script, atomically: true, encoding: .utf8)
        try TLSClient.script.write(toFile: scratch.path("tls_client.py"), atomically: true, encoding: .utf8)
        let process = try SpawnedProcess("/bin/sh", [script, scratch.url.path, openssl, keyPassword])
        defer { process.terminate() }
        let exited = try await offload { process.waitForExit(timeout: .seconds(30)) }
        guard exited, process.exitStatus == 0 else {
            scratch.remove()
            throw HarnessError("openssl could not make the test certificates:\n\(process.stderr)")
        }
        return TLSMaterial(scratch: scratch)
    }

    func path(_ name: String) -> String { scratch.path(name) }
    func remove() { scratch.remove() }

    var ca: String { path("ca.crt") }
    var otherCA: String { path("other-ca.crt") }
    var server: String { path("server.pem") }

    /// Every certificate a server could present, for `TLSClientResult.served`.
    static let servable = ["server.crt", "renewed.crt", "expired.crt", "other-host.crt", "sni-a.crt", "sni-b.crt"]

    /// The generator: `sh make-certificates.sh DIR OPENSSL PASSWORD`.
    private static let generator = #"""
        set -eu
        cd "$1"
        openssl=$2
        password=$3
        newkey="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
        authority() {
            "$openssl" req -x509 $newkey -keyout "$1.key" -out "$1.crt" -days 30 -subj "/CN=$2" \
                -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
        }
        request() {
            "$openssl" req $newkey -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
            printf '%b' "$3" > "$1.ext"
        }
        leaf() {  # name, common name, issuer, extensions
            request "$1" "$2" "$4"
            "$openssl" x509 -req -in "$1.csr" -CA "$3.crt" -CAkey "$3.key" -CAcreateserial -days 30 \
                -extfile "$1.ext" -out "$1.crt"
            cat "$1.crt" "$1.key" > "$1.pem"
        }
        server='subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n'
        client='basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n'
        authority ca "Sockify Test CA"
        authority other-ca "Other Test CA"
        leaf server localhost ca "$server"
        leaf renewed localhost ca "$server"
        leaf alice alice ca "$client"
        leaf mallory mallory ca "$client"
        leaf stranger alice other-ca "$client"
        leaf other-host other.example ca 'subjectAltName=DNS:other.example\nextendedKeyUsage=serverAuth\n'
        leaf sni-a a.example ca 'subjectAltName=DNS:a.example\nextendedKeyUsage=serverAuth\n'
        leaf sni-b b.example ca 'subjectAltName=DNS:b.example\nextendedKeyUsage=serverAuth\n'
        "$openssl" pkey -in server.key -aes256 -passout "pass:$password" -out server-encrypted.key
        # An expired certificate: `openssl ca` is the OpenSSL 3.0 tool that takes explicit validity dates.
        mkdir ca-db
        : > ca-db/index.txt
        echo 1000 > ca-db/serial
        printf '%s\n' '[ca]' 'default_ca = test' '[test]' 'database = ca-db/index.txt' 'new_certs_dir = ca-db' \
            'serial = ca-db/serial' 'default_md = sha256' 'policy = any' 'unique_subject = no' \
            '[any]' 'commonName = supplied' '[server]' 'subjectAltName = DNS:localhost,IP:127.0.0.1' \
            'basicConstraints = CA:FALSE' 'extendedKeyUsage = serverAuth' > ca.cnf
        request expired localhost ""
        "$openssl" ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key -in expired.csr -out expired.crt \
            -startdate 20200101000000Z -enddate 20200201000000Z -extensions server -notext
        cat expired.crt expired.key > expired.pem
        "$openssl" req -x509 $newkey -keyout target.key -out target.crt -days 30 -subj "/CN=127.0.0.1" \
            -addext "subjectAltName=IP:127.0.0.1"
        cat target.crt target.key > target.pem
        """#
}

/// The JSON result of the Python TLS peer (`TLSClient.script`).
struct TLSClientResult: Decodable, Sendable {
    var error: String?
    /// 101 after an upgrade, the refusal's status, or the status line of `--get`.
    var status: Int?
    var received: Int?
    var mismatch: Int?
    /// The file name (from `TLSMaterial.servable`) of the certificate the server presented, if any matched.
    var served: String?
    var tlsVersion: String?
    var cipher: String?
    var closeCode: Int?
    var closeReason: String?
    /// The first `--banner N` bytes the target sent before the echo (`TLSEchoTarget.banner`).
    var banner: String?
}

/// Runs the Python TLS peer: `ws` (a WebSocket session over wss://, or ws:// without `tls`, echoing `--total`
/// pattern bytes) or `tls` (a TLS handshake only, with `--get PATH` one HTTP request).
enum TLSClient {
    /// A wss:// (or ws://) session; `arguments` add `--cert FILE`, `--server-name N`, `--max-version 1.2`, `-H`, ….
    static func websocket(
        _ material: TLSMaterial, port: UInt16, tls: Bool = true, total: Int = 0, _ arguments: [String] = []
    ) async throws -> TLSClientResult {
        try await run(material, ["ws", "--total", "\(total)"] + (tls ? ["--tls"] : []), port: port, arguments)
    }

    /// A TLS handshake only (then `--get PATH` if given): which certificate, version and cipher the server chose.
    static func handshake(_ material: TLSMaterial, port: UInt16, _ arguments: [String] = []) async throws
        -> TLSClientResult
    {
        try await run(material, ["tls"], port: port, arguments)
    }

    private static func run(_ material: TLSMaterial, _ mode: [String], port: UInt16, _ arguments: [String])
        async throws -> TLSClientResult
    {
        let python = try RepositoryLayout.python()
        let identify = TLSMaterial.servable.flatMap { ["--identify", material.path($0)] }
        let process = try SpawnedProcess(
            python,
            [material.path("tls_client.py")] + mode + ["--port", "\(port)", "--cafile", material.ca] + identify
                + arguments,
            environment: ["PYTHONPATH": RepositoryLayout.peers.path])
        defer { process.terminate() }
        guard try await offload({ process.waitForExit(timeout: .seconds(20)) }) else {
            throw HarnessError("tls_client.py \(mode) did not finish within 20 s; stderr:\n\(process.stderr)")
        }
        let line = process.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(TLSClientResult.self, from: Data(line.utf8))
        } catch {
            throw HarnessError(
                "tls_client.py printed no result (\(error)); stdout:\n\(process.stdout)\nstderr:\n\(process.stderr)")
        }
    }

    /// The peer itself (Python `ssl` and `websockets`, both code we did not write). It prints one JSON object and
    /// exits 0 whatever happens; every step is bounded (12 s for a session, 8 s per socket operation).
    static let script = #"""
        """TLS peer for Sockify's TLSTests (Python ssl + websockets); prints one JSON object and exits 0."""
        import argparse
        import asyncio
        import json
        import os
        import socket
        import ssl

        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidStatus

        import pattern

        VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


        def context(args):
            ctx = ssl.create_default_context(cafile=args.cafile)
            if args.no_verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            if args.cert:
                ctx.load_cert_chain(args.cert, args.key)
            if args.max_version:
                ctx.maximum_version = VERSIONS[args.max_version]
            if args.ciphers:
                ctx.set_ciphers(args.ciphers)
            return ctx


        def describe(ssl_object, args, out):
            """Which --identify file holds the certificate the server presented; the version and cipher."""
            der = ssl_object.getpeercert(binary_form=True)
            out["served"] = None
            for path in args.identify:
                with open(path) as f:
                    if ssl.PEM_cert_to_DER_cert(f.read()) == der:
                        out["served"] = os.path.basename(path)
            out["tls_version"] = ssl_object.version()
            out["cipher"] = ssl_object.cipher()[0]


        async def mode_ws(args, out):
            scheme = "wss" if args.tls else "ws"
            extra = dict(compression=None, ping_interval=None, proxy=None, max_size=None, open_timeout=8,
                         close_timeout=3)
            if args.tls:
                extra["ssl"] = context(args)
                if args.server_name:
                    extra["server_hostname"] = args.server_name
            headers = [tuple(h.split(": ", 1)) for h in args.header]
            out.update(received=0, mismatch=None)
            try:
                ws = await connect(f"{scheme}://127.0.0.1:{args.port}{args.path}", additional_headers=headers,
                                   **extra)
            except InvalidStatus as e:
                out["status"] = e.response.status_code
                raise
            out["status"] = 101
            async with ws:
                if args.tls:
                    describe(ws.transport.get_extra_info("ssl_object"), args, out)
                try:
                    if args.banner:
                        banner = b""
                        while len(banner) < args.banner:
                            banner += await ws.recv()
                        out["banner"] = banner.decode("latin-1")
                    sent = 0
                    while sent < args.total:
                        n = min(args.frame, args.total - sent)
                        await ws.send(pattern.chunk(sent, n))
                        sent += n
                        while out["received"] < sent:
                            m = await ws.recv()
                            if out["mismatch"] is None:
                                out["mismatch"] = pattern.first_mismatch(out["received"], m)
                            out["received"] += len(m)
                    if args.wait_close:
                        await ws.recv()
                    await ws.close(1000)
                except ConnectionClosed:
                    pass
                out["close_code"] = ws.close_code
                out["close_reason"] = ws.close_reason


        def mode_tls(args, out):
            ctx = context(args)
            with socket.create_connection(("127.0.0.1", args.port), timeout=8) as raw:
                with ctx.wrap_socket(raw, server_hostname=args.server_name or "127.0.0.1") as s:
                    describe(s, args, out)
                    if args.get:
                        s.sendall(f"GET {args.get} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
                        data = b""
                        while b"\r\n" not in data:
                            chunk = s.recv(4096)
                            if not chunk:
                                break
                            data += chunk
                        line = data.split(b"\r\n", 1)[0].split()
                        out["status"] = int(line[1]) if len(line) > 1 else None


        def main():
            p = argparse.ArgumentParser()
            p.add_argument("mode", choices=["ws", "tls"])
            p.add_argument("--port", type=int, required=True)
            p.add_argument("--path", default="/")
            p.add_argument("--tls", action="store_true")
            p.add_argument("--cafile")
            p.add_argument("--cert")
            p.add_argument("--key")
            p.add_argument("--no-verify", action="store_true")
            p.add_argument("--server-name")
            p.add_argument("--max-version", choices=sorted(VERSIONS))
            p.add_argument("--ciphers")
            p.add_argument("--identify", action="append", default=[])
            p.add_argument("-H", "--header", action="append", default=[])
            p.add_argument("--total", type=int, default=0)
            p.add_argument("--frame", type=int, default=16384)
            p.add_argument("--wait-close", action="store_true")
            p.add_argument("--banner", type=int, default=0)
            p.add_argument("--get")
            args = p.parse_args()
            out = {"error": None}
            try:
                if args.mode == "ws":
                    asyncio.run(asyncio.wait_for(mode_ws(args, out), 12))
                else:
                    mode_tls(args, out)
            except BaseException as e:  # noqa: BLE001 - every failure is the result
                out["error"] = f"{type(e).__name__}: {e}"
            print(json.dumps(out))


        main()
        """#
}

/// A TLS echo server standing in for a VNC server behind `--ssl-target`: `socat OPENSSL-LISTEN …` (a process per
/// connection) presenting `certificate`. With `greeting`, it first sends `banner` and then echoes, as a VNC server
/// speaks first: websockify 0.13 can deadlock on a TLS 1.3 target that waits for the client (the target's session
/// tickets make `select` fire, and the blocking `recv` then waits for application data that never comes while the
/// client's bytes sit unread). `stop()` it in a `defer`.
final class TLSEchoTarget: Sendable {
    /// What a `greeting` target sends first (12 bytes, like an RFB ProtocolVersion; no spaces for socat's parser).
    static let banner = "RFB-003.008\n"
    let port: UInt16
    let process: SpawnedProcess

    init(certificate: String, greeting: Bool) async throws {
        let socat = try RepositoryLayout.systemTool("socat", package: "socat")
        var lastError = ""
        for _ in 0..<3 {
            let port = try LoopbackSocket.freePort()
            let process = try SpawnedProcess(
                socat,
                [
                    "OPENSSL-LISTEN:\(port),bind=127.0.0.1,reuseaddr,fork,cert=\(certificate),verify=0",
                    greeting ? "SYSTEM:echo RFB-003.008; exec cat" : "PIPE",
                ])
            if try await LoopbackSocket.waitUntilAccepting(port: port, while: process) {
                self.port = port
                self.process = process
                return
            }
            process.terminate()
            lastError = process.stderr
        }
        throw HarnessError("socat did not listen: \(lastError)")
    }

    func stop() { process.terminate() }
}
