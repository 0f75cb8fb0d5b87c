// Samples a process tree's resident memory on a background thread and keeps the peak.
import Foundation
import Glibc

/// Samples `process.residentBytes()` every 20 ms until `stop()` (at most 3000 samples, one minute).
final class PeakResidentSampler: Sendable {
    private let peak = Observed(0)
    private let stopped = Observed(false)

    init(_ process: SpawnedProcess) {
        Thread { [peak, stopped] in
            for _ in 0..<3000 where !stopped.value {
                let bytes = process.residentBytes()
                peak.update { $0 = max($0, bytes) }
                usleep(20_000)  // sampling interval of a measurement, not synchronisation
            }
        }.start()
    }

    /// Stops sampling and returns the peak in bytes.
    func stop() -> Int {
        stopped.update { $0 = true }
        return peak.value
    }
}
