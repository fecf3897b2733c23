@testable import App
import Engine
import TrainingTypes
import Foundation
import Schedules
@testable import Sweep
import XCTest

final class RunnerTests: XCTestCase {
    /// Runs a sweep; `cancelAfterEpochs`: cancel once that many epochs were stored (mid-trial).
    func sweep(_ json: String = gridJSON, executor: FakeExecutor = FakeExecutor(), concurrency: Int,
               store: MemoryTrialStore = MemoryTrialStore(), cancelAfterEpochs: Int? = nil,
               wrappedIn overlap: OverlapExecutor? = nil) throws -> (MemoryTrialStore, SweepRunner.Ending) {
        let s = try space(json)
        _ = try store.create(SweepInfo(name: s.name, spaceJSON: s.source, spaceHash: s.canonicalHash, createdAt: 0))
        try store.addTrials(s.trialSpecs())
        let flag = CancellationFlag()
        var settings = SweepRunner.Settings()
        settings.isAbandoned = { _ in false }
        if let cancelAfterEpochs {
            let counter = FakeExecutor.Counter()
            settings.onEvent = { event in
                if case .epoch(let spec, _) = event {
                    counter.add(spec.id)
                    if counter.lock.withLock({ counter.ids.count }) >= cancelAfterEpochs { flag.cancel() }
                }
            }
        }
        let runner: SweepRunner
        if let overlap {
            overlap.inner = executor
            runner = SweepRunner(store: store, executor: overlap, concurrency: concurrency, owner: "test:1:1",
                                 cancellation: flag, settings: settings)
        } else {
            runner = SweepRunner(store: store, executor: executor, concurrency: concurrency, owner: "test:1:1",
                                 cancellation: flag, settings: settings)
        }
        return (store, try runner.run())
    }

    func testConcurrencyOneAndTwoGiveIdenticalRecords() throws {
        let (one, e1) = try sweep(concurrency: 1)
        let (two, e2) = try sweep(executor: FakeExecutor(epochDelay: 0.001), concurrency: 2)
        XCTAssertEqual(e1, .exhausted)
        XCTAssertEqual(e2, .exhausted)
        let a = try one.trials(), b = try two.trials()
        XCTAssertEqual(a.count, 10)
        XCTAssertTrue(a.allSatisfy { $0.status == .done && $0.epochs.count == 6 && $0.attempts == 1 })
        XCTAssertEqual(comparable(a), comparable(b))
        let ra = Leaderboard.rows(a, objective: .bestValAcc), rb = Leaderboard.rows(b, objective: .bestValAcc)
        XCTAssertEqual(ra.map(\.configuration), rb.map(\.configuration))
        XCTAssertEqual(ra.map(\.bestValAcc), rb.map(\.bestValAcc))
        // The scores differ between configurations (the fake is not constant).
        XCTAssertGreaterThan(Set(ra.compactMap(\.bestValAcc)).count, 5)
    }

    /// Time in the executor counts as training; time in the store counts as storage and
    /// dispatch. Checked with lower bounds only (a sleep never ends early): 60 epochs that sleep
    /// 5 ms each in the executor, and a store whose claims and finishes sleep 20 ms each.
    func testTimingSplitsTrainingFromStorageAndDispatch() throws {
        let s = try space(gridJSON)
        let store = SlowStore(delay: 0.02)
        _ = try store.create(SweepInfo(name: "g", spaceJSON: s.source, spaceHash: s.canonicalHash, createdAt: 0))
        try store.addTrials(s.trialSpecs())
        var settings = SweepRunner.Settings()
        settings.isAbandoned = { _ in false }
        let runner = SweepRunner(store: store, executor: FakeExecutor(epochDelay: 0.005), concurrency: 2, owner: "t:1:1", settings: settings)
        XCTAssertEqual(try runner.run(), .exhausted)
        XCTAssertGreaterThanOrEqual(store.slowCalls.value, 20, "10 claims and 10 finishes at least")
        let (worker, training) = runner.timing
        XCTAssertGreaterThanOrEqual(training, 10 * 6 * 0.005, "the executor's sleeps are training")
        XCTAssertGreaterThanOrEqual(worker - training, Double(store.slowCalls.value) * 0.02, "the store's sleeps are storage: \(worker - training) s of \(worker) s")
    }

