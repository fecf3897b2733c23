import Schedules

/// A whole leaderboard held compactly: every trial as a few numbers, every configuration's name,
/// kind and swept values, and the ranking, without a single `TrialRecord` (a million trials in
/// about 100 MB rather than 1 GB). The rows come out in rank order, a range at a time: as
/// summary rows (`summaryRow(at:)`, what the CSV prints) or read back in full from the store
/// (`rows(_:store:)`, a page of the dashboard or the report's table).
///
/// Its rows are exactly `Leaderboard.rows(_:objective:eliminated:)`'s for the same trials: the
/// same aggregation (`Leaderboard.Aggregate`), the same order, the same paired differences.
/// Build it once and read as many ranges as needed: it is a snapshot of the store when built.
public struct LeaderboardTable: Sendable {
    public let objective: Objective
    /// The swept parameters whose values summary rows carry (the space's, in its order).
    public let sweptNames: [String]
    /// Racing's eliminations by configuration (empty without racing).
    public let eliminated: [String: Int]

    /// Every trial, in number order.
    let stats: [TrialStats]
    /// Configuration c's trials, in number order: `stats[members[memberStart[c] ..< memberStart[c + 1]]]`.
    let memberStart: [Int32]
    let members: [Int32]
    /// Each trial's configuration.
    let configurationOf: [Int32]
    /// By configuration, in dispatch order (the order of their first trials).
    let names: [String]
    let kinds: [ScheduleKind]
    /// `names.count × sweptNames.count` values, NaN where a configuration has no such value.
    let swept: [Double]
    let scores: [Double?]
    let statuses: [ConfigurationStatus]
    /// The schedules of the configurations that are not SGDR (baselines: a few).
    let baselineSchedules: [Int: ScheduleConfig]
    /// Configurations in rank order.
    let order: [Int32]
    /// The best baseline (a configuration index) and its objective by repeat.
    let bestBaseline: Int?
    let baselineScores: [Int: Double]

    /// Reads every trial's line from `store` (see `TrialStore.forEachTrialLine`), and the first
    /// record of each configuration that is not SGDR (for its schedule).
    ///
    /// `repeats`: trials numbered as `SearchSpace.trialSpecs()` numbers them without racing
    /// (trial n of configuration n / repeats, as `Leaderboard.rank` reads briefs), which groups
    /// them without a dictionary of every configuration's name: each trial's configuration is
    /// checked against its group's (or the previous group's, for a new one), and from the first
    /// trial that does not follow the numbering on, trials are grouped by name, as are all with
    /// nil. (Two groups of a plain sweep with one name, which its numbering never makes, are not
    /// looked for: `Leaderboard.rank` trusts the numbering as well.)
    public init(store: any TrialStore, objective: Objective, sweptNames: [String],
                eliminated: [String: Int] = [:], repeats: Int? = nil) throws {
        var builder = Builder(sweptNames: sweptNames, repeats: repeats)
        try store.forEachTrialLine { builder.add($0) }
        let firstNumbers = builder.baselineFirstNumbers
        var schedules: [String: ScheduleConfig] = [:]
        for r in try store.trials(numbers: firstNumbers.map(\.number)) { schedules[r.spec.configuration] = r.spec.schedule }
        self.init(builder, objective: objective, eliminated: eliminated, schedules: schedules)
    }

    /// From records already read (tests, small sweeps).
    public init(records: [TrialRecord], objective: Objective, sweptNames: [String], eliminated: [String: Int] = [:]) {
        let sorted = zip(records, records.dropFirst()).allSatisfy { $0.spec.number < $1.spec.number }
            ? records : records.sorted { $0.spec.number < $1.spec.number }
        var builder = Builder(sweptNames: sweptNames)
        var schedules: [String: ScheduleConfig] = [:]
        for r in sorted {
            builder.add(TrialLine(r))
            if r.spec.schedule.kind != .sgdr, schedules[r.spec.configuration] == nil {
                schedules[r.spec.configuration] = r.spec.schedule
            }
        }
        self.init(builder, objective: objective, eliminated: eliminated, schedules: schedules)
    }

