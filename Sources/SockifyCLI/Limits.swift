// Descriptor limit: every proxied connection costs two descriptors, so the soft limit is raised at start-up.
import Glibc

enum Limits {
    /// Raises RLIMIT_NOFILE as far as allowed: to `fs.nr_open`-sized 1 Mi when privileged, else soft = hard.
    /// Returns the soft limit in force afterwards.
    @discardableResult
    static func raiseDescriptorLimit() -> UInt64 {
        var limit = rlimit()
        guard getrlimit(CInt(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        let wanted: rlim_t = 1 << 20
        if limit.rlim_max < wanted {
            var raised = rlimit(rlim_cur: wanted, rlim_max: wanted)
            if setrlimit(CInt(RLIMIT_NOFILE.rawValue), &raised) == 0 { return UInt64(wanted) }
        }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(CInt(RLIMIT_NOFILE.rawValue), &limit)
        _ = getrlimit(CInt(RLIMIT_NOFILE.rawValue), &limit)
        return UInt64(limit.rlim_cur)
    }
}
