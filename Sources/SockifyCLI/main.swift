// `sockify`: websockify's command line in front of Sockify's proxy. Parsing lives in Options*.swift; this file maps
// the options to a ProxyConfiguration, sets up logging, limits and signals, and runs the server.
//
// Start-up order (websockify's `start_server`, reference §5.1), and why:
//   parse → log set-up → wrap plan (librebind.so, loopback port) → configure → bind
//   → daemonize (-D) → signal thread → launch reactors → banner → start the wrapped command → run.
// Binding comes before daemonizing so that "address in use" still reaches the terminal. Daemonizing forks, and fork
// copies only the calling thread, so it must come before the first thread: the signal thread and the reactors are
// started after it, and nothing before it may start one. The wrapped command starts after daemonizing, so that the
// daemon is its parent and can watch it.
import Glibc
import Logging
import SockifyProxy
import SockifyReactor
import SockifyTargets

let arguments = Array(CommandLine.arguments.dropFirst())
let program = programName(fromArgv0: CommandLine.arguments.first ?? "sockify")
let environment = ParseEnvironment(
    programName: program, currentDirectory: currentDirectory(), fileExists: { access($0, F_OK) == 0 })

var options: WebsockifyOptions
do {
    switch try parseCommandLine(arguments, environment: environment) {
    case .help(let text):
        print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
        exit(0)
    case .run(let parsed):
        options = parsed
    }
} catch {
    switch error {
    case .usage(let usage): writeStderr(renderUsageError(usage, programName: program))
    case .pluginLoad(let failure): writeStderr(failure.message + "\n")
    }
    exit(error.exitStatus)
}

var logFile: CInt?
if let path = options.logFile {
    switch PlainLogHandler.openLogFile(path) {
    case .success(let fd): logFile = fd
    case .failure(let error):
        writeStderr("\(program): cannot open --log-file \(path): \(error)\n")
        exit(1)
    }
}
let logLevel: Logger.Level = options.verbose ? .debug : .info
// websockify's syslog facility: LOG_DAEMON with `-D`, LOG_USER otherwise (reference §5.4).
var syslog: SyslogSink?
if let destination = options.syslog {
    do {
        syslog = try SyslogSink(
            destination: destination, facility: options.daemon ? .daemon : .user, legacy: options.legacySyslog)
    } catch {
        writeStderr("\(program): cannot use --syslog: \(error)\n")
        exit(1)
    }
}
let jsonLogs = options.jsonLogs
LoggingSystem.bootstrap { [logFile, syslog] _ in
    PlainLogHandler(level: logLevel, logFile: logFile, syslog: syslog, json: jsonLogs)
}
let logger = Logger(label: "sockify")

// systemd socket activation: when LISTEN_PID names this process, the first passed socket (descriptor 3) replaces a
// TCP listen argument (a unit with `ExecStart=sockify 6080 …` works with or without its .socket unit). The variables
// are removed so that a wrapped command does not take them for its own.
if let pid = getenv("LISTEN_PID").map({ String(cString: $0) }), pid_t(pid) == getpid(),
    let count = getenv("LISTEN_FDS").map({ String(cString: $0) }), (Int(count) ?? 0) >= 1
{
    if case .tcp = options.listen { options.listen = .systemdSocket }
    unsetenv("LISTEN_PID")
    unsetenv("LISTEN_FDS")
    unsetenv("LISTEN_FDNAMES")
}

// Wrap mode: find librebind.so and pick the loopback port before the configuration is built, whose target it is.
let wrapPlan: WrapPlan?
do {
    wrapPlan = try WrapPlan.prepare(
        options, argv0: CommandLine.arguments.first ?? program, currentDirectory: environment.currentDirectory)
} catch {
    writeStderr("\(program): \(error.message)\n")
    exit(1)
}
if let wrapPlan { options.target = wrapPlan.target }

let configuration: ProxyConfiguration
do {
    configuration = try makeConfiguration(options, logger: logger)
} catch {
    writeStderr("\(program): \(error.message)\n")
    exit(1)
}

Limits.raiseDescriptorLimit()
let server = ProxyServer(configuration: configuration, logger: logger)
do {
    try server.bind()
} catch {
    logger.error("\(error.description)")
    exit(1)
}
if options.daemon {
    // Kept across daemonizing: the listeners, the log file (websockify keeps its FileHandler streams) and the syslog
    // socket (websockify closes it, which breaks UDP syslog after daemonizing).
    let keep = server.listenerDescriptors + (logFile.map { [$0] } ?? []) + (syslog?.descriptor.map { [$0] } ?? [])
    do {
        try Daemon.daemonize(keeping: keep, workingDirectory: options.web ?? "/")
    } catch {
        logger.error("cannot become a daemon: \(error)")
        exit(1)
    }
}
do {
    try Signals.install(for: server, logger: logger)
    try server.launch()
} catch let error as StartError {
    logger.error("\(error.description)")
    exit(1)
} catch {
    logger.error("\(error)")
    exit(1)
}
for line in server.bannerLines { logger.info("\(line)") }

let wrapped = wrapPlan.map { WrappedCommand(plan: $0, logger: logger) }
if let wrapped, !wrapped.start() {
    server.shutdown()
    server.run()
    exit(1)
}
server.run(housekeeping: wrapped.map { command in { command.poll() } })
wrapped?.stop()
exit(0)

// MARK: - helpers

func currentDirectory() -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    guard getcwd(&buffer, buffer.count) != nil else { return "/" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func writeStderr(_ text: String) {
    var text = text
    text.withUTF8 { bytes in _ = Glibc.write(2, bytes.baseAddress, bytes.count) }
}
