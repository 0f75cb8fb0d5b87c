// Starting and pinning reactor threads (pthreads: the stdlib has no thread type without Foundation).
import CSockify
import Glibc

/// A started thread that can be joined.
public struct ReactorThread: Sendable {
    private let handle: pthread_t

    private final class Box: @unchecked Sendable {
        // @unchecked: written before pthread_create and read once by the new thread (happens-before via pthread_create).
        let body: @Sendable () -> Void
        let cpu: Int?
        init(body: @escaping @Sendable () -> Void, cpu: Int?) {
            self.body = body
            self.cpu = cpu
        }
    }

    /// Starts `body` on a new thread, pinned to `cpu` when given (pinning failures are ignored: the thread still runs).
    /// The corresponding C calls are `pthread_create(3)` and `pthread_setaffinity_np(3)`.
    public static func start(pinnedTo cpu: Int?, _ body: @escaping @Sendable () -> Void) throws(Errno) -> ReactorThread {
        let box = Unmanaged.passRetained(Box(body: body, cpu: cpu))
        var handle = pthread_t()
        let rc = pthread_create(&handle, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            if let cpu = box.cpu {
                var set = cpu_set_t()
                CSockify_CPU_ZERO(&set)
                CSockify_CPU_SET(CInt(cpu), &set)
                _ = CSockify_pthread_setaffinity_np(pthread_self(), MemoryLayout<cpu_set_t>.size, &set)
            }
            box.body()
            return nil
        }, box.toOpaque())
        guard rc == 0 else {
            box.release()
            throw Errno(rawValue: rc)
        }
        return ReactorThread(handle: handle)
    }

    /// Waits for the thread to finish. The corresponding C call is `pthread_join(3)`.
    public func join() {
        _ = pthread_join(handle, nil)
    }

    /// Online CPUs (`sysconf(_SC_NPROCESSORS_ONLN)`).
    public static var onlineProcessorCount: Int { max(1, Int(sysconf(CInt(_SC_NPROCESSORS_ONLN)))) }
}

extension ReactorThread {
    /// Sleeps the calling thread (for coarse lifecycle polling, never on a reactor thread).
    /// The corresponding C call is `nanosleep(2)`.
    public static func sleep(milliseconds: Int) {
        var request = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
        var remaining = timespec()
        while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
    }
}
