// `sockify-load`: entry point. Parses the command line and hands over to LoadRun or TargetServer.
import Foundation
import Glibc
import SockifyReactor

@main
enum SockifyLoadCommand {
    static func main() {
        // Sockets here send with MSG_NOSIGNAL, but OpenSSL's writes (wss://) do not: a reset peer must be an
        // error, not the end of the process.
        signal(SIGPIPE, SIG_IGN)
        var system = SystemRandomNumberGenerator()
        let command: LoadCommand
        do {
            command = try LoadCommandLine.parse(Array(CommandLine.arguments.dropFirst()), randomSeed: system.next())
        } catch {
            printError("sockify-load: \(error)\nTry 'sockify-load --help'.")
            exit(2)
        }
        switch command {
        case .help:
            writeOut(LoadCommandLine.usage + "\n")
        case .version:
            writeOut("sockify-load \(SystemInfo.version)\n")
        case .serve(let plan):
            exit(serve(plan))
        case .load(let plan):
            exit(load(plan))
        }
    }

    static func load(_ plan: LoadPlan) -> Int32 {
        let showsProgress = plan.showsProgress ?? (SystemInfo.isStandardOutputTerminal && !plan.isJSON)
        let progress: ((String) -> Void)? =
            showsProgress
            ? { line in writeOut("\r\u{1B}[K" + line) } : nil
        let result: LoadResult
        do {
            result = try LoadRun.execute(plan, progress: progress)
        } catch let error as UsageError {
            printError("sockify-load: \(error)")
            return 2
        } catch {
            printError("sockify-load: \(error)")
            return 1
        }
        if showsProgress { writeOut("\r\u{1B}[K") }
        if let path = plan.histogramPath {
            do {
                try LoadReport.hgrm(result).write(toFile: path, atomically: true, encoding: .utf8)
            } catch {
                printError("sockify-load: cannot write \(path): \(error)")
                return 1
            }
        }
        writeOut((plan.isJSON ? LoadReport.json(result).rendered : LoadReport.table(result)) + "\n")
        return result.isSuccess ? 0 : 1
    }

    static func serve(_ plan: ServePlan) -> Int32 {
        SystemInfo.raiseDescriptorLimit()
        let server: TargetServer
        do {
            server = try TargetServer.start(plan)
        } catch let error as UsageError {
            printError("sockify-load: \(error)")
            return 2
        } catch {
            printError("sockify-load: cannot listen on \(plan.host):\(plan.port): \(error)")
            return 1
        }
        // Scripts wait for this line (and read the port from it when they asked for port 0).
        writeOut("sockify-load: \(plan.kind.rawValue) target listening on \(plan.host):\(server.port)\n")
        if let duration = plan.duration {
            ReactorThread.sleep(milliseconds: Int(duration.nanoseconds / 1_000_000))
            server.stop()
            return 0
        }
        // Until a signal ends the process (SIGTERM/SIGINT keep their default action).
        while true { pause() }
    }

    static func printError(_ text: String) {
        write(STDERR_FILENO, text + "\n")
    }

    /// Unbuffered, so the progress line, the report and the "listening" line appear at once and in order.
    static func writeOut(_ text: String) {
        write(STDOUT_FILENO, text)
    }

    private static func write(_ fd: CInt, _ text: String) {
        var bytes = Array(text.utf8)[...]
        // Bounded: each round writes at least one byte or gives up.
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n <= 0 {
                if n == -1 && errno == EINTR { continue }
                return
            }
            bytes = bytes.dropFirst(n)
        }
    }
}
