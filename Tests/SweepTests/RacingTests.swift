@testable import App
import Engine
import TrainingTypes
import Foundation
import Schedules
@testable import Sweep
import XCTest

/// Student's t and the paired comparison, against scipy 1.17 (`scipy.stats.t`, `ttest_rel`).
final class StatisticsTests: XCTestCase {
    func testStudentTAgainstScipy() {
        // df, t.ppf(0.975, df), t.ppf(0.95, df), t.cdf(-2, df), t.cdf(0.5, df)
        let table: [(Double, Double, Double, Double, Double)] = [
            (1, 12.706204736174694, 6.313751514675037, 0.14758361765043326, 0.6475836176504333),
            (2, 4.302652729749462, 2.9199855803537242, 0.09175170953613698, 0.6666666666666666),
            (3, 3.1824463052837078, 2.3533634348018233, 0.06966298427942152, 0.6742760175759245),
            (4, 2.7764451051977934, 2.1318467863266495, 0.05805826175840778, 0.6783350184090684),
            (5, 2.5705818356363146, 2.0150483733330233, 0.050969739414929174, 0.6808505641795355),
            (9, 2.262157162798205, 1.833112932656237, 0.038276411885350504, 0.6854643500869868),
            (29, 2.045229642132703, 1.6991270265334972, 0.027471818591483586, 0.6895759579031093),
            (100, 1.9839715185235518, 1.6602343260853392, 0.024106089365566824, 0.6909132170845567),
        ]
        for (df, q975, q95, cdfMinus2, cdfHalf) in table {
            XCTAssertEqual(StudentT.quantile(0.975, df: df), q975, accuracy: 1e-9 * q975, "df \(df)")
            XCTAssertEqual(StudentT.quantile(0.95, df: df), q95, accuracy: 1e-9 * q95, "df \(df)")
            XCTAssertEqual(StudentT.quantile(0.025, df: df), -q975, accuracy: 1e-9 * q975, "df \(df)")
            XCTAssertEqual(StudentT.cdf(-2, df: df), cdfMinus2, accuracy: 1e-12, "df \(df)")
            XCTAssertEqual(StudentT.cdf(0.5, df: df), cdfHalf, accuracy: 1e-12, "df \(df)")
            XCTAssertEqual(StudentT.cdf(0, df: df), 0.5, accuracy: 1e-15)
        }
    }

    func testPairedDifferenceOfTheIssueExample() throws {
        // The issue's 3-repeat run: one-cycle minus cosine, paired differences 0, +0.0018, +0.0015.
        // scipy: ttest_rel(a, b): statistic 1.9756583222945305, confidence_interval(0.95) below.
        let a = [0: 0.8904, 1: 0.8921, 2: 0.8899], b = [0: 0.8904, 1: 0.8903, 2: 0.8884]
        let d = try XCTUnwrap(PairedDifference(a, b))
        XCTAssertEqual(d.pairs, 3)
        XCTAssertEqual(d.mean, 0.0011, accuracy: 1e-12)
        XCTAssertEqual(d.standardError ?? .nan, 0.000556776436283014, accuracy: 1e-12)
        let (low, high) = try XCTUnwrap(d.interval95)
        XCTAssertEqual(low, -0.0012956156534332604, accuracy: 1e-12)
        XCTAssertEqual(high, 0.003495615653433314, accuracy: 1e-12)
        XCTAssertFalse(d.rejectsNotWorse(confidence: 0.95))
    }

