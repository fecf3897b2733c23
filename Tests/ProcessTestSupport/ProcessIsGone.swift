import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Whether process `pid` is gone (or a zombie: dead, not yet reaped by whoever inherited it)
/// within 10 s, for the tests that check no trainer outlives its trial or the tool. The bound is
/// only against a hang: a live process fails the check, a quick death passes at once.
public func processIsGone(_ pid: Int32) -> Bool {
    for _ in 0..<1000 {
        if kill(pid, 0) != 0 { return true }
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
           let close = stat.lastIndex(of: ")"), stat[stat.index(close, offsetBy: 2)] == "Z" { return true }
        usleep(10_000)
    }
    return false
}
