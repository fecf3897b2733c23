import Foundation
import Report
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

    /// What `report` reads: for a sweep without racing, its space and info (no trial) and the
    /// `ReportSummary` of its `LeaderboardTable`: the page's rows read in full, the plotted ones
    /// with their epochs, never every record (a million trials in a few hundred MB). A race is
    /// read as `load(...plotting:)` reads it (a race is never a million trials), with no summary.
    public static func loadForReport(db: String, openStore: StoreOpener, plotting top: Int) throws
        -> (sweep: StoredSweep, summary: ReportSummary?) {
        let (store, info, space) = try SweepCommands.openExisting(db, openStore)
        defer { try? store.close() }
        if space.racing != nil {
            var trials = try store.trials(withEpochs: false)
            try attachPlottedEpochs(&trials, top: top, objective: space.objective, store: store)
            return (StoredSweep(space: space, info: info, trials: trials), nil)
        }
        let table = try space.ranking.leaderboardTable(store)
        let summary = try reportSummary(table, top: top, store: store)
        return (StoredSweep(space: space, info: info, trials: []), summary)
    }

    /// The rows a page shows (see `ReportSummary.rows`), in rank order, and its figures.
    static func reportSummary(_ table: LeaderboardTable, top: Int, store: any TrialStore) throws -> ReportSummary {
        var ranks = Set(0..<min(ReportSummary.maxTableRows, table.count))
        let baselineRanks = (0..<table.count).filter { table.kind(at: $0) != .sgdr }
        ranks.formUnion(baselineRanks)
        let best = table.bestRanks
        ranks.formUnion([best.sgdr, best.baseline].compactMap { $0 })
        let measured = table.highestPairedDifferences(limit: ReportSummary.maxComparisonRows)
        ranks.formUnion(measured.ranks)

        // As `attachPlottedEpochs`: every baseline, then SGDR rows in rank order until `top` of
        // them have epochs (a batch at a time); the first `top` SGDR rows without epochs are kept
        // too (the page names them as not plotted).
        var plotted: [Int: LeaderboardRow] = [:]
        func withEpochs(_ batch: [Int]) throws -> [(rank: Int, row: LeaderboardRow, hasEpochs: Bool)] {
            let rows = try batch.flatMap { try table.rows($0..<($0 + 1), store: store) }
            let ids = rows.flatMap { $0.trials.filter { $0.attempts > 0 || $0.status.isFinished }.map(\.spec.id) }
            let epochs = try store.epochs(ofTrials: ids)
            return zip(batch, rows).map { rank, row in
                var has = false
                let records = row.trials.map { t -> TrialRecord in
                    guard let e = epochs[t.spec.id] else { return t }
                    var t = t
                    t.epochs = e
                    t.summary = nil
                    has = true
                    return t
                }
                var row = row
                row.trials = TrialList(records)
                return (rank, row, has)
            }
        }
        for r in try withEpochs(baselineRanks) { plotted[r.rank] = r.row }
        var sgdrWithEpochs = 0, sgdrWithout = 0, rank = 0
        while rank < table.count && sgdrWithEpochs < top {
            var batch: [Int] = []
            while rank < table.count && batch.count < max(1, top - sgdrWithEpochs) {
                if table.kind(at: rank) == .sgdr {
                    if table.hasClaimedTrial(at: rank) {
                        batch.append(rank)
                    } else if sgdrWithout < top {
                        ranks.insert(rank)
                        sgdrWithout += 1
                    }
                }
                rank += 1
            }
            for r in try withEpochs(batch) {
                if r.hasEpochs {
                    plotted[r.rank] = r.row
                    sgdrWithEpochs += 1
                } else if sgdrWithout < top {
                    ranks.insert(r.rank)
                    sgdrWithout += 1
                }
            }
        }

        // The other rows, read without epochs, a run of consecutive ranks at a time.
        let rest = ranks.subtracting(plotted.keys).sorted()
        var rows = plotted
        var i = 0
        while i < rest.count {
            var j = i + 1
            while j < rest.count && rest[j] == rest[j - 1] + 1 { j += 1 }
            for (k, row) in try table.rows(rest[i]..<(rest[j - 1] + 1), store: store).enumerated() { rows[rest[i] + k] = row }
            i = j
        }
        let failed = table.failedTrials(limit: 30)
        var points: [String: ParameterPoints] = [:]
        for name in table.sweptNames {
            let swept = table.sweptPoints(name)
            points[name] = ParameterPoints(swept.points, id: swept.id)
        }
        return ReportSummary(
            rows: rows.keys.sorted().compactMap { rows[$0] }, configurationCount: table.count,
            trialCount: table.trialCount, statusCounts: table.statusCounts, computeSeconds: table.computeSeconds,
            failures: try store.trials(numbers: failed.numbers), failureCount: failed.count,
            rankedSGDRCount: table.rankedSGDRCount, measuredCount: measured.count, points: points)
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

    /// The report's settings table: `settingsSummary` with the built-in training's `model` (an
    /// MLP's is left out of the canonical form, to keep old hashes), then the schedule parameters
    /// that are not swept (fixed in the space, or at their default), the baselines and their own
    /// settings, and racing's `first_round` and `confidence`.
    public var reportSettings: [(key: String, value: String)] {
        var rows = settingsSummary
        if !rows.contains(where: { $0.key == "model" || $0.key.hasPrefix("trainer.") }) {
            let at = rows.firstIndex { ["conv", "hidden", "optimizer", "strategy"].contains($0.key) } ?? rows.endIndex
            rows.insert(("model", training.model.rawValue), at: at)
        }
        let defaults = parameters(with: [])
        for p in ScheduleParameter.allCases where !sweptNames.contains(p.name) {
            if fixed[p] != nil {
                rows.append((p.name, p.text(in: defaults)))
            } else if p == .lrMin && sweptNames.contains(ScheduleParameter.lrMax.name) {
                rows.append((p.name, "lr_max / 100 (default)"))
            } else {
                rows.append((p.name, p.text(in: defaults) + " (default)"))
            }
        }
        rows.append(("baselines", baselines.isEmpty ? "none" : baselines.map(\.rawValue).joined(separator: ", ")))
        if baselines.contains(.step) {
            rows.append(("step_milestones", "[" + stepMilestones.map(fmt).joined(separator: ", ") + "]"))
            rows.append(("step_factor", fmt(stepFactor)))
        }
        if baselines.contains(.plateau) {
            rows.append(("plateau_factor", fmt(plateau.factor)))
            rows.append(("plateau_patience", String(plateau.patience)))
            rows.append(("plateau_min_delta", fmt(plateau.minDelta)))
        }
        if strategy == .tpe, let tpe {
            // Who proposed what, in which order: a configuration's number is its proposal's.
            rows.append(("tpe", "startup \(tpe.startup), candidates \(tpe.candidates), gamma \(fmt(tpe.gamma)), parallel \(tpe.parallel)"))
            let last = tpe.startup > 1 ? " to " + SearchSpace.configurationID(tpe.startup - 1) : ""
            rows.append(("proposed by", "\(SearchSpace.configurationID(0))\(last): start-up (random search's draws); "
                + "from \(SearchSpace.configurationID(tpe.startup)) on: TPE, in the order of their numbers"))
        }
        if let racing {
            rows.append(("racing.first_round", String(racing.firstRound)))
            rows.append(("racing.confidence", fmt(racing.confidence)))
        }
        return rows
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