    func testOneSidedPairedTestAgainstScipy() throws {
        // x - y: ttest_rel(x, y) statistic 5.715476066494083; the one-sided p of "y worse"
        // (alternative="less" for y - x) is 0.002317919708952204.
        let x = [0.91, 0.92, 0.905, 0.915, 0.93], y = [0.90, 0.915, 0.90, 0.91, 0.92]
        let yMinusX = PairedDifference(differences: zip(y, x).map { $0 - $1 })
        let t = yMinusX.mean / yMinusX.standardError!
        XCTAssertEqual(t, -5.715476066494083, accuracy: 1e-9)
        XCTAssertEqual(StudentT.cdf(t, df: 4), 0.002317919708952204, accuracy: 1e-12)
        XCTAssertTrue(yMinusX.rejectsNotWorse(confidence: 0.95))
        XCTAssertTrue(yMinusX.rejectsNotWorse(confidence: 0.995))
        XCTAssertFalse(yMinusX.rejectsNotWorse(confidence: 0.999))
        let xMinusY = PairedDifference(differences: zip(x, y).map { $0 - $1 })
        XCTAssertFalse(xMinusY.rejectsNotWorse(confidence: 0.55), "better is never eliminated")
        let (low, high) = try XCTUnwrap(xMinusY.interval95)
        XCTAssertEqual(low, 0.0035995630967087253, accuracy: 1e-12)
        XCTAssertEqual(high, 0.010400436903291288, accuracy: 1e-12)
    }

    func testEdgeCases() {
        XCTAssertNil(PairedDifference([0: 0.5], [1: 0.5]), "no common repeat")
        let one = PairedDifference(differences: [-0.3])
        XCTAssertNil(one.standardError)
        XCTAssertNil(one.interval95)
        XCTAssertFalse(one.rejectsNotWorse(confidence: 0.95), "one pair decides nothing")
        XCTAssertTrue(PairedDifference(differences: [-0.01, -0.01]).rejectsNotWorse(confidence: 0.95), "no spread, worse")
        XCTAssertFalse(PairedDifference(differences: [0, 0, 0]).rejectsNotWorse(confidence: 0.95), "identical runs")
    }
}

/// Each configuration's val_acc is planted: a level per (t0, lr_max_compression), plus noise
/// shared by every configuration of a repeat (the common random numbers) and a little of its own.
struct PlantedExecutor: TrialExecutor {
    var levels: [Int: Double]
    var divergeT0: Int? = nil

    func execute(_ spec: TrialSpec, onEpoch: (EpochMetrics) throws -> Void, isCancelled: () -> Bool) throws -> ExecutionOutcome {
        let p = spec.schedule.parameters
        let shared = Double(splitMix64(spec.seed) >> 11) * 0x1.0p-53 * 0.02
        let own = Double(splitMix64(spec.seed ^ UInt64(p.t0 * 7919 + Int(p.lrMaxCompression))) >> 11) * 0x1.0p-53 * 0.002
        let level = spec.schedule.kind == .sgdr ? levels[p.t0] ?? 0.5 : 0.85
        for e in 1...spec.schedule.epochs {
            if isCancelled() { return .cancelled }
            if spec.schedule.kind == .sgdr, p.t0 == divergeT0, spec.repeatIndex == 1 {
                try onEpoch(EpochMetrics(epoch: e, lr: 0.1, trainLoss: .nan, trainAcc: 0, valLoss: .nan, valAcc: 0, trainSeconds: 0))
                return .diverged
            }
            let acc = level + shared + own - 0.001 * Double(spec.schedule.epochs - e)
            try onEpoch(EpochMetrics(epoch: e, lr: 0.1, trainLoss: 1 - acc, trainAcc: acc, valLoss: 1 - acc, valAcc: acc, trainSeconds: 0))
        }
        return .completed
    }
}

final class RacingTests: XCTestCase {
    /// t0 in {1, 2, 3, 4, 5} x c in {1, 5}: 10 configurations, 2 baselines, up to 6 repeats.
    static func json(repeats: Int = 6, racing: String = #""racing": {}"#) -> String {
        """
        { "name": "race", "strategy": "grid", "seed": 11, "repeats": \(repeats), \(racing),
          "parameters": { "t0": {"values": [1, 2, 3, 4, 5]}, "lr_max_compression": {"values": [1, 5]} },
          "baselines": ["step", "cosine"],
          "training": {"dataset": "synthetic", "epochs": 3} }
        """
    }

    /// t0 5 best, 4 close behind (within the noise), 3 and 1 clearly worse, 2 diverges in repeat 1.
    static let executor = PlantedExecutor(levels: [5: 0.90, 4: 0.8995, 3: 0.87, 2: 0.90, 1: 0.80], divergeT0: 2)

