import Foundation
import Synchronization
import Schedules
import TrainingTypes

/// How a trial's training ended.
public enum ExecutionOutcome: Hashable, Sendable {
    case completed
    /// A non-finite loss.
    case diverged
    /// `isCancelled` answered true: the trial stopped early and is recorded `interrupted`.
    case cancelled
}

/// Runs one trial's training. The engine-backed `EngineExecutor` is the real one; tests use fakes.
/// `execute` is called from several worker threads at once.
public protocol TrialExecutor: Sendable {
    /// Trains `spec` from its start: calls `onEpoch` after every epoch (an error it throws must
    /// stop the training and be rethrown) and polls `isCancelled` between batches.
    func execute(_ spec: TrialSpec, onEpoch: (EpochMetrics) throws -> Void,
                 isCancelled: () -> Bool) throws -> ExecutionOutcome
}

/// Stores a sweep's trials in batches, in number order, each batch one transaction (see
/// `SweepRunner.feeder`). Trial n of the space is computed alone (`SearchSpace.trialSpecs(_:)`),
/// so a sweep of a million trials is never expanded at once.
public final class TrialFeeder: Sendable {
    public let space: SearchSpace
    public let store: any TrialStore
    public let batchSize: Int
    /// A batch is added when fewer than this many stored trials lie ahead of the claims.
    public let lowWater: Int
    private let next: Mutex<Int>

    /// Stores from trial `start` on (the trials below it are stored).
    public init(space: SearchSpace, store: any TrialStore, start: Int, batchSize: Int = 20_000) {
        self.space = space
        self.store = store
        self.batchSize = max(1, batchSize)
        lowWater = 2 * self.batchSize
        next = Mutex(start)
    }

    /// The number of the first trial not stored by this feeder yet.
    public var nextNumber: Int { next.withLock { $0 } }
    public var isDone: Bool { nextNumber >= space.trialCount }

    /// Stores the next `count` trials (a batch by default), in one transaction.
    public func addBatch(_ count: Int? = nil) throws {
        let start = nextNumber
        let end = min(space.trialCount, start + (count ?? batchSize))
        guard start < end else { return }
        try store.addTrials(space.trialSpecs(start..<end))
        next.withLock { $0 = end }
    }
}

/// A flag set once (Ctrl-C, a fatal store error) and read by every worker between batches.
public final class CancellationFlag: Sendable {
    private let cancelled = Mutex(false)

    public init() {}
    public var isCancelled: Bool { cancelled.withLock { $0 } }
    public func cancel() { cancelled.withLock { $0 = true } }
}

/// What the runner reports while it works (from worker threads).
public enum SweepEvent: Sendable {
    case started(TrialSpec)
    case epoch(TrialSpec, EpochMetrics)
    case finished(TrialRecord)
    case interrupted(TrialSpec)
}

/// Runs the runnable trials of a store on a fixed pool of worker threads until none is left,
/// or until cancelled.
// @unchecked: the mutable state is private and used only under `lock`, `feeding` or
// `finishedTrial` (NSConditions, which idle workers wait on; Mutex cannot wait).
public final class SweepRunner: @unchecked Sendable {
    public let store: any TrialStore
    public let executor: any TrialExecutor
    public let concurrency: Int
    public let owner: String
    public let cancellation: CancellationFlag
    /// The hooks and settings, fixed before the workers start.
    public let settings: Settings

    /// What a runner is given besides its store and executor; set once, at `init`, and read by
    /// the worker threads without a lock.
    public struct Settings: Sendable {
        /// Whether a running trial's owner is gone (its trial may be taken over).
        public var isAbandoned: @Sendable (String) -> Bool = Owner.isAbandoned
        /// What the runner reports while it works, called from worker threads.
        public var onEvent: @Sendable (SweepEvent) -> Void = { _ in }
        /// A running trial's epochs are written to the store at most this often (seconds); the rest
        /// go with its finish, in the same transaction. 0 writes every epoch as it ends.
        public var epochFlushInterval: Double = 1
        /// Racing: called when nothing is runnable; adds the trials of the next round once the
        /// current one is decided, and answers whether it added any. While it adds none and other
        /// workers of this runner are still training, an idle worker waits for one of them to finish.
        public var replenish: (@Sendable () throws -> Bool)?
        /// The store's lease (seconds), or nil. With a lease, a heartbeat thread renews the lease of
        /// every running trial every `lease / 4` seconds; a trial whose lease was lost (the store
        /// says `notOwner`: another worker took it over) is stopped and dropped without writing.
        public var lease: Double?
        /// Where the heartbeat schedule and the wait for other hosts' trials read the time (the
        /// store's clock; a test's `ManualClock`). Between looks at it the runner sleeps in
        /// real time, at most 50 ms at a time.
        public var clock: SweepClock = .system
        /// Without racing: stores the sweep's trials that are not stored yet, on a thread of its own,
        /// a batch at a time as the claims come near the last one stored (a large sweep starts at once
        /// and never spends its time storing trials far ahead). A worker that finds nothing to claim
        /// waits for the feeder rather than stopping.
        public var feeder: TrialFeeder?

