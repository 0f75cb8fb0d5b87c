// ChildProcess: exit statuses, PATH lookup, environment additions, and the signal set-up a wrapped command needs.
import Glibc
import SockifyReactor
import Testing

@Suite("ChildProcess")
struct ChildProcessTests {
    @Test("an exit status is reported as such, and as Python's returncode")
    func exitStatus() throws {
        let child = try ChildProcess.spawn(["/bin/sh", "-c", "exit 3"])
        #expect(child.wait() == .exited(3))
        #expect(child.exit?.returnCode == 3)
    }

    @Test("a program without a slash is looked up in PATH")
    func pathLookup() throws {
        let child = try ChildProcess.spawn(["sh", "-c", "exit 5"])
        #expect(child.wait() == .exited(5))
    }

    @Test("environment additions reach the child; the rest of the environment is inherited")
    func environmentAdded() throws {
        let script = #"test "$SOCKIFY_CHILD_TEST" = "a b=c" && test -n "$PATH" && exit 7; exit 1"#
        let child = try ChildProcess.spawn(["/bin/sh", "-c", script], environment: ["SOCKIFY_CHILD_TEST": "a b=c"])
        #expect(child.wait() == .exited(7))
    }

    @Test("an addition replaces an inherited variable of the same name")
    func environmentReplaced() throws {
        // HOME is set in every test environment; the child must see only the replacement.
        let script = #"test "$HOME" = "/replaced" && exit 4; exit 1"#
        let child = try ChildProcess.spawn(["/bin/sh", "-c", script], environment: ["HOME": "/replaced"])
        #expect(child.wait() == .exited(4))
    }

    @Test("SIGPIPE is back at its default in the child although this process ignores it")
    func sigpipeDefault() throws {
        signal(SIGPIPE, SIG_IGN)  // as sockify does; an ignored disposition would survive exec
        let child = try ChildProcess.spawn(["/bin/sh", "-c", "kill -PIPE $$; exit 0"])
        #expect(child.wait() == .signaled(SIGPIPE))
        #expect(child.exit?.returnCode == -Int(SIGPIPE))
    }

    @Test("the child's signal mask is empty although the spawning thread blocks SIGTERM")
    func signalMaskCleared() throws {
        var blocked = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGTERM)
        var previous = sigset_t()
        #expect(pthread_sigmask(SIG_BLOCK, &blocked, &previous) == 0)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        let child = try ChildProcess.spawn(["/bin/sh", "-c", "kill -TERM $$; exit 0"])
        #expect(child.wait() == .signaled(SIGTERM))
    }

    @Test("poll() does not block while the child runs; terminate() ends it with SIGTERM")
    func pollAndTerminate() throws {
        let child = try ChildProcess.spawn(["/bin/sleep", "30"])
        #expect(child.poll() == nil)
        #expect(child.exit == nil)
        #expect(child.terminate() == .signaled(SIGTERM))
        #expect(child.poll() == .signaled(SIGTERM))  // reaped once, remembered after
    }

    @Test("poll() reports an exit once the child has ended")
    func pollSeesExit() throws {
        let child = try ChildProcess.spawn(["/bin/sh", "-c", "exit 9"])
        var result: ChildExit?
        for _ in 0..<500 where result == nil {  // bounded: 500 × 10 ms
            result = child.poll()
            if result == nil { ReactorThread.sleep(milliseconds: 10) }
        }
        #expect(result == .exited(9))
    }

    @Test("terminate() falls back to SIGKILL when SIGTERM is ignored")
    func terminateKills() throws {
        let child = try ChildProcess.spawn(["/bin/sh", "-c", #"trap "" TERM; exec sleep 30"#])
        // Wait (bounded) until the trap is set and sleep runs, so the SIGTERM is the one being ignored.
        var ready = false
        for _ in 0..<500 where !ready {
            ready = processName(child.pid) == "sleep"
            if !ready { ReactorThread.sleep(milliseconds: 10) }
        }
        #expect(ready)
        #expect(child.terminate(graceMilliseconds: 200) == .signaled(SIGKILL))
    }

    @Test("a program that does not exist fails to spawn with ENOENT")
    func missingProgram() {
        #expect(throws: Errno(rawValue: ENOENT)) {
            _ = try ChildProcess.spawn(["sockify-no-such-program-\(getpid())"])
        }
    }

    @Test("an empty command line is refused with EINVAL")
    func emptyCommand() {
        #expect(throws: Errno(rawValue: EINVAL)) { _ = try ChildProcess.spawn([]) }
    }

    @Test("ChildExit renders both kinds of ending")
    func descriptions() {
        #expect(ChildExit.exited(2).description == "exit status 2")
        #expect(ChildExit.signaled(15).description == "signal 15")
        #expect(ChildExit.signaled(15).returnCode == -15)
    }
}

/// `/proc/<pid>/comm` without the newline, or "" when the process is gone.
private func processName(_ pid: pid_t) -> String {
    let fd = open("/proc/\(pid)/comm", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 64)
    let count = read(fd, &buffer, buffer.count)
    guard count > 0 else { return "" }
    return String(decoding: buffer[..<count], as: UTF8.self).trimmingSuffix("\n")
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