    /// Groups trials by configuration as they come (in number order).
    struct Builder {
        let sweptNames: [String]
        var stats: [TrialStats] = []
        var group: [Int32] = []
        var names: [String] = []
        var kinds: [ScheduleKind] = []
        var swept: [Double] = []
        var groupOf: [String: Int32] = [:]
        var lastKeys: [String] = []
        var keyPositions: [Int?] = []
        var baselineFirstNumbers: [(configuration: String, number: Int)] = []
        /// Grouping by number (see `init(store:...)`) while the trials follow it.
        var repeats: Int?

        init(sweptNames: [String], repeats: Int? = nil) {
            self.sweptNames = sweptNames
            keyPositions = sweptNames.map { _ in nil }
            self.repeats = repeats.flatMap { $0 > 0 ? $0 : nil }
        }

        mutating func add(_ line: TrialLine) {
            if let repeats {
                let expected = line.number / repeats
                if expected == names.count - 1, names.last == line.configuration {
                    append(line, to: Int32(expected))
                    return
                }
                if expected == names.count, names.last != line.configuration, line.number % repeats == 0 {
                    newGroup(line)
                    return
                }
                // Not numbered so: by name from here on, every configuration so far known by it.
                self.repeats = nil
                for (g, name) in names.enumerated() { groupOf[name] = Int32(g) }
            }
            let g: Int32
            if let last = names.last, last == line.configuration {
                g = Int32(names.count - 1)
            } else if let known = groupOf[line.configuration] {
                g = known
            } else {
                groupOf[line.configuration] = Int32(names.count)
                newGroup(line)
                return
            }
            append(line, to: g)
        }

        private mutating func newGroup(_ line: TrialLine) {
            let g = Int32(names.count)
            names.append(line.configuration)
            kinds.append(line.kind)
            // Where each swept name is among the line's keys: found again only when the keys
            // change (a store hands the same keys array from row to row).
            if line.swept.keys != lastKeys {
                lastKeys = line.swept.keys
                keyPositions = sweptNames.map { lastKeys.lastIndex(of: $0) }
            }
            for p in keyPositions { swept.append(p.map { line.swept.values[$0] } ?? .nan) }
            if line.kind != .sgdr { baselineFirstNumbers.append((line.configuration, line.number)) }
            append(line, to: g)
        }

        private mutating func append(_ line: TrialLine, to g: Int32) {
            stats.append(TrialStats(line))
            group.append(g)
        }
    }

    private init(_ b: Builder, objective: Objective, eliminated: [String: Int], schedules: [String: ScheduleConfig]) {
        self.objective = objective
        self.sweptNames = b.sweptNames
        self.eliminated = eliminated
        stats = b.stats
        names = b.names
        kinds = b.kinds
        swept = b.swept
        // Members grouped by configuration, each group in number order.
        var start = [Int32](repeating: 0, count: b.names.count + 1)
        for g in b.group { start[Int(g) + 1] += 1 }
        for c in 0..<b.names.count { start[c + 1] += start[c] }
        var fill = start
        var members = [Int32](repeating: 0, count: b.group.count)
        for (i, g) in b.group.enumerated() {
            members[Int(fill[Int(g)])] = Int32(i)
            fill[Int(g)] += 1
        }
        memberStart = start
        self.members = members
        configurationOf = b.group
        var scores: [Double?] = [], statuses: [ConfigurationStatus] = []
        scores.reserveCapacity(b.names.count)
        statuses.reserveCapacity(b.names.count)
        let stats = b.stats   // (for the closure below: not a copy of the builder a configuration)
        for c in 0..<b.names.count {
            let a = Leaderboard.Aggregate(members[Int(start[c])..<Int(start[c + 1])].lazy.map { stats[Int($0)] },
                                          objective: objective)
            scores.append(a.score)
            statuses.append(a.status)
        }
        self.scores = scores
        self.statuses = statuses
        var baselineSchedules: [Int: ScheduleConfig] = [:]
        for (c, kind) in b.kinds.enumerated() where kind != .sgdr { baselineSchedules[c] = schedules[b.names[c]] }
        self.baselineSchedules = baselineSchedules
        // As `Leaderboard.rows` sorts: tier, descending score, dispatch order.
        let tiers = (0..<b.names.count).map { statuses[$0].tier(score: scores[$0]) }
        var order = (0..<Int32(b.names.count)).map { $0 }
        order.sort { x, y in
            let (a, b) = (Int(x), Int(y))
            if tiers[a] != tiers[b] { return tiers[a] < tiers[b] }
            if let sa = scores[a], let sb = scores[b], sa != sb { return sa > sb }
            return a < b
        }
        self.order = order
        let best = order.lazy.map(Int.init).first { c in
            b.kinds[c] != .sgdr && scores[c] != nil && statuses[c] != .failed && statuses[c] != .diverged
        }
        bestBaseline = best
        var baselineScores: [Int: Double] = [:]
        if let best {
            for m in members[Int(start[best])..<Int(start[best + 1])] {
                let t = b.stats[Int(m)]
                if t.status == .done, let s = t.score(objective) { baselineScores[Int(t.repeatIndex)] = s }
            }
        }
        self.baselineScores = baselineScores
    }

