// What `--record` and `--traffic` see of one WebSocket session: a connection holds a tap only when one of them is on,
// so the relay pays one nil check per event otherwise.
import SockifyReactor

/// The observers of one session's payloads: websockify's recording file and traffic trace.
final class SessionTap {
    private let recorder: SessionRecorder?
    private let trace: TrafficTrace?
    private let startedAt: Int64
    private unowned let worker: Worker

    /// Opens the recording (logging `opening record file: …` as websockify does) and prints the traffic legend.
    /// - Returns: nil when there is nothing to observe.
    static func open(worker: Worker, handlerID: Int, stamp: String) -> SessionTap? {
        let config = worker.configuration
        guard config.recordPath != nil || config.traffic else { return nil }
        var recorder: SessionRecorder?
        if let base = config.recordPath {
            let path = "\(base).\(handlerID)"
            worker.log(stamp + "opening record file: \(path)")
            do {
                recorder = try SessionRecorder(path: path)
            } catch {
                // websockify's open() would raise and end the connection; the session itself is fine, so only the
                // recording is lost, and the log says so.
                worker.log(stamp + "cannot open record file \(path): \(error)")
            }
        }
        let trace = config.traffic ? TrafficTrace() : nil
        trace?.writeLegend()
        return SessionTap(worker: worker, recorder: recorder, trace: trace)
    }

    private init(worker: Worker, recorder: SessionRecorder?, trace: TrafficTrace?) {
        self.worker = worker
        self.recorder = recorder
        self.trace = trace
        startedAt = MonotonicClock.milliseconds()
    }

    private func record(toClient: Bool, _ bytes: UnsafeRawBufferPointer) {
        guard let recorder else { return }
        let elapsed = MonotonicClock.milliseconds() - startedAt
        if let failure = recorder.record(toClient: toClient, bytes: bytes, elapsedMilliseconds: elapsed) {
            worker.log(failure)
        }
    }

    /// Bytes read from the target (they go to the client as one frame).
    func targetReceived(_ bytes: UnsafeRawBufferPointer) {
        trace?.write(.targetReceive)
        record(toClient: true, bytes)
    }

    /// One data frame's payload decoded from the client.
    func clientFrame(_ bytes: UnsafeRawBufferPointer) {
        record(toClient: false, bytes)
    }

    /// A client read: `frames` whole data frames were decoded from it.
    func clientRead(frames: Int) {
        trace?.write(frames > 0 ? .clientReceive : .clientReceivePartial)
    }

    /// A write to the client, complete or not.
    func clientSent(complete: Bool) {
        trace?.write(complete ? .clientSend : .clientSendPartial)
    }

    /// A write to the target, complete or not.
    func targetSent(complete: Bool) {
        trace?.write(complete ? .targetSend : .targetSendPartial)
    }

    /// The session ended: the recording gets its footer.
    func finish() {
        if let recorder, let failure = recorder.finish() { worker.log(failure) }
    }
}
