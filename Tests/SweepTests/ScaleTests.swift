@testable import App
import Engine
@testable import EngineAdapter
import TrainingTypes
import Foundation
import Schedules
@testable import Sweep
import XCTest

/// What lets a sweep hold a million trials: ranking from briefs, trials stored in batches as the
/// claims near them, status without the trial table, and memory checked before anything runs.
final class ScaleTests: XCTestCase {
    func mixedRecords(objective: Objective = .bestValAcc) throws -> (SearchSpace, [TrialRecord]) {
        try Self.mixedRecords(objective: objective)
    }

    /// A grid of 12 configurations plus 2 baselines, 3 repeats, with trials in every status.
    static func mixedRecords(objective: Objective = .bestValAcc) throws -> (SearchSpace, [TrialRecord]) {
        let s = try space("""
            { "name": "m", "repeats": 3, "objective": "\(objective.rawValue)", "baselines": ["step", "cosine"],
              "parameters": { "t0": {"values": [1, 2, 3]}, "tmult": {"values": [1, 2, 3, 4]} } }
            """)
        var rng = Xoshiro256(seed: 11)
        func below(_ n: Int) -> Int { rng.nextInt(in: 0...(n - 1)) }
        // One pattern of repeat statuses per configuration, in turn: every configuration status occurs.
        let patterns: [[TrialStatus]] = [[.done, .done, .done], [.done, .pending, .done], [.pending, .pending, .pending],
                                         [.running, .pending, .pending], [.interrupted, .pending, .pending],
                                         [.done, .diverged, .done], [.failed, .done, .running], [.done, .done, .done]]
        let records = s.trialSpecs().map { spec -> TrialRecord in
            let status = patterns[(spec.number / 3) % patterns.count][spec.repeatIndex]
            // Few distinct scores, so that ties (broken by dispatch order) happen.
            let best = 0.5 + Double(below(4)) / 10, final = best - Double(below(3)) / 20
            let summary = status.isFinished ? EpochSummary(bestValAcc: best, bestEpoch: 1 + below(5), finalValAcc: final) : nil
            return TrialRecord(spec: spec, status: status, attempts: status == .pending ? 0 : 1,
                               seconds: status.isFinished ? 1 + Double(spec.number) : nil, summary: summary)
        }
        return (s, records)
    }

    func testRankingFromBriefsIsTheLeaderboardsOrder() throws {
        for objective in Objective.allCases {
            let (s, records) = try mixedRecords(objective: objective)
            let rows = Leaderboard.rows(records, objective: objective)
            let ranked = Leaderboard.rank(records.map { TrialBrief($0, objective: objective) }, repeats: s.repeats)
            XCTAssertEqual(ranked.map(\.index), rows.map { $0.trials.first!.spec.number / s.repeats })
            XCTAssertEqual(ranked.map(\.status), rows.map(\.status))
            XCTAssertEqual(ranked.map(\.score), rows.map(\.score))
            XCTAssertEqual(Set(rows.map(\.status)).count, 7, "every configuration status occurs: \(Set(rows.map(\.status)))")

            // RankedSweep reads only the rows it shows, and they are the leaderboard's.
            let top = try RankedSweep(store: ReadOnly(records), space: s, top: 5)
            XCTAssertEqual(top.top, Array(rows.prefix(5)))
            XCTAssertEqual(top.configurationCount, rows.count)
            let summary = BestSummary(rows: top.best, space: s), full = BestSummary(rows: rows, space: s)
            XCTAssertNotNil(full.best)
            XCTAssertEqual(summary.best, full.best)
            XCTAssertEqual(summary.baseline, full.baseline)
            XCTAssertEqual(summary.text(), full.text())
        }
    }

    /// A store that holds given records (reads only).
    final class ReadOnly: TrialStore, @unchecked Sendable {
        let records: [TrialRecord]
        init(_ records: [TrialRecord]) { self.records = records }
        func create(_ info: SweepInfo) throws -> SweepInfo { info }
        func info() throws -> SweepInfo? { nil }
        func updateSpace(json: String, hash: String) throws {}
        func addTrials(_ specs: [TrialSpec]) throws {}
        func claim(owner: String, isAbandoned: (String) -> Bool) throws -> TrialSpec? { nil }
        func heartbeat(trial id: String, owner: String) throws {}
        func heartbeats() throws -> [String: Double] { [:] }  // records without owners' heartbeats
        func appendEpochs(_ metrics: [EpochMetrics], trial id: String, owner: String) throws {}
        func finish(trial id: String, owner: String, _ finish: TrialFinish, appending epochs: [EpochMetrics]) throws {}
        func interrupt(trial id: String, owner: String) throws {}
        func trials() throws -> [TrialRecord] { records }
    }

    /// A MemoryTrialStore that records, at every `addTrials`, how far ahead of the claims the
    /// stored trials reach.
    final class WatchedStore: TrialStore, @unchecked Sendable {
        let inner = MemoryTrialStore()
        let lock = NSLock()
        var stored = 0, highestClaimed = -1, batches: [Int] = [], maxAhead = 0