    /// With concurrency 2, two trials run at the same time (the first waits until a second
    /// starts, with a bound against a hang); never more than 2. With concurrency 1, one at a time.
    func testTwoWorkersRunConcurrently() throws {
        let two = OverlapExecutor(waitForOverlap: true)
        let (store, ending) = try sweep(executor: FakeExecutor(), concurrency: 2, wrappedIn: two)
        XCTAssertEqual(ending, .exhausted)
        XCTAssertEqual(two.overlapSeen.value, true, "a second trial started while the first ran")
        XCTAssertEqual(two.maxInFlight.value, 2)
        XCTAssertTrue(try store.trials().allSatisfy { $0.status == .done })

        let one = OverlapExecutor(waitForOverlap: false)
        let (serial, _) = try sweep(executor: FakeExecutor(epochDelay: 0.001), concurrency: 1, wrappedIn: one)
        XCTAssertEqual(one.maxInFlight.value, 1)
        XCTAssertEqual(comparable(try serial.trials()), comparable(try store.trials()))
    }

    func testResumeAfterInterruptionEqualsUninterrupted() throws {
        let executor = FakeExecutor(epochDelay: 0.01)
        let (reference, _) = try sweep(concurrency: 2)
        let (store, ending) = try sweep(executor: executor, concurrency: 2, cancelAfterEpochs: 27)
        XCTAssertEqual(ending, .cancelled)
        let mid = try store.trials()
        XCTAssertTrue(mid.contains { $0.status == .interrupted }, "\(mid.map(\.status))")
        XCTAssertTrue(mid.contains { !$0.status.isFinished })
        XCTAssertFalse(mid.contains { $0.status == .running })
        let finishedBefore = mid.filter { $0.status.isFinished }
        // Run again on the same store: only the unfinished trials run.
        let counter = FakeExecutor.Counter()
        let (_, again) = try sweep(executor: FakeExecutor(calls: counter), concurrency: 2, store: store)
        XCTAssertEqual(again, .exhausted)
        XCTAssertEqual(Set(counter.ids), Set(mid.filter { !$0.status.isFinished }.map(\.spec.id)))
        XCTAssertEqual(counter.ids.count, Set(counter.ids).count, "nothing runs twice")
        let final = try store.trials()
        XCTAssertEqual(comparable(final), comparable(try reference.trials()))
        for r in finishedBefore { XCTAssertEqual(final.first { $0.spec.id == r.spec.id }!.attempts, 1) }
    }

    func testDivergedAndFailedTrialsDoNotStopTheSweep() throws {
        let json = gridJSON.replacingOccurrences(of: "\"fixed\": {\"lr_max\": 0.1},", with: "")
            .replacingOccurrences(of: "\"lr_max_compression\": {\"values\": [1, 5]}", with: "\"lr_max\": {\"values\": [0.1, 3]}")
        let (store, ending) = try sweep(json, executor: FakeExecutor(divergeAbove: 1, failT0: 5), concurrency: 2)
        XCTAssertEqual(ending, .exhausted)
        let trials = try store.trials()
        XCTAssertTrue(trials.allSatisfy { $0.status.isFinished })
        let failed = trials.filter { $0.status == .failed }
        XCTAssertEqual(failed.count, 4)
        XCTAssertTrue(failed.allSatisfy { $0.error == "boom: t0 5 is cursed" })
        let diverged = trials.filter { $0.status == .diverged }
        XCTAssertEqual(Set(diverged.map(\.spec.configuration)), ["sgdr-0001", "sgdr-0003"])
        let rows = Leaderboard.rows(trials, objective: .bestValAcc)
        XCTAssertEqual(rows.suffix(6).map(\.status), [.diverged, .diverged, .failed, .failed, .failed, .failed])
        XCTAssertTrue(rows.prefix(4).allSatisfy { $0.status == .done })
    }

    func testTrialsOfLiveOwnersAreNotTakenAbandonedOnesAre() throws {
        let s = try space(gridJSON)
        let store = MemoryTrialStore()
        _ = try store.create(SweepInfo(name: "g", spaceJSON: s.source, spaceHash: s.canonicalHash, createdAt: 0))
        try store.addTrials(s.trialSpecs())
        let live = try store.claim(owner: "host:1:live", isAbandoned: { _ in false })!
        let dead = try store.claim(owner: "host:2:dead", isAbandoned: { _ in false })!
        var settings = SweepRunner.Settings()
        settings.isAbandoned = { $0.hasSuffix("dead") }
        let runner = SweepRunner(store: store, executor: FakeExecutor(), concurrency: 2, owner: "me:3:3", settings: settings)
        XCTAssertEqual(try runner.run(), .exhausted)
        let trials = try store.trials()
        XCTAssertEqual(trials.first { $0.spec.id == live.id }!.status, .running)
        XCTAssertEqual(trials.first { $0.spec.id == live.id }!.owner, "host:1:live")
        XCTAssertEqual(trials.first { $0.spec.id == dead.id }!.status, .done)
        XCTAssertEqual(trials.first { $0.spec.id == dead.id }!.attempts, 2)
        XCTAssertEqual(trials.filter { $0.status == .done }.count, 9)
    }

