// Operating behind load balancers (issue 8): Prometheus /metrics and /healthz, the PROXY protocol from a real
// HAProxy (send-proxy-v2), and X-Forwarded-For from a real nginx trusted with --trusted-proxy. Sockify only:
// websockify has none of these.
import Foundation
import Glibc
import Testing

struct SourceClientResult: Decodable, Sendable {
    var status: Int?
    var error: String?
}

extension ProxyBinaryTests {
    @Suite("Edge: metrics, PROXY protocol, trusted proxies", .enabled(if: ProxyKind.isSockify))
    struct Edge {
        /// GETs `path` from 127.0.0.1:`port` and returns the status and body.
        static func get(port: UInt16, _ path: String) async throws -> (status: Int?, body: String) {
            let scratch = try ScratchDirectory()
            defer { scratch.remove() }
            let result = try await RawClientResult.run(port: port, ["--path", path, "--body-out", scratch.path("body")])
            let body = (try? String(contentsOfFile: scratch.path("body"), encoding: .utf8)) ?? ""
            return (result.status, body)
        }

        @Test("--metrics: /metrics counts sessions, bytes, failures and close codes; /healthz says ready")
        func metrics() async throws {
            let metricsPort = try LoopbackSocket.freePort()
            try await withProxy(to: .echo, options: ["--metrics", "127.0.0.1:\(metricsPort)"]) { proxy, _ in
                let echo = try await WebSocketClientResult.run("echo", url: proxy.url, ["--total", "10000"])
                #expect(echo.error == nil)
                let refused = try await RawClientResult.websocket(
                    port: proxy.port, frames: [.close(1000)], ["--drop", "Sec-WebSocket-Key"])
                #expect(refused.status == 400)
                var text = ""
                for _ in 0..<50 {
                    text = try await Self.get(port: metricsPort, "/metrics").body
                    if text.contains("sockify_websocket_sessions_finished_total 1") { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(text.contains("sockify_websocket_sessions_total 1"), "\(text)")
                #expect(text.contains("sockify_websocket_sessions_finished_total 1"))
                #expect(text.contains("sockify_bytes_total{direction=\"client_to_target\"} 10000"))
                #expect(text.contains("sockify_bytes_total{direction=\"target_to_client\"} 10000"))
                #expect(text.contains("sockify_handshake_failures_total{reason=\"bad_request\"} 1"))
                #expect(text.contains("sockify_close_codes_total{code=\"1000\"} 1"))
                #expect(text.contains("sockify_backend_info{backend=\"\(ProxyKind.ioBackend)\"} 1"))
                #expect(text.contains("sockify_draining 0"))
                let health = try await Self.get(port: metricsPort, "/healthz")
                #expect(health.status == 200 && health.body == "ready\n")
                let missing = try await Self.get(port: metricsPort, "/other")
                #expect(missing.status == 404)
            }
        }

        @Test("--timeout drains: /healthz answers 503 draining while a session goes on")
        func healthDraining() async throws {
            let metricsPort = try LoopbackSocket.freePort()
            try await withProxy(to: .echo, options: ["--metrics", "127.0.0.1:\(metricsPort)", "--timeout", "1"]) {
                proxy, _ in
                let steady = try await SteadySessions.start(url: proxy.url, ["--count", "1", "--seconds", "3"])
                #expect(try await proxy.waitForLog("listener exit due to --timeout 1"))
                let health = try await Self.get(port: metricsPort, "/healthz")
                #expect(health.status == 503 && health.body == "draining\n")
                ProxyBinaryTests.Faults.expectUntouched(try await steady.finish(), count: 1)
            }
        }

        @Test(
            "HAProxy send-proxy-v2 in front (TCP mode; TLS passed through): Sockify logs the real client; a bare client is refused",
            arguments: [false, true])
        func haproxy(tls: Bool) async throws {
            let haproxy = try RepositoryLayout.systemTool("haproxy", package: "haproxy")
            let material = tls ? try await TLSMaterial.make() : nil
            defer { material?.remove() }
            let certificate = material.map { ["--cert", $0.server] } ?? []
            try await withProxy(to: .echo, options: ["--proxy-protocol"] + certificate) { proxy, _ in
                let scratch = try ScratchDirectory()
                defer { scratch.remove() }
                let port = try LoopbackSocket.freePort()
                let config = """
                    defaults
                      mode tcp
                      timeout connect 5s
                      timeout client 30s
                      timeout server 30s
                    frontend websockets
                      bind 127.0.0.1:\(port)
                      default_backend sockify
                    backend sockify
                      server s1 127.0.0.1:\(proxy.port) send-proxy-v2

                    """
                try config.write(toFile: scratch.path("haproxy.cfg"), atomically: true, encoding: .utf8)
                let balancer = try SpawnedProcess(haproxy, ["-db", "-f", scratch.path("haproxy.cfg")])
                defer { balancer.terminate() }
                #expect(try await LoopbackSocket.waitUntilAccepting(port: port, while: balancer), "haproxy: \(balancer.stderr)")
                let result: SourceClientResult = try await PythonPeer.run(
                    "source_client.py",
                    ["--port", "\(port)", "--source", "127.0.0.2"] + (material.map { ["--tls-cafile", $0.ca] } ?? []))
                #expect(result.error == nil)
                #expect(result.status == 101)
                let kind = tls ? "SSL/TLS (wss://)" : "Plain non-SSL (ws://)"
                #expect(
                    try await proxy.waitForLog("127.0.0.2: \(kind) WebSocket connection"), "log:\n\(proxy.log)")
                // Straight to Sockify without a header: refused with a log line, nothing else.
                let bare = try await RawClientResult.websocket(port: proxy.port, frames: [.close(1000)])
                #expect(bare.status == nil && bare.rawBytes == 0)
                #expect(try await proxy.waitForLog("bad PROXY protocol header"), "log:\n\(proxy.log)")
            }
        }

        @Test("nginx in front with --trusted-proxy: X-Forwarded-For names the client; untrusted peers cannot spoof")
        func nginx() async throws {
            let nginx = try RepositoryLayout.systemTool("nginx", package: "nginx-light")
            try await withProxy(to: .echo, options: ["--trusted-proxy", "127.0.0.1/32"]) { proxy, _ in
                let scratch = try ScratchDirectory()
                defer { scratch.remove() }
                let port = try LoopbackSocket.freePort()
                let prefix = scratch.url.path
                let config = """
                    daemon off;
                    user root;
                    worker_processes 1;
                    pid \(prefix)/nginx.pid;
                    error_log \(prefix)/error.log;
                    events { worker_connections 64; }
                    http {
                      access_log off;
                      client_body_temp_path \(prefix)/body;
                      proxy_temp_path \(prefix)/proxy;
                      fastcgi_temp_path \(prefix)/fastcgi;
                      uwsgi_temp_path \(prefix)/uwsgi;
                      scgi_temp_path \(prefix)/scgi;
                      server {
                        listen 127.0.0.1:\(port);
                        location / {
                          proxy_pass http://127.0.0.1:\(proxy.port);
                          proxy_http_version 1.1;
                          proxy_set_header Upgrade $http_upgrade;
                          proxy_set_header Connection "upgrade";
                          proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                        }
                      }
                    }

                    """
                try config.write(toFile: scratch.path("nginx.conf"), atomically: true, encoding: .utf8)
                let server = try SpawnedProcess(nginx, ["-p", prefix, "-c", scratch.path("nginx.conf")])
                defer { server.terminate() }
                #expect(try await LoopbackSocket.waitUntilAccepting(port: port, while: server), "nginx: \(server.stderr)")
                let result: SourceClientResult = try await PythonPeer.run(
                    "source_client.py", ["--port", "\(port)", "--source", "127.0.0.3"])
                #expect(result.status == 101, "\(result)")
                #expect(
                    try await proxy.waitForLog("127.0.0.3: Plain non-SSL (ws://) WebSocket connection"),
                    "log:\n\(proxy.log)")
                // A client that is not a trusted proxy cannot name another address.
                let spoof: SourceClientResult = try await PythonPeer.run(
                    "source_client.py",
                    ["--port", "\(proxy.port)", "--source", "127.0.0.4", "-H", "X-Forwarded-For: 198.51.100.9"])
                #expect(spoof.status == 101)
                #expect(try await proxy.waitForLog("127.0.0.4: Plain non-SSL"), "log:\n\(proxy.log)")
                #expect(!proxy.log.contains("198.51.100.9: Plain"), "log:\n\(proxy.log)")
            }
        }