        func create(_ info: SweepInfo) throws -> SweepInfo { try inner.create(info) }
        func info() throws -> SweepInfo? { try inner.info() }
        func updateSpace(json: String, hash: String) throws { try inner.updateSpace(json: json, hash: hash) }
        func addTrials(_ specs: [TrialSpec]) throws {
            try inner.addTrials(specs)
            lock.withLock {
                stored += specs.count
                batches.append(specs.count)
                maxAhead = max(maxAhead, stored - 1 - highestClaimed)
            }
        }
        func claim(owner: String, isAbandoned: (String) -> Bool) throws -> TrialSpec? {
            let spec = try inner.claim(owner: owner, isAbandoned: isAbandoned)
            if let spec { lock.withLock { highestClaimed = max(highestClaimed, spec.number) } }
            return spec
        }
        func heartbeat(trial id: String, owner: String) throws { try inner.heartbeat(trial: id, owner: owner) }
        func heartbeats() throws -> [String: Double] { try inner.heartbeats() }
        func appendEpochs(_ metrics: [EpochMetrics], trial id: String, owner: String) throws {
            try inner.appendEpochs(metrics, trial: id, owner: owner)
        }
        func finish(trial id: String, owner: String, _ finish: TrialFinish, appending epochs: [EpochMetrics]) throws {
            try inner.finish(trial: id, owner: owner, finish, appending: epochs)
        }
        func interrupt(trial id: String, owner: String) throws { try inner.interrupt(trial: id, owner: owner) }
        func trials() throws -> [TrialRecord] { try inner.trials() }
    }

    static let randomJSON = """
        {"name": "r", "strategy": "random", "trials": 300, "seed": 2, "baselines": ["constant"],
         "parameters": {"t0": {"min": 1, "max": 4}, "tmult": {"min": 1, "max": 2}},
         "training": {"dataset": "synthetic", "epochs": 2}}
        """

    func testTrialsAreStoredInBatchesAheadOfTheClaims() throws {
        let s = try space(Self.randomJSON)
        let store = WatchedStore()
        _ = try store.create(SweepInfo(name: "r", spaceJSON: s.source, spaceHash: s.canonicalHash, createdAt: 0))
        let feeder = TrialFeeder(space: s, store: store, start: 0, batchSize: 10)
        try feeder.addBatch(5)
        var settings = SweepRunner.Settings()
        settings.isAbandoned = { _ in false }
        settings.feeder = feeder
        let runner = SweepRunner(store: store, executor: FakeExecutor(), concurrency: 2, owner: "t:1:1", settings: settings)
        XCTAssertEqual(try runner.run(), .exhausted)
        let records = try store.trials()
        XCTAssertEqual(records.map(\.spec), s.trialSpecs(), "every trial stored once, as the space numbers them")
        XCTAssertTrue(records.allSatisfy { $0.status == .done })
        XCTAssertEqual(store.batches.first, 5)
        XCTAssertTrue(store.batches.dropFirst().allSatisfy { $0 <= 10 }, "\(store.batches)")
        XCTAssertLessThanOrEqual(store.maxAhead, feeder.lowWater + feeder.batchSize, "stored far ahead of the claims")
        // The same records as a sweep whose trials were all stored first.
        let reference = MemoryTrialStore()
        _ = try reference.create(SweepInfo(name: "r", spaceJSON: s.source, spaceHash: s.canonicalHash, createdAt: 0))
        try reference.addTrials(s.trialSpecs())
        settings.feeder = nil
        let plain = SweepRunner(store: reference, executor: FakeExecutor(), concurrency: 2, owner: "t:1:1", settings: settings)
        _ = try plain.run()
        XCTAssertEqual(comparable(records), comparable(try reference.trials()))
    }

    /// A sweep cut short while its trials were being stored: status counts the missing ones as
    /// still to run (never "nothing left"), and the next run stores and runs them.
    func testAnInterruptedStartIsResumedAndStatusCountsTheMissingTrials() throws {
        let s = try space(Self.randomJSON)
        let store = MemoryTrialStore()
        let info = try store.create(SweepInfo(name: "r", spaceJSON: s.source, spaceHash: s.canonicalHash, createdAt: 100))
        let empty = try SweepCommands.statusText(space: s, info: info, trials: [], path: "db", now: 200, isAbandoned: { _ in false })
        XCTAssertTrue(empty.contains("= 301 trials (0 stored so far)"), empty)
        XCTAssertTrue(empty.contains("not stored yet 301"), empty)
        XCTAssertTrue(empty.contains("still to run: 301 trials"), empty)
        XCTAssertFalse(empty.contains("nothing left"), empty)

        try store.addTrials(s.trialSpecs(0..<40))
        let partial = try SweepCommands.statusText(space: s, info: info, trials: try store.trials(), path: "db", now: 200, isAbandoned: { _ in false })
        XCTAssertTrue(partial.contains("pending 40, running 0"), partial)
        XCTAssertTrue(partial.contains("still to run: 301 trials"), partial)

        var options = SweepCommands.RunOptions(concurrency: 2)
        options.makeExecutor = { _ in FakeExecutor() }
        options.isAbandoned = { _ in false }
        let (console, output) = Console.capturing()
        XCTAssertEqual(try SweepCommands.execute(s, store: store, path: "db", options: options, console: console), 0, output().err)
        let records = try store.trials()
        XCTAssertEqual(records.count, 301)
        XCTAssertTrue(records.allSatisfy { $0.status == .done })
        let done = try SweepCommands.statusText(space: s, info: info, trials: records, path: "db", now: 200, isAbandoned: { _ in false })
        XCTAssertTrue(done.contains("nothing left to run"), done)
    }

