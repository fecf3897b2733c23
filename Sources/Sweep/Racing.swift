import Foundation

/// `"racing": {"first_round": 2, "confidence": 0.95}`: spend repeats only on configurations
/// that are not yet beaten (Birattari's F-race, with paired t-tests).
public struct RacingOptions: Hashable, Sendable {
    /// The first round after which configurations are compared (>= 2: a paired test needs two pairs).
    public var firstRound: Int
    /// Confidence of the one-sided paired t-test that eliminates (in (0.5, 1)).
    public var confidence: Double

    public init(firstRound: Int = 2, confidence: Double = 0.95) {
        self.firstRound = firstRound
        self.confidence = confidence
    }
}

/// Where a race stands, as a function of the finished trials alone.
///
/// Round r (0-based) holds repeat r of every SGDR configuration still racing (baselines run every
/// round: they are the yardstick, and their trials all exist from the start). A round is
/// complete when every configuration still racing has finished its repeat r. After each complete
/// round r, a configuration with a diverged or failed repeat is eliminated; from round
/// `first_round - 1` on, every other configuration still racing is compared in pairs with the
/// round's leader (the highest mean over repeats 0...r among those still racing; ties: the
/// first in dispatch order) and eliminated when a one-sided paired t-test rejects "not worse
/// than the leader" at `confidence`. Only finished trials of complete rounds enter a decision,
/// so every process that looks at the same store reaches the same state, at any concurrency
/// and after any interruption.
public struct RaceState: Hashable, Sendable {
    /// Rounds complete and decided.
    public var roundsDone: Int
    /// The most rounds a configuration can run (`repeats`).
    public var rounds: Int
    /// SGDR configurations stopped, with the number of rounds each ran.
    public var eliminated: [String: Int]
    /// SGDR configurations still racing, in dispatch order.
    public var survivors: [String]
    /// How many repeats each SGDR configuration should have now.
    public var repeatsWanted: [String: Int]

    /// Every round is decided: the race is over.
    public var isFinished: Bool { roundsDone >= rounds || survivors.isEmpty }

    /// Computes the state from the trials of a store (any order; unfinished trials are ignored).
    public static func compute(configurations: [Configuration], repeats: Int, options: RacingOptions,
                               objective: Objective, trials: [TrialRecord]) -> RaceState {
        let sgdr = configurations.filter { $0.schedule.kind == .sgdr }.map(\.id)
        var byConfiguration: [String: [Int: TrialRecord]] = [:]
        for t in trials { byConfiguration[t.spec.configuration, default: [:]][t.spec.repeatIndex] = t }
        var alive = sgdr
        var eliminated: [String: Int] = [:]
        var roundsDone = 0
        for r in 0..<repeats {
            let complete = alive.allSatisfy { byConfiguration[$0]?[r]?.status.isFinished == true }
            if !complete { break }
            roundsDone = r + 1
            // A diverged or failed repeat (or a done one without a score) ends the race at once.
            var scores: [String: [Int: Double]] = [:]
            for c in alive {
                var s: [Int: Double] = [:]
                var broken = false
                for k in 0...r {
                    guard let t = byConfiguration[c]?[k], t.status == .done, let score = t.score(objective) else {
                        broken = true
                        break
                    }
                    s[k] = score
                }
                if broken { eliminated[c] = r + 1 } else { scores[c] = s }
            }
            alive.removeAll { eliminated[$0] != nil }
            guard r + 1 >= options.firstRound, alive.count > 1 else { continue }
            func mean(_ c: String) -> Double { scores[c]!.values.reduce(0, +) / Double(r + 1) }
            var leader = alive[0]
            for c in alive.dropFirst() where mean(c) > mean(leader) { leader = c }
            for c in alive where c != leader {
                if let d = PairedDifference(scores[c]!, scores[leader]!), d.rejectsNotWorse(confidence: options.confidence) {
                    eliminated[c] = r + 1
                }
            }
            alive.removeAll { eliminated[$0] != nil }
        }
        var wanted: [String: Int] = [:]
        for c in sgdr { wanted[c] = eliminated[c] ?? min(roundsDone + 1, repeats) }
        return RaceState(roundsDone: roundsDone, rounds: repeats, eliminated: eliminated, survivors: alive,
                         repeatsWanted: wanted)
    }
}

extension SearchSpace {
    /// The race of a racing space over `trials`; nil without `racing`.
    public func raceState(_ trials: [TrialRecord]) -> RaceState? {
        guard let racing else { return nil }
        return RaceState.compute(configurations: expandConfigurations(), repeats: repeats, options: racing,
                                 objective: objective, trials: trials)
    }

    /// The trials that should exist now: every trial without racing; with it, every baseline
    /// repeat and each SGDR configuration's repeats up to what the race wants of it.
    public func wantedTrialSpecs(_ trials: [TrialRecord]) -> [TrialSpec] {
        guard let race = raceState(trials) else { return trialSpecs() }
        return trialSpecs { configuration in race.repeatsWanted[configuration.id] ?? repeats }
    }

    /// Eliminated configurations by the round after which they stopped (empty without racing).
    public func eliminated(_ trials: [TrialRecord]) -> [String: Int] {
        raceState(trials)?.eliminated ?? [:]
    }
}

extension SearchSpace {
    /// The leaderboard of this sweep's trials: ranked by its objective, with the race's eliminations.
    public func leaderboard(_ trials: [TrialRecord]) -> [LeaderboardRow] {
        Leaderboard.rows(trials, objective: objective, eliminated: eliminated(trials))
    }
}
