@testable import App
import Foundation
import Schedules
@testable import Sweep
import TrainingTypes
import XCTest

/// A stand-in for training whose every epoch's val_acc is a smooth function of the swept values:
/// 1 - (u(lr_max) - 0.7)^2 - (u(tmult) - 0.2)^2, u the [0, 1] coordinate of lr_max in
/// [0.001, 1] (log) and tmult in [1, 3]: the optimum is at lr_max = 0.001 * 1000^0.7, tmult = 1.4.
struct SmoothExecutor: TrialExecutor {
    var calls: FakeExecutor.Counter? = nil

    static func coordinates(_ swept: [String: Double]) -> (Double, Double) {
        ((Foundation.log(swept["lr_max"]!) - Foundation.log(0.001)) / Foundation.log(1000), (swept["tmult"]! - 1) / 2)
    }

    static func value(_ swept: [String: Double]) -> Double {
        let (a, b) = coordinates(swept)
        return 1 - (a - 0.7) * (a - 0.7) - (b - 0.2) * (b - 0.2)
    }

    func execute(_ spec: TrialSpec, onEpoch: (EpochMetrics) throws -> Void, isCancelled: () -> Bool) throws -> ExecutionOutcome {
        calls?.add(spec.id)
        let acc = spec.swept.isEmpty ? 0.5 : Self.value(spec.swept)
        for e in 1...spec.schedule.epochs {
            try onEpoch(EpochMetrics(epoch: e, lr: 0.1, trainLoss: 1 - acc, trainAcc: acc, valLoss: 1 - acc, valAcc: acc, trainSeconds: 0))
        }
        return .completed
    }
}

/// `"strategy": "tpe"` (issue 20): the estimators against SciPy (Tests/Fixtures/tpe_reference.py),
/// the good/bad split, determinism and the constant liar, proposals near a known optimum, two
/// runners on one store, and the space file's rules.
final class TPETests: XCTestCase {
    static func json(trials: Int, seed: Int = 3, tpe: String = #"{"startup": 6, "parallel": 2}"#, extra: String = "") -> String {
        """
        {"name": "tpe", "strategy": "tpe", "trials": \(trials), "seed": \(seed), "concurrency": 2,
         "parameters": {"lr_max": {"min": 0.001, "max": 1, "log": true}, "tmult": {"min": 1, "max": 3}},
         "tpe": \(tpe), \(extra)
         "training": {"epochs": 1}}
        """
    }

    // MARK: Estimators (reference values: python3 Tests/Fixtures/tpe_reference.py, SciPy 1.17)

    func testParzenMatchesSciPy() {
        let p = TPE.Parzen(observations: [0.1, 0.35, 0.4, 0.9])
        XCTAssertEqual(p.means, [0.5, 0.1, 0.35, 0.4, 0.9])
        let sds = [1, 0.25, 0.25, 0.166666666666667, 0.4]
        for (a, b) in zip(p.sds, sds) { XCTAssertEqual(a, b, accuracy: 1e-14) }
        let reference: [(Double, Double)] = [(0.0, -0.200128182832890), (0.2, 0.222208277481276), (0.37, 0.366504691156657),
                                             (0.75, -0.377155407769897), (1.0, -0.640741683969057)]
        for (x, logp) in reference { XCTAssertEqual(p.logDensity(x), logp, accuracy: 1e-12, "x = \(x)") }
        XCTAssertEqual(TPE.Parzen(observations: []).logDensity(0.3), 0.020977800490950, accuracy: 1e-12)
        // Draws stay in [0, 1] and follow the mixture: most near the dense 0.1 ... 0.4.
        var rng = Xoshiro256(seed: 1)
        let draws = (0..<4000).map { _ in p.sample(&rng) }
        XCTAssertTrue(draws.allSatisfy { $0 >= 0 && $0 <= 1 })
        // The mixture's mass in [0, 0.5] (scipy: sum of the truncated kernels' cdf at 0.5) / 5
        // is 0.6190; 4000 draws: sd 0.0077.
        let below = Double(draws.filter { $0 <= 0.5 }.count) / 4000
        XCTAssertEqual(below, 0.6190, accuracy: 0.03)
    }

