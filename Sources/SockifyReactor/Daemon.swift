// `-D/--daemon`: detach from the terminal exactly as websockify's `WebSockifyServer.daemonize` does
// (websockifyserver.py:499-536).
import CSockify
import Glibc

/// Turning the process into a daemon.
public enum Daemon {
    /// Detaches the process, in websockify's order:
    /// 1. `umask(0)`, `chdir(workingDirectory)` (websockify passes the `--web` directory, or `/`),
    ///    `setgid(getgid())` and `setuid(getuid())` (giving up set-user/group-ID elevation);
    /// 2. `fork`: the original process exits 0 at once (`_exit`, no clean-up: the child owns everything now);
    /// 3. `setsid`: a new session, no controlling terminal;
    /// 4. `fork` again: the session leader exits 0, so the daemon can never reacquire a terminal;
    /// 5. every descriptor except `descriptors` is closed (the listening sockets and the log file must be kept);
    /// 6. standard input, output and error that are not kept are pointed at `/dev/null`.
    ///
    /// Unlike websockify, `SIGTERM`/`SIGINT` are not set to `SIG_IGN` here: websockify installs its handlers right
    /// after, and Sockify's signal thread `sigwait`s for them instead, which never sees a signal whose disposition is
    /// "ignore" (the kernel discards it when it is generated).
    ///
    /// - Important: Call this before any thread is started. `fork` copies only the calling thread: reactor or
    ///   signal threads, and any lock they held, would be lost in the daemon.
    /// - Parameters:
    ///   - descriptors: descriptors to keep open across the daemonization (negative values are ignored).
    ///   - workingDirectory: the daemon's working directory.
    /// - Throws: the failing call's error. A failure before the first `fork` leaves the process as it was (apart
    ///   from the umask and working directory); after it, only the daemon is left to report it.
    public static func daemonize(keeping descriptors: [CInt], workingDirectory: String) throws(Errno) {
        umask(0)
        guard chdir(workingDirectory) == 0 else { throw Errno.current }
        guard setgid(getgid()) == 0, setuid(getuid()) == 0 else { throw Errno.current }

        try forkAndLetParentExit()
        guard setsid() != -1 else { throw Errno.current }
        try forkAndLetParentExit()

        let keep = Set(descriptors.filter { $0 >= 0 })
        closeDescriptors(except: keep)
        try redirectStandardDescriptorsToDevNull(except: keep)
    }

    /// `fork(2)`; the parent leaves with status 0 through `_exit`, so no atexit handler or stdio buffer runs twice.
    private static func forkAndLetParentExit() throws(Errno) {
        let pid = fork()
        guard pid != -1 else { throw Errno.current }
        if pid > 0 { _exit(0) }
    }

    /// Closes every open descriptor not in `keep`. The corresponding C call is `close_range(2)` over each gap
    /// between kept descriptors; kernels before 5.9 lack it, and then each descriptor up to the limit is closed.
    static func closeDescriptors(except keep: Set<CInt>) {
        var first: CInt = 0
        for kept in keep.sorted() {
            if kept > first { closeRange(first, kept - 1) }
            first = kept + 1
        }
        closeRange(first, CInt.max)
    }

    private static func closeRange(_ first: CInt, _ last: CInt) {
        if CSockify_close_range(UInt32(first), UInt32(last)) == 0 { return }
        // ENOSYS (old kernel): websockify's way, one close per possible descriptor up to the hard limit.
        var limit = rlimit()
        _ = getrlimit(CInt(RLIMIT_NOFILE.rawValue), &limit)
        // rlim_t.max is RLIM_INFINITY, a macro the importer cannot convert.
        let ceiling = limit.rlim_max == rlim_t.max ? 255 : CInt(clamping: limit.rlim_max) - 1
        var fd = first
        while fd <= min(last, ceiling) {
            close(fd)
            fd += 1
        }
    }

    /// Points descriptors 0, 1 and 2 (those not kept) at `/dev/null`.
    private static func redirectStandardDescriptorsToDevNull(except keep: Set<CInt>) throws(Errno) {
        let null = open("/dev/null", O_RDWR)
        guard null != -1 else { throw Errno.current }
        for fd: CInt in 0...2 where fd != null && !keep.contains(fd) {
            guard dup2(null, fd) != -1 else { throw Errno.current }
        }
        if null > 2 { close(null) }
    }
}