    func run(_ s: SearchSpace, store: MemoryTrialStore, concurrency: Int) throws {
        _ = try SweepCommands.prepare(s, store: store, path: "mem")
        try store.addTrials(s.wantedTrialSpecs(try store.trials()))
        var settings = SweepRunner.Settings()
        settings.isAbandoned = { _ in false }
        settings.replenish = {
            let trials = try store.trials()
            let existing = Set(trials.map(\.spec.id))
            let new = s.wantedTrialSpecs(trials).filter { !existing.contains($0.id) }
            if !new.isEmpty { try store.addTrials(new) }
            return !new.isEmpty
        }
        let runner = SweepRunner(store: store, executor: Self.executor, concurrency: concurrency, owner: "t:1:1", settings: settings)
        XCTAssertEqual(try runner.run(), .exhausted)
    }

    func testRaceEliminatesTheBeatenAndKeepsTheClose() throws {
        let s = try space(Self.json())
        let store = MemoryTrialStore()
        try run(s, store: store, concurrency: 2)
        let trials = try store.trials()
        let race = try XCTUnwrap(s.raceState(trials))
        XCTAssertTrue(race.isFinished)
        XCTAssertEqual(race.roundsDone, 6)
        // Diverged in repeat 1: out after round 2, at once. Clearly worse: out after round 2,
        // the first round with a test (first_round 2).
        for c in ["sgdr-0002", "sgdr-0003"] { XCTAssertEqual(race.eliminated[c], 2, c) }  // t0 2
        for c in ["sgdr-0000", "sgdr-0001", "sgdr-0004", "sgdr-0005"] { XCTAssertEqual(race.eliminated[c], 2, c) }
        // Within the noise of the leader (t0 4 is 0.0005 behind t0 5): what scipy's paired t-test
        // decides on the same scores by the documented rules (Tests/Fixtures/racing_critical_t.py
        // prints it; none of its p-values is within 0.025 of 0.05): t0 5 (0008, 0009) and 0007
        // race to the end, 0006 is out after round 5.
        XCTAssertEqual(race.survivors, ["sgdr-0007", "sgdr-0008", "sgdr-0009"])
        XCTAssertEqual(race.eliminated, ["sgdr-0000": 2, "sgdr-0001": 2, "sgdr-0002": 2, "sgdr-0003": 2,
                                         "sgdr-0004": 2, "sgdr-0005": 2, "sgdr-0006": 5])
        // Eliminated configurations got no more trials; baselines ran every round.
        for (c, rounds) in race.eliminated {
            XCTAssertEqual(trials.filter { $0.spec.configuration == c }.count, rounds, c)
        }
        XCTAssertEqual(trials.filter { $0.spec.configuration == "cosine" }.count, 6)
        XCTAssertLessThan(trials.count, s.trialCount)
        // The leaderboard says so.
        let rows = s.leaderboard(trials)
        let row = try XCTUnwrap(rows.first { $0.configuration == "sgdr-0000" })
        XCTAssertEqual(row.statusText, "eliminated (round 2)")
        XCTAssertEqual(row.repeatsDone, 2)
    }

    func testRaceIsIdenticalAtConcurrencyOneAndTwo() throws {
        let s = try space(Self.json())
        let one = MemoryTrialStore(), two = MemoryTrialStore()
        try run(s, store: one, concurrency: 1)
        try run(s, store: two, concurrency: 2)
        XCTAssertEqual(comparable(try one.trials()), comparable(try two.trials()))
        XCTAssertEqual(s.raceState(try one.trials()), s.raceState(try two.trials()))
    }