    // MARK: Reading

    /// Configurations (rows).
    public var count: Int { names.count }
    /// Trials.
    public var trialCount: Int { stats.count }

    /// Trials by status.
    public var statusCounts: [TrialStatus: Int] {
        var out: [TrialStatus: Int] = [:]
        for t in stats { out[t.status, default: 0] += 1 }
        return out
    }

    /// The configuration at 0-based `rank`.
    public func configuration(at rank: Int) -> String { names[Int(order[rank])] }

    /// The trial numbers of the configuration at 0-based `rank`, in number order.
    public func trialNumbers(at rank: Int) -> [Int] { memberIndices(Int(order[rank])).map { stats[Int($0)].number } }

    /// 0-based ranks of the best SGDR configuration and of the best baseline (those that exist):
    /// the first ranked rows (a score, neither diverged nor failed) of each kind.
    public var bestRanks: (sgdr: Int?, baseline: Int?) {
        func isRanked(_ c: Int) -> Bool { scores[c] != nil && statuses[c] != .failed && statuses[c] != .diverged }
        let sgdr = order.indices.first { kinds[Int(order[$0])] == .sgdr && isRanked(Int(order[$0])) }
        let baseline = bestBaseline.flatMap { b in order.firstIndex { Int($0) == b } }
        return (sgdr, baseline)
    }

    /// The kind of the configuration at 0-based `rank`.
    public func kind(at rank: Int) -> ScheduleKind { kinds[Int(order[rank])] }

    /// Whether a trial of the configuration at `rank` was ever claimed or finished (only those can have epochs).
    public func hasClaimedTrial(at rank: Int) -> Bool {
        memberIndices(Int(order[rank])).contains { stats[Int($0)].claimed || stats[Int($0)].status.isFinished }
    }

    /// Seconds of every trial (non-finite ones as 0), summed in number order.
    public var computeSeconds: Double {
        stats.reduce(0.0) { $0 + ($1.seconds.map { $0.isFinite ? $0 : 0 } ?? 0) }
    }

    /// The numbers of the first `limit` diverged or failed trials (number order), and how many there are.
    public func failedTrials(limit: Int) -> (numbers: [Int], count: Int) {
        var numbers: [Int] = [], count = 0
        for t in stats where t.status == .failed || t.status == .diverged {
            if numbers.count < limit { numbers.append(t.number) }
            count += 1
        }
        return (numbers, count)
    }

    /// Ranked SGDR configurations: a score, neither diverged nor failed.
    public var rankedSGDRCount: Int {
        (0..<count).reduce(0) { $0 + (kinds[$1] == .sgdr && scores[$1] != nil && statuses[$1] != .failed && statuses[$1] != .diverged ? 1 : 0) }
    }