    func testCategoricalAndCoordinatesByHand() {
        let c = TPE.Categorical(observations: [0, 2, 2], count: 3)
        XCTAssertEqual(c.probabilities[0], 1.0 / 3, accuracy: 1e-15)
        XCTAssertEqual(c.probabilities[1], 1.0 / 12, accuracy: 1e-15)
        XCTAssertEqual(c.probabilities[2], 7.0 / 12, accuracy: 1e-15)
        XCTAssertEqual(TPE.coordinate(3, lo: 1, hi: 4, log: false, integer: true), 0.625)
        XCTAssertEqual(TPE.coordinate(0.2, lo: 0.05, hi: 0.5, log: true, integer: false), 0.6020599913279624, accuracy: 1e-15)
        XCTAssertEqual(TPE.coordinate(0.3, lo: 0, hi: 0.8, log: false, integer: false), 0.375, accuracy: 1e-15)
        // Each whole number's cell middle maps back onto it.
        for v in 1...4 {
            XCTAssertEqual(SobolSampler.value(.range(min: 1, max: 4, log: false, integer: true),
                                              at: TPE.coordinate(Double(v), lo: 1, hi: 4, log: false, integer: true)), Double(v))
        }
    }

    func testSplitCountsLiarsAndFailuresAsBad() {
        let o = [TPEObservation(swept: ["x": 0], score: 0.5), TPEObservation(swept: ["x": 1], score: 0.9),
                 TPEObservation(swept: ["x": 2], score: nil), TPEObservation(swept: ["x": 3], score: 0.9),
                 TPEObservation(swept: ["x": 4], score: 0.7), TPEObservation(swept: ["x": 5], score: nil)]
        // 6 observations, gamma 0.25: ceil(1.5) = 2 good, the two 0.9s (ties in the given order).
        let (good, bad) = TPE.split(o, gamma: 0.25)
        XCTAssertEqual(good.map { $0.swept["x"]! }, [1, 3])
        XCTAssertEqual(bad.map { $0.swept["x"]! }, [0, 2, 4, 5])
        // At least one good, never an unscored one.
        XCTAssertEqual(TPE.split(o, gamma: 0.01).good.map { $0.swept["x"]! }, [1])
        XCTAssertEqual(TPE.split([TPEObservation(swept: [:], score: nil)], gamma: 0.5).good.count, 0)
    }

    // MARK: Proposals

    /// An uninterrupted sweep on the smooth objective, in memory; its trials.
    func runSweep(_ json: String, executor: SmoothExecutor = SmoothExecutor()) throws -> [TrialRecord] {
        let stores = Stores()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tpe-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("space.json")
        try Data(json.utf8).write(to: url)
        var o = options()
        o.makeExecutor = { _ in executor }
        let (console, output) = Console.capturing()
        XCTAssertEqual(SweepCommands.run(spaceFile: url.path, db: "db", options: o, openStore: stores.open, console: console), 0, output().err)
        return try stores.stores["db"]!.trials()
    }

    func testAResumedStateProposesWhatTheUninterruptedRunDidInAnyOrder() throws {
        let s = try space(Self.json(trials: 20))
        let run = try runSweep(Self.json(trials: 20))
        XCTAssertEqual(run.count, 20)
        XCTAssertTrue(run.allSatisfy { $0.status == .done })
        // The first six are random search's draws.
        for r in run.prefix(6) {
            let i = Int(r.spec.configuration.dropFirst(5))!
            XCTAssertEqual(r.spec.swept["lr_max"], s.sampler.configuration(at: i)[0].1)
        }
        // From any stored state of that run (configurations 0 ..< k stored, those before k - 1
        // finished, k - 1 running), in any order, the next proposal is the run's configuration k.
        var rng = Xoshiro256(seed: 77)
        for k in 6..<20 {
            var state = Array(run.prefix(k))
            state[k - 1].status = .running
            for i in stride(from: state.count - 1, to: 0, by: -1) { state.swapAt(i, rng.nextInt(in: 0...i)) }
            let next = s.tpeProposals(state)
            XCTAssertEqual(next.first?.id, run[k].spec.id)
            XCTAssertEqual(next.first?.swept, run[k].spec.swept, "proposal \(k)")
            XCTAssertEqual(next.first?.schedule, run[k].spec.schedule)
            // With parallel 2, one ahead at most: k + 1 waits for k - 1.
            XCTAssertEqual(next.count, 1)
        }
        // Another seed proposes other configurations; the same seed the same ones.
        XCTAssertEqual(try runSweep(Self.json(trials: 20)).map(\.spec), run.map(\.spec))
        XCTAssertNotEqual(try runSweep(Self.json(trials: 20, seed: 4)).suffix(14).map(\.spec.swept), run.suffix(14).map(\.spec.swept))
    }