        @Test("--log-format json: every line is a JSON object; the session summary has its fields")
        func jsonLogs() async throws {
            let target = try LoopbackTarget(.echo)
            defer { target.stop() }
            let scratch = try ScratchDirectory()
            defer { scratch.remove() }
            try "vm1: 127.0.0.1:\(target.port)\n".write(toFile: scratch.path("tokens"), atomically: true, encoding: .utf8)
            let proxy = try await ProxyUnderTest.start(
                options: ["--log-format", "json", "--target-config", scratch.path("tokens")], target: [])
            defer { proxy.stop() }
            let echo = try await WebSocketClientResult.run(
                "echo", url: proxy.url + "/websockify?token=vm1", ["--total", "3000"])
            #expect(echo.error == nil)
            #expect(try await proxy.waitForLog("\"event\":\"session_closed\""), "log:\n\(proxy.log)")
            var summary: [String: Any]?
            for line in proxy.log.split(separator: "\n") {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object?["time"] is String && object?["level"] is String, "not a JSON log line: \(line)")
                if object?["event"] as? String == "session_closed" { summary = object }
            }
            let fields = try #require(summary)
            #expect(fields["client"] as? String == "127.0.0.1")
            #expect(fields["token"] as? String == "vm1")
            #expect(fields["target"] as? String == "127.0.0.1:\(target.port)")
            #expect(fields["bytes_client_to_target"] as? Int == 3000)
            #expect(fields["bytes_target_to_client"] as? Int == 3000)
            #expect(fields["close_code"] as? Int == 1000)
            #expect(fields["duration_seconds"] is Double || fields["duration_seconds"] is Int)
            #expect(fields.keys.contains("tls") && fields["tls"] is NSNull, "a ws:// session has \"tls\": null")
        }