        public init() {}
    }

    private var active: Set<String> = []
    private var lost: Set<String> = []

    private let lock = NSLock()
    /// Signalled when a worker finishes a trial (for workers waiting at a round's end).
    private let finishedTrial = NSCondition()
    private var busyWorkers = 0
    private let feeding = NSCondition()
    private var feedingDone = true
    /// The highest trial number this runner's workers claimed.
    private var frontier = -1
    private var storeError: (any Error)?
    private var workerNanos: UInt64 = 0
    private var trainingNanos: UInt64 = 0
    private var calls = StoreCalls()

    /// How many store calls of each kind the workers made and how long they took (nanoseconds,
    /// summed over workers): where storage and dispatch time goes.
    public struct StoreCalls: Hashable, Sendable {
        /// Each worker's first claim (on a network store it opens the worker's connection).
        public var firstClaims = 0, firstClaimNanos: UInt64 = 0
        /// The other claims, answered or empty.
        public var claims = 0, claimNanos: UInt64 = 0
        /// Finishes (with the epochs not written before).
        public var finishes = 0, finishNanos: UInt64 = 0
        /// Writes of epochs while a trial runs (`appendEpochs`), and interrupts.
        public var epochWrites = 0, epochWriteNanos: UInt64 = 0

        public init() {}

        static func += (a: inout StoreCalls, b: StoreCalls) {
            a.firstClaims += b.firstClaims; a.firstClaimNanos += b.firstClaimNanos
            a.claims += b.claims; a.claimNanos += b.claimNanos
            a.finishes += b.finishes; a.finishNanos += b.finishNanos
            a.epochWrites += b.epochWrites; a.epochWriteNanos += b.epochWriteNanos
        }

        /// One line: counts and mean milliseconds of each kind.
        public var summary: String {
            func each(_ n: Int, _ nanos: UInt64) -> String {
                n == 0 ? "0" : String(format: "%d x %.2f ms", n, Double(nanos) / 1e6 / Double(n))
            }
            return "claims \(each(claims, claimNanos)) (each worker's first: \(each(firstClaims, firstClaimNanos))), "
                + "finishes \(each(finishes, finishNanos)), epoch writes \(each(epochWrites, epochWriteNanos))"
        }
    }

    /// The store calls of a run, once `run()` returned.
    public var storeCalls: StoreCalls { lock.withLock { calls } }

    /// Where the workers' time went, once `run()` returned: the sum over workers of their whole
    /// time, and of the part spent training (the executor, minus the store calls it made).
    /// The rest is storage and dispatch: claiming, storing epochs, finishing.
    public var timing: (workerSeconds: Double, trainingSeconds: Double) {
        lock.withLock { (Double(workerNanos) / 1e9, Double(trainingNanos) / 1e9) }
    }

    public init(store: any TrialStore, executor: any TrialExecutor, concurrency: Int,
                owner: String = Owner.current, cancellation: CancellationFlag = CancellationFlag(),
                settings: Settings = Settings()) {
        precondition(concurrency >= 1)
        self.settings = settings
        self.store = store
        self.executor = executor
        self.concurrency = concurrency
        self.owner = owner
        self.cancellation = cancellation
    }

    /// What a run ended with.
    public enum Ending: Hashable, Sendable {
        /// Nothing runnable is left (other processes may still be running trials).
        case exhausted
        /// Cancelled: the trials that were running are recorded `interrupted`.
        case cancelled
    }

    /// Starts `concurrency` worker threads and waits for them. Training runs on these threads,
    /// never on Swift's cooperative pool (BLAS calls block). Throws the first storage error, after
    /// the other workers have stopped.
    public func run() throws -> Ending {
        let heartbeats = startHeartbeats()
        defer { heartbeats?() }
        let group = DispatchGroup()
        if let feeder = settings.feeder, !feeder.isDone {
            feeding.withLock { feedingDone = false }
            group.enter()
            let thread = Thread { [self] in
                defer {
                    feeding.withLock { feedingDone = true; feeding.broadcast() }
                    group.leave()
                }
                do {
                    while !cancellation.isCancelled && !feeder.isDone {
                        let ahead = feeder.nextNumber - feeding.withLock { frontier }
                        if ahead <= feeder.lowWater {
                            try feeder.addBatch()
                            feeding.withLock { feeding.broadcast() }
                        } else {
                            feeding.withLock { _ = feeding.wait(until: Date(timeIntervalSinceNow: 0.05)) }
                        }
                    }
                } catch {
                    fail(error)
                }
            }
            thread.name = "sweep-trials"
            thread.start()
        }
        for i in 0..<concurrency {
            group.enter()
            let thread = Thread { [self] in
                worker()
                group.leave()
            }
            thread.name = "sweep-worker-\(i)"
            thread.stackSize = 8 << 20
            thread.start()
        }
        group.wait()
        if let storeError = lock.withLock({ storeError }) { throw storeError }
        return cancellation.isCancelled ? .cancelled : .exhausted
    }