    func testRaisingRepeatsContinuesTheRace() throws {
        let short = try space(Self.json(repeats: 3))
        let store = MemoryTrialStore()
        try run(short, store: store, concurrency: 2)
        let before = try XCTUnwrap(short.raceState(try store.trials()))
        XCTAssertTrue(before.isFinished)
        XCTAssertEqual(before.roundsDone, 3)

        let long = try space(Self.json(repeats: 5))
        XCTAssertEqual(long.canonicalHash, short.canonicalHash, "repeats may grow in a race")
        try run(long, store: store, concurrency: 2)
        let trials = try store.trials()
        let after = try XCTUnwrap(long.raceState(trials))
        XCTAssertEqual(after.roundsDone, 5)
        for c in before.eliminated.keys { XCTAssertEqual(after.eliminated[c], before.eliminated[c], "stays out: \(c)") }
        for c in after.survivors { XCTAssertEqual(trials.filter { $0.spec.configuration == c }.count, 5, c) }
        // The same as a race of 5 from the start.
        let fresh = MemoryTrialStore()
        try run(long, store: fresh, concurrency: 1)
        XCTAssertEqual(comparable(try fresh.trials()), comparable(trials))
        // Fewer repeats are refused.
        XCTAssertThrowsError(try SweepCommands.prepare(short, store: store, path: "mem")) { error in
            XCTAssertTrue("\(error)".contains("repeats: 5 -> 3: a race can only grow"), "\(error)")
        }
    }

    func testDecisionsUseOnlyCompleteRounds() throws {
        let s = try space(Self.json())
        let specs = s.trialSpecs { $0.schedule.kind == .sgdr ? 2 : 6 }
        // Round 0 complete; round 1 complete for all but one configuration: nothing decided in round 1.
        var trials: [TrialRecord] = []
        for spec in specs where spec.repeatIndex == 0 || spec.configuration != "sgdr-0009" {
            var epochs: [EpochMetrics] = []
            let outcome = try Self.executor.execute(spec, onEpoch: { epochs.append($0) }, isCancelled: { false })
            trials.append(TrialRecord(spec: spec, status: outcome == .diverged ? .diverged : .done, epochs: epochs))
        }
        let race = try XCTUnwrap(s.raceState(trials))
        XCTAssertEqual(race.roundsDone, 1)
        XCTAssertEqual(race.eliminated, [:])
        XCTAssertEqual(race.repeatsWanted["sgdr-0000"], 2)
        // Racing numbers are round-major: round 1 comes after every trial of round 0.
        let round0 = specs.filter { $0.repeatIndex == 0 }.map(\.number).max()!
        XCTAssertTrue(specs.filter { $0.repeatIndex == 1 }.allSatisfy { $0.number > round0 })
    }

    /// `Tests/Fixtures/racing_critical_t.py` (scipy 1.17.1) printed, for (pairs, confidence),
    /// the critical t = t.ppf(confidence, pairs - 1): a configuration is eliminated when the t of
    /// its paired differences with the leader is below −critical.
    static let criticalT: [(pairs: Int, confidence: Double, t: Double)] = [
        (2, 0.95, 6.313751514675037),
        (3, 0.9, 1.8856180831641272),
        (4, 0.99, 4.540702858568132),
        (5, 0.95, 2.1318467863266495),
        (6, 0.75, 0.7266868438004226),
    ]

    /// The library's own quantile and CDF at those points agree with scipy.
    func testStudentTQuantileAtTheRacingCriticalValues() {
        for (pairs, confidence, critical) in Self.criticalT {
            let df = Double(pairs - 1)
            XCTAssertEqual(StudentT.quantile(confidence, df: df), critical, accuracy: 1e-9 * critical, "df \(df)")
            XCTAssertEqual(StudentT.quantile(1 - confidence, df: df), -critical, accuracy: 1e-9 * critical, "df \(df)")
            XCTAssertEqual(StudentT.cdf(-critical, df: df), 1 - confidence, accuracy: 1e-12, "df \(df)")
        }
    }

    /// Paired differences with t = `t` exactly (up to rounding): d_r = m + σ·z_r, z a centred
    /// ramp of sample standard deviation 1, m = t·σ/√n.
    static func differences(pairs n: Int, t: Double, sigma: Double = 0.01) -> [Double] {
        let sd = (Double(n * (n + 1)) / 12).squareRoot()  // of 0, 1, ..., n - 1
        let m = t * sigma / Double(n).squareRoot()
        return (0..<n).map { m + sigma * (Double($0) - Double(n - 1) / 2) / sd }
    }

