import Engine
import TrainingTypes
import Foundation
@testable import Sweep
import XCTest

/// The runner under a lease: heartbeats, a lost lease, trials of a silent host taken over. Every
/// test runs on a `ManualClock` that the trials (or every reading of it) move: no sleep decides an
/// outcome. The runner looks at the clock every 50 ms of real time, so the real-time bounds
/// below only catch a hang.
final class LeaseTests: XCTestCase {
    final class Events: @unchecked Sendable {
        let lock = NSLock()
        var list: [String] = []
        var stolen = false
        func add(_ e: String) { lock.withLock { list.append(e) } }
    }

    let lease = 10.0

    func settings(_ clock: ManualClock) -> SweepRunner.Settings {
        var settings = SweepRunner.Settings()
        settings.isAbandoned = { _ in false }
        settings.lease = lease
        settings.clock = clock.clock
        return settings
    }

    func testALostLeaseStopsTheTrialWithoutWritingAndASilentHostsTrialIsTakenOver() throws {
        // Every epoch takes 1 s of the clock: a trial (6 epochs) 6 s, the lease 10 s.
        let s = try space(gridJSON)
        let time = ManualClock()
        let store = MemoryTrialStore(clock: time.clock, lease: lease)
        _ = try store.create(SweepInfo(name: s.name, spaceJSON: s.source, spaceHash: s.canonicalHash, createdAt: 0))
        let specs = s.trialSpecs()
        try store.addTrials(specs)
        var settings = settings(time)
        let events = Events()
        settings.onEvent = { event in
            switch event {
            case .started(let spec):
                events.add("started \(spec.number)")
                // The first trial is taken over by a worker on another host as soon as it starts
                // (as if A had been silent for a lease); that worker then goes silent itself.
                let steal = events.lock.withLock { () -> Bool in
                    defer { events.stolen = true }
                    return !events.stolen
                }
                if steal {
                    let taken = try? store.claim(owner: "hostB:2:2", isAbandoned: { $0 == "hostA:1:1" })
                    events.add("hostB took \(taken?.number ?? -1)")
                }
            case .interrupted(let spec): events.add("dropped \(spec.number)")
            case .finished(let r): events.add("finished \(r.spec.number)")
            case .epoch: break
            }
        }
        let runner = SweepRunner(store: store, executor: FakeExecutor(advancing: (time, 1)), concurrency: 1,
                                 owner: "hostA:1:1", settings: settings)
        XCTAssertEqual(try runner.run(), .exhausted)

        // B claimed trial 0 at t; A drops it (t + 6: B's lease is held) and runs trial 1
        // (t + 12: B's heartbeat is 12 s old, more than the lease): then trial 0 again.
        let list = events.lock.withLock { events.list }
        XCTAssertEqual(Array(list.prefix(8)), ["started 0", "hostB took 0", "dropped 0", "started 1", "finished 1",
                                               "started 0", "finished 0", "started 2"])
        XCTAssertEqual(list.filter { $0 == "finished 0" }.count, 1, "\(list)")
        XCTAssertEqual(list.filter { $0.hasPrefix("finished") }.count, specs.count, "\(list)")
        let records = try store.trials()
        XCTAssertTrue(records.allSatisfy { $0.status == .done }, "\(records.map(\.status))")
        let r = records[0]
        XCTAssertEqual(r.attempts, 3, "A, B (silent, its lease expired), A again")
        XCTAssertEqual(r.owner, "hostA:1:1")
        XCTAssertEqual(r.epochs.map(\.epoch), Array(1...r.spec.schedule.epochs))
        XCTAssertEqual(records.dropFirst().map(\.attempts), Array(repeating: 1, count: records.count - 1))
    }

    /// A store that records every heartbeat (trial, owner, the clock's time) and lets a test wait
    /// for one.
    final class BeatLog: TrialStore, @unchecked Sendable {  // `beats` is used only under `changed`
        let inner: MemoryTrialStore
        private let changed = NSCondition()
        private var beats: [(trial: String, owner: String, at: Double)] = []

        init(_ inner: MemoryTrialStore) { self.inner = inner }

        /// Waits (up to 10 s of real time: a hang) until `owner` renewed `trial`'s lease at `at`.
        func waitForBeat(_ trial: String, _ owner: String, at: Double) -> Bool {
            let end = Date().addingTimeInterval(10)
            changed.lock()
            defer { changed.unlock() }
            while !beats.contains(where: { $0.trial == trial && $0.owner == owner && $0.at == at }) {
                if !changed.wait(until: end) { return false }
            }
            return true
        }

        var count: Int { changed.withLock { beats.count } }

        func heartbeats() throws -> [String: Double] { try inner.heartbeats() }
        func heartbeat(trial id: String, owner: String) throws {
            try inner.heartbeat(trial: id, owner: owner)
            let at = inner.clock.now()
            changed.withLock {
                beats.append((id, owner, at))
                changed.broadcast()
            }
        }

        func create(_ info: SweepInfo) throws -> SweepInfo { try inner.create(info) }
        func info() throws -> SweepInfo? { try inner.info() }
        func updateSpace(json: String, hash: String) throws { try inner.updateSpace(json: json, hash: hash) }
        func addTrials(_ specs: [TrialSpec]) throws { try inner.addTrials(specs) }
        func claim(owner: String, isAbandoned: (String) -> Bool) throws -> TrialSpec? {
            try inner.claim(owner: owner, isAbandoned: isAbandoned)
        }
        func appendEpochs(_ metrics: [EpochMetrics], trial id: String, owner: String) throws {
            try inner.appendEpochs(metrics, trial: id, owner: owner)
        }
        func finish(trial id: String, owner: String, _ finish: TrialFinish, appending epochs: [EpochMetrics]) throws {
            try inner.finish(trial: id, owner: owner, finish, appending: epochs)
        }
        func interrupt(trial id: String, owner: String) throws { try inner.interrupt(trial: id, owner: owner) }
        func trials() throws -> [TrialRecord] { try inner.trials() }
    }

