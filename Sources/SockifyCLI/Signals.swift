// SIGINT/SIGTERM → graceful shutdown; SIGHUP → logged (token files reload by themselves); SIGPIPE ignored (sends
// also use MSG_NOSIGNAL).
import Glibc
import Logging
import SockifyProxy
import SockifyReactor

enum Signals {
    /// Blocks SIGINT, SIGTERM and SIGHUP in every thread (call before any thread starts), ignores SIGPIPE, and
    /// starts a thread that waits for them: SIGINT/SIGTERM ask `server` to shut down; SIGHUP, which would kill the
    /// process by default (websockify dies on it), is logged and otherwise ignored because token files are
    /// re-read whenever they change.
    static func install(for server: ProxyServer, logger: Logger) throws(Errno) {
        signal(SIGPIPE, SIG_IGN)
        var set = sigset_t()
        sigemptyset(&set)
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, signal) }
        let rc = pthread_sigmask(SIG_BLOCK, &set, nil)
        guard rc == 0 else { throw Errno(rawValue: rc) }
        _ = try ReactorThread.start(pinnedTo: nil) { [server, logger] in
            var waitSet = sigset_t()
            sigemptyset(&waitSet)
            for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&waitSet, signal) }
            while true {
                var received: CInt = 0
                guard sigwait(&waitSet, &received) == 0 else { continue }
                if received == SIGHUP {
                    logger.info("SIGHUP: nothing to reload (token files are re-read when they change)")
                    continue
                }
                server.shutdown()
                return
            }
        }
    }
}
