// Typed syscall errors and the retry policy every wrapper in this module follows (docs/architecture.md).
import Glibc

/// A Linux error number. `EINTR` never escapes a wrapper; `EAGAIN` is a value (`IOStatus.wouldBlock`), not an error.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: CInt

    public init(rawValue: CInt) { self.rawValue = rawValue }

    /// The calling thread's `errno`. Read it right after the failing call, with nothing in between.
    public static var current: Errno { Errno(rawValue: errno) }

    /// websockify-style text: `[Errno 111] Connection refused`.
    public var description: String { "[Errno \(rawValue)] \(String(cString: strerror(rawValue)))" }

    public static let wouldBlock = Errno(rawValue: EAGAIN)
    public static let interrupted = Errno(rawValue: EINTR)
    public static let inProgress = Errno(rawValue: EINPROGRESS)
    public static let connectionRefused = Errno(rawValue: ECONNREFUSED)
    public static let connectionReset = Errno(rawValue: ECONNRESET)
    public static let brokenPipe = Errno(rawValue: EPIPE)
    public static let addressInUse = Errno(rawValue: EADDRINUSE)
    public static let noSuchFile = Errno(rawValue: ENOENT)
}

/// The outcome of one non-blocking read or write.
public enum IOStatus: Equatable, Sendable {
    case transferred(Int)
    case wouldBlock
    case endOfStream
}

/// Runs `body` until it does not fail with `EINTR`. `body` returns the raw syscall result (−1 on failure).
@inline(__always)
func retryingOnInterrupt<R: BinaryInteger>(_ body: () -> R) -> R {
    while true {
        let result = body()
        if result != -1 || errno != EINTR { return result }
    }
}

/// Traps on errnos that can only mean a bug in Sockify (a closed or foreign fd, a bad pointer), as NIO does.
@inline(__always)
func preconditionIsNotProgrammerError(_ err: CInt, _ function: StaticString) {
    precondition(err != EBADF && err != EFAULT && err != ENOTSOCK, "\(function) failed with errno \(err): a Sockify bug")
}
