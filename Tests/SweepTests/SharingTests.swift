@testable import App
import Engine
@testable import EngineAdapter
import TrainingTypes
import Foundation
import Schedules
import SpecReference
@testable import Sweep
import XCTest

/// The trajectory cache changes what is computed, never what is recorded.
final class SharingTests: XCTestCase {
    /// Shared prefixes: a trigger (every trial runs at lr_max until it fires), t0s that do not
    /// restart within the run, compressions and tmults that only matter after a restart,
    /// baselines at lr_max, two repeats (two seeds), and a peak that diverges.
    static let json = """
        { "name": "share", "strategy": "grid", "seed": 3, "repeats": 2,
          "parameters": { "t0": {"values": [1, 2, 5]}, "tmult": {"values": [1, 2]},
                          "lr_max_compression": {"values": [1, 5]},
                          "trigger_val_acc": {"values": [0, 0.6]},
                          "lr_max": {"values": [0.1, 100000]} },
          "fixed": {"lr_min": 0.001, "plateau_patience": 1, "plateau_factor": 0.5, "plateau_min_delta": 0.3},
          "baselines": ["step", "cosine", "constant", "plateau"],
          "training": {"dataset": "synthetic", "train_size": 400, "val_size": 150, "epochs": 4,
                       "batch_size": 50, "hidden": [24]} }
        """

    override func setUp() { BLAS.setThreads(1) }

    /// Every record's values (all metrics but the wall times).
    func values(_ records: [TrialRecord]) -> [[String]] {
        records.sorted { $0.spec.number < $1.spec.number }.map { r in
            [r.spec.id, r.status.rawValue, String(r.spec.seed)] + r.epochs.map {
                "\($0.epoch):\($0.lr.bitPattern):\($0.trainLoss.bitPattern):\($0.trainAcc.bitPattern):\($0.valLoss.bitPattern):\($0.valAcc.bitPattern)"
            }
        }
    }

    func sweep(cacheBytes: Int, concurrency: Int, json: String = SharingTests.json) throws -> ([TrialRecord], TrajectoryCache.Statistics) {
        let s = try space(json)
        let store = MemoryTrialStore()
        _ = try store.create(SweepInfo(name: s.name, spaceJSON: s.source, spaceHash: s.canonicalHash, createdAt: 0))
        try store.addTrials(s.trialSpecs())
        let executor = EngineExecutor(data: try DataSet.load(s.data), training: s.training, cacheBytes: cacheBytes)
        var settings = SweepRunner.Settings()
        settings.isAbandoned = { _ in false }
        let runner = SweepRunner(store: store, executor: executor, concurrency: concurrency, owner: "t:1:1", settings: settings)
        XCTAssertEqual(try runner.run(), .exhausted)
        return (try store.trials(), executor.cache.statistics)
    }

