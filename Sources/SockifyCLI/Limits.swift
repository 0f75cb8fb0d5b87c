// Descriptor limit: every proxied connection costs two descriptors, so the soft limit is raised at start-up.
import Glibc

enum Limits {
    /// Raises the soft RLIMIT_NOFILE to the hard limit. The hard limit is the administrator's (systemd
    /// `LimitNOFILE=`, `ulimit -Hn`, `prlimit`) and is never raised, even when privileged.
    /// Returns the soft limit in force afterwards.
    @discardableResult
    static func raiseDescriptorLimit() -> UInt64 {
        var limit = rlimit()
        guard getrlimit(CInt(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(CInt(RLIMIT_NOFILE.rawValue), &limit)
        _ = getrlimit(CInt(RLIMIT_NOFILE.rawValue), &limit)
        return UInt64(limit.rlim_cur)
    }
}
