import App
import Engine
import TrainingTypes
import Foundation
import Schedules
@testable import Sweep
import XCTest

/// Parses a space given as JSON text, failing the test on a validation error.
func space(_ json: String, file: StaticString = #filePath, line: UInt = #line) throws -> SearchSpace {
    do {
        return try SearchSpace.parse(data: Data(json.utf8), file: "test.json")
    } catch {
        XCTFail("unexpected error: \(error)", file: file, line: line)
        throw error
    }
}

/// The error a space gives (nil when it is valid).
func spaceError(_ json: String) -> SpaceError? {
    do {
        _ = try SearchSpace.parse(data: Data(json.utf8), file: "test.json")
        return nil
    } catch {
        return error
    }
}

/// Asserts that a space gives one line, `test.json: PATH: ...`, at `path`, with these parts.
func assertError(_ json: String, path: String, contains parts: [String],
                 file: StaticString = #filePath, line: UInt = #line) {
    guard let e = spaceError(json) else { return XCTFail("no error for \(json)", file: file, line: line) }
    XCTAssertEqual(e.path, path, "\(e)", file: file, line: line)
    for p in parts { XCTAssertTrue(e.description.contains(p), "«\(p)» not in «\(e)»", file: file, line: line) }
    XCTAssertFalse(e.description.contains("\n"), "one line: \(e)", file: file, line: line)
    XCTAssertTrue(e.description.hasPrefix("test.json: "), "\(e)", file: file, line: line)
}

/// In-memory "databases" by path, for the commands under test; `opened` records every open.
final class Stores: @unchecked Sendable {
    var stores: [String: MemoryTrialStore] = [:]
    var opened: [String] = []
    struct Missing: Error, CustomStringConvertible { var description: String }
    func open(_ path: String, _ access: StoreAccess) throws -> any TrialStore {
        opened.append(path)
        if let s = stores[path] { return s }
        guard access == .create else { throw Missing(description: "\(path): no such sweep database") }
        let s = MemoryTrialStore()
        stores[path] = s
        return s
    }
}

/// The run options of the commands under test: `executor` instead of the engine, two workers,
/// and no owner ever taken for dead.
func options(_ executor: FakeExecutor = FakeExecutor()) -> SweepCommands.RunOptions {
    var o = SweepCommands.RunOptions(concurrency: 2)
    o.makeExecutor = { _ in executor }
    o.isAbandoned = { _ in false }
    return o
}

/// A fast, deterministic stand-in for training: each epoch's metrics follow from the schedule's
/// rates and the trial's seed only. Optional: sleep per epoch (so tests can interrupt), move a
/// test's clock per epoch (an epoch that takes that long, without waiting), diverge above a
/// peak rate, throw for a given t0.
struct FakeExecutor: TrialExecutor {
    var epochDelay: Double = 0
    var advancing: (clock: ManualClock, perEpoch: Double)?
    var divergeAbove: Double = .infinity
    var failT0: Int?
    var calls: Counter? = nil

    final class Counter: @unchecked Sendable {
        let lock = NSLock()
        var ids: [String] = []
        func add(_ id: String) { lock.withLock { ids.append(id) } }
    }

    struct Boom: Error, CustomStringConvertible { var description: String }

    func execute(_ spec: TrialSpec, onEpoch: (EpochMetrics) throws -> Void, isCancelled: () -> Bool) throws -> ExecutionOutcome {
        calls?.add(spec.id)
        if let failT0, spec.schedule.kind == .sgdr, spec.schedule.parameters.t0 == failT0 {
            throw Boom(description: "boom: t0 \(failT0) is cursed")
        }
        var schedule = spec.schedule.makeSchedule()
        var progress = 0.0
        for e in 1...spec.schedule.epochs {
            if isCancelled() { return .cancelled }
            let lr = schedule.beginEpoch()
            if epochDelay > 0 { Thread.sleep(forTimeInterval: epochDelay) }
            if let advancing { advancing.clock.advance(by: advancing.perEpoch) }
            if lr > divergeAbove {
                try onEpoch(EpochMetrics(epoch: e, lr: lr, trainLoss: .nan, trainAcc: 0.1, valLoss: .nan, valAcc: 0.1, trainSeconds: 0))
                return .diverged
            }
            progress += lr
            let noise = Double(splitMix64(spec.seed &+ UInt64(e)) >> 11) * 0x1.0p-53 * 0.01
            let acc = 0.5 + 0.4 * (1 - exp(-progress * 3)) - abs(lr - 0.02) + noise
            schedule.endEpoch(valAcc: acc)
            try onEpoch(EpochMetrics(epoch: e, lr: lr, trainLoss: 1 - acc, trainAcc: acc, valLoss: 1.1 - acc, valAcc: acc, trainSeconds: 0))
        }
        return .completed
    }
}

/// What a leaderboard shows, without timings (which differ from run to run).
func comparable(_ records: [TrialRecord]) -> [[String]] {
    records.sorted { $0.spec.number < $1.spec.number }.map { r in
        [r.spec.id, String(r.spec.number), r.status.rawValue, String(r.spec.seed)] + r.epochs.map { "\($0.epoch):\($0.lr):\($0.valAcc)" }
    }
}

let gridJSON = """
    { "name": "g", "strategy": "grid", "seed": 7,
      "parameters": { "t0": {"values": [2, 5]}, "tmult": {"values": [1, 2]}, "lr_max_compression": {"values": [1, 5]} },
      "fixed": {"lr_max": 0.1},
      "baselines": ["step", "cosine"],
      "training": {"dataset": "synthetic", "epochs": 6} }
    """

/// A value shared by test threads.
final class Locked<Value>: @unchecked Sendable {  // every access holds the lock
    private let lock = NSLock()
    private var _value: Value
    init(_ value: Value) { _value = value }
    var value: Value { lock.withLock { _value } }
    func mutate<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&_value) } }
}
