// `sockify`: websockify's command line in front of Sockify's proxy. Parsing lives in Options*.swift; this file maps
// the options to a ProxyConfiguration, sets up logging, limits and signals, and runs the server.
import Glibc
import Logging
import SockifyProxy
import SockifyTargets

let arguments = Array(CommandLine.arguments.dropFirst())
let program = programName(fromArgv0: CommandLine.arguments.first ?? "sockify")
let environment = ParseEnvironment(
    programName: program, currentDirectory: currentDirectory(), fileExists: { access($0, F_OK) == 0 })

let options: WebsockifyOptions
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
LoggingSystem.bootstrap { [logFile] _ in PlainLogHandler(level: logLevel, logFile: logFile) }
let logger = Logger(label: "sockify")

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
    try Signals.install(for: server, logger: logger)
    try server.start()
} catch let error as StartError {
    logger.error("\(error.description)")
    exit(1)
} catch {
    logger.error("\(error)")
    exit(1)
}
for line in server.bannerLines { logger.info("\(line)") }
server.run()
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
