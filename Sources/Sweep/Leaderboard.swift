import Foundation
import Schedules

/// What a sweep ranks configurations by.
public enum Objective: String, Codable, Sendable, CaseIterable {
    /// The highest validation accuracy of any epoch (mean over repeats).
    case bestValAcc = "best_val_acc"
    /// The validation accuracy of the last epoch (mean over repeats).
    case finalValAcc = "final_val_acc"
}

/// One configuration of a sweep with its repeats aggregated.
public struct LeaderboardRow: Hashable, Sendable {
    /// 1-based position, best first.
    public var rank: Int
    /// `"sgdr-0007"` or a baseline's name.
    public var configuration: String
    public var schedule: ScheduleConfig
    /// The swept parameters' values by their space names (empty for baselines).
    public var swept: [String: Double]
    /// Status of the configuration as a whole: `done` (every repeat done), `partial` (some done,
    /// the rest still to run), `pending`/`running`/`interrupted` (none finished yet), `diverged`
    /// or `failed` (at least one repeat did; ranked last).
    public var status: String
    /// Means over the finished (`done`) repeats; nil when there is none.
    public var bestValAcc: Double?
    /// Sample standard deviation of the repeats' best val_acc; nil with fewer than two.
    public var bestValAccStd: Double?
    public var finalValAcc: Double?
    /// Median over the done repeats of the epoch with the best val_acc.
    public var bestEpoch: Int?
    /// Done repeats / all repeats.
    public var repeatsDone: Int
    public var repeats: Int
    /// Wall-clock seconds of all finished repeats.
    public var seconds: Double
    /// The objective's value (nil when no repeat is done).
    public var score: Double?
    /// The trials of this configuration, in repeat order.
    public var trials: [TrialRecord]
    /// The paired difference of this configuration's objective to the best baseline's, over the
    /// repeats both finished (nil for the best baseline itself, or when they share no repeat).
    public var vsBaseline: PairedDifference?
    /// Racing: the round (number of repeats) after which the configuration was eliminated.
    public var eliminatedAfter: Int?

    /// The objective of each `done` repeat, by repeat index.
    public func scores(_ objective: Objective) -> [Int: Double] {
        var out: [Int: Double] = [:]
        for t in trials where t.status == .done {
            if let s = t.score(objective) { out[t.spec.repeatIndex] = s }
        }
        return out
    }

    /// The status as the leaderboard prints it: `eliminated (round 2)` for a configuration a
    /// race stopped, else `status`.
    public var statusText: String {
        eliminatedAfter.map { "eliminated (round \($0))" } ?? status
    }
}

public enum Leaderboard {
    /// Aggregates trials by configuration and ranks them: configurations with a score by
    /// descending score (ties: dispatch order), then those without one yet, then diverged,
    /// then failed.
    ///
    /// `eliminated` (racing) maps configurations to the round after which they were stopped;
    /// they keep their place by score. Every row gets its paired difference to the best baseline.
    public static func rows(_ trials: [TrialRecord], objective: Objective,
                            eliminated: [String: Int] = [:]) -> [LeaderboardRow] {
        var order: [String] = []
        var groups: [String: [TrialRecord]] = [:]
        for t in trials.sorted(by: { $0.spec.number < $1.spec.number }) {
            if groups[t.spec.configuration] == nil { order.append(t.spec.configuration) }
            groups[t.spec.configuration, default: []].append(t)
        }
        var rows = order.map { row(configuration: $0, trials: groups[$0]!, objective: objective) }
        func tier(_ r: LeaderboardRow) -> Int {
            switch r.status {
            case "failed": 3
            case "diverged": 2
            default: r.score == nil ? 1 : 0
            }
        }
        let position = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        rows.sort { a, b in
            let (ta, tb) = (tier(a), tier(b))
            if ta != tb { return ta < tb }
            if let sa = a.score, let sb = b.score, sa != sb { return sa > sb }
            return position[a.configuration]! < position[b.configuration]!
        }
        for i in rows.indices {
            rows[i].rank = i + 1
            rows[i].eliminatedAfter = eliminated[rows[i].configuration]
        }
        if let base = bestBaseline(rows) {
            let baseScores = base.scores(objective)
            for i in rows.indices where rows[i].configuration != base.configuration {
                rows[i].vsBaseline = PairedDifference(rows[i].scores(objective), baseScores)
            }
        }
        return rows
    }

    /// A row that finished and ranks: it has a score and neither diverged nor failed.
    static func isRanked(_ r: LeaderboardRow) -> Bool {
        r.score != nil && r.status != "failed" && r.status != "diverged"
    }

    /// The best SGDR configuration and the best baseline of ranked rows.
    public static func bestSGDR(_ rows: [LeaderboardRow]) -> LeaderboardRow? {
        rows.first { $0.schedule.kind == .sgdr && isRanked($0) }
    }

    public static func bestBaseline(_ rows: [LeaderboardRow]) -> LeaderboardRow? {
        rows.first { $0.schedule.kind != .sgdr && isRanked($0) }
    }

    static func row(configuration: String, trials: [TrialRecord], objective: Objective) -> LeaderboardRow {
        let done = trials.filter { $0.status == .done }
        let bests = done.compactMap(\.bestValAcc)
        let finals = done.compactMap(\.finalValAcc)
        let epochs = done.compactMap(\.bestEpoch).sorted()
        let statuses = Set(trials.map(\.status))
        let status: String =
            if statuses.contains(.failed) { "failed" }
            else if statuses.contains(.diverged) { "diverged" }
            else if done.count == trials.count { "done" }
            else if !done.isEmpty { "partial" }
            else if statuses.contains(.running) { "running" }
            else if statuses.contains(.interrupted) { "interrupted" }
            else { "pending" }
        let best = mean(bests)
        let final = mean(finals)
        return LeaderboardRow(
            rank: 0, configuration: configuration, schedule: trials[0].spec.schedule,
            swept: trials[0].spec.swept, status: status,
            bestValAcc: best, bestValAccStd: sampleStd(bests), finalValAcc: final,
            bestEpoch: epochs.isEmpty ? nil : epochs[(epochs.count - 1) / 2],
            repeatsDone: done.count, repeats: trials.count,
            seconds: trials.compactMap(\.seconds).reduce(0, +),
            score: objective == .bestValAcc ? best : final,
            trials: trials.sorted { $0.spec.repeatIndex < $1.spec.repeatIndex })
    }

    static func mean(_ xs: [Double]) -> Double? {
        xs.isEmpty ? nil : xs.reduce(0, +) / Double(xs.count)
    }

    static func sampleStd(_ xs: [Double]) -> Double? {
        guard xs.count > 1, let m = mean(xs) else { return nil }
        let ss = xs.reduce(0) { $0 + ($1 - m) * ($1 - m) }
        return (ss / Double(xs.count - 1)).squareRoot()
    }
}
