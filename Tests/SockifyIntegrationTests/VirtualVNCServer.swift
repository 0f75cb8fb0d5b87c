// A real VNC server for the tests: TigerVNC's Xvnc on a free display and a free loopback RFB port.
import Foundation
import Glibc

/// Xvnc with security type None, listening on 127.0.0.1 only. `stop()` it in a `defer` (kills it by PID).
final class VirtualVNCServer: Sendable {
    let display: Int
    let port: UInt16
    let process: SpawnedProcess

    private init(display: Int, port: UInt16, process: SpawnedProcess) {
        self.display = display
        self.port = port
        self.process = process
    }

    /// Starts Xvnc on the first display ≥ 20 with no lock file or socket, retrying on a lost race, and waits
    /// until the RFB port accepts (bounded: 200 × 50 ms).
    static func start(geometry: String) async throws -> VirtualVNCServer {
        let xvnc = try RepositoryLayout.systemTool("Xvnc", package: "tigervnc-standalone-server")
        var lastLog = ""
        for display in 20..<60 where isFree(display: display) {
            let port = try LoopbackSocket.freePort()
            let process = try SpawnedProcess(
                xvnc,
                [
                    ":\(display)", "-rfbport", "\(port)", "-SecurityTypes", "None", "-geometry", geometry, "-depth",
                    "24",
                    "-interface", "127.0.0.1", "-nolisten", "tcp", "-desktop", "sockify-integ",
                ]
            )
            let ready = try await offload { () -> Bool in
                for _ in 0..<200 {
                    if LoopbackSocket.accepts(port: port) { return true }
                    if !process.isRunning { return false }
                    usleep(50_000)  // bounded readiness poll of a separate process, not synchronisation
                }
                return false
            }
            if ready { return VirtualVNCServer(display: display, port: port, process: process) }
            process.terminate()
            lastLog = process.stderr
        }
        throw HarnessError("Xvnc did not start on any display 20..<60; last log:\n\(lastLog)")
    }

    func stop() { process.terminate() }

    private static func isFree(display: Int) -> Bool {
        !FileManager.default.fileExists(atPath: "/tmp/.X\(display)-lock")
            && !FileManager.default.fileExists(atPath: "/tmp/.X11-unix/X\(display)")
    }
}