    private struct StoreFailure: Error { var underlying: any Error }

    /// Starts the heartbeat thread when there is a lease; returns what stops it (and waits).
    private func startHeartbeats() -> (() -> Void)? {
        guard let lease = settings.lease, lease > 0 else { return nil }
        let stop = CancellationFlag()
        let done = DispatchSemaphore(value: 0)
        let clock = settings.clock
        // The first beat is due lease/4 after the run starts (not after the thread does: the
        // workers may have trained meanwhile).
        let first = clock.now() + lease / 4
        let thread = Thread { [self] in
            defer { done.signal() }
            var next = first
            while !stop.isCancelled {
                if clock.now() < next {
                    Thread.sleep(forTimeInterval: min(0.05, lease / 8))
                    continue
                }
                next = clock.now() + lease / 4
                for id in lock.withLock({ active.subtracting(lost) }) {
                    do {
                        try store.heartbeat(trial: id, owner: owner)
                    } catch let error as TrialStoreError {
                        if case .notOwner = error { loseLease(id) }
                    } catch {
                        // The store could not be reached: the next beat tries again.
                    }
                }
            }
        }
        thread.name = "sweep-heartbeat"
        thread.start()
        return {
            stop.cancel()
            done.wait()
        }
    }

    /// With a lease, when nothing is runnable but trials are running under owners on other hosts,
    /// waits min(lease/4, 2 s) and returns true (claim again: such a trial becomes runnable when its
    /// owner stops renewing its lease, e.g. a host that died). False when there are none: the
    /// sweep is finished, or what is left runs in processes on this host, which take it back
    /// themselves (or `isAbandoned` does once they die).
    private func waitForOtherHosts() throws -> Bool {
        guard let lease = settings.lease else { return false }
        let here = Owner.host(of: owner) ?? owner
        let elsewhere = try store.runningOwners().contains { (Owner.host(of: $0) ?? $0) != here }
        guard elsewhere else { return false }
        let clock = settings.clock
        let end = clock.now() + min(lease / 4, 2)
        while clock.now() < end && !cancellation.isCancelled { Thread.sleep(forTimeInterval: 0.05) }
        return !cancellation.isCancelled
    }

    private func loseLease(_ id: String) { _ = lock.withLock { lost.insert(id) } }
    private func lostLease(_ id: String) -> Bool { lock.withLock { lost.contains(id) } }

    /// With a lease, a write refused with `notOwner` means another worker took the trial over.
    private func isLostLease(_ error: any Error, _ id: String) -> Bool {
        guard settings.lease != nil, case .notOwner? = error as? TrialStoreError else { return false }
        loseLease(id)
        return true
    }

    private func fail(_ error: any Error) {
        lock.withLock { if storeError == nil { storeError = error } }
        cancellation.cancel()
    }

    private static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// The next trial to run; nil when none is left (or on cancellation). While trials are still
    /// being added, nothing to claim means "not yet": wait for them.
    private func nextTrial(_ claim: () throws -> TrialSpec?) throws -> TrialSpec? {
        while true {
            // Read before claiming: once feeding is done, every trial was committed before the claim.
            let doneBefore = feeding.withLock { feedingDone }
            if let spec = try claim() {
                feeding.withLock {
                    frontier = max(frontier, spec.number)
                    if !feedingDone { feeding.broadcast() }
                }
                return spec
            }
            if doneBefore || cancellation.isCancelled { return nil }
            feeding.withLock {
                if !feedingDone { _ = feeding.wait(until: Date(timeIntervalSinceNow: 0.05)) }
            }
        }
    }

