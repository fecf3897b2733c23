import TrainingTypes
import Foundation
import Schedules
import SQLiteStore
import Sweep
import XCTest

/// The `TrialStore` contract (see `TrialStore`'s doc comment), run against every store. This
/// class runs it against `MemoryTrialStore`; each other store's subclass (`SQLiteTrialStoreContractTests`,
/// `PostgresTrialStoreContractTests`) overrides the two `makeStore` methods and inherits every
/// test: XCTest's discovery (`swift test`, Linux included) lists a class's inherited test
/// methods. (So a class that derives from this one runs the whole contract: a store's own
/// tests derive from `XCTestCase`.)
class TrialStoreContract: XCTestCase {
    /// A new, empty store. Subclasses override it.
    func makeStore() throws -> any TrialStore { MemoryTrialStore() }

    /// A new, empty store that reads the time from `clock` and whose running trials are runnable
    /// `lease` seconds after their last heartbeat (nil: no lease). Subclasses override it.
    func makeStore(lease: Double?, clock: SweepClock) throws -> any TrialStore {
        MemoryTrialStore(clock: clock, lease: lease)
    }

    // MARK: Fixtures

    static let sweepInfo = SweepInfo(name: "contract", spaceJSON: #"{"t0": [5, 10]}"#,
                                     spaceHash: "hash-1", createdAt: 1_764_115_200.25)

    /// Trial `n`, with a schedule kind, seed and swept values that vary with `n`.
    static func spec(_ n: Int, repeatIndex: Int = 0) -> TrialSpec {
        let kinds: [ScheduleKind] = [.sgdr, .step, .cosine, .constant, .plateau]
        let kind = kinds[n % kinds.count]
        let configuration = kind == .sgdr ? String(format: "sgdr-%04d", n) : "\(kind.rawValue)-\(n)"
        let parameters = SGDRParameters(lrMax: 0.1 + Double(n) * 1e-3, lrMin: 0.1 / 3, t0: 1 + n % 7,
                                        tmult: 1.15, lrMaxCompression: n % 2 == 0 ? 5 : -1,
                                        triggerValAcc: 0.3 + 0.1 * 0.2)
        let seeds: [UInt64] = [0, 1, UInt64.max, 1 << 63, 0xDEAD_BEEF_CAFE_F00D]
        return TrialSpec(
            id: TrialSpec.id(configuration: configuration, repeatIndex: repeatIndex), number: n,
            configuration: configuration, repeatIndex: repeatIndex, seed: seeds[n % seeds.count],
            schedule: ScheduleConfig(kind: kind, parameters: parameters, epochs: 10 + n % 5,
                                     stepMilestones: n % 3 == 0 ? [0.5, 0.75] : [1.0 / 3, 0.9],
                                     stepFactor: 0.1 + 0.2,
                                     plateau: PlateauSettings(factor: 0.5 / Double(1 + n % 3), patience: 1 + n % 4,
                                                              minDelta: n % 2 == 0 ? 1e-4 : 0)),
            swept: kind == .sgdr ? ["t0": Double(1 + n % 7), "tmult": 1.15, "lr_max": 0.1 + 0.2] : [:])
    }

    static func epoch(_ e: Int, valAcc: Double) -> EpochMetrics {
        EpochMetrics(epoch: e, lr: 0.1 / Double(e), trainLoss: 2.0 / Double(e), trainAcc: 0.5 + 0.01 * Double(e),
                     valLoss: 1.0 / 3, valAcc: valAcc, trainSeconds: 0.125 * Double(e))
    }

    func createdStore(_ specs: [TrialSpec] = []) throws -> any TrialStore {
        let store = try makeStore()
        _ = try store.create(Self.sweepInfo)
        try store.addTrials(specs)
        return store
    }

    func record(_ store: any TrialStore, _ id: String, file: StaticString = #filePath, line: UInt = #line) throws -> TrialRecord {
        try XCTUnwrap(store.trials().first { $0.spec.id == id }, "no trial \(id)", file: file, line: line)
    }

    let never: (String) -> Bool = { _ in false }
    let always: (String) -> Bool = { _ in true }