    func testRecordsAreBitIdenticalWithTheCacheOnOffTinyAndAtAnyConcurrency() throws {
        let checkpointBytes = try TrainingSession(data: DataSet.load(space(Self.json).data),
                                                  options: space(Self.json).training).checkpoint().byteCount
        let (off, offStats) = try sweep(cacheBytes: 0, concurrency: 1)
        let (on, onStats) = try sweep(cacheBytes: TrajectoryCache.defaultBudgetBytes, concurrency: 1)
        // Budgets so small that most states are evicted before they are wanted.
        let tinies = try [3, 5, 8, 12].map { try sweep(cacheBytes: $0 * checkpointBytes, concurrency: 1) }
        let (onTwo, onTwoStats) = try sweep(cacheBytes: TrajectoryCache.defaultBudgetBytes, concurrency: 2)
        let (tinyTwo, _) = try sweep(cacheBytes: 2 * checkpointBytes, concurrency: 2)

        // The grid is what it should be: 4 baselines + 48 configurations, 2 repeats; some
        // trials diverge (lr_max 40), some finish, and the trigger fires for some.
        XCTAssertEqual(off.count, 104)
        XCTAssertGreaterThan(off.filter { $0.status == .diverged }.count, 0)
        XCTAssertGreaterThan(off.filter { $0.status == .done }.count, 40)
        XCTAssertTrue(off.allSatisfy { $0.status == .done || $0.status == .diverged })
        XCTAssertTrue(off.contains { $0.spec.schedule.parameters.triggerValAcc > 0 && $0.spec.schedule.parameters.lrMax == 0.1
                                     && $0.status == .done && $0.epochs.contains { $0.lr != 0.1 } }, "the trigger fires")
        // The plateau baseline's rates follow its own val_accs, as SGDR-SPEC.md defines them.
        for trial in off where trial.spec.schedule.kind == .plateau {
            let rates = plateauReference(lrMax: 0.1, lrMin: 0.001, factor: 0.5, patience: 1, minDelta: 0.3,
                                         valAccs: trial.epochs.map(\.valAcc))
            XCTAssertEqual(trial.epochs.map(\.lr), rates, trial.spec.id)
        }
        XCTAssertTrue(off.contains { $0.spec.schedule.kind == .plateau && Set($0.epochs.map(\.lr)).count > 1 },
                      "the plateau baseline lowers its rate")
        let reference = values(off)
        XCTAssertEqual(values(on), reference, "cache on")
        for (n, (tiny, stats)) in zip([3, 5, 8, 12], tinies) {
            XCTAssertEqual(values(tiny), reference, "tiny cache of \(n) states (evictions and replays)")
            XCTAssertGreaterThan(stats.evictions, 0, "\(stats)")
            XCTAssertLessThanOrEqual(stats.bytes, n * checkpointBytes)
        }
        XCTAssertEqual(values(onTwo), reference, "cache on, concurrency 2")
        XCTAssertEqual(values(tinyTwo), reference, "tiny cache, concurrency 2")

        // Off: every epoch computed. On: most reused. Tiny: states were evicted and replayed.
        XCTAssertEqual(offStats.hits, 0)
        XCTAssertEqual(offStats.entries, 0)
        XCTAssertEqual(offStats.replays, 0)
        let walked = off.reduce(0) { $0 + $1.epochs.count } + off.filter { $0.status == .diverged }.count
        XCTAssertEqual(offStats.misses, walked)
        XCTAssertEqual(onStats.hits + onStats.misses, walked)
        XCTAssertGreaterThan(onStats.hits, walked / 2, "\(onStats)")
        XCTAssertEqual(onStats.replays, 0)
        XCTAssertEqual(onStats.evictions, 0)
        XCTAssertGreaterThan(tinies.map(\.1.hits).reduce(0, +), 0, "\(tinies.map(\.1))")
        XCTAssertEqual(onTwoStats.hits + onTwoStats.misses, walked)
        // Reused epochs carry the metrics (and train_seconds) of the run that computed them.
        let constant = try XCTUnwrap(on.first { $0.spec.id == "constant.r0" }, "\(on.map { ($0.spec.id, $0.epochs.map(\.lr)) })")
        let triggered = try XCTUnwrap(on.first { $0.spec.schedule.parameters.triggerValAcc > 0 && $0.spec.repeatIndex == 0
                                                 && $0.epochs.first?.lr == constant.epochs.first?.lr })
        XCTAssertEqual(constant.epochs[0], triggered.epochs[0])
    }