    private func worker() {
        let begin = Self.now()
        var training: UInt64 = 0
        var idle: UInt64 = 0  // waiting for other hosts' trials: neither training nor storage
        var mine = StoreCalls()
        defer {
            let total = Self.now() - begin - idle
            lock.withLock { workerNanos += total; trainingNanos += training; calls += mine }
        }
        /// `store.claim`, timed.
        func claim() throws -> TrialSpec? {
            let t = Self.now()
            defer {
                let d = Self.now() - t
                if mine.firstClaims == 0 { mine.firstClaims = 1; mine.firstClaimNanos = d } else { mine.claims += 1; mine.claimNanos += d }
            }
            return try store.claim(owner: owner, isAbandoned: settings.isAbandoned)
        }
        while !cancellation.isCancelled {
            let spec: TrialSpec
            // Claim; at a race's round end, add the next round or wait for this runner's other
            // workers to finish theirs (the wait is idle time, not storage and dispatch).
            let claimed: TrialSpec?
            if settings.replenish == nil {
                // Without racing: claim, waiting for the feeder's next batch if need be (without
                // holding the workers' lock).
                do {
                    claimed = try nextTrial(claim)
                } catch {
                    fail(error)
                    return
                }
                finishedTrial.lock()
                if claimed != nil { busyWorkers += 1 }
            } else {
                finishedTrial.lock()
                do {
                    var next = try claim()
                    if next == nil, let replenish = settings.replenish {
                        if try replenish() { next = try claim() }
                        if next == nil && busyWorkers > 0 {
                            let t = Self.now()
                            _ = finishedTrial.wait(until: Date().addingTimeInterval(0.5))
                            idle += Self.now() - t
                            finishedTrial.unlock()
                            continue
                        }
                    }
                    if next != nil { busyWorkers += 1 }
                    claimed = next
                } catch {
                    finishedTrial.unlock()
                    fail(error)
                    return
                }
            }
            finishedTrial.unlock()
            do {
                guard let claimed else {
                    let t = Self.now()
                    let again = try waitForOtherHosts()
                    idle += Self.now() - t
                    if again { continue }
                    return
                }
                spec = claimed
            } catch {
                fail(error)
                return
            }
            defer {
                finishedTrial.lock()
                busyWorkers -= 1
                finishedTrial.broadcast()
                finishedTrial.unlock()
            }
            lock.withLock {
                active.insert(spec.id)
                lost.remove(spec.id)  // a new claim of a trial this runner lost before
            }
            defer { lock.withLock { _ = active.remove(spec.id) } }
            settings.onEvent(.started(spec))
            let start = Self.now()
            func seconds() -> Double { Double(Self.now() - start) / 1e9 }
            var finish: TrialFinish?
            var epochs: [EpochMetrics] = []
            var unsaved: [EpochMetrics] = []
            var lastFlush = start
            var inStore: UInt64 = 0
            do {
                defer { training += Self.now() - start - inStore }
                let outcome = try executor.execute(spec, onEpoch: { metrics in
                    let t = Self.now()
                    defer { inStore += Self.now() - t }
                    epochs.append(metrics)
                    unsaved.append(metrics)
                    if Double(t - lastFlush) / 1e9 >= settings.epochFlushInterval {
                        do { try store.appendEpochs(unsaved, trial: spec.id, owner: owner) } catch { throw StoreFailure(underlying: error) }
                        unsaved.removeAll(keepingCapacity: true)
                        lastFlush = t
                        mine.epochWrites += 1
                        mine.epochWriteNanos += Self.now() - t
                    }
                    settings.onEvent(.epoch(spec, metrics))
                }, isCancelled: { cancellation.isCancelled || lostLease(spec.id) })
                switch outcome {
                case .completed: finish = TrialFinish(status: .done, seconds: seconds())
                case .diverged:
                    finish = TrialFinish(status: .diverged, seconds: seconds(),
                                         error: "the loss became non-finite in epoch \(epochs.count + 1); lower lr_max")
                case .cancelled: finish = nil
                }
            } catch let failure as StoreFailure {
                if isLostLease(failure.underlying, spec.id) {
                    settings.onEvent(.interrupted(spec))
                    continue
                }
                fail(failure.underlying)
                try? store.interrupt(trial: spec.id, owner: owner)
                return
            } catch {
                finish = TrialFinish(status: .failed, seconds: seconds(), error: "\(error)")
            }
            if lostLease(spec.id) {
                // Another worker runs it now: stop without writing.
                settings.onEvent(.interrupted(spec))
                continue
            }
            do {
                if let finish {
                    let t = Self.now()
                    try store.finish(trial: spec.id, owner: owner, finish, appending: unsaved)
                    mine.finishes += 1
                    mine.finishNanos += Self.now() - t
                    settings.onEvent(.finished(TrialRecord(spec: spec, status: finish.status, owner: owner,
                                                  seconds: finish.seconds, error: finish.error, epochs: epochs)))
                } else {
                    // Interrupted: keep what it trained visible until the trial is claimed again.
                    if !unsaved.isEmpty { try store.appendEpochs(unsaved, trial: spec.id, owner: owner) }
                    try store.interrupt(trial: spec.id, owner: owner)
                    settings.onEvent(.interrupted(spec))
                }
            } catch {
                if isLostLease(error, spec.id) {
                    settings.onEvent(.interrupted(spec))
                    continue
                }
                fail(error)
                return
            }
        }
    }
}