    func assertThrows(_ expected: TrialStoreError, file: StaticString = #filePath, line: UInt = #line,
                      _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertEqual(error as? TrialStoreError, expected, "got \(error)", file: file, line: line)
        }
    }

    // MARK: Creation

    func testCreateStoresOnceAndReturnsStoredInfo() throws {
        let store = try makeStore()
        XCTAssertNil(try store.info())
        XCTAssertEqual(try store.create(Self.sweepInfo), Self.sweepInfo)
        var other = Self.sweepInfo
        other.name = "other"
        other.spaceHash = "hash-2"
        other.createdAt += 100
        XCTAssertEqual(try store.create(other), Self.sweepInfo, "create must return the stored info")
        XCTAssertEqual(try store.info(), Self.sweepInfo)
    }

    func testWritesBeforeCreateThrowNotCreated() throws {
        let store = try makeStore()
        assertThrows(.notCreated) { try store.addTrials([Self.spec(0)]) }
        assertThrows(.notCreated) { try store.updateSpace(json: "{}", hash: "h") }
        XCTAssertEqual(try store.trials(), [])
        XCTAssertNil(try store.claim(owner: "a", isAbandoned: always))
    }

    func testUpdateSpaceReplacesTextAndHashOnly() throws {
        let store = try createdStore()
        try store.updateSpace(json: #"{"trials": 20}"#, hash: "hash-3")
        var expected = Self.sweepInfo
        expected.spaceJSON = #"{"trials": 20}"#
        expected.spaceHash = "hash-3"
        XCTAssertEqual(try store.info(), expected)
        XCTAssertEqual(try store.create(Self.sweepInfo), expected)
    }

    // MARK: Adding trials

    func testAddTrialsIsIdempotentAndNeverOverwrites() throws {
        let specs = (0..<4).map { Self.spec($0) }
        let store = try createdStore(specs)
        let claimed = try XCTUnwrap(store.claim(owner: "p1", isAbandoned: never))
        try store.appendEpoch(Self.epoch(1, valAcc: 0.5), trial: claimed.id, owner: "p1")
        let before = try store.trials()

        var changed = specs[0]
        changed.seed = 42
        changed.schedule.parameters.lrMax = 9
        changed.swept = ["t0": 99]
        var changedPending = specs[2]
        changedPending.number = 77
        changedPending.configuration = "changed"
        try store.addTrials([changed, changedPending] + specs)
        XCTAssertEqual(try store.trials(), before, "stored trials must stay untouched")

        try store.addTrials(specs + [Self.spec(4)])
        let after = try store.trials()
        XCTAssertEqual(Array(after.prefix(4)), before)
        XCTAssertEqual(after.count, 5)
        XCTAssertEqual(after[4], TrialRecord(spec: Self.spec(4), status: .pending))
    }

    // MARK: Claiming

    func testClaimTakesSmallestNumberFirst() throws {
        let specs = [7, 3, 11, 0, 5].map { Self.spec($0) }
        let store = try createdStore(specs)
        var got: [Int] = []
        while let spec = try store.claim(owner: "p1", isAbandoned: never) {
            got.append(spec.number)
            XCTAssertEqual(spec, specs.first { $0.id == spec.id }, "claim returns the stored spec")
        }
        XCTAssertEqual(got, [0, 3, 5, 7, 11])
        for r in try store.trials() {
            XCTAssertEqual(r.status, .running)
            XCTAssertEqual(r.owner, "p1")
            XCTAssertEqual(r.attempts, 1)
            XCTAssertNotNil(r.startedAt)
        }
        XCTAssertEqual(try store.trials().map(\.spec.number), [0, 3, 5, 7, 11], "trials() in number order")
    }

    func testClaimTakesInterruptedInNumberOrderWithPending() throws {
        let store = try createdStore((0..<3).map { Self.spec($0) })
        let first = try XCTUnwrap(store.claim(owner: "p1", isAbandoned: never))
        try store.interrupt(trial: first.id, owner: "p1")
        XCTAssertEqual(try store.claim(owner: "p2", isAbandoned: never)?.number, 0)
        XCTAssertEqual(try store.claim(owner: "p2", isAbandoned: never)?.number, 1)
    }

    func testConcurrentClaimsAreExclusive() throws {
        let count = 200, threads = 8
        let store = try createdStore((0..<count).map { Self.spec($0) })
        let claims = Locked<[String: [String]]>([:])  // trial -> owners
        let errors = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let owner = "worker-\(t)"
            do {
                while let spec = try store.claim(owner: owner, isAbandoned: { _ in false }) {
                    claims.mutate { $0[spec.id, default: []].append(owner) }
                    try store.appendEpoch(Self.epoch(1, valAcc: 0.5), trial: spec.id, owner: owner)
                    try store.finish(trial: spec.id, owner: owner, TrialFinish(status: .done, seconds: 1))
                }
            } catch {
                errors.mutate { $0.append("\(owner): \(error)") }
            }
        }
        XCTAssertEqual(errors.value, [])
        let claimed = claims.value
        XCTAssertEqual(claimed.count, count, "every trial claimed")
        XCTAssertEqual(claimed.values.filter { $0.count != 1 }.count, 0, "no trial claimed twice")
        let records = try store.trials()
        XCTAssertEqual(records.count, count)
        for r in records {
            XCTAssertEqual(r.status, .done)
            XCTAssertEqual(r.attempts, 1)
            XCTAssertEqual(r.owner, claimed[r.spec.id]?.first)
            XCTAssertEqual(r.epochs.count, 1)
        }
    }

    func testReadsAreConsistentSnapshotsWhileWriting() throws {
        let count = 60
        let store = try createdStore((0..<count).map { Self.spec($0) })
        let problems = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 3) { t in
            do {
                if t == 0 {
                    // Reader: a finished trial always shows all 3 of its epochs; never a partial finish.
                    for _ in 0..<40 {
                        for r in try store.trials() where r.status.isFinished && r.epochs.count != 3 {
                            problems.mutate { $0.append("\(r.spec.id) done with \(r.epochs.count) epochs") }
                        }
                    }
                } else {
                    let owner = "w\(t)"
                    while let spec = try store.claim(owner: owner, isAbandoned: { _ in false }) {
                        for e in 1...3 {
                            try store.appendEpoch(Self.epoch(e, valAcc: 0.1 * Double(e)), trial: spec.id, owner: owner)
                        }
                        try store.finish(trial: spec.id, owner: owner, TrialFinish(status: .done, seconds: 1))
                    }
                }
            } catch {
                problems.mutate { $0.append("\(t): \(error)") }
            }
        }
        XCTAssertEqual(problems.value, [])
        XCTAssertEqual(try store.trials().filter { $0.status == .done }.count, count)
    }

    func testAbandonedRunningTrialIsReclaimedFromItsStart() throws {
        let store = try createdStore([Self.spec(0), Self.spec(1)])
        let spec = try XCTUnwrap(store.claim(owner: "dead", isAbandoned: never))
        XCTAssertEqual(spec.number, 0)
        try store.appendEpoch(Self.epoch(1, valAcc: 0.4), trial: spec.id, owner: "dead")
        try store.appendEpoch(Self.epoch(2, valAcc: 0.5), trial: spec.id, owner: "dead")

        var asked: [String] = []
        let again = try store.claim(owner: "alive", isAbandoned: { asked.append($0); return $0 == "dead" })
        XCTAssertEqual(again, spec, "the abandoned trial has the smaller number")
        XCTAssertTrue(asked.contains("dead"))
        let r = try record(store, spec.id)
        XCTAssertEqual(r.status, .running)
        XCTAssertEqual(r.owner, "alive")
        XCTAssertEqual(r.attempts, 2)
        XCTAssertEqual(r.epochs, [], "epochs of the earlier attempt are deleted")
        assertThrows(.notOwner(trial: spec.id, owner: "dead")) {
            try store.appendEpoch(Self.epoch(3, valAcc: 0.6), trial: spec.id, owner: "dead")
        }
        try store.appendEpoch(Self.epoch(1, valAcc: 0.45), trial: spec.id, owner: "alive")
        XCTAssertEqual(try record(store, spec.id).epochs, [Self.epoch(1, valAcc: 0.45)])
    }

    func testRunningTrialOfLiveOwnerIsNeverTaken() throws {
        let store = try createdStore([Self.spec(0), Self.spec(1)])
        XCTAssertEqual(try store.claim(owner: "p1", isAbandoned: never)?.number, 0)
        XCTAssertEqual(try store.claim(owner: "p2", isAbandoned: { $0 != "p1" })?.number, 1)
        XCTAssertNil(try store.claim(owner: "p3", isAbandoned: { $0 != "p1" && $0 != "p2" }))
        XCTAssertNil(try store.claim(owner: "p1", isAbandoned: never))
        let records = try store.trials()
        XCTAssertEqual(records.map(\.owner), ["p1", "p2"])
        XCTAssertEqual(records.map(\.attempts), [1, 1])
    }

    func testFinishedTrialsAreNeverClaimed() throws {
        let store = try createdStore([Self.spec(0)])
        let spec = try XCTUnwrap(store.claim(owner: "p1", isAbandoned: never))
        try store.finish(trial: spec.id, owner: "p1", TrialFinish(status: .failed, seconds: 2, error: "boom"))
        XCTAssertNil(try store.claim(owner: "p2", isAbandoned: always))
    }

    // MARK: Only the owner writes

    func testOnlyTheRunningOwnerWrites() throws {
        let store = try createdStore([Self.spec(0), Self.spec(1)])
        let spec = try XCTUnwrap(store.claim(owner: "p1", isAbandoned: never))
        let e1 = Self.epoch(1, valAcc: 0.5)
        assertThrows(.notOwner(trial: spec.id, owner: "p2")) { try store.appendEpoch(e1, trial: spec.id, owner: "p2") }
        assertThrows(.notOwner(trial: spec.id, owner: "p2")) {
            try store.finish(trial: spec.id, owner: "p2", TrialFinish(status: .done, seconds: 1))
        }
        assertThrows(.notOwner(trial: spec.id, owner: "p2")) { try store.interrupt(trial: spec.id, owner: "p2") }

        let pending = Self.spec(1).id
        assertThrows(.notOwner(trial: pending, owner: "p1")) { try store.appendEpoch(e1, trial: pending, owner: "p1") }
        assertThrows(.notOwner(trial: pending, owner: "p1")) { try store.interrupt(trial: pending, owner: "p1") }
        assertThrows(.notOwner(trial: pending, owner: "p1")) {
            try store.finish(trial: pending, owner: "p1", TrialFinish(status: .done, seconds: 1))
        }

        assertThrows(.unknownTrial("nope")) { try store.appendEpoch(e1, trial: "nope", owner: "p1") }
        assertThrows(.unknownTrial("nope")) {
            try store.finish(trial: "nope", owner: "p1", TrialFinish(status: .done, seconds: 1))
        }
        assertThrows(.unknownTrial("nope")) { try store.interrupt(trial: "nope", owner: "p1") }

        let r = try record(store, spec.id)
        XCTAssertEqual(r.status, .running)
        XCTAssertEqual(r.epochs, [], "failed writes leave no trace")
        XCTAssertEqual(try record(store, pending).status, .pending)
    }

    // MARK: Finished trials are immutable

    func testFinishedTrialIsImmutable() throws {
        for status in [TrialStatus.done, .diverged, .failed] {
            let store = try createdStore([Self.spec(0)])
            let spec = try XCTUnwrap(store.claim(owner: "p1", isAbandoned: never))
            let epochs = [Self.epoch(1, valAcc: 0.5), Self.epoch(2, valAcc: 0.7), Self.epoch(3, valAcc: 0.7),
                          Self.epoch(4, valAcc: 0.6)]
            for e in epochs { try store.appendEpoch(e, trial: spec.id, owner: "p1") }
            let error = status == .done ? nil : "\(status) at epoch 4"
            try store.finish(trial: spec.id, owner: "p1", TrialFinish(status: status, seconds: 12.5, error: error))

            let done = try record(store, spec.id)
            XCTAssertEqual(done.status, status)
            XCTAssertEqual(done.owner, "p1")
            XCTAssertEqual(done.seconds, 12.5)
            XCTAssertEqual(done.error, error)
            XCTAssertNotNil(done.finishedAt)
            XCTAssertEqual(done.epochs, epochs)
            XCTAssertEqual(done.bestValAcc, 0.7)
            XCTAssertEqual(done.bestEpoch, 2)
            XCTAssertEqual(done.finalValAcc, 0.6)

            let notOwner = TrialStoreError.notOwner(trial: spec.id, owner: "p1")
            assertThrows(notOwner) { try store.finish(trial: spec.id, owner: "p1", TrialFinish(status: .done, seconds: 1)) }
            assertThrows(notOwner) { try store.appendEpoch(Self.epoch(5, valAcc: 0.9), trial: spec.id, owner: "p1") }
            assertThrows(notOwner) { try store.interrupt(trial: spec.id, owner: "p1") }
            XCTAssertNil(try store.claim(owner: "p2", isAbandoned: always))
            try store.addTrials([Self.spec(0)])
            XCTAssertEqual(try record(store, spec.id), done, "a finished trial never changes")
        }
    }

    func testEpochsArriveInBatchesAndWithTheFinish() throws {
        let store = try createdStore([Self.spec(0), Self.spec(1)])
        let spec = try XCTUnwrap(store.claim(owner: "p1", isAbandoned: never))
        let first = [Self.epoch(1, valAcc: 0.5), Self.epoch(2, valAcc: 0.8)]
        let rest = [Self.epoch(3, valAcc: 0.7), Self.epoch(4, valAcc: 0.9), Self.epoch(5, valAcc: 0.9)]
        try store.appendEpochs(first, trial: spec.id, owner: "p1")
        try store.appendEpochs([], trial: spec.id, owner: "p1")
        XCTAssertEqual(try record(store, spec.id).epochs, first)
        XCTAssertEqual(try record(store, spec.id).status, .running)

        try store.finish(trial: spec.id, owner: "p1", TrialFinish(status: .done, seconds: 3), appending: rest)
        let done = try record(store, spec.id)
        XCTAssertEqual(done.status, .done)
        XCTAssertEqual(done.epochs, first + rest)
        XCTAssertEqual(done.bestValAcc, 0.9)
        XCTAssertEqual(done.bestEpoch, 4, "the summary counts the epochs given with the finish")
        assertThrows(.notOwner(trial: spec.id, owner: "p1")) {
            try store.appendEpochs([Self.epoch(6, valAcc: 1)], trial: spec.id, owner: "p1")
        }

        // A finish whose epochs come only with it, and a wrong owner's finish that stores nothing.
        let other = try XCTUnwrap(store.claim(owner: "p1", isAbandoned: never))
        assertThrows(.notOwner(trial: other.id, owner: "p2")) {
            try store.finish(trial: other.id, owner: "p2", TrialFinish(status: .done, seconds: 1), appending: first)
        }
        XCTAssertEqual(try record(store, other.id).epochs, [])
        try store.finish(trial: other.id, owner: "p1", TrialFinish(status: .diverged, seconds: 1), appending: first)
        XCTAssertEqual(try record(store, other.id).epochs, first)
        XCTAssertEqual(try record(store, other.id).finalValAcc, 0.8)
    }

    // MARK: Interrupt

    func testInterruptKeepsEpochsUntilReclaimed() throws {
        let store = try createdStore([Self.spec(0)])
        let spec = try XCTUnwrap(store.claim(owner: "p1", isAbandoned: never))
        let epochs = [Self.epoch(1, valAcc: 0.3), Self.epoch(2, valAcc: 0.4)]
        for e in epochs { try store.appendEpoch(e, trial: spec.id, owner: "p1") }
        try store.interrupt(trial: spec.id, owner: "p1")

        let interrupted = try record(store, spec.id)
        XCTAssertEqual(interrupted.status, .interrupted)
        XCTAssertEqual(interrupted.epochs, epochs)
        assertThrows(.notOwner(trial: spec.id, owner: "p1")) {
            try store.appendEpoch(Self.epoch(3, valAcc: 0.5), trial: spec.id, owner: "p1")
        }
        assertThrows(.notOwner(trial: spec.id, owner: "p1")) { try store.interrupt(trial: spec.id, owner: "p1") }

        XCTAssertEqual(try store.claim(owner: "p2", isAbandoned: never), spec)
        let again = try record(store, spec.id)
        XCTAssertEqual(again.status, .running)
        XCTAssertEqual(again.owner, "p2")
        XCTAssertEqual(again.attempts, 2)
        XCTAssertEqual(again.epochs, [])
        XCTAssertNil(again.finishedAt)
    }

    // MARK: Leases

    /// On a clock the test moves: a lease of L = 10 s, ε = 0.25 s (every time below is exact in
    /// binary, so "exactly L old" is exact too). "More than L seconds old" frees a trial; L − ε
    /// and exactly L hold it.
    func testExpiredLeaseMakesARunningTrialRunnableOnAnyHost() throws {
        let lease = 10.0, epsilon = 0.25
        let time = ManualClock()
        let store = try makeStore(lease: lease, clock: time.clock)
        _ = try store.create(Self.sweepInfo)
        try store.addTrials([Self.spec(0), Self.spec(1)])
        let (a, b, c, d) = ("hostA:1:1", "hostB:2:2", "hostC:3:3", "hostD:4:4")
        let first = try XCTUnwrap(store.claim(owner: a, isAbandoned: never))
        let second = try XCTUnwrap(store.claim(owner: b, isAbandoned: never))
        XCTAssertEqual([first.number, second.number], [0, 1])
        try store.appendEpoch(Self.epoch(1, valAcc: 0.4), trial: first.id, owner: a)
        time.advance(by: 4)
        try store.heartbeat(trial: first.id, owner: a)
        try store.heartbeat(trial: second.id, owner: b)
        XCTAssertNil(try store.claim(owner: c, isAbandoned: never), "leases just renewed are held")

        time.advance(by: lease - epsilon)
        XCTAssertNil(try store.claim(owner: c, isAbandoned: never), "heartbeats L - ε old hold their leases")
        time.advance(by: epsilon)
        XCTAssertNil(try store.claim(owner: c, isAbandoned: never), "heartbeats exactly L old hold their leases")
        try store.heartbeat(trial: second.id, owner: b)  // B renews, A went silent
        time.advance(by: epsilon)  // A's heartbeat is L + ε old, B's ε
        XCTAssertEqual(try store.claim(owner: c, isAbandoned: never), first)
        let r = try record(store, first.id)
        XCTAssertEqual(r.status, .running)
        XCTAssertEqual(r.owner, c)
        XCTAssertEqual(r.attempts, 2)
        XCTAssertEqual(r.epochs, [], "the new attempt runs from its start")
        // The silent owner finds it lost the lease, and cannot write.
        assertThrows(.notOwner(trial: first.id, owner: a)) { try store.heartbeat(trial: first.id, owner: a) }
        assertThrows(.notOwner(trial: first.id, owner: a)) {
            try store.appendEpoch(Self.epoch(2, valAcc: 0.5), trial: first.id, owner: a)
        }
        assertThrows(.notOwner(trial: first.id, owner: a)) {
            try store.finish(trial: first.id, owner: a, TrialFinish(status: .done, seconds: 1))
        }
        XCTAssertEqual(try record(store, first.id).epochs, [])
        XCTAssertNil(try store.claim(owner: d, isAbandoned: never), "B's renewed lease is held")

        // C renews its new lease; then B goes silent too. When B's heartbeat is L + 2ε old, C's
        // claim is L + ε old and would have expired too, but C's renewal holds: D gets B's
        // trial, not C's (which has the smaller number).
        time.advance(by: 6)
        try store.heartbeat(trial: first.id, owner: c)
        time.advance(by: lease - 6 - epsilon)  // B's heartbeat is exactly L old
        XCTAssertNil(try store.claim(owner: d, isAbandoned: never), "B's heartbeat exactly L old holds")
        time.advance(by: 2 * epsilon)
        XCTAssertEqual(try store.claim(owner: d, isAbandoned: never), second)
        XCTAssertEqual(try store.trials().map(\.owner), [c, d])
        XCTAssertEqual(try store.trials().map(\.attempts), [2, 2])
        assertThrows(.notOwner(trial: second.id, owner: b)) { try store.heartbeat(trial: second.id, owner: b) }
        XCTAssertNil(try store.claim(owner: "hostE:5:5", isAbandoned: never), "C's and D's leases are held")
    }

    func testHeartbeatNeedsTheRunningOwner() throws {
        let time = ManualClock()
        let store = try makeStore(lease: nil, clock: time.clock)
        _ = try store.create(Self.sweepInfo)
        try store.addTrials([Self.spec(0), Self.spec(1)])
        XCTAssertEqual(try store.heartbeats(), [:])
        let claimedAt = time.clock.now()
        let spec = try XCTUnwrap(store.claim(owner: "p1", isAbandoned: never))
        // The claim is the first heartbeat; each renewal is the clock's time then.
        XCTAssertEqual(try store.heartbeats(), [spec.id: claimedAt])
        time.advance(by: 7.5)
        try store.heartbeat(trial: spec.id, owner: "p1")
        XCTAssertEqual(try store.heartbeats(), [spec.id: claimedAt + 7.5])
        assertThrows(.notOwner(trial: spec.id, owner: "p2")) { try store.heartbeat(trial: spec.id, owner: "p2") }
        let pending = Self.spec(1).id
        assertThrows(.notOwner(trial: pending, owner: "p1")) { try store.heartbeat(trial: pending, owner: "p1") }
        assertThrows(.unknownTrial("nope")) { try store.heartbeat(trial: "nope", owner: "p1") }
        try store.finish(trial: spec.id, owner: "p1", TrialFinish(status: .done, seconds: 1))
        XCTAssertEqual(try store.heartbeats(), [:], "a finished trial has no heartbeat to judge")
        assertThrows(.notOwner(trial: spec.id, owner: "p1")) { try store.heartbeat(trial: spec.id, owner: "p1") }
        // Without a lease, an old heartbeat never frees a trial of a live owner.
        let other = try XCTUnwrap(store.claim(owner: "p1", isAbandoned: never))
        try store.heartbeat(trial: other.id, owner: "p1")
        time.advance(by: 400 * 86400)
        XCTAssertNil(try store.claim(owner: "p2", isAbandoned: never))
        XCTAssertEqual(try record(store, other.id).owner, "p1")
    }

    // MARK: Reads

    func testTrialsRoundTripSpecsAndEpochsExactly() throws {
        let specs = (0..<12).map { Self.spec($0, repeatIndex: $0 % 3) }
        let store = try createdStore(specs.shuffled())
        XCTAssertEqual(try store.trials().map(\.spec), specs)
        XCTAssertEqual(try store.trials().map(\.status), Array(repeating: .pending, count: specs.count))

        let spec = try XCTUnwrap(store.claim(owner: "p1", isAbandoned: never))
        let odd = [
            EpochMetrics(epoch: 1, lr: 0.1 + 0.2, trainLoss: .infinity, trainAcc: 1e-300, valLoss: -.infinity,
                         valAcc: .ulpOfOne, trainSeconds: .leastNonzeroMagnitude),
            EpochMetrics(epoch: 2, lr: 1.0 / 3, trainLoss: .greatestFiniteMagnitude, trainAcc: 0, valLoss: -0.0,
                         valAcc: 0.123456789012345678, trainSeconds: 12345.678),
        ]
        for e in odd { try store.appendEpoch(e, trial: spec.id, owner: "p1") }
        XCTAssertEqual(try record(store, spec.id).epochs, odd)
    }

    func testExtraMetricsRoundTripThroughAppendAndFinish() throws {
        let store = try createdStore([Self.spec(0)])
        let spec = try XCTUnwrap(store.claim(owner: "p1", isAbandoned: never))
        var first = Self.epoch(1, valAcc: 0.2)
        first.extra = ["top5_acc": 0.1 + 0.2, "grad_norm": 1e-300, "\u{e9}\"quoted\"": -2.5e-7]
        var second = Self.epoch(2, valAcc: 0.3)
        second.extra = ["top5_acc": 1.0 / 3]
        try store.appendEpoch(first, trial: spec.id, owner: "p1")
        try store.finish(trial: spec.id, owner: "p1", TrialFinish(status: .done, seconds: 1), appending: [second])
        let epochs = try record(store, spec.id).epochs
        XCTAssertEqual(epochs.map(\.extra), [first.extra, second.extra])
    }

    func testNaNMetricsReadBackAsNaN() throws {
        let store = try createdStore([Self.spec(0)])
        let spec = try XCTUnwrap(store.claim(owner: "p1", isAbandoned: never))
        try store.appendEpoch(Self.epoch(1, valAcc: 0.2), trial: spec.id, owner: "p1")
        try store.appendEpoch(EpochMetrics(epoch: 2, lr: 0.1, trainLoss: .nan, trainAcc: 0.1, valLoss: .nan,
                                           valAcc: 0.1, trainSeconds: 1), trial: spec.id, owner: "p1")
        try store.finish(trial: spec.id, owner: "p1", TrialFinish(status: .diverged, seconds: 3, error: "nan loss"))
        let r = try record(store, spec.id)
        XCTAssertEqual(r.epochs.count, 2)
        XCTAssertTrue(r.epochs[1].trainLoss.isNaN)
        XCTAssertTrue(r.epochs[1].valLoss.isNaN)
        XCTAssertEqual(r.epochs[1].valAcc, 0.1)
        XCTAssertEqual(r.bestEpoch, 1)
    }

    // MARK: Reads for large sweeps

    /// `counts`, `briefs`, `bestDone`, `trials(withEpochs: false)`, `trials(numbers:)`,
    /// `epochs(ofTrials:)` and `forEachTrialLine` say exactly what `trials()` says, in their own shape.
    func testLightReadsAgreeWithTrials() throws {
        let store = try createdStore((0..<7).map { Self.spec($0) })
        XCTAssertEqual(try store.counts(), TrialCounts(byStatus: [.pending: 7], nextNumber: 7))
        XCTAssertNil(try store.bestDone(.bestValAcc))
        func run(_ accs: [Double], _ status: TrialStatus, error: String? = nil) throws {
            let spec = try XCTUnwrap(store.claim(owner: "p1", isAbandoned: never))
            let epochs = accs.enumerated().map { Self.epoch($0.offset + 1, valAcc: $0.element) }
            try store.finish(trial: spec.id, owner: "p1", TrialFinish(status: status, seconds: 1.5, error: error),
                             appending: epochs)
        }
        try run([0.5, 0.7, 0.6], .done)
        try run([0.8, 0.75], .done)
        try run([0.9], .diverged, error: "the loss became non-finite in epoch 2")
        try run([], .failed, error: "boom")
        try run([0.8, 0.7], .done)  // ties with trial 1 on best_val_acc: the smaller number wins
        let running = try XCTUnwrap(store.claim(owner: "p1", isAbandoned: never))
        try store.appendEpoch(Self.epoch(1, valAcc: 0.99), trial: running.id, owner: "p1")

        let all = try store.trials()
        XCTAssertEqual(try store.runningOwners(), ["p1"])
        XCTAssertEqual(try store.counts(), TrialCounts(byStatus: [.done: 3, .diverged: 1, .failed: 1, .running: 1, .pending: 1],
                                                       nextNumber: 7))
        XCTAssertEqual(try store.trials(withEpochs: true), all)
        let light = try store.trials(withEpochs: false)
        XCTAssertEqual(light, all.map(\.withoutEpochs))
        XCTAssertTrue(light.allSatisfy(\.epochs.isEmpty))
        XCTAssertEqual(light.map(\.bestValAcc), all.map { $0.status.isFinished ? $0.bestValAcc : nil })
        XCTAssertEqual(light[2].error, "the loss became non-finite in epoch 2")
        for objective in Objective.allCases {
            XCTAssertEqual(try store.briefs(objective), all.map { TrialBrief($0, objective: objective) })
        }
        XCTAssertEqual(try store.briefs(.finalValAcc).map(\.score), [0.6, 0.75, 0.9, nil, 0.7, nil, nil])
        XCTAssertEqual(try store.briefs(.bestValAcc).map(\.claimed), [true, true, true, true, true, true, false])
        let best = try XCTUnwrap(store.bestDone(.bestValAcc))
        XCTAssertEqual(best.id, all[1].spec.id)
        XCTAssertEqual(best.score, 0.8)
        XCTAssertEqual(try store.bestDone(.finalValAcc)?.id, all[1].spec.id)
        XCTAssertEqual(try store.trials(numbers: [5, 0, 99, 2, 2]), [all[0], all[2], all[5]].map(\.withoutEpochs))
        let ids = [all[0].spec.id, all[3].spec.id, running.id, "nope"]
        XCTAssertEqual(try store.epochs(ofTrials: ids), [all[0].spec.id: all[0].epochs, running.id: all[5].epochs])

        // Every trial's line, in number order: the finished ones' summaries (as run above),
        // none for the running and pending ones.
        var lines: [TrialLine] = []
        try store.forEachTrialLine { lines.append($0) }
        XCTAssertEqual(lines, all.map(TrialLine.init))
        XCTAssertEqual(lines.map(\.number), Array(0..<7))
        XCTAssertEqual(lines.map(\.configuration), (0..<7).map { Self.spec($0).configuration })
        XCTAssertEqual(lines.map(\.kind), [.sgdr, .step, .cosine, .constant, .plateau, .sgdr, .step])
        XCTAssertEqual(lines.map(\.swept.dictionary), (0..<7).map { Self.spec($0).swept })
        XCTAssertEqual(lines.map(\.status), [.done, .done, .diverged, .failed, .done, .running, .pending])
        XCTAssertEqual(lines.map(\.attempts), [1, 1, 1, 1, 1, 1, 0])
        XCTAssertEqual(lines.map(\.seconds), [1.5, 1.5, 1.5, 1.5, 1.5, nil, nil])
        XCTAssertEqual(lines.map(\.bestValAcc), [0.7, 0.8, 0.9, nil, 0.8, nil, nil])
        XCTAssertEqual(lines.map(\.bestEpoch), [2, 1, 1, nil, 1, nil, nil])
        XCTAssertEqual(lines.map(\.finalValAcc), [0.6, 0.75, 0.9, nil, 0.7, nil, nil])
    }
}

