import Foundation
import Schedules

/// What a sweep ranks configurations by.
public enum Objective: String, Codable, Sendable, CaseIterable {
    /// The highest validation accuracy of any epoch (mean over repeats).
    case bestValAcc = "best_val_acc"
    /// The validation accuracy of the last epoch (mean over repeats).
    case finalValAcc = "final_val_acc"
}

/// The status of a configuration as a whole, from its trials' statuses.
public enum ConfigurationStatus: String, Hashable, Sendable, CaseIterable {
    /// Every repeat done.
    case done
    /// Some repeats done, the rest still to run.
    case partial
    /// None finished yet: one is running, was interrupted, or all wait.
    case running, interrupted, pending
    /// At least one repeat diverged or failed (ranked last).
    case diverged, failed

    /// The status of a configuration whose trials have `statuses`.
    public init<S: Sequence>(_ statuses: S) where S.Element == TrialStatus {
        var tally = Tally()
        for s in statuses { tally.add(s) }
        self = tally.status
    }

    /// The statuses of one configuration's trials, counted as they come.
    public struct Tally: Sendable {
        public private(set) var done = 0, total = 0
        private var failed = false, diverged = false, running = false, interrupted = false

        public init() {}

        public mutating func add(_ status: TrialStatus) {
            total += 1
            switch status {
            case .done: done += 1
            case .failed: failed = true
            case .diverged: diverged = true
            case .running: running = true
            case .interrupted: interrupted = true
            case .pending: break
            }
        }

        public var status: ConfigurationStatus {
            if failed { return .failed }
            if diverged { return .diverged }
            if done == total { return .done }
            if done > 0 { return .partial }
            if running { return .running }
            if interrupted { return .interrupted }
            return .pending
        }
    }

    /// The ranking tier: scored, unscored yet, diverged, failed.
    public func tier(score: Double?) -> Int {
        switch self {
        case .failed: 3
        case .diverged: 2
        default: score == nil ? 1 : 0
        }
    }
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
    /// Status of the configuration as a whole.
    public var status: ConfigurationStatus
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
    /// The trials of this configuration, in repeat order (a view of the records ranked, shared
    /// rather than copied: a million rows hold no second copy of their trials).
    public var trials: TrialList
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
        eliminatedAfter.map { "eliminated (round \($0))" } ?? status.rawValue
    }
}

/// A configuration's trials: a 0-based, read-only view of part of an array of records (the
/// records a leaderboard was made from), shared rather than copied.
public struct TrialList: RandomAccessCollection, Hashable, Sendable, ExpressibleByArrayLiteral {
    private let base: [TrialRecord]
    private let range: Range<Int>

    public init(_ records: [TrialRecord]) {
        base = records
        range = records.indices
    }

    public init(arrayLiteral records: TrialRecord...) { self.init(records) }

    /// `base[range]`, without a copy.
    init(_ base: [TrialRecord], _ range: Range<Int>) {
        self.base = base
        self.range = range
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { range.count }
    public subscript(position: Int) -> TrialRecord { base[range.lowerBound + position] }

    public static func == (a: TrialList, b: TrialList) -> Bool { a.elementsEqual(b) }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        for t in self { hasher.combine(t) }
    }
}

/// What a leaderboard aggregates of one trial, and no more (a million of them in `LeaderboardTable`).
struct TrialStats: Hashable, Sendable {
    var number: Int
    // The optionals below stored as a value and a bit of `present` (48 bytes a trial, not 80).
    private var best: Double, final: Double, secs: Double
    private var epoch: Int32
    var repeatIndex: Int32
    var status: TrialStatus
    var claimed: Bool
    private var present: UInt8

    init(number: Int, bestValAcc: Double?, finalValAcc: Double?, seconds: Double?, bestEpoch: Int?,
         repeatIndex: Int, status: TrialStatus, claimed: Bool) {
        self.number = number
        best = bestValAcc ?? 0
        final = finalValAcc ?? 0
        secs = seconds ?? 0
        epoch = Int32(clamping: bestEpoch ?? 0)
        self.repeatIndex = Int32(clamping: repeatIndex)
        self.status = status
        self.claimed = claimed
        present = (bestValAcc == nil ? 0 : 1) | (finalValAcc == nil ? 0 : 2) | (seconds == nil ? 0 : 4) | (bestEpoch == nil ? 0 : 8)
    }

    var bestValAcc: Double? { present & 1 != 0 ? best : nil }
    var finalValAcc: Double? { present & 2 != 0 ? final : nil }
    var seconds: Double? { present & 4 != 0 ? secs : nil }
    var bestEpoch: Int? { present & 8 != 0 ? Int(epoch) : nil }

