/// How a sweep's trials come to exist and how its configurations are ranked, chosen once from
/// its space (`SearchSpace.ranking`):
/// - `PlainRanking`: every trial of the space, stored in batches as the claims near them, ranked
///   from the trials' briefs (a million trials rank in about a second);
/// - `RacedRanking`: a round at a time, configurations eliminated after each complete round,
///   ranked from every trial read without epochs (the eliminations follow from all of them; a
///   race is never a million trials).
///
/// The commands ask the ranking and never which kind it is.
public protocol Ranking: Sendable {
    var space: SearchSpace { get }

    /// Stores the trials that should exist before the workers start (idempotent); answers the
    /// store's counts after that, and the feeder that stores the rest while they run, if any.
    func storeTrials(in store: any TrialStore, firstBatch: Int, batch: Int) throws -> (TrialCounts, TrialFeeder?)

    /// The sweep's trials now, with `stored` of them stored: all of the space's, or the stored
    /// ones of a race (whose eliminations end it before the full grid).
    func currentTotal(stored: Int) -> Int

    /// The trials a progress line counts towards: all of the space's (for a race, its most).
    var progressTotal: Int { get }

    /// "12 trials", or "at most 36 trials, racing (12 so far)".
    func trialsPhrase(total: Int) -> String

    /// The runner's hook at the end of a round: stores the next round's trials once the round is
    /// decided, answering whether it stored any (nil: nothing to replenish).
    func replenish(_ store: any TrialStore) -> (@Sendable () throws -> Bool)?

    /// Why the space cannot continue `stored` (the sweep already in the database, whose hash
    /// agrees), or nil.
    func growthProblem(from stored: SearchSpace, path: String) -> String?

    /// The first `top` rows of the leaderboard and the rows of the best SGDR configuration and
    /// the best baseline.
    func ranked(_ store: any TrialStore, top: Int) throws -> RankedSweep

    /// What `status` reports on: every trial's brief, a way to read a few records by number, and
    /// the race (nil without one).
    func statusInput(_ store: any TrialStore) throws -> StatusInput

    /// The race's progress over `trials` (nil without a race).
    func raceSummary(_ trials: [TrialRecord]) -> RaceSummary?
}

/// What `status` reads of a sweep.
public struct StatusInput {
    public var briefs: [TrialBrief]
    /// Reads the trials numbered so (only those that exist).
    public var records: ([Int]) throws -> [TrialRecord]
    /// The sweep's trials: the space's (at least the stored ones), or a race's stored ones.
    public var total: Int
    public var race: RaceSummary?

    public init(briefs: [TrialBrief], records: @escaping ([Int]) throws -> [TrialRecord], total: Int, race: RaceSummary?) {
        self.briefs = briefs
        self.records = records
        self.total = total
        self.race = race
    }
}

extension StatusInput {
    /// From trials already read: their briefs, records looked up among them, the ranking's
    /// total and race.
    public init(trials: [TrialRecord], ranking: any Ranking) {
        let byNumber = Dictionary(trials.map { ($0.spec.number, $0) }, uniquingKeysWith: { a, _ in a })
        self.init(briefs: trials.map { TrialBrief($0, objective: ranking.space.objective) },
                  records: { $0.compactMap { byNumber[$0] } },
                  total: ranking.currentTotal(stored: trials.count), race: ranking.raceSummary(trials))
    }
}

/// A race's progress, for `status`.
public struct RaceSummary: Hashable, Sendable {
    public var roundsDone: Int, rounds: Int
    public var isFinished: Bool
    public var survivors: Int, eliminated: Int
    /// Trials stored so far, and those of the full grid.
    public var trials: Int, fullGrid: Int
    /// Trials the race will not run (a lower bound while it goes on).
    public var saved: Int
}

extension SearchSpace {
    /// This space's ranking: raced with `racing`, plain otherwise.
    public var ranking: any Ranking {
        if let racing { return RacedRanking(space: self, options: racing) }
        if strategy == .tpe { return TPERanking(space: self) }
        return PlainRanking(space: self)
    }
}

/// Every trial of the space, ranked from briefs.
public struct PlainRanking: Ranking {
    public let space: SearchSpace

    public init(space: SearchSpace) { self.space = space }

    public func storeTrials(in store: any TrialStore, firstBatch: Int, batch: Int) throws -> (TrialCounts, TrialFeeder?) {
        var counts = try store.counts()
        // The stored trials are the first ones (they are stored in number order) unless a store
        // says otherwise: then store them all again (idempotent).
        let feeder = TrialFeeder(space: space, store: store,
                                 start: counts.total == counts.nextNumber ? counts.total : 0, batchSize: batch)
        if !feeder.isDone {
            try feeder.addBatch(firstBatch)
            counts = try store.counts()
        }
        return (counts, feeder)
    }

    public func currentTotal(stored: Int) -> Int { max(space.trialCount, stored) }
    public var progressTotal: Int { space.trialCount }
    public func trialsPhrase(total: Int) -> String { "\(total) trials" }
    public func replenish(_ store: any TrialStore) -> (@Sendable () throws -> Bool)? { nil }
    public func growthProblem(from stored: SearchSpace, path: String) -> String? { nil }