final class SQLiteTrialStoreContractTests: TrialStoreContract {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("sgdr-sqlite-contract-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    override func makeStore() throws -> any TrialStore {
        try SQLiteTrialStore(path: directory.appendingPathComponent("sweep-\(UUID().uuidString).sqlite").path)
    }

    override func makeStore(lease: Double?, clock: SweepClock) throws -> any TrialStore {
        try SQLiteTrialStore(path: directory.appendingPathComponent("sweep-\(UUID().uuidString).sqlite").path, lease: lease,
                             clock: clock)
    }

    // A subclass must declare at least one test method of its own: XCTest's discovery lists the
    // inherited ones only for a class it lists (one without would silently run no test at all).

    /// A renewal is stored in the file: a process that opens it later judges the lease by it,
    /// not by the claim.
    func testARenewedLeaseOutlivesTheStoreThatWroteIt() throws {
        let time = ManualClock()
        let path = directory.appendingPathComponent("lease.sqlite").path
        let writer = try SQLiteTrialStore(path: path, lease: 10, clock: time.clock)
        _ = try writer.create(Self.sweepInfo)
        try writer.addTrials([Self.spec(0)])
        let spec = try XCTUnwrap(writer.claim(owner: "hostA:1:1", isAbandoned: never))
        time.advance(by: 4)
        try writer.heartbeat(trial: spec.id, owner: "hostA:1:1")
        try writer.close()

        time.advance(by: 10)  // the renewal is exactly a lease old, the claim 14 s
        let reader = try SQLiteTrialStore(path: path, create: false, lease: 10, clock: time.clock)
        XCTAssertNil(try reader.claim(owner: "hostB:2:2", isAbandoned: never))
        time.advance(by: 0.25)
        XCTAssertEqual(try reader.claim(owner: "hostB:2:2", isAbandoned: never), spec)
        XCTAssertEqual(try record(reader, spec.id).attempts, 2)
        try reader.close()
    }
}

/// A value shared by test threads.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var _value: Value
    init(_ value: Value) { _value = value }
    var value: Value { lock.withLock { _value } }
    func mutate<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&_value) } }
}