    init(_ r: TrialRecord) {
        self.init(number: r.spec.number, bestValAcc: r.bestValAcc, finalValAcc: r.finalValAcc, seconds: r.seconds,
                  bestEpoch: r.bestEpoch, repeatIndex: r.spec.repeatIndex, status: r.status, claimed: r.attempts > 0)
    }

    init(_ l: TrialLine) {
        self.init(number: l.number, bestValAcc: l.bestValAcc, finalValAcc: l.finalValAcc, seconds: l.seconds,
                  bestEpoch: l.bestEpoch, repeatIndex: l.repeatIndex, status: l.status, claimed: l.attempts > 0)
    }

    func score(_ objective: Objective) -> Double? { objective == .bestValAcc ? bestValAcc : finalValAcc }
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
        let sorted = zip(trials, trials.dropFirst()).allSatisfy { $0.spec.number < $1.spec.number }
            ? trials : trials.sorted { $0.spec.number < $1.spec.number }
        // Configurations in order of their first trial; each one's trials, usually a contiguous
        // run of numbers (repeats are consecutive), else gathered.
        var groups: [(range: Range<Int>, scattered: [Int]?)] = []
        var configurations: [String] = []
        var groupOf: [String: Int] = [:]
        groupOf.reserveCapacity(sorted.count)
        for i in sorted.indices {
            let c = sorted[i].spec.configuration
            if let g = groups.indices.last, configurations[g] == c, groups[g].scattered == nil, groups[g].range.upperBound == i {
                groups[g].range = groups[g].range.lowerBound..<(i + 1)
            } else if let g = groupOf[c] {
                groups[g].scattered = (groups[g].scattered ?? Array(groups[g].range)) + [i]
            } else {
                groupOf[c] = groups.count
                groups.append((i..<(i + 1), nil))
                configurations.append(c)
            }
        }
        var rows: [LeaderboardRow] = []
        rows.reserveCapacity(groups.count)
        for (g, group) in groups.enumerated() {
            var members: TrialList
            if let scattered = group.scattered {
                members = TrialList(scattered.map { sorted[$0] })
            } else {
                members = TrialList(sorted, group.range)
            }
            // Aggregated in number order (as `rank` does), listed in repeat order.
            var r = row(configuration: configurations[g], trials: members, objective: objective)
            if !zip(members, members.dropFirst()).allSatisfy({ $0.spec.repeatIndex <= $1.spec.repeatIndex }) {
                members = TrialList(members.sorted { $0.spec.repeatIndex < $1.spec.repeatIndex })
                r.trials = members
            }
            r.rank = g  // dispatch position, for ties; the rank is set below
            rows.append(r)
        }
        // In place (a million rows: no second array of them).
        rows.sort { a, b in
            let (ta, tb) = (a.status.tier(score: a.score), b.status.tier(score: b.score))
            if ta != tb { return ta < tb }
            if let sa = a.score, let sb = b.score, sa != sb { return sa > sb }
            return a.rank < b.rank
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
        r.score != nil && r.status != .failed && r.status != .diverged
    }

    /// The best SGDR configuration and the best baseline of ranked rows.
    public static func bestSGDR(_ rows: [LeaderboardRow]) -> LeaderboardRow? {
        rows.first { $0.schedule.kind == .sgdr && isRanked($0) }
    }

    public static func bestBaseline(_ rows: [LeaderboardRow]) -> LeaderboardRow? {
        rows.first { $0.schedule.kind != .sgdr && isRanked($0) }
    }

    /// Indices of `entries` (in dispatch order) best first: by tier, then descending score, then
    /// dispatch order.
    static func rankOrder(_ entries: [(status: ConfigurationStatus, score: Double?)]) -> [Int] {
        let tiers = entries.map { $0.status.tier(score: $0.score) }
        return entries.indices.sorted { a, b in
            if tiers[a] != tiers[b] { return tiers[a] < tiers[b] }
            if let sa = entries[a].score, let sb = entries[b].score, sa != sb { return sa > sb }
            return a < b
        }
    }

    /// One configuration of a ranking made from `TrialBrief`s (`rank(_:repeats:)`).
    public struct RankedConfiguration: Hashable, Sendable {
        /// The configuration's position in dispatch order: its trials are numbered
        /// `index * repeats ..< (index + 1) * repeats`.
        public var index: Int
        public var status: ConfigurationStatus
        public var score: Double?
    }

