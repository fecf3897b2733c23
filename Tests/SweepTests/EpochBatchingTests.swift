import Engine
import TrainingTypes
import Foundation
@testable import Sweep
import XCTest

/// A MemoryTrialStore that counts the writes the runner makes.
final class CountingStore: TrialStore, @unchecked Sendable {
    let inner = MemoryTrialStore()
    private let lock = NSLock()
    private(set) var appendCalls = 0
    private(set) var appendedEpochs = 0
    private(set) var finishEpochs: [Int] = []

    func create(_ info: SweepInfo) throws -> SweepInfo { try inner.create(info) }
    func info() throws -> SweepInfo? { try inner.info() }
    func updateSpace(json: String, hash: String) throws { try inner.updateSpace(json: json, hash: hash) }
    func addTrials(_ specs: [TrialSpec]) throws { try inner.addTrials(specs) }
    func claim(owner: String, isAbandoned: (String) -> Bool) throws -> TrialSpec? {
        try inner.claim(owner: owner, isAbandoned: isAbandoned)
    }
    func heartbeat(trial id: String, owner: String) throws { try inner.heartbeat(trial: id, owner: owner) }
    func heartbeats() throws -> [String: Double] { try inner.heartbeats() }
    func appendEpochs(_ metrics: [EpochMetrics], trial id: String, owner: String) throws {
        lock.withLock { appendCalls += 1; appendedEpochs += metrics.count }
        try inner.appendEpochs(metrics, trial: id, owner: owner)
    }
    func finish(trial id: String, owner: String, _ finish: TrialFinish, appending epochs: [EpochMetrics]) throws {
        lock.withLock { finishEpochs.append(epochs.count) }
        try inner.finish(trial: id, owner: owner, finish, appending: epochs)
    }
    func interrupt(trial id: String, owner: String) throws { try inner.interrupt(trial: id, owner: owner) }
    func trials() throws -> [TrialRecord] { try inner.trials() }
}

final class EpochBatchingTests: XCTestCase {
    func run(flushInterval: Double, executor: FakeExecutor = FakeExecutor()) throws -> CountingStore {
        let s = try space(gridJSON)
        let store = CountingStore()
        _ = try store.create(SweepInfo(name: s.name, spaceJSON: s.source, spaceHash: s.canonicalHash, createdAt: 0))
        try store.addTrials(s.trialSpecs())
        var settings = SweepRunner.Settings()
        settings.isAbandoned = { _ in false }
        settings.epochFlushInterval = flushInterval
        let runner = SweepRunner(store: store, executor: executor, concurrency: 2, owner: "t:1:1", settings: settings)
        XCTAssertEqual(try runner.run(), .exhausted)
        return store
    }

    /// Short trials write their epochs with their finish: one transaction instead of one per epoch.
    func testShortTrialsStoreTheirEpochsWithTheFinish() throws {
        let batched = try run(flushInterval: 60)
        XCTAssertEqual(batched.appendCalls, 0)
        XCTAssertEqual(batched.finishEpochs.count, 10)
        XCTAssertTrue(batched.finishEpochs.allSatisfy { $0 == 6 }, "\(batched.finishEpochs)")

        let eager = try run(flushInterval: 0)
        XCTAssertEqual(eager.appendCalls, 60)
        XCTAssertEqual(eager.appendedEpochs, 60)
        XCTAssertTrue(eager.finishEpochs.allSatisfy { $0 == 0 }, "\(eager.finishEpochs)")

        XCTAssertEqual(comparable(try batched.trials()), comparable(try eager.trials()), "batching never changes what is stored")
    }

    /// Long trials flush their epochs while they run (so `status` and `report` see the curves).
    func testLongTrialsFlushWhileRunning() throws {
        let store = try run(flushInterval: 0.015, executor: FakeExecutor(epochDelay: 0.01))
        XCTAssertGreaterThan(store.appendCalls, 0)
        XCTAssertLessThan(store.appendCalls, 60)
        XCTAssertEqual(store.appendedEpochs + store.finishEpochs.reduce(0, +), 60)
        XCTAssertTrue(try store.trials().allSatisfy { $0.status == .done && $0.epochs.map(\.epoch) == Array(1...6) })
    }
}