        @Test("takeover: a new instance binds the same port (SO_REUSEPORT) while the old one drains its sessions")
        func takeover() async throws {
            try await withProxy(to: .echo, options: ["--timeout", "2"]) { old, target in
                let steady = try await SteadySessions.start(url: old.url, ["--count", "1", "--seconds", "4"])
                let new = try SpawnedProcess(
                    try RepositoryLayout.sockify(), ["127.0.0.1:\(old.port)", "127.0.0.1:\(target.port)"])
                defer { new.terminate() }
                let started = try await offload { () -> Bool in
                    for _ in 0..<200 {
                        if new.stderr.contains("proxying from") { return true }
                        if !new.isRunning { return false }
                        usleep(25_000)  // bounded readiness poll of a separate process
                    }
                    return false
                }
                #expect(started, "the second instance must bind the same port: \(new.stderr)")
                #expect(try await old.waitForLog("listener exit due to --timeout 2"))
                // The old instance no longer accepts: every new client reaches the new one.
                for _ in 0..<10 {
                    let echo = try await WebSocketClientResult.run("echo", url: old.url, ["--total", "1000"])
                    #expect(echo.error == nil && echo.received == 1000)
                }
                #expect(occurrences(of: "Plain non-SSL", in: new.stderr) == 10, "new instance log:\n\(new.stderr)")
                ProxyBinaryTests.Faults.expectUntouched(try await steady.finish(), count: 1)
            }
        }

        @Test("systemd socket activation: LISTEN_FDS replaces the listen argument (systemd-socket-activate)")
        func socketActivation() async throws {
            let activate = try RepositoryLayout.systemTool("systemd-socket-activate", package: "systemd")
            let target = try LoopbackTarget(.echo)
            defer { target.stop() }
            let port = try LoopbackSocket.freePort()
            let unused = try LoopbackSocket.freePort()
            let process = try SpawnedProcess(
                activate,
                ["-l", "127.0.0.1:\(port)", try RepositoryLayout.sockify(), "127.0.0.1:\(unused)",
                 "127.0.0.1:\(target.port)"])
            defer { process.terminate() }
            #expect(try await LoopbackSocket.waitUntilAccepting(port: port, while: process), "\(process.stderr)")
            let echo = try await WebSocketClientResult.run(
                "echo", url: "ws://127.0.0.1:\(port)", ["--total", "20000"])
            #expect(echo.error == nil, "log:\n\(process.stderr)")
            #expect(echo.received == 20000)
            #expect(process.stderr.contains("Listen on the socket systemd passed (LISTEN_FDS)"), "\(process.stderr)")
            #expect(!LoopbackSocket.accepts(port: unused), "the listen argument is not bound")
        }
    }
}