    /// The 0-based ranks of the `limit` configurations with the highest paired mean difference
    /// to the best baseline among those with a 95% interval (ties in rank order), and how many
    /// have one.
    public func highestPairedDifferences(limit: Int) -> (ranks: [Int], count: Int) {
        guard bestBaseline != nil else { return ([], 0) }
        var measured: [(rank: Int, mean: Double)] = []
        for rank in 0..<count {
            if let d = pairedDifference(Int(order[rank])), d.halfWidth95 != nil { measured.append((rank, d.mean)) }
        }
        let sorted = measured.sorted { $0.mean > $1.mean }
        return (sorted.prefix(limit).map(\.rank), measured.count)
    }

    /// The SGDR trials that have a value of swept parameter `name`, in number order:
    /// (value, status, objective's value), and a trial's id by its position among them
    /// (`"<configuration>.r<repeat>"`, as `TrialSpec.id` makes it).
    public func sweptPoints(_ name: String) -> (points: [(x: Double, status: TrialStatus, score: Double?)], id: (Int) -> String) {
        guard let k = sweptNames.firstIndex(of: name) else { return ([], { _ in "" }) }
        var points: [(x: Double, status: TrialStatus, score: Double?)] = [], trials: [Int32] = []
        for (i, t) in stats.enumerated() {
            let c = Int(configurationOf[i])
            let x = swept[c * sweptNames.count + k]
            guard kinds[c] == .sgdr, !x.isNaN else { continue }
            points.append((x, t.status, t.score(objective)))
            trials.append(Int32(i))
        }
        return (points, { [self] p in
            let i = Int(trials[p])
            return TrialSpec.id(configuration: names[Int(configurationOf[i])], repeatIndex: Int(stats[i].repeatIndex))
        })
    }

    func memberIndices(_ c: Int) -> ArraySlice<Int32> { members[Int(memberStart[c])..<Int(memberStart[c + 1])] }

    func objectiveByRepeat(_ c: Int) -> [Int: Double] {
        var out: [Int: Double] = [:]
        for m in memberIndices(c) {
            let t = stats[Int(m)]
            if t.status == .done, let s = t.score(objective) { out[Int(t.repeatIndex)] = s }
        }
        return out
    }

    func pairedDifference(_ c: Int) -> PairedDifference? {
        guard let bestBaseline, c != bestBaseline else { return nil }
        return PairedDifference(objectiveByRepeat(c), baselineScores)
    }

    /// The row at 0-based `rank` as a summary: every number of the full row, its swept values
    /// (those of `sweptNames`), but no trials (`trials` is empty), and for an SGDR
    /// configuration a schedule that says only its kind (`parameters` at their defaults): what
    /// the CSV and the aligned table print. A baseline's schedule is its own.
    public func summaryRow(at rank: Int) -> LeaderboardRow { summaryRow(at: rank, withSwept: true) }

    /// `summaryRow(at:)`, its `swept` empty unless `withSwept` (`sweptValues(at:)` has them).
    public func summaryRow(at rank: Int, withSwept: Bool) -> LeaderboardRow {
        let c = Int(order[rank])
        // The closure takes `stats` alone (taking `self` would copy the whole table, a retain
        // of every array, a row).
        let stats = self.stats
        let a = Leaderboard.Aggregate(memberIndices(c).lazy.map { stats[Int($0)] }, objective: objective)
        var sweptValues: [String: Double] = [:]
        if withSwept {
            let base = c * sweptNames.count
            for (k, name) in sweptNames.enumerated() where !swept[base + k].isNaN { sweptValues[name] = swept[base + k] }
        }
        let schedule = (kinds[c] == .sgdr ? nil : baselineSchedules[c])
            ?? ScheduleConfig(kind: kinds[c], parameters: SGDRParameters(), epochs: 0)
        return LeaderboardRow(
            rank: rank + 1, configuration: names[c], schedule: schedule, swept: sweptValues, status: a.status,
            bestValAcc: a.bestValAcc, bestValAccStd: a.bestValAccStd, finalValAcc: a.finalValAcc,
            bestEpoch: a.bestEpoch, repeatsDone: a.repeatsDone, repeats: a.repeats, seconds: a.seconds,
            score: a.score, trials: [], vsBaseline: pairedDifference(c),
            eliminatedAfter: eliminated.isEmpty ? nil : eliminated[names[c]])
    }