    /// The ranking of `rows` computed from briefs alone, a million trials in well under a second:
    /// the configurations in the same order as `rows(_:objective:)` puts them, for trials
    /// numbered as `SearchSpace.trialSpecs()` numbers them without racing (configuration
    /// `n / repeats`).
    public static func rank(_ briefs: [TrialBrief], repeats: Int) -> [RankedConfiguration] {
        var configurations: [RankedConfiguration] = []
        var i = 0
        while i < briefs.count {
            let index = briefs[i].number / repeats
            var tally = ConfigurationStatus.Tally()
            var scored = 0, sum = 0.0
            while i < briefs.count && briefs[i].number / repeats == index {
                let b = briefs[i]
                tally.add(b.status)
                if b.status == .done, let s = b.score { sum += s; scored += 1 }
                i += 1
            }
            configurations.append(RankedConfiguration(index: index, status: tally.status,
                                                      score: scored == 0 ? nil : sum / Double(scored)))
        }
        return rankOrder(configurations.map { ($0.status, $0.score) }).map { configurations[$0] }
    }

    static func row(configuration: String, trials: TrialList, objective: Objective) -> LeaderboardRow {
        let a = Aggregate(trials.lazy.map(TrialStats.init), objective: objective)
        let first = trials.startIndex
        return LeaderboardRow(
            rank: 0, configuration: configuration, schedule: trials[first].spec.schedule,
            swept: trials[first].spec.swept, status: a.status,
            bestValAcc: a.bestValAcc, bestValAccStd: a.bestValAccStd, finalValAcc: a.finalValAcc,
            bestEpoch: a.bestEpoch, repeatsDone: a.repeatsDone, repeats: a.repeats,
            seconds: a.seconds, score: a.score, trials: trials)
    }

    /// What a row says of its trials (the one computation of `LeaderboardRow`'s numbers, for
    /// records and for `LeaderboardTable`'s compact trials alike): means over the done trials in
    /// the order given (number order), the sample std, the median best epoch, the seconds of all.
    struct Aggregate {
        var status: ConfigurationStatus
        var bestValAcc: Double?, bestValAccStd: Double?, finalValAcc: Double?
        var bestEpoch: Int?
        var repeatsDone: Int, repeats: Int
        var seconds: Double
        var score: Double?

        /// The values in buffers on the stack (no array per configuration: a million of them).
        init<C: Collection>(_ trials: C, objective: Objective) where C.Element == TrialStats {
            let n = trials.count
            var tally = ConfigurationStatus.Tally()
            var seconds = 0.0
            var (nb, nf, ne) = (0, 0, 0)
            var (best, bestStd, final, epoch): (Double?, Double?, Double?, Int?) = (nil, nil, nil, nil)
            withUnsafeTemporaryAllocation(of: Double.self, capacity: max(1, 2 * n)) { values in
                withUnsafeTemporaryAllocation(of: Int.self, capacity: max(1, n)) { epochs in
                    for t in trials {
                        tally.add(t.status)
                        if t.status == .done {
                            if let b = t.bestValAcc { values[nb] = b; nb += 1 }
                            if let f = t.finalValAcc { values[n + nf] = f; nf += 1 }
                            if let e = t.bestEpoch { epochs[ne] = e; ne += 1 }
                        }
                        if let s = t.seconds { seconds += s }
                    }
                    let bests = UnsafeBufferPointer(rebasing: values[0..<nb])
                    best = Leaderboard.meanOf(bests)
                    bestStd = Leaderboard.sampleStdOf(bests)
                    final = Leaderboard.meanOf(UnsafeBufferPointer(rebasing: values[n..<(n + nf)]))
                    if ne > 0 {
                        var sorted = UnsafeMutableBufferPointer(rebasing: epochs[0..<ne])
                        sorted.sort()
                        epoch = sorted[(ne - 1) / 2]
                    }
                }
            }
            status = tally.status
            repeatsDone = tally.done
            repeats = tally.total
            bestValAcc = best
            bestValAccStd = bestStd
            finalValAcc = final
            bestEpoch = epoch
            self.seconds = seconds
            score = objective == .bestValAcc ? bestValAcc : finalValAcc
        }
    }

    static func meanOf<C: Collection>(_ xs: C) -> Double? where C.Element == Double {
        xs.isEmpty ? nil : xs.reduce(0, +) / Double(xs.count)
    }

    static func sampleStdOf<C: Collection>(_ xs: C) -> Double? where C.Element == Double {
        guard xs.count > 1, let m = meanOf(xs) else { return nil }
        let ss = xs.reduce(0) { $0 + ($1 - m) * ($1 - m) }
        return (ss / Double(xs.count - 1)).squareRoot()
    }

    public static func mean(_ xs: [Double]) -> Double? {
        xs.isEmpty ? nil : xs.reduce(0, +) / Double(xs.count)
    }

    public static func sampleStd(_ xs: [Double]) -> Double? {
        guard xs.count > 1, let m = mean(xs) else { return nil }
        let ss = xs.reduce(0) { $0 + ($1 - m) * ($1 - m) }
        return (ss / Double(xs.count - 1)).squareRoot()
    }
}
