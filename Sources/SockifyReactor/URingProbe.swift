// Can this process use io_uring the way URingBackend needs it? A functional probe with one-line answers for
// `--io-backend auto`, which falls back to epoll when the answer is no.
import CSockify
import Glibc

/// The outcome of `URing.probe()`.
public enum URingAvailability: Equatable, Sendable, CustomStringConvertible {
    /// A ring could be created with these flags, and a multishot receive into a registered buffer ring worked.
    case available(URing.SetupFlags)
    /// io_uring cannot be used here, and why.
    case unavailable(URingUnavailableReason)

    public var isAvailable: Bool { if case .available = self { true } else { false } }

    /// One line for the start-up log, e.g. `io_uring available (SINGLE_ISSUER|DEFER_TASKRUN|SUBMIT_ALL)` or
    /// `io_uring unavailable: disabled by sysctl kernel.io_uring_disabled=2`.
    public var description: String {
        switch self {
        case .available(let flags): "io_uring available (\(flags))"
        case .unavailable(let reason): "io_uring unavailable: \(reason)"
        }
    }
}

/// Why io_uring cannot be used.
public enum URingUnavailableReason: Error, Equatable, Sendable, CustomStringConvertible {
    /// `kernel.io_uring_disabled` = 2: io_uring is off for every process (Linux 6.6+).
    case disabledBySysctl
    /// `kernel.io_uring_disabled` = 1 and this process is not in `kernel.io_uring_group` (`gid`, −1 when none).
    case restrictedToGroup(gid: Int)
    /// `EPERM` with io_uring enabled by sysctl: a seccomp filter (container runtimes block io_uring by default) or
    /// an LSM policy refused `io_uring_setup`.
    case notPermitted
    /// `ENOSYS`: the kernel was built without io_uring, or a seccomp filter answers ENOSYS.
    case notImplemented
    /// `ENOMEM`: the ring's memory could not be allocated or locked (`RLIMIT_MEMLOCK` on kernels before 5.12,
    /// the memory cgroup after).
    case outOfMemory
    /// A feature this backend needs is missing: the kernel predates it (`EINVAL` at setup or from the operation).
    case kernelTooOld(feature: String, Errno)
    /// Any other failure.
    case failed(step: String, Errno)

    public var description: String {
        switch self {
        case .disabledBySysctl: "disabled by sysctl kernel.io_uring_disabled=2"
        case .restrictedToGroup(let gid):
            "kernel.io_uring_disabled=1 restricts it to kernel.io_uring_group=\(gid), and this process is not in it"
        case .notPermitted: "io_uring_setup refused with EPERM (seccomp filter or security policy)"
        case .notImplemented: "io_uring_setup returned ENOSYS (kernel without io_uring, or blocked by seccomp)"
        case .outOfMemory: "io_uring_setup returned ENOMEM (locked-memory limit or memory cgroup)"
        case .kernelTooOld(let feature, let errno): "kernel lacks \(feature) \(errno)"
        case .failed(let step, let errno): "\(step) failed \(errno)"
        }
    }

    /// Explains an `io_uring_setup` error. `disabledSysctl` is the value of `/proc/sys/kernel/io_uring_disabled`
    /// (nil when the file does not exist, i.e. before Linux 6.6); it only matters for `EPERM`.
    public static func classify(setupError: Errno, disabledSysctl: Int?, group: Int?) -> URingUnavailableReason {
        switch setupError.rawValue {
        case EPERM:
            switch disabledSysctl {
            case 2: return .disabledBySysctl
            case 1: return .restrictedToGroup(gid: group ?? -1)
            default: return .notPermitted
            }
        case ENOSYS: return .notImplemented
        case ENOMEM: return .outOfMemory
        case EINVAL: return .kernelTooOld(feature: "io_uring_setup with CQSIZE|CLAMP (Linux 5.6)", setupError)
        default: return .failed(step: "io_uring_setup", setupError)
        }
    }
}

