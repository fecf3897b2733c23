import Foundation
import Schedules
import Sweep

/// A stored sweep, read back for the results commands and the HTML report.
public struct StoredSweep: Sendable {
    public var space: SearchSpace
    public var info: SweepInfo
    /// Every trial, in number order: without epochs (each finished one with its summary), but
    /// for those `load(...plotting:)` chose.
    public var trials: [TrialRecord]

    /// Opens an existing database read-only (never creates one, nor writes it) and reads its
    /// space and trials, without their epochs. With `plotting: K`, also the epochs of the trials
    /// a report plots: the first K SGDR configurations that have epochs, and every baseline.
    public static func load(db: String, openStore: StoreOpener, plotting top: Int? = nil) throws -> StoredSweep {
        let (store, info, space) = try SweepCommands.openExisting(db, openStore)
        defer { try? store.close() }
        var trials = try store.trials(withEpochs: false)
        if let top {
            try attachPlottedEpochs(&trials, top: top, objective: space.objective, store: store)
        }
        return StoredSweep(space: space, info: info, trials: trials)
    }

    /// For a sweep made under earlier schedule rules, the one line the read commands print on
    /// stderr (and the report shows on its page); nil otherwise.
    public func earlierRulesNote(path: String) -> String? { info.earlierRulesNote(path: path) }

    /// Reads the epochs of the configurations a report plots into `trials`: in leaderboard
    /// order, every baseline and SGDR configurations until K of them have epochs. Only trials
    /// that were ever claimed can have epochs, so pending ones are never looked up.
    static func attachPlottedEpochs(_ trials: inout [TrialRecord], top: Int, objective: Objective,
                                    store: any TrialStore) throws {
        let rows = Leaderboard.rows(trials, objective: objective)
        let index = Dictionary(uniqueKeysWithValues: trials.enumerated().map { ($1.spec.id, $0) })
        var sgdrWithEpochs = 0
        var pending: [LeaderboardRow] = []
        func flush() throws {
            let ids = pending.flatMap { $0.trials.filter { $0.attempts > 0 || $0.status.isFinished }.map(\.spec.id) }
            let epochs = try store.epochs(ofTrials: ids)
            for row in pending {
                var has = false
                for t in row.trials {
                    if let e = epochs[t.spec.id], let i = index[t.spec.id] {
                        trials[i].epochs = e
                        trials[i].summary = nil
                        has = true
                    }
                }
                if has && row.schedule.kind == .sgdr { sgdrWithEpochs += 1 }
            }
            pending.removeAll()
        }
        for row in rows where row.schedule.kind != .sgdr { pending.append(row) }
        try flush()
        for row in rows where row.schedule.kind == .sgdr {
            guard sgdrWithEpochs < top else { break }
            guard row.trials.contains(where: { $0.attempts > 0 || $0.status.isFinished }) else { continue }
            pending.append(row)
            if pending.count >= max(1, top - sgdrWithEpochs) { try flush() }
        }
        try flush()
    }
}

extension SearchSpace {
    /// The dataset and training settings, as (space key, value) in display order.
    public var settingsSummary: [(key: String, value: String)] {
        // The built-in training's options by their names; a trainer's settings as trainer.*.
        canonicalEntries().filter { ($0.path.hasPrefix("training.") || $0.path.hasPrefix("trainer.")) && $0.value != "-" }
            .map { ($0.path.hasPrefix("training.") ? String($0.path.dropFirst("training.".count)) : $0.path, $0.value) }
            + [("strategy", strategy.rawValue), ("repeats", String(repeats)), ("seed", String(seed))]
    }

    /// The swept parameters by name, with whether their range is log-scaled.
    public var sweptLogScales: [(name: String, log: Bool)] {
        sweptNames.map { name in
            let log = parameters.contains { d in
                if d.parameter.rawValue == name, case .range(_, _, true, _) = d.kind { return true }
                return false
            }
            return (name, log)
        }
    }
}

extension SweepInfo {
    /// For a sweep made under earlier schedule rules, the one line the read commands print on
    /// stderr; nil otherwise.
    public func earlierRulesNote(path: String) -> String? {
        scheduleRules.earlierRuleNote.map { "Note: \(path): \($0)." }
    }
}