    /// Ranked from the trials' briefs; only the chosen configurations' trials are read in full
    /// (the end of a run, `best`, `leaderboard --top N` on a million trials in about a second).
    public func ranked(_ store: any TrialStore, top count: Int) throws -> RankedSweep {
        let briefs = try store.briefs(space.objective)
        let repeats = space.repeats
        let ranking = Leaderboard.rank(briefs, repeats: repeats)
        let baselines = space.baselines.count
        var chosen: [(rank: Int, configuration: Leaderboard.RankedConfiguration)] =
            ranking.prefix(count).enumerated().map { ($0.offset + 1, $0.element) }
        var bestIndices: [Int] = []
        for wantBaseline in [false, true] {
            if let i = ranking.firstIndex(where: { $0.status.tier(score: $0.score) == 0 && ($0.index < baselines) == wantBaseline }) {
                bestIndices.append(ranking[i].index)
                if i >= count { chosen.append((i + 1, ranking[i])) }
            }
        }
        // Read with the best baseline among them, the rows' paired differences are the ones the
        // whole leaderboard gives (it is the best baseline of any subset that holds it).
        let numbers = chosen.flatMap { c in (c.configuration.index * repeats)..<((c.configuration.index + 1) * repeats) }
        var rowByIndex: [Int: LeaderboardRow] = [:]
        for row in Leaderboard.rows(try store.trials(numbers: numbers), objective: space.objective) {
            rowByIndex[row.trials[row.trials.startIndex].spec.number / repeats] = row
        }
        func row(_ c: (rank: Int, configuration: Leaderboard.RankedConfiguration)) -> LeaderboardRow? {
            guard var r = rowByIndex[c.configuration.index] else { return nil }
            r.rank = c.rank
            return r
        }
        return RankedSweep(
            top: chosen.prefix(min(count, ranking.count)).compactMap(row),
            best: bestIndices.compactMap { index in chosen.first { $0.configuration.index == index }.flatMap(row) },
            configurationCount: ranking.count, statuses: briefs.map(\.status))
    }

    public func statusInput(_ store: any TrialStore) throws -> StatusInput {
        let briefs = try store.briefs(space.objective)
        return StatusInput(briefs: briefs, records: { try store.trials(numbers: $0) },
                           total: currentTotal(stored: briefs.count), race: nil)
    }

    public func raceSummary(_ trials: [TrialRecord]) -> RaceSummary? { nil }
}

/// A race: a round at a time, ranked from every trial.
public struct RacedRanking: Ranking {
    public let space: SearchSpace
    public let options: RacingOptions

    public init(space: SearchSpace, options: RacingOptions) {
        self.space = space
        self.options = options
    }

    public func storeTrials(in store: any TrialStore, firstBatch: Int, batch: Int) throws -> (TrialCounts, TrialFeeder?) {
        try store.addTrials(space.wantedTrialSpecs(try store.trials(withEpochs: false)))
        return (try store.counts(), nil)
    }

    public func currentTotal(stored: Int) -> Int { stored }
    public var progressTotal: Int { space.trialCount }
    public func trialsPhrase(total: Int) -> String { "at most \(space.trialCount) trials, racing (\(total) so far)" }

    /// Any process may add the next round: adding is idempotent and the decision a function of
    /// the stored trials.
    public func replenish(_ store: any TrialStore) -> (@Sendable () throws -> Bool)? {
        { [space] in
            let trials = try store.trials(withEpochs: false)
            let existing = Set(trials.map(\.spec.id))
            let new = space.wantedTrialSpecs(trials).filter { !existing.contains($0.id) }
            if !new.isEmpty { try store.addTrials(new) }
            return !new.isEmpty
        }
    }

    public func growthProblem(from stored: SearchSpace, path: String) -> String? {
        guard space.repeats < stored.repeats else { return nil }
        return "\(path): repeats: \(stored.repeats) -> \(space.repeats): a race can only grow (more rounds for the "
            + "configurations still racing); give \"repeats\" >= \(stored.repeats), or use a new \"name\" or --db PATH."
    }

    public func ranked(_ store: any TrialStore, top count: Int) throws -> RankedSweep {
        let records = try store.trials(withEpochs: false)
        let rows = space.leaderboard(records)
        return RankedSweep(top: Array(rows.prefix(count)),
                           best: [Leaderboard.bestSGDR(rows), Leaderboard.bestBaseline(rows)].compactMap { $0 },
                           configurationCount: rows.count, statuses: records.map(\.status))
    }

    public func statusInput(_ store: any TrialStore) throws -> StatusInput {
        StatusInput(trials: try store.trials(withEpochs: false), ranking: self)
    }

    public func raceSummary(_ trials: [TrialRecord]) -> RaceSummary? {
        guard let race = space.raceState(trials) else { return nil }
        let wanted = race.repeatsWanted.values.reduce(space.baselines.count * space.repeats, +)
        return RaceSummary(roundsDone: race.roundsDone, rounds: race.rounds, isFinished: race.isFinished,
                           survivors: race.survivors.count, eliminated: race.eliminated.count,
                           trials: trials.count, fullGrid: space.trialCount, saved: space.trialCount - wanted)
    }
}

/// The first rows of a sweep's leaderboard and the rows of its best SGDR configuration and
/// best baseline, as a `Ranking` ranks them.
public struct RankedSweep: Sendable {
    /// The first `top` rows, ranked as in the whole leaderboard.
    public var top: [LeaderboardRow]
    /// The best SGDR configuration's row and the best baseline's (those that exist), for `BestSummary`.
    public var best: [LeaderboardRow]
    public var configurationCount: Int
    /// Trials stored, done, and running.
    public var trials: Int, done: Int, running: Int

    public init(top: [LeaderboardRow], best: [LeaderboardRow], configurationCount: Int, statuses: [TrialStatus]) {
        self.top = top
        self.best = best
        self.configurationCount = configurationCount
        trials = statuses.count
        done = statuses.filter { $0 == .done }.count
        running = statuses.filter { $0 == .running }.count
    }

    public init(store: any TrialStore, space: SearchSpace, top: Int) throws {
        self = try space.ranking.ranked(store, top: top)
    }
}