extension URing {
    /// Whether io_uring is usable here for the URing backend, and if not, why.
    ///
    /// Creates a small ring with the default tiers, checks that the opcodes the backend uses are supported,
    /// registers a two-buffer ring, and runs one multishot receive on a socketpair, which needs Linux 6.0; every
    /// other feature used (multishot accept, buffer rings, cancel by fd) is 5.19 or older. The probe is
    /// self-contained and costs well under a millisecond.
    public static func probe() -> URingAvailability {
        let ring: URing
        do {
            ring = try URing(entries: 8)
        } catch {
            let disabled = readSysctl("/proc/sys/kernel/io_uring_disabled")
            let group = readSysctl("/proc/sys/kernel/io_uring_group")
            return .unavailable(.classify(setupError: error, disabledSysctl: disabled, group: group))
        }
        if let missing = ring.firstUnsupportedOperation() {
            return .unavailable(.kernelTooOld(feature: missing, Errno(rawValue: EINVAL)))
        }
        do {
            try ring.probeMultishotReceive()
        } catch let reason {
            return .unavailable(reason)
        }
        return .available(ring.setupFlags)
    }

    /// The name of the first opcode the backend needs that the kernel does not list, if any.
    private func firstUnsupportedOperation() -> String? {
        guard let probe = io_uring_get_probe_ring(ring) else { return "IORING_REGISTER_PROBE (Linux 5.6)" }
        defer { io_uring_free_probe(probe) }
        let needed: [(io_uring_op, String)] = [
            (IORING_OP_ACCEPT, "IORING_OP_ACCEPT"), (IORING_OP_RECV, "IORING_OP_RECV"),
            (IORING_OP_SEND, "IORING_OP_SEND"), (IORING_OP_SENDMSG, "IORING_OP_SENDMSG"),
            (IORING_OP_CONNECT, "IORING_OP_CONNECT"), (IORING_OP_CLOSE, "IORING_OP_CLOSE"),
            (IORING_OP_ASYNC_CANCEL, "IORING_OP_ASYNC_CANCEL"),
        ]
        for (op, name) in needed where io_uring_opcode_supported(probe, CInt(op.rawValue)) == 0 {
            return name
        }
        return nil
    }

    /// Registers a tiny buffer ring and receives one byte with a multishot receive on a socketpair.
    private func probeMultishotReceive() throws(URingUnavailableReason) {
        var buffers: URingBufferRing
        do {
            buffers = try URingBufferRing(ring: self, groupID: 0, count: 2, size: 64, headroom: 0)
        } catch {
            if error.rawValue == EINVAL { throw .kernelTooOld(feature: "provided buffer rings (Linux 5.19)", error) }
            throw .failed(step: "io_uring_register_buf_ring", error)
        }
        var pair: [CInt] = [-1, -1]
        guard socketpair(AF_UNIX, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw .failed(step: "socketpair", Errno.current)
        }
        defer {
            Glibc.close(pair[0])
            Glibc.close(pair[1])
        }
        let tag = URingUserData(operation: .receive, generation: 0, slot: 0)
        var byte: UInt8 = 0x5A
        guard Glibc.write(pair[1], &byte, 1) == 1 else { throw .failed(step: "write", Errno.current) }
        var outcome: URingCompletion?
        do {
            try prepareMultishotReceive(fd: pair[0], bufferGroup: 0, userData: tag)
            // Bounded: the byte is already queued, so the completion is immediate; the timeout only guards
            // against a kernel that never answers.
            for _ in 0..<4 where outcome == nil {
                try submitAndWait(minimumCompletions: 1, timeout: .milliseconds(250))
                drainCompletions { if $0.userData == tag && outcome == nil { outcome = $0 } }
            }
            try prepareCancel(fd: pair[0], userData: URingUserData(operation: .cancel, generation: 0, slot: 0))
            try submitAndGetEvents()
        } catch {
            throw .failed(step: "multishot receive", error)
        }
        guard let outcome else { throw .failed(step: "multishot receive", Errno(rawValue: ETIMEDOUT)) }
        switch outcome.receiveOutcome {
        case .data(let id, 1) where outcome.hasMore:
            _ = buffers.claim(id, count: 1)
            buffers.recycle(id)
        case .failed(let error) where error.rawValue == EINVAL:
            throw .kernelTooOld(feature: "multishot receive (Linux 6.0)", error)
        case .failed(let error):
            throw .failed(step: "multishot receive", error)
        default:
            throw .kernelTooOld(feature: "multishot receive (Linux 6.0)", Errno(rawValue: EINVAL))
        }
    }

    /// An integer sysctl, or nil when the file is missing or unreadable.
    private static func readSysctl(_ path: String) -> Int? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd != -1 else { return nil }
        defer { Glibc.close(fd) }
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[0..<n], as: UTF8.self)
        return text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) }
    }
}

