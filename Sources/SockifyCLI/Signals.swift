// SIGINT/SIGTERM → graceful shutdown; SIGPIPE ignored (sends also use MSG_NOSIGNAL).
import Glibc
import SockifyProxy
import SockifyReactor

enum Signals {
    /// Blocks SIGINT and SIGTERM in every thread (call before any thread starts), ignores SIGPIPE, and starts a
    /// thread that waits for either signal and asks `server` to shut down.
    static func install(for server: ProxyServer) throws(Errno) {
        signal(SIGPIPE, SIG_IGN)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        let rc = pthread_sigmask(SIG_BLOCK, &set, nil)
        guard rc == 0 else { throw Errno(rawValue: rc) }
        _ = try ReactorThread.start(pinnedTo: nil) { [server] in
            var waitSet = sigset_t()
            sigemptyset(&waitSet)
            sigaddset(&waitSet, SIGINT)
            sigaddset(&waitSet, SIGTERM)
            var received: CInt = 0
            while sigwait(&waitSet, &received) != 0 {}
            server.shutdown()
        }
    }
}
