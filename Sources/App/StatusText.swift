import Foundation
import Report
import Sweep

extension SweepCommands {
    /// The status report of `trials` (read with or without their epochs).
    public static func statusText(space: SearchSpace, info: SweepInfo, trials: [TrialRecord], path: String,
                                  now: Double, isAbandoned: (String) -> Bool, localHost: String = Owner.hostName()) throws -> String {
        try statusText(space: space, info: info, input: StatusInput(trials: trials, ranking: space.ranking), path: path,
                       now: now, isAbandoned: isAbandoned, localHost: localHost)
    }

    /// The status report, from every trial's brief and the few records it names (`records`
    /// reads trials by number): counts, times, what is left. Trials of the space not stored yet
    /// (a sweep whose start was interrupted) count as still to run.
    public static func statusText(space: SearchSpace, info: SweepInfo, input: StatusInput, path: String,
                                  now: Double, isAbandoned: (String) -> Bool, localHost: String = Owner.hostName()) throws -> String {
        let briefs = input.briefs, records = input.records
        var counts: [TrialStatus: Int] = [:]
        var lastFinish = info.createdAt, trainSeconds = 0.0, finishedSeconds = 0.0, finishedCount = 0
        var leftNumbers: [Int] = [], runningNumbers: [Int] = [], failedNumbers: [Int] = []
        for b in briefs {
            counts[b.status, default: 0] += 1
            if let f = b.finishedAt { lastFinish = max(lastFinish, f) }
            if let s = b.seconds { trainSeconds += s }
            if b.status.isFinished {
                if let s = b.seconds { finishedSeconds += s; finishedCount += 1 }
            } else if leftNumbers.count < 8 {
                leftNumbers.append(b.number)
            }
            if b.status == .running { runningNumbers.append(b.number) }
            if b.status == .failed && failedNumbers.count < 5 { failedNumbers.append(b.number) }
        }
        let named = try Dictionary(records(leftNumbers + runningNumbers + failedNumbers).map { ($0.spec.number, $0) },
                                   uniquingKeysWith: { a, _ in a })
        let left = leftNumbers.compactMap { named[$0] }
        // Running trials: in live processes of this host (checked), or on other hosts, which
        // cannot be checked from here (a host that stopped leaves its trial running until its
        // lease runs out, or forever without one). Those of dead processes here are left out.
        let running = runningNumbers.compactMap { named[$0] }.filter { !($0.owner.map(isAbandoned) ?? true) }
        let live = running.filter { $0.owner.flatMap(Owner.host) == localHost }
        let remote = running.filter { $0.owner.flatMap(Owner.host) != localHost }
        let failures = failedNumbers.compactMap { named[$0] }

        let total = input.total
        let unstored = total - briefs.count
        let repeats = space.repeats == 1 ? "1 repeat" : "\(space.repeats) repeats"
        var out = "Sweep \(info.name) (\(path)): \(space.strategy.rawValue), \(space.configurationCount) configurations x \(repeats) = \(total) trials"
            + (unstored > 0 ? " (\(briefs.count) stored so far)" : "") + "\n"
        out += "  " + TrialStatus.allCases.map { "\($0.rawValue) \(counts[$0] ?? 0)" }.joined(separator: ", ")
            + (unstored > 0 ? ", not stored yet \(unstored)" : "") + "\n"
        out += input.race.map(StatusWords.raceLine) ?? ""
        out += StatusWords.timeLine(createdAt: info.createdAt, lastFinish: lastFinish, now: running.isEmpty ? nil : now, trainSeconds: trainSeconds)
        let leftCount = unstored + counts.filter { !$0.key.isFinished }.values.reduce(0, +)
        if leftCount == 0 {
            out += "  nothing left to run\n"
        } else {
            let concurrency = space.concurrency ?? ProcessInfo.processInfo.activeProcessorCount
            let estimate = finishedCount == 0 ? "" :
                ", about \(formatDuration(finishedSeconds / Double(finishedCount) * Double(leftCount) / Double(concurrency))) at concurrency \(concurrency)"
            var ids = left.map { "\($0.spec.id) (\($0.status.rawValue))" }
            if ids.count < 8 && unstored > 0 { ids.append("\(unstored) not stored yet") }
            let more = leftCount > left.count + (unstored > 0 && left.count < 8 ? unstored : 0)
            out += "  still to run: \(leftCount) trial\(leftCount == 1 ? "" : "s")\(estimate): \(ids.joined(separator: ", "))\(more ? ", ..." : "")\n"
            if !live.isEmpty {
                out += "  running in live processes: " + live.map { "\($0.spec.id) (\($0.owner ?? "?"))" }.joined(separator: ", ") + "\n"
            }
            if !remote.isEmpty {
                out += "  running on other hosts (not checked from here; a stopped host's trial runs again once its lease runs out): "
                    + remote.map { "\($0.spec.id) (\($0.owner ?? "?"))" }.joined(separator: ", ") + "\n"
            }
            out += "  resume with: sgdr-search resume \(path)\n"
        }
        for f in failures { out += "  failed \(f.spec.id): \(f.error ?? "no message")\n" }
        return out
    }
}