    /// Each epoch takes 0.3 of the lease on the clock, then waits for the runner's heartbeat at
    /// that time, then lets a worker on another host try to claim.
    struct BeatingExecutor: TrialExecutor {
        let clock: ManualClock
        let store: BeatLog
        let perEpoch: Double
        let owner: String
        let problems: Locked<[String]>

        func execute(_ spec: TrialSpec, onEpoch: (EpochMetrics) throws -> Void, isCancelled: () -> Bool) throws -> ExecutionOutcome {
            for e in 1...spec.schedule.epochs {
                if isCancelled() { return .cancelled }
                clock.advance(by: perEpoch)
                if !store.waitForBeat(spec.id, owner, at: clock.now) {
                    problems.mutate { $0.append("epoch \(e): no heartbeat at \(clock.now)") }
                }
                if let taken = try store.claim(owner: "hostB:2:2", isAbandoned: { _ in false }) {
                    problems.mutate { $0.append("epoch \(e): hostB took \(taken.id)") }
                }
                try onEpoch(EpochMetrics(epoch: e, lr: 0.1, trainLoss: 1, trainAcc: 0.5, valLoss: 1, valAcc: 0.5, trainSeconds: 0))
            }
            return .completed
        }
    }

    func testHeartbeatsKeepALongTrialOwned() throws {
        // A trial of 6 epochs of 0.3 lease each (1.8 leases) under one worker. After every epoch
        // the runner must renew the lease (it beats every lease/4 on the clock, and an epoch
        // passes that), and a worker of another host then finds nothing to claim. Without
        // heartbeats, that worker would take the trial at epoch 4 (1.2 leases).
        let s = try space(gridJSON)
        let time = ManualClock()
        let store = BeatLog(MemoryTrialStore(clock: time.clock, lease: lease))
        _ = try store.create(SweepInfo(name: s.name, spaceJSON: s.source, spaceHash: s.canonicalHash, createdAt: 0))
        let spec = s.trialSpecs()[0]
        try store.addTrials([spec])
        let problems = Locked<[String]>([])
        let executor = BeatingExecutor(clock: time, store: store, perEpoch: 0.3 * lease, owner: "hostA:1:1", problems: problems)
        let runner = SweepRunner(store: store, executor: executor, concurrency: 1, owner: "hostA:1:1", settings: settings(time))
        XCTAssertEqual(try runner.run(), .exhausted)
        XCTAssertEqual(problems.value, [])
        let records = try store.trials()
        XCTAssertEqual(records.map(\.status), [.done])
        XCTAssertEqual(records.map(\.attempts), [1])
        XCTAssertEqual(records.map(\.owner), ["hostA:1:1"])
        XCTAssertGreaterThanOrEqual(store.count, spec.schedule.epochs)
    }

    func testAnIdleWorkerWaitsForASilentHostsLeaseAndThenTakesItsTrial() throws {
        // Host B claimed the only trial and went silent. A finds nothing to claim but a trial
        // running on another host, so it waits (min(lease/4, 2 s) on the clock at a time) and
        // claims again; once B's heartbeat is more than a lease old, A takes the trial. The clock
        // moves 0.5 s at every reading (the store's and the runner's): time passes only as the
        // code looks at it.
        let s = try space(gridJSON)
        let time = ManualClock()
        let clock = time.stepping(by: 0.5)
        let store = MemoryTrialStore(clock: clock, lease: lease)
        _ = try store.create(SweepInfo(name: s.name, spaceJSON: s.source, spaceHash: s.canonicalHash, createdAt: 0))
        let spec = s.trialSpecs()[0]
        try store.addTrials([spec])
        XCTAssertEqual(try store.claim(owner: "hostB:2:2", isAbandoned: { _ in false }), spec)
        let claimedByB = try XCTUnwrap(store.trials().first?.startedAt)

        var settings = settings(time)
        settings.clock = clock
        let runner = SweepRunner(store: store, executor: FakeExecutor(), concurrency: 1, owner: "hostA:1:1",
                                 settings: settings)
        let ended = Locked<Result<SweepRunner.Ending, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread {
            let result = Result { try runner.run() }
            ended.mutate { $0 = result }
            done.signal()
        }.start()
        guard done.wait(timeout: .now() + 60) == .success else {  // a hang
            runner.cancellation.cancel()
            return XCTFail("the runner never took the silent host's trial")
        }
        XCTAssertEqual(try ended.value?.get(), .exhausted)
        let r = try XCTUnwrap(store.trials().first)
        XCTAssertEqual(r.status, .done)
        XCTAssertEqual(r.owner, "hostA:1:1")
        XCTAssertEqual(r.attempts, 2)
        let claimedByA = try XCTUnwrap(r.startedAt)
        XCTAssertGreaterThan(claimedByA - claimedByB, lease, "taken only once B's heartbeat was more than a lease old")
    }

    func testOwnerHostPart() {
        XCTAssertEqual(Owner.host(of: "node-7:123:456"), "node-7")
        XCTAssertEqual(Owner.host(of: "fe80::1:123:456"), "fe80::1")
        XCTAssertEqual(Owner.current(host: "h1").split(separator: ":").first, "h1")
        XCTAssertFalse(Owner.isAbandoned("h1:\(getpid()):0", host: "h2"), "another host's owner is never abandoned")
        XCTAssertTrue(Owner.isAbandoned("h1:\(Int32.max - 1):0", host: "h1"), "a pid that does not exist on this host")
    }
}