    func testConstantLiarAndWaiting() throws {
        let s = try space(Self.json(trials: 12, tpe: #"{"startup": 6, "parallel": 3}"#))
        let run = try runSweep(Self.json(trials: 12, tpe: #"{"startup": 6, "parallel": 3}"#))
        // Proposal 8 sees configurations 0 ..< 6; 6 and 7 lie (bad), finished or not, with any score.
        var state = Array(run.prefix(8))
        let expected = s.tpeProposals(state).first
        XCTAssertEqual(expected?.id, "sgdr-0008.r0")
        XCTAssertEqual(expected?.swept, run[8].spec.swept)
        state[6].status = .running
        state[7].status = .pending
        XCTAssertEqual(s.tpeProposals(state).first, expected)
        // The liars count: the same results without them give another proposal.
        var rng = Xoshiro256(seed: Seeds.tpeProposal(sweepSeed: 3, index: 8))
        let observations = run.prefix(6).map { TPEObservation(swept: $0.spec.swept, score: $0.score(.bestValAcc)) }
        let withoutLiars = TPE.propose(parameters: s.parameters, observations: Array(observations), options: s.tpe!, rng: &rng)
        XCTAssertNotEqual(withoutLiars.map(\.1), s.parameters.map { expected!.swept[$0.parameter.rawValue]! })
        // Proposal 8 waits while configuration 5 (which it conditions on) is unfinished.
        state[5].status = .running
        XCTAssertEqual(s.tpeProposals(state), [])
        state[5].status = .failed  // a failed one is finished: counted bad
        XCTAssertEqual(s.tpeProposals(state).first?.id, "sgdr-0008.r0")
    }

    func testProposalsConcentrateNearTheOptimum() throws {
        // 10 random start-up configurations, then 30 proposals; random search's configurations
        // 10 ..< 40 of the same seeds for comparison. The squared distance to the optimum in
        // coordinates: a random point's mean is about 0.1 + 0.19 (0.29 for this optimum).
        var tpeDistances: [Double] = [], randomDistances: [Double] = []
        for seed in 1...3 {
            let json = Self.json(trials: 40, seed: seed, tpe: #"{"startup": 10, "parallel": 2}"#)
            let run = try runSweep(json)
            let s = try space(json)
            func distance(_ swept: [String: Double]) -> Double { 1 - SmoothExecutor.value(swept) }
            tpeDistances += run.suffix(30).map { distance($0.spec.swept) }
            let random = RandomSampler(parameters: s.parameters, seed: UInt64(seed), count: 40)
            randomDistances += (10..<40).map { i in
                distance(Dictionary(random.configuration(at: i).map { ($0.0.rawValue, $0.1) }, uniquingKeysWith: { a, _ in a }))
            }
        }
        let tpeMean = tpeDistances.reduce(0, +) / 90, randomMean = randomDistances.reduce(0, +) / 90
        XCTAssertLessThan(tpeMean, randomMean / 3, "tpe \(tpeMean), random \(randomMean)")
    }

    func testTwoRunnersOnOneStoreProposeEachConfigurationOnce() throws {
        let json = Self.json(trials: 16, tpe: #"{"startup": 4, "parallel": 3}"#, extra: #""baselines": ["cosine"], "repeats": 2,"#)
        let s = try space(json)
        let store = MemoryTrialStore()
        _ = try store.create(SweepInfo(name: s.name, spaceJSON: s.source, spaceHash: s.canonicalHash, createdAt: 0))
        let ranking = s.ranking
        _ = try ranking.storeTrials(in: store, firstBatch: 10, batch: 10)
        let counter = FakeExecutor.Counter()
        var settings = SweepRunner.Settings()
        settings.isAbandoned = { _ in false }
        settings.replenish = ranking.replenish(store)
        let runners = (0..<2).map { i in
            SweepRunner(store: store, executor: SmoothExecutor(calls: counter), concurrency: 2, owner: "runner-\(i)", settings: settings)
        }
        let group = DispatchGroup()
        let errors = Locked<[String]>([])
        for r in runners {
            group.enter()
            Thread {
                do { _ = try r.run() } catch { errors.mutate { $0.append("\(error)") } }
                group.leave()
            }.start()
        }
        XCTAssertEqual(group.wait(timeout: .now() + 120), .success, "no hang")
        XCTAssertEqual(errors.value, [])
        // The first runner may stop when it can neither claim nor propose; the other finishes.
        let trials = try store.trials()
        XCTAssertEqual(trials.count, (1 + 16) * 2)
        XCTAssertTrue(trials.allSatisfy { $0.status == .done })
        XCTAssertEqual(counter.ids.count, Set(counter.ids).count, "no trial ran twice")
        XCTAssertEqual(counter.ids.count, trials.count)
        // The same proposals as one runner alone (they do not depend on who finished first).
        let alone = try runSweep(json)
        XCTAssertEqual(trials.map(\.spec), alone.map(\.spec))
    }

    // MARK: Space rules, identity, output

    func testSpaceRules() throws {
        let s = try space(Self.json(trials: 8, tpe: "{}"))
        XCTAssertEqual(s.tpe, TPEOptions())
        XCTAssertEqual(s.tpe?.startup, 10)
        XCTAssertEqual(s.tpe?.parallel, 4)
        XCTAssertTrue(s.ranking is TPERanking)
        let base = #""name": "x", "strategy": "tpe", "parameters": {"t0": {"min": 1, "max": 5}}"#
        assertError("{\(base)}", path: "trials", contains: ["missing", "\"strategy\": \"tpe\" needs \"trials\""])
        assertError("{\(base), \"trials\": 4, \"tpe\": {\"gama\": 0.2}}", path: "tpe.gama", contains: ["did you mean \"gamma\"?"])
        assertError("{\(base), \"trials\": 4, \"tpe\": {\"gamma\": 1}}", path: "tpe.gamma", contains: ["out of range", "gamma must be a number in (0, 1)"])
        assertError("{\(base), \"trials\": 4, \"tpe\": {\"startup\": 0}}", path: "tpe.startup", contains: ["startup must be an integer in [1, 1000000]"])
        assertError("{\(base), \"trials\": 4, \"tpe\": {\"candidates\": 2.5}}", path: "tpe.candidates", contains: ["candidates must be an integer"])
        assertError("{\(base), \"trials\": 4, \"tpe\": {\"parallel\": 0}}", path: "tpe.parallel", contains: ["parallel must be an integer in [1, 256]"])
        assertError("{\(base), \"trials\": 4, \"tpe\": [1]}", path: "tpe", contains: ["expected"])
        assertError("{\(base), \"trials\": 4, \"racing\": {}}", path: "racing", contains: ["not allowed with \"strategy\": \"tpe\""])
        assertError(#"{"name": "x", "strategy": "random", "trials": 4, "parameters": {"t0": {"min": 1, "max": 5}}, "tpe": {}}"#,
                    path: "tpe", contains: ["only allowed with \"strategy\": \"tpe\"", "this space is \"random\""])
        // The settings are the sweep's identity; trials may grow.
        let a = try space(Self.json(trials: 8)), b = try space(Self.json(trials: 9))
        XCTAssertEqual(a.canonicalHash, b.canonicalHash)
        let c = try space(Self.json(trials: 8, tpe: #"{"startup": 6, "parallel": 2, "gamma": 0.3}"#))
        XCTAssertEqual(c.changes(from: a), ["tpe.gamma: 0.25 -> 0.3"])
        XCTAssertTrue(a.canonicalEntries().contains(CanonicalEntry(path: "tpe.startup", value: "6")))
        XCTAssertFalse(try space(gridJSON).canonicalEntries().contains { $0.path.hasPrefix("tpe") })
    }

    func testLeaderboardBestAndStatusOfATPESweep() throws {
        let stores = Stores()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tpe-out-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("space.json")
        func write(_ trials: Int) throws -> String {
            try Data(Self.json(trials: trials, extra: #""baselines": ["constant"],"#).utf8).write(to: url)
            return url.path
        }
        var o = options()
        o.makeExecutor = { _ in SmoothExecutor() }
        let (console, out) = Console.capturing()
        XCTAssertEqual(SweepCommands.run(spaceFile: try write(8), db: "db", options: o, openStore: stores.open, console: console), 0, out().err)
        XCTAssertTrue(out().err.contains("TPE proposal calls:"), out().err)
        // Growing proposes only the new ones, from the stored results.
        let counter = FakeExecutor.Counter()
        o.makeExecutor = { _ in SmoothExecutor(calls: counter) }
        XCTAssertEqual(SweepCommands.run(spaceFile: try write(10), db: "db", options: o, openStore: stores.open, console: console), 0)
        // (Both run at once, in either order: the set is what is checked.)
        XCTAssertEqual(counter.ids.sorted(), ["sgdr-0008.r0", "sgdr-0009.r0"])
        XCTAssertEqual(try stores.stores["db"]!.trials().map(\.spec), try runSweep(Self.json(trials: 10, extra: #""baselines": ["constant"],"#)).map(\.spec))
        let (c3, o3) = Console.capturing()
        XCTAssertEqual(SweepCommands.leaderboard(db: "db", csv: "-", top: nil, openStore: stores.open, console: c3), 0)
        let lines = o3().out.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        XCTAssertEqual(lines.count, 1 + 11)
        // Who proposed each configuration: the last column.
        XCTAssertTrue(lines[0].hasSuffix(",proposed_by"), lines[0])
        for line in lines.dropFirst() {
            let cells = line.components(separatedBy: ",")
            let id = cells[1]
            let expected = id == "constant" ? "baseline" : Int(id.dropFirst(5))! < 6 ? "startup" : "tpe"
            XCTAssertEqual(cells.last, expected, line)
        }
        // The text leaderboard (every row, and --top) names them too, in its last column.
        for top in [nil, 4] as [Int?] {
            let (c6, o6) = Console.capturing()
            XCTAssertEqual(SweepCommands.leaderboard(db: "db", csv: nil, top: top, openStore: stores.open, console: c6), 0)
            let text = o6().out.split(separator: "\n").map(String.init)
            XCTAssertEqual(text.count, 1 + (top ?? 11), o6().out)
            XCTAssertTrue(text[0].hasSuffix("proposed_by"), text[0])
            for line in text.dropFirst() {
                let words = line.split(separator: " ").map(String.init)
                let id = words[1]
                let expected = id == "constant" ? "baseline" : Int(id.dropFirst(5))! < 6 ? "startup" : "tpe"
                XCTAssertEqual(words.last, expected, line)
            }
        }
        let (c4, o4) = Console.capturing()
        XCTAssertEqual(SweepCommands.best(db: "db", json: true, openStore: stores.open, console: c4), 0)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(o4().out.utf8)) as? [String: Any])
        XCTAssertEqual(object["strategy"] as? String, "tpe")
        let (c5, o5) = Console.capturing()
        XCTAssertEqual(SweepCommands.status(db: "db", openStore: stores.open, console: c5, isAbandoned: { _ in false }), 0)
        XCTAssertTrue(o5().out.contains("tpe, 11 configurations x 1 repeat = 11 trials"), o5().out)
    }
}