    func testOwnerStringAndLiveness() {
        let me = Owner.current
        let parts = me.split(separator: ":")
        XCTAssertEqual(parts.count, 3)
        XCTAssertEqual(Int32(parts[1]), getpid())
        XCTAssertNotEqual(parts[2], "0")
        XCTAssertFalse(Owner.isAbandoned(me), "this process is alive")
        let host = Owner.hostName()
        XCTAssertTrue(Owner.isAbandoned("\(host):\(parts[1]):\(Int(parts[2])! + 1)"), "same pid, other start time: reused pid")
        XCTAssertFalse(Owner.isAbandoned("some-other-host-zz:\(parts[1]):1"), "other hosts: never")
        XCTAssertFalse(Owner.isAbandoned("garbage"))
        // A process that has exited.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try? p.run()
        p.waitUntilExit()
        XCTAssertTrue(Owner.isAbandoned("\(host):\(p.processIdentifier):123"))
    }
}

final class ProgressTests: XCTestCase {
    func record(_ id: String, _ acc: Double?, status: TrialStatus = .done) throws -> TrialRecord {
        let spec = try space(gridJSON).trialSpecs().first { $0.id == id }!
        let epochs = acc.map { [EpochMetrics(epoch: 1, lr: 0.1, trainLoss: 1, trainAcc: 0.5, valLoss: 1, valAcc: $0, trainSeconds: 0)] } ?? []
        return TrialRecord(spec: spec, status: status, seconds: 1.25, error: status == .failed ? "boom" : nil, epochs: epochs)
    }

    func testOneLinePerFinishedTrialWhenNotATerminal() throws {
        let (console, output) = Console.capturing()
        let p = ProgressReporter(console: console, total: 12, alreadyFinished: 1, objective: .bestValAcc)
        p.handle(.finished(try record("step.r0", 0.7)), counted: false)
        p.handle(.started(try record("sgdr-0000.r0", nil).spec))
        p.handle(.finished(try record("sgdr-0000.r0", 0.65)))
        p.handle(.finished(try record("sgdr-0001.r0", nil, status: .failed)))
        p.handle(.finished(try record("sgdr-0002.r0", 0.8)))
        p.close()
        let lines = output().err.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3, output().err)
        XCTAssertTrue(lines[0].hasPrefix("[ 2/12] sgdr-0000.r0 best_val_acc 0.6500 (1.2 s) | best step.r0 0.7000 | elapsed "), lines[0])
        XCTAssertTrue(lines[1].hasPrefix("[ 3/12] sgdr-0001.r0 failed: boom"), lines[1])
        XCTAssertTrue(lines[2].contains("| best sgdr-0002.r0 0.8000 |"), lines[2])
        XCTAssertTrue(lines[2].contains("ETA "), lines[2])
    }

    func testALiveLineOnATerminal() throws {
        let lock = NSLock()
        nonisolated(unsafe) var err = ""
        let console = Console(out: { _ in }, err: { s in lock.withLock { err += s } }, isTerminal: true)
        let p = ProgressReporter(console: console, total: 10, alreadyFinished: 0, objective: .bestValAcc)
        p.handle(.started(try record("sgdr-0000.r0", nil).spec))
        p.handle(.finished(try record("sgdr-0000.r0", 0.5)))
        p.close()
        let text = lock.withLock { err }
        XCTAssertFalse(text.dropLast().contains("\n"), "redrawn in place: \(text.debugDescription)")
        XCTAssertTrue(text.hasSuffix("\n"))
        XCTAssertTrue(text.contains("\r\u{1B}[K0/10 done, 1 running | best - | elapsed 0.0 s, ETA ?"), text.debugDescription)
        XCTAssertTrue(text.contains("\r\u{1B}[K1/10 done, 0 running | best sgdr-0000.r0 0.5000 |"), text.debugDescription)
    }
}

extension ProgressTests {
    /// The live line on a terminal of a given width: never longer than width - 1 columns (a line
    /// that reaches the last column wraps, and every redraw then leaves a stale line behind).
    /// Expected texts written by hand from the parts below.
    func testTheLiveLineFitsANarrowTerminal() {
        let parts = (count: "12/33 done, 2 running", best: "best sgdr-0005.r1 0.8712", elapsed: "12.3 s", eta: "20.1 s")
        func line(_ width: Int?) -> String {
            ProgressReporter.liveLine(count: parts.count, best: parts.best, elapsed: parts.elapsed, eta: parts.eta, width: width)
        }
        let full = "12/33 done, 2 running | best sgdr-0005.r1 0.8712 | elapsed 12.3 s, ETA 20.1 s"
        XCTAssertEqual(line(nil), full)
        XCTAssertEqual(line(160), full)
        XCTAssertEqual(line(full.count + 1), full)
        XCTAssertEqual(line(full.count), "12/33 done, 2 running | best sgdr-0005.r1 0.8712 | ETA 20.1 s")
        XCTAssertEqual(line(50), "12/33 done, 2 running | ETA 20.1 s")
        XCTAssertEqual(line(20), "12/33 done, 2 runn\u{2026}")
        XCTAssertEqual(line(1), "\u{2026}")
        for width in 1...120 { XCTAssertLessThanOrEqual(line(width).count, max(1, width - 1), "width \(width)") }
    }

