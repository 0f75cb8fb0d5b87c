// `--traffic`: websockify's per-frame trace, single tokens on standard output (`websockifyserver.py:96-100`,
// `websocketproxy.py:27-37,127,239-284`).
import Synchronization
import SockifyReactor

/// Writes websockify's traffic tokens to standard output, unbuffered, from any thread.
///
/// websockify writes each token with `sys.stdout.write` followed by `flush()`, so tokens appear as they happen and
/// are never mixed into the log (which goes to stderr). Several reactor threads trace at once here; each token and
/// the legend go out in one `write(2)` under a process-wide lock, so a legend is never split by another
/// connection's tokens. Write errors (standard output closed, a full disk, a closed pipe) are ignored: tracing must
/// not disturb the relay.
public struct TrafficTrace: Sendable {
    /// One event, spelled as websockify prints it.
    public enum Token: String, Sendable, CaseIterable {
        /// `{`: bytes received from the target.
        case targetReceive = "{"
        /// `<`: a frame sent to the client completely.
        case clientSend = "<"
        /// `<.`: a send to the client would block; the rest is pending.
        case clientSendPartial = "<."
        /// `}`: a whole frame received from the client.
        case clientReceive = "}"
        /// `}.`: bytes received from the client without completing a frame.
        case clientReceivePartial = "}."
        /// `>`: bytes sent to the target completely.
        case targetSend = ">"
        /// `.>`: a partial send to the target. websockify's legend says `>.` but its code prints `.>`; we print
        /// what the code prints.
        case targetSendPartial = ".>"
    }

    /// The block websockify prints at the start of every proxied WebSocket connection, verbatim (it starts and ends
    /// with a line feed, and has a blank line between the receive and send groups).
    public static let legend = """

        Traffic Legend:
            }  - Client receive
            }. - Client receive partial
            {  - Target receive

            >  - Target send
            >. - Target send partial
            <  - Client send
            <. - Client send partial

        """

    /// The descriptor tokens go to: standard output (1) in the CLI.
    public let fd: CInt

    private static let lock = Mutex<Void>(())

    public init(fd: CInt = 1) { self.fd = fd }

    /// Writes one token.
    public func write(_ token: Token) {
        emit(token.rawValue)
    }

    /// Writes the legend, as websockify does when a WebSocket connection starts proxying.
    public func writeLegend() {
        emit(Self.legend)
    }

    private func emit(_ text: String) {
        var text = text
        Self.lock.withLock { _ in
            text.withUTF8 { bytes in
                try? FileWriter.writeAll(fd, UnsafeRawBufferPointer(bytes))
            }
        }
    }
}