    /// One decision, just on each side of the critical value: the leader (t0 1) and two
    /// configurations a hair beyond (t0 2, eliminated) and a hair short of it (t0 3, survives),
    /// decided once, at the last round (first_round = repeats = pairs). Margins of 1e-6 and 1e-3
    /// of the critical t (tried: moving the p threshold by 1e-4 of itself fails the 1e-6 cases).
    func testEliminationJustBeyondTheCriticalTAndNotJustShortOfIt() throws {
        for (pairs, confidence, critical) in Self.criticalT {
            for margin in [1e-6, 1e-3] {
                let s = try space("""
                    { "name": "edge", "strategy": "grid", "seed": 3, "repeats": \(pairs),
                      "racing": {"first_round": \(pairs), "confidence": \(confidence)},
                      "parameters": { "t0": {"values": [1, 2, 3]} },
                      "training": {"dataset": "synthetic", "epochs": 1} }
                    """)
                let ids = Dictionary(uniqueKeysWithValues: s.expandConfigurations().map { ($0.schedule.parameters.t0, $0.id) })
                let beyond = Self.differences(pairs: pairs, t: -critical * (1 + margin))
                let short = Self.differences(pairs: pairs, t: -critical * (1 - margin))
                // The t statistics as the library computes them from the stored scores.
                let leaderScores = (0..<pairs).map { 0.9 + 0.003 * Double($0) }
                func scores(_ t0: Int) -> [Double] {
                    switch t0 {
                    case 1: return leaderScores
                    case 2: return zip(leaderScores, beyond).map { $0 + $1 }
                    default: return zip(leaderScores, short).map { $0 + $1 }
                    }
                }
                var trials: [TrialRecord] = []
                for spec in s.trialSpecs() {
                    let score = scores(spec.schedule.parameters.t0)[spec.repeatIndex]
                    trials.append(TrialRecord(spec: spec, status: .done, epochs: [
                        EpochMetrics(epoch: 1, lr: 0.1, trainLoss: 0, trainAcc: 0, valLoss: 1 - score, valAcc: score, trainSeconds: 0),
                    ]))
                }
                for (t0, expected) in [(2, 1 + margin), (3, 1 - margin)] {
                    let d = PairedDifference(differences: zip(scores(t0), leaderScores).map { $0 - $1 })
                    XCTAssertEqual(d.mean / d.standardError!, -critical * expected, accuracy: 1e-10 * critical)
                }
                let race = try XCTUnwrap(s.raceState(trials))
                let context = "pairs \(pairs), confidence \(confidence), margin \(margin)"
                XCTAssertEqual(race.roundsDone, pairs, context)
                XCTAssertTrue(race.isFinished, context)
                XCTAssertEqual(race.eliminated, [ids[2]!: pairs], context)
                XCTAssertEqual(race.survivors, [ids[1]!, ids[3]!], context)
            }
        }
    }

    func testRacingKeyIsValidated() {
        XCTAssertEqual(try space(Self.json(racing: #""racing": {"first_round": 3, "confidence": 0.99}"#)).racing,
                       RacingOptions(firstRound: 3, confidence: 0.99))
        XCTAssertNil(try space(Self.json(racing: #""objective": "best_val_acc""#)).racing)
        for (racing, path, message) in [
            (#"{"first_round": 1}"#, "racing.first_round", "first_round must be an integer in [2, 1000]"),
            (#"{"confidence": 0.5}"#, "racing.confidence", "confidence must be a number in (0.5, 1)"),
            (#"{"confidence": 1}"#, "racing.confidence", "confidence must be a number in (0.5, 1)"),
            (#"{"confidance": 0.9}"#, "racing.confidance", "did you mean \"confidence\"?"),
            (#"true"#, "racing", "expected an object"),
        ] {
            guard let e = spaceError(Self.json(racing: #""racing": "# + racing)) else { XCTFail(racing); continue }
            XCTAssertEqual(e.path, path, "\(e)")
            XCTAssertTrue(e.description.contains(message), "\(e)")
        }
    }
}