    /// Through the reporter: a 50-column terminal gets lines of at most 49 columns, redrawn in place.
    func testTheReporterReadsTheTerminalWidth() throws {
        let lock = NSLock()
        nonisolated(unsafe) var err = ""
        let console = Console(out: { _ in }, err: { s in lock.withLock { err += s } }, isTerminal: true, width: { 50 })
        let p = ProgressReporter(console: console, total: 33, alreadyFinished: 0, objective: .bestValAcc)
        p.handle(.started(try record("sgdr-0000.r0", nil).spec))
        p.handle(.finished(try record("sgdr-0000.r0", 0.5)))
        p.close()
        let text = lock.withLock { err }
        let drawn = text.dropLast().components(separatedBy: "\r\u{1B}[K").filter { !$0.isEmpty }
        XCTAssertEqual(drawn.count, 2, text.debugDescription)
        for d in drawn { XCTAssertLessThanOrEqual(d.count, 49, d) }
        XCTAssertEqual(drawn.first, "0/33 done, 1 running | best - | ETA ?")
    }
}

/// Counts the executions in flight and the most at once; with `waitForOverlap`, the first
/// execution waits (up to 30 s, against a hang) until a second one has started.
final class OverlapExecutor: TrialExecutor, @unchecked Sendable {  // `inner` is set before the runner starts
    let waitForOverlap: Bool
    var inner = FakeExecutor()
    let inFlight = Locked(0), maxInFlight = Locked(0), overlapSeen = Locked(false)
    private let started = NSCondition()
    private var first = true  // under `started`

    init(waitForOverlap: Bool) { self.waitForOverlap = waitForOverlap }

    func execute(_ spec: TrialSpec, onEpoch: (EpochMetrics) throws -> Void, isCancelled: () -> Bool) throws -> ExecutionOutcome {
        let now = inFlight.mutate { n -> Int in n += 1; return n }
        maxInFlight.mutate { $0 = max($0, now) }
        defer { inFlight.mutate { $0 -= 1 } }
        started.withLock {
            if now >= 2 { overlapSeen.mutate { $0 = true } }
            started.broadcast()
            guard waitForOverlap && first else { return }
            first = false
            let end = Date().addingTimeInterval(30)
            while !overlapSeen.value && Date() < end { _ = started.wait(until: end) }
        }
        return try inner.execute(spec, onEpoch: onEpoch, isCancelled: isCancelled)
    }
}

/// A MemoryTrialStore whose claims and finishes each sleep `delay` seconds first.
final class SlowStore: TrialStore, @unchecked Sendable {  // lets only; MemoryTrialStore locks itself
    let base = MemoryTrialStore()
    let delay: Double
    let slowCalls = Locked(0)
    init(delay: Double) { self.delay = delay }
    private func slow() {
        slowCalls.mutate { $0 += 1 }
        Thread.sleep(forTimeInterval: delay)
    }

    func create(_ info: SweepInfo) throws -> SweepInfo { try base.create(info) }
    func info() throws -> SweepInfo? { try base.info() }
    func updateSpace(json: String, hash: String) throws { try base.updateSpace(json: json, hash: hash) }
    func addTrials(_ specs: [TrialSpec]) throws { try base.addTrials(specs) }
    func claim(owner: String, isAbandoned: (String) -> Bool) throws -> TrialSpec? {
        slow()
        return try base.claim(owner: owner, isAbandoned: isAbandoned)
    }
    func heartbeat(trial id: String, owner: String) throws { try base.heartbeat(trial: id, owner: owner) }
    func heartbeats() throws -> [String: Double] { try base.heartbeats() }
    func appendEpochs(_ metrics: [EpochMetrics], trial id: String, owner: String) throws {
        try base.appendEpochs(metrics, trial: id, owner: owner)
    }
    func finish(trial id: String, owner: String, _ finish: TrialFinish, appending epochs: [EpochMetrics]) throws {
        slow()
        try base.finish(trial: id, owner: owner, finish, appending: epochs)
    }
    func interrupt(trial id: String, owner: String) throws { try base.interrupt(trial: id, owner: owner) }
    func trials() throws -> [TrialRecord] { try base.trials() }
}
