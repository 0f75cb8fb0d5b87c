// --io-backend and SOCKIFY_IO_BACKEND: what each choice resolves to when io_uring is, or is not, usable.
import Logging
import SockifyReactor
import Synchronization
import Testing

@testable import SockifyCLI

/// Collects log lines.
final class CollectedLines: Sendable {
    let lines = Mutex<[String]>([])
    var logger: Logger {
        Logger(label: "test") { _ in Collector(sink: self) }
    }

    struct Collector: LogHandler {
        let sink: CollectedLines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) { sink.lines.withLock { $0.append("\(event.message)") } }
    }
}

@Suite("--io-backend")
struct BackendChoiceTests {
    static let available: @Sendable () -> URingAvailability = { .available([.singleIssuer, .deferTaskRun]) }
    static let seccomp: @Sendable () -> URingAvailability = { .unavailable(.notPermitted) }

    @Test("auto takes io_uring when the probe allows it, silently")
    func autoAvailable() throws {
        let log = CollectedLines()
        #expect(try resolveBackend(.auto, logger: log.logger, pinned: nil, probe: Self.available) == .ioUring)
        #expect(log.lines.withLock { $0 }.isEmpty)
    }

    @Test("auto falls back to epoll with one log line naming the reason")
    func autoFallsBack() throws {
        let log = CollectedLines()
        #expect(try resolveBackend(.auto, logger: log.logger, pinned: nil, probe: Self.seccomp) == .epoll)
        #expect(log.lines.withLock { $0 } == [
            "io_uring unavailable: io_uring_setup refused with EPERM (seccomp filter or security policy); using epoll"
        ])
    }

    @Test("an explicit io_uring that cannot start is an error with the reason (exit 1)")
    func explicitUnavailable() {
        let log = CollectedLines()
        #expect {
            try resolveBackend(.ioUring, logger: log.logger, pinned: nil, probe: Self.seccomp)
        } throws: { error in
            (error as? ConfigurationError)?.message
                == "--io-backend io_uring: io_uring unavailable: io_uring_setup refused with EPERM (seccomp filter or security policy)"
        }
    }

    @Test("epoll never probes")
    func epollNeverProbes() throws {
        let log = CollectedLines()
        #expect(try resolveBackend(.epoll, logger: log.logger, pinned: nil, probe: { preconditionFailure("probed") }) == .epoll)
    }

    @Test("SOCKIFY_IO_BACKEND stands in for auto, not for an explicit choice; a bad value is an error")
    func environment() throws {
        let log = CollectedLines()
        #expect(try resolveBackend(.auto, logger: log.logger, pinned: "epoll", probe: Self.available) == .epoll)
        #expect(try resolveBackend(.auto, logger: log.logger, pinned: "io_uring", probe: Self.available) == .ioUring)
        #expect(try resolveBackend(.auto, logger: log.logger, pinned: "", probe: Self.available) == .ioUring)
        #expect(try resolveBackend(.epoll, logger: log.logger, pinned: "io_uring", probe: Self.available) == .epoll)
        #expect(throws: ConfigurationError.self) {
            try resolveBackend(.auto, logger: log.logger, pinned: "kqueue", probe: Self.available)
        }
    }
}