    func testADivergedTrialRecordsWhy() throws {
        let s = try space(gridJSON)
        let store = MemoryTrialStore()
        _ = try store.create(SweepInfo(name: "g", spaceJSON: s.source, spaceHash: s.canonicalHash, createdAt: 0))
        try store.addTrials(s.trialSpecs())
        var settings = SweepRunner.Settings()
        settings.isAbandoned = { _ in false }
        let runner = SweepRunner(store: store, executor: FakeExecutor(divergeAbove: 0.05), concurrency: 1, owner: "t:1:1", settings: settings)
        _ = try runner.run()
        let diverged = try store.trials().filter { $0.status == .diverged }
        XCTAssertFalse(diverged.isEmpty)
        for t in diverged {
            XCTAssertEqual(t.error, "the loss became non-finite in epoch \(t.epochs.count + 1); lower lr_max")
        }
    }

    // MARK: Memory

    func testMemoryIsEstimatedBeforeAnythingIsCreated() throws {
        let huge = try space(#"{"name": "h", "parameters": {"t0": {"values": [1, 2]}}, "training": {"dataset": "synthetic", "hidden": [65536, 65536]}}"#)
        let limit = 16 << 30
        let problem = try XCTUnwrap(huge.memoryProblem(concurrency: 2, cacheBytes: 256 << 20, limit: limit, limitDescription: "16 GB (test)"))
        XCTAssertTrue(problem.hasPrefix("the sweep would need about "), problem)
        XCTAssertTrue(problem.contains("more than the limit of 16 GB (test): 2 workers x "), problem)
        XCTAssertTrue(problem.contains("model 784-65536-65536-10 with 1000-image buffers"), problem)
        XCTAssertFalse(problem.contains("\n"))
        // Weights, gradients and momentum of 4.35e9 parameters alone: 52 GB.
        XCTAssertGreaterThan(huge.training.sessionBytes(data: huge.data), 3 * 4 * 4_345_000_000)
        let small = try space(#"{"name": "s", "parameters": {"t0": {"values": [1, 2]}}, "training": {"dataset": "synthetic"}}"#)
        XCTAssertNil(small.memoryProblem(concurrency: 2, cacheBytes: 256 << 20, limit: limit, limitDescription: "x"))

        // The stores are never opened for a sweep that would not fit.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("scale-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("huge.json")
        try Data(#"{"name": "h", "parameters": {"t0": {"values": [1]}}, "training": {"dataset": "synthetic", "hidden": [65536, 65536, 65536, 65536, 65536, 65536, 65536, 65536]}}"#.utf8).write(to: file)
        let (console, output) = Console.capturing()
        var opened = false
        let code = SweepCommands.run(spaceFile: file.path, db: nil, options: SweepCommands.RunOptions(concurrency: 1),
                                     openStore: { _, _ in opened = true; return MemoryTrialStore() }, console: console)
        XCTAssertEqual(code, 1)
        XCTAssertFalse(opened)
        XCTAssertEqual(output().err.split(separator: "\n").count, 1, output().err)
        XCTAssertTrue(output().err.hasPrefix("Error: \(file.path): the sweep would need about "), output().err)
    }

    func testBatchBuffersFollowTheTrainingSetNotTheBatchSize() throws {
        let options = TrainingOptions(hidden: [8], batchSize: TrainingOptions.maxBatchSize, epochs: 1)
        XCTAssertEqual(options.sessionBatch(trainCount: 50), 1000, "an evaluation batch")
        XCTAssertEqual(options.sessionBatch(trainCount: 5000), 5000)
        XCTAssertEqual(TrainingOptions(batchSize: 128).sessionBatch(trainCount: 50000), 1000)
        var cnn = options
        cnn.model = .cnn
        cnn.conv = [8]
        XCTAssertEqual(cnn.sessionBatch(trainCount: 50), 50)
        XCTAssertLessThan(options.estimatedSessionBytes(trainCount: 50), 10 << 20)
        // And a session with that batch size trains, in one batch per epoch.
        let data = DataSet.synthetic(trainSize: 50, valSize: 20, testSize: nil, seed: 1)
        let session = try TrainingSession(data: data, options: options)
        guard case .completed(let m) = session.runEpoch(lr: 0.05, isCancelled: { false }) else { return XCTFail() }
        XCTAssertEqual(m.epoch, 1)
    }
}