    /// The same for a CNN (its second convolution, 4 input channels, runs as Winograd): its
    /// checkpoints (convolution weights and biases included) restore bit-exactly, so shared and
    /// replayed epochs record what a fresh run records; and the best configuration's rerun
    /// command names the model.
    func testCNNRecordsAreBitIdenticalWithTheCacheOnOffAndTiny() throws {
        let json = """
            { "name": "share-cnn", "strategy": "grid", "seed": 3, "repeats": 1,
              "parameters": { "t0": {"values": [1, 5]}, "trigger_val_acc": {"values": [0, 0.5]} },
              "fixed": {"lr_min": 0.001, "lr_max": 0.1},
              "baselines": ["cosine", "constant"],
              "training": {"dataset": "synthetic", "train_size": 100, "val_size": 50, "epochs": 3,
                           "batch_size": 50, "model": "cnn", "conv": [4, 4], "hidden": []} }
            """
        let s = try space(json)
        XCTAssertEqual(s.training.model, .cnn)
        let checkpointBytes = try TrainingSession(data: DataSet.load(s.data), options: s.training).checkpoint().byteCount
        let (off, offStats) = try sweep(cacheBytes: 0, concurrency: 1, json: json)
        let (on, onStats) = try sweep(cacheBytes: TrajectoryCache.defaultBudgetBytes, concurrency: 2, json: json)
        let (tiny, tinyStats) = try sweep(cacheBytes: 2 * checkpointBytes, concurrency: 1, json: json)
        XCTAssertEqual(off.count, 6)
        XCTAssertTrue(off.allSatisfy { $0.status == .done })
        XCTAssertEqual(values(on), values(off), "cache on, concurrency 2")
        XCTAssertEqual(values(tiny), values(off), "tiny cache")
        XCTAssertEqual(offStats.hits, 0)
        XCTAssertGreaterThan(onStats.hits, 0, "\(onStats)")
        XCTAssertGreaterThan(tinyStats.evictions, 0, "\(tinyStats)")
        let summary = BestSummary(rows: Leaderboard.rows(off, objective: s.objective), space: s)
        let args = summary.trainArguments
        let model = try XCTUnwrap(args.firstIndex(of: "--model"))
        XCTAssertEqual(Array(args[model...(model + 3)]), ["--model", "cnn", "--conv", "4,4"])
        XCTAssertTrue(summary.text().contains("--model cnn --conv 4,4 --hidden "), summary.text())
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(summary.json().utf8)) as? [String: Any])
        let training = try XCTUnwrap(object["training"] as? [String: Any])
        XCTAssertEqual(training["model"] as? String, "cnn")
        XCTAssertEqual(training["conv"] as? [Int], [4, 4])
        XCTAssertEqual(object["train_args"] as? [String], args)
    }

    /// An epoch's values, as bit patterns (wall time aside).
    func bits(_ m: EpochMetrics) -> [UInt64] {
        [UInt64(m.epoch), m.lr.bitPattern, m.trainLoss.bitPattern, m.trainAcc.bitPattern, m.valLoss.bitPattern, m.valAcc.bitPattern]
    }

    /// A trial whose cached prefix lost its states (evicted under another worker) trains those
    /// epochs again, from the deepest state left or from a fresh start, to the same values.
    func testMissingStatesAreReplayed() throws {
        let s = try space(Self.json)
        let data = try DataSet.load(s.data)
        let specs = try s.trialSpecs()
        let spec = try XCTUnwrap(specs.first { $0.schedule.kind == .sgdr && $0.schedule.parameters.t0 == 2
                                               && $0.schedule.parameters.lrMax == 0.1 && $0.schedule.parameters.triggerValAcc == 0 })
        func run(_ executor: EngineExecutor) throws -> [EpochMetrics] {
            var epochs: [EpochMetrics] = []
            XCTAssertEqual(try executor.execute(spec, onEpoch: { epochs.append($0) }, isCancelled: { false }), .completed)
            return epochs
        }
        let reference = try run(EngineExecutor(data: data, training: s.training, cacheBytes: 0))
        XCTAssertEqual(reference.count, 4)
        let rates = reference.map(\.lr.bitPattern)
        func key(_ n: Int) -> TrajectoryCache.Key { TrajectoryCache.Key(seed: spec.seed, rates: Array(rates.prefix(n))) }
        // The first two epochs' metrics are cached without their states: epoch 3 replays 1 and 2.
        let bare = EngineExecutor(data: data, training: s.training)
        for n in 1...2 { bare.cache.store(key(n), .trained(reference[n - 1], nil)) }
        XCTAssertEqual(try run(bare).map(bits), reference.map(bits))
        XCTAssertEqual(bare.cache.statistics.replays, 2)
        XCTAssertEqual(bare.cache.statistics.hits, 2)
        // With the state after epoch 1 kept: only epoch 2 is replayed, from it.
        var options = s.training
        options.seed = spec.seed
        let session = try TrainingSession(data: data, options: options)
        guard case .completed = session.runEpoch(lr: reference[0].lr, isCancelled: { false }) else { return XCTFail() }
        let partial = EngineExecutor(data: data, training: s.training)
        partial.cache.store(key(1), .trained(reference[0], session.checkpoint()))
        partial.cache.store(key(2), .trained(reference[1], nil))
        XCTAssertEqual(try run(partial).map(bits), reference.map(bits))
        XCTAssertEqual(partial.cache.statistics.replays, 1)
        // And a run cancelled mid-epoch caches nothing of that epoch.
        let cancelled = EngineExecutor(data: data, training: s.training)
        var polls = 0
        XCTAssertEqual(try cancelled.execute(spec, onEpoch: { _ in }, isCancelled: { polls += 1; return polls > 12 }), .cancelled)
        XCTAssertEqual(cancelled.cache.statistics.entries, 1)
        XCTAssertEqual(try run(cancelled).map(bits), reference.map(bits))
    }

    func testCacheEvictsTheLeastRecentlyUsedWithinItsBudget() throws {
        let data = DataSet.synthetic(trainSize: 100, valSize: 10, testSize: 10, seed: 1)
        let session = try TrainingSession(data: data, options: TrainingOptions(hidden: [8], seed: 1))
        let checkpoint = session.checkpoint()
        let m = EpochMetrics(epoch: 1, lr: 0.1, trainLoss: 1, trainAcc: 0.5, valLoss: 1, valAcc: 0.5, trainSeconds: 0.1)
        let cache = TrajectoryCache(budgetBytes: 2 * checkpoint.byteCount + 400)
        let a = TrajectoryCache.Key(seed: 1, rates: [1]), b = TrajectoryCache.Key(seed: 1, rates: [2])
        let c = TrajectoryCache.Key(seed: 1, rates: [3]), ab = TrajectoryCache.Key(seed: 1, rates: [1, 5])
        cache.store(a, .trained(m, checkpoint))
        cache.store(b, .trained(m, checkpoint))
        XCTAssertNotNil(cache.lookup(a))  // a is now more recent than b
        cache.store(c, .trained(m, checkpoint))
        XCTAssertNil(cache.lookup(b))
        XCTAssertNotNil(cache.lookup(a))
        XCTAssertNotNil(cache.lookup(c))
        XCTAssertEqual(cache.deepestState(ab)?.length, 1)
        XCTAssertNil(cache.deepestState(TrajectoryCache.Key(seed: 2, rates: [1, 5])))
        cache.store(ab, .diverged)
        if case .diverged? = cache.lookup(ab) {} else { XCTFail("diverged marker") }
        XCTAssertEqual(cache.deepestState(ab)?.length, 1, "a diverged marker holds no state")
        XCTAssertLessThanOrEqual(cache.statistics.bytes, cache.budgetBytes)
        // An epoch being trained is waited for, not trained twice; a cancelled one is released.
        let d = TrajectoryCache.Key(seed: 1, rates: [4])
        guard case .claimed = cache.claim(d, isCancelled: { false }) else { return XCTFail("claim") }
        guard case .cancelled = cache.claim(d, isCancelled: { true }) else { return XCTFail("in flight") }
        cache.release(d)
        guard case .claimed = cache.claim(d, isCancelled: { true }) else { return XCTFail("released") }
        // A second worker asks for d while it is in flight: it must wait (it polls isCancelled
        // only while waiting, so its first poll says it is waiting), and get the entry stored
        // by the first worker instead of a claim to train it again. The store happens only
        // once the waiter is known to wait (a bound of 30 s against a hang).
        let waiting = DispatchSemaphore(value: 0)
        let polls = Locked(0)
        let answer = Locked<TrajectoryCache.Claim?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread {
            let claim = cache.claim(d, isCancelled: {
                if polls.mutate({ n -> Int in n += 1; return n }) == 1 { waiting.signal() }
                return false
            })
            answer.mutate { $0 = claim }
            done.signal()
        }.start()
        XCTAssertEqual(waiting.wait(timeout: .now() + 30), .success, "the second worker did not wait for the epoch in flight")
        XCTAssertNil(answer.value, "it answered before the epoch was stored")
        let hitsBefore = cache.statistics.hits
        cache.store(d, .trained(m, nil))
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        guard case .hit(.trained(let served, nil))? = answer.value else {
            return XCTFail("the waiter was not served the stored epoch: \(String(describing: answer.value))")
        }
        XCTAssertEqual(served, m)
        XCTAssertEqual(cache.statistics.hits, hitsBefore + 1)
        let none = TrajectoryCache(budgetBytes: 0)
        none.store(a, .trained(m, nil))
        XCTAssertNil(none.lookup(a))
        XCTAssertEqual(none.statistics.entries, 0)
    }
}