    /// The swept values of the configuration at `rank`, in `sweptNames` order (nil: it has none).
    public func sweptValue(at rank: Int, _ k: Int) -> Double? {
        let x = swept[Int(order[rank]) * sweptNames.count + k]
        return x.isNaN ? nil : x
    }

    /// The rows at 0-based ranks `ranks` (clamped to the table) in full, their trials read from
    /// `store` without epochs: the same rows as `Leaderboard.rows` gives for every trial. Only
    /// the trials the table holds are read (a running sweep may have stored more since, and
    /// their records, not their numbers, may have changed: a page of it is as fresh as its
    /// records, ranked as when the table was built).
    public func rows(_ ranks: Range<Int>, store: any TrialStore) throws -> [LeaderboardRow] {
        let ranks = ranks.clamped(to: 0..<count)
        let numbers = ranks.flatMap { trialNumbers(at: $0) }
        var byConfiguration: [String: [TrialRecord]] = [:]
        for r in try store.trials(numbers: numbers) { byConfiguration[r.spec.configuration, default: []].append(r) }
        return try ranks.map { rank in
            let c = Int(order[rank])
            guard let records = byConfiguration[names[c]], records.count == Int(memberStart[c + 1] - memberStart[c]) else {
                throw TrialStoreError.unknownTrial("of configuration \(names[c])")
            }
            return row(c, rank: rank, records: records)
        }
    }

    /// Configuration c's row from its records (number order).
    func row(_ c: Int, rank: Int, records: [TrialRecord]) -> LeaderboardRow {
        var r = Leaderboard.row(configuration: names[c], trials: TrialList(records), objective: objective)
        if !zip(records, records.dropFirst()).allSatisfy({ $0.spec.repeatIndex <= $1.spec.repeatIndex }) {
            r.trials = TrialList(records.sorted { $0.spec.repeatIndex < $1.spec.repeatIndex })
        }
        r.rank = rank + 1
        r.eliminatedAfter = eliminated[names[c]]
        r.vsBaseline = pairedDifference(c)
        return r
    }
}

/// Rows `offset ..< offset + rows.count` of a leaderboard, in full, with the sizes of the whole.
public struct LeaderboardPage: Sendable {
    /// 0-based rank of the first row.
    public var offset: Int
    public var rows: [LeaderboardRow]
    /// Configurations and trials in the whole leaderboard, and the trials by status.
    public var total: Int
    public var trials: Int
    public var statusCounts: [TrialStatus: Int]

    public init(table: LeaderboardTable, offset: Int, limit: Int, store: any TrialStore) throws {
        let start = max(0, min(offset, table.count))
        self.offset = start
        rows = try table.rows(start..<min(table.count, start + max(0, limit)), store: store)
        total = table.count
        trials = table.trialCount
        statusCounts = table.statusCounts
    }
}

extension Ranking {
    /// The whole leaderboard as a `LeaderboardTable` (a race's eliminations from its trials:
    /// a race is never a million trials). Build it once, then read pages of it.
    public func leaderboardTable(_ store: any TrialStore) throws -> LeaderboardTable {
        let eliminated = space.racing == nil ? [:] : space.eliminated(try store.trials(withEpochs: false))
        return try LeaderboardTable(store: store, objective: space.objective, sweptNames: space.sweptNames,
                                    eliminated: eliminated, repeats: space.racing == nil ? space.repeats : nil)
    }

    /// Rows `offset ..< offset + limit` of the leaderboard (fewer at its end), read in full, and
    /// its size: for one page; for several, build `leaderboardTable(_:)` once and use
    /// `LeaderboardPage(table:offset:limit:store:)`.
    public func page(_ store: any TrialStore, offset: Int, limit: Int) throws -> LeaderboardPage {
        try LeaderboardPage(table: leaderboardTable(store), offset: offset, limit: limit, store: store)
    }
}
