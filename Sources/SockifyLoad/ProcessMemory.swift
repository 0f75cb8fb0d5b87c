// Memory of a process tree from /proc: PSS summed over a process and all its descendants, so that a forking
// proxy (websockify: one process per connection) and a threaded one are measured the same way.
import Foundation

/// PSS (proportional set size) of a process tree.
///
/// PSS divides each shared page by the number of processes mapping it, so summing it over a tree counts the
/// forked children's shared (copy-on-write) pages once, not once per child as RSS would.
enum ProcessMemory {
    struct Sample: Equatable {
        /// PSS of the tree in bytes.
        var bytes: Int
        /// Processes in the tree.
        var processCount: Int
    }

    /// Samples `pid` and its descendants (children found through /proc/<n>/stat's ppid field).
    /// - Returns: `nil` if `pid` does not exist or its smaps_rollup is unreadable.
    static func sample(tree pid: Int32) -> Sample? {
        var childrenByParent: [Int32: [Int32]] = [:]
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let child = Int32(entry), let parent = parentPID(of: child) else { continue }
            childrenByParent[parent, default: []].append(child)
        }
        guard let rootPSS = pss(of: pid) else { return nil }
        var total = rootPSS
        var count = 1
        var queue = childrenByParent[pid] ?? []
        var visited: Set<Int32> = [pid]
        // Bounded by the number of processes on the machine (each is visited once).
        while let next = queue.popLast() {
            guard visited.insert(next).inserted else { continue }
            if let value = pss(of: next) {
                total += value
                count += 1
            }
            queue += childrenByParent[next] ?? []
        }
        return Sample(bytes: total, processCount: count)
    }

    /// The ppid field of /proc/<pid>/stat (field 4; the command name in field 2 may contain spaces and ')').
    static func parentPID(of pid: Int32) -> Int32? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) : nil
    }

    /// The `Pss:` line of /proc/<pid>/smaps_rollup, in bytes.
    static func pss(of pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("Pss:") {
            let digits = line.dropFirst(4).filter { $0.isNumber }
            return Int(digits).map { $0 * 1024 }
        }
        return nil
    }
}
