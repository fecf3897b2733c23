import Schedules
import TrainingTypes

/// Persistence of one sweep: its space, its trials and every epoch of every trial.
///
/// ## Contract (every implementation passes `TrialStoreContract` in the tests)
/// - **Thread safety.** A store is used from many threads of one process at once, and, where the
///   backend allows it (SQLite), from several processes at once. Every method is atomic: another
///   caller sees all of its effect or none of it.
/// - **Creation.** `create(_:)` stores the sweep's info the first time and returns the stored
///   info ever after (the caller compares `spaceHash` to refuse a changed space).
/// - **Trials are added idempotently.** `addTrials` inserts the specs whose `id` is not stored
///   yet, as `pending`, and leaves every stored trial untouched. A stored spec never changes.
/// - **Claiming is exclusive.** `claim` moves exactly one runnable trial to `running` for
///   `owner` and returns it; no two callers, in any process, get the same trial from one
///   runnable state. Runnable means `pending`, `interrupted`, or `running` under an owner for
///   which `isAbandoned(owner)` is true (a dead process). Among runnable trials the smallest
///   `number` is taken. The epochs of earlier attempts are deleted: a claimed trial runs from its
///   start. `attempts` counts claims.
/// - **Only the owner writes.** `appendEpochs`, `finish` and `interrupt` succeed only on a trial
///   that is `running` under that same owner, and throw `TrialStoreError.notOwner` otherwise.
/// - **Epochs arrive in batches.** `appendEpochs` stores its epochs all or none; `finish` stores
///   the epochs it is given and the final status in one step, so a reader never sees a finished
///   trial without all of its epochs. (The runner buffers a trial's epochs and writes them at
///   most about once a second, and the rest with the finish: a store write costs far more than a
///   short epoch.)
/// - **Finished trials are immutable.** Once `done`, `diverged` or `failed`, neither the trial
///   nor its epochs change again.
/// - `interrupt` moves a running trial back to `interrupted` (it keeps its partial epochs until
///   it is claimed again), for a clean stop such as Ctrl-C.
/// - Reads (`info`, `trials`, `counts`, `epochs`, `bestDone`, `forEachTrialLine`, `heartbeats`) each return a consistent snapshot;
///   `trials` in `number` order, with every trial's epochs, or without them (then each finished
///   trial carries its `summary`, exactly what its epochs give).
/// - **Leases.** A store opened with a lease of L seconds (`--lease`) also counts as runnable a
///   `running` trial whose last heartbeat is more than L seconds old, whoever owns it and on
///   whichever host: the claim sets the heartbeat and `heartbeat(trial:owner:)` renews it (the
///   runner does so every L/4 seconds). `heartbeat` succeeds only on a trial running under that
///   owner and throws `notOwner` otherwise: the worker then lost its lease and stops the trial
///   without writing. Without a lease, only `isAbandoned` makes a running trial runnable.
///   A heartbeat's age is "now" minus its stored time, both read from one clock (a
///   `SweepClock` the store is given: the real time by default, a test's `ManualClock`; the
///   PostgreSQL store reads the server's clock unless it is given one): a heartbeat exactly L
///   seconds old still holds its lease.
/// - **Scale.** A sweep may hold a million trials: `claim`, `appendEpochs`, `finish`,
///   `interrupt`, `counts` and `bestDone` never load the trial table (they use indexes and
///   aggregates), and `addTrials` is called with batches of specs, each batch one transaction.
/// - `close()` ends the store's use by this process (after it, no method may be called): a
///   database file is left complete on its own (SQLite: checkpointed, no `-wal`/`-shm` left
///   when no other process has it open).
public protocol TrialStore: AnyObject, Sendable {
    func create(_ info: SweepInfo) throws -> SweepInfo
    func info() throws -> SweepInfo?
    /// Replaces the stored space text and hash (for changes that are allowed on resume:
    /// random search's `trials`, `concurrency`).
    func updateSpace(json: String, hash: String) throws
    func addTrials(_ specs: [TrialSpec]) throws
    func claim(owner: String, isAbandoned: (String) -> Bool) throws -> TrialSpec?
    /// Renews the lease of a trial running under `owner` (see Leases).
    func heartbeat(trial id: String, owner: String) throws
    func appendEpochs(_ metrics: [EpochMetrics], trial id: String, owner: String) throws
    func finish(trial id: String, owner: String, _ finish: TrialFinish, appending epochs: [EpochMetrics]) throws
    func interrupt(trial id: String, owner: String) throws
    func trials() throws -> [TrialRecord]
    /// Every trial, in `number` order; without epochs when `withEpochs` is false (faster, and
    /// small: what ranking needs).
    func trials(withEpochs: Bool) throws -> [TrialRecord]
    /// Every trial's brief, in `number` order (the objective picks `score`).
    func briefs(_ objective: Objective) throws -> [TrialBrief]
    /// The trials with these numbers, without epochs, in `number` order (unknown numbers skipped).
    func trials(numbers: [Int]) throws -> [TrialRecord]
    /// The epochs of the given trials (a trial without epochs, or unknown, is absent).
    func epochs(ofTrials ids: [String]) throws -> [String: [EpochMetrics]]
    /// Every trial's `TrialLine`, in `number` order, handed to `body` one at a time from one
    /// consistent snapshot: what a whole leaderboard reads, never all records in memory at once.
    /// `body` must not call the store.
    func forEachTrialLine(_ body: (TrialLine) throws -> Void) throws
    /// The owners of the running trials (each once).
    func runningOwners() throws -> Set<String>
    /// The last heartbeat of each running trial (its claim is its first), by trial id, in
    /// seconds since 1970 by the store's clock (PostgreSQL's: the server's, unless injected):
    /// what a lease is judged by. A running trial whose owner wrote none is absent.
    func heartbeats() throws -> [String: Double]
    /// How many trials there are by status.
    func counts() throws -> TrialCounts
    /// The `done` trial with the highest `objective` (the smallest number on ties), with its value.
    func bestDone(_ objective: Objective) throws -> (id: String, score: Double)?
    func close() throws
}

extension TrialStore {
    /// Stores that need nothing faster (a test wrapper) answer these from `trials()`.
    public func trials(withEpochs: Bool) throws -> [TrialRecord] {
        let all = try trials()
        return withEpochs ? all : all.map(\.withoutEpochs)
    }

    public func briefs(_ objective: Objective) throws -> [TrialBrief] {
        try trials().map { TrialBrief($0, objective: objective) }
    }

    public func trials(numbers: [Int]) throws -> [TrialRecord] {
        let wanted = Set(numbers)
        return try trials().filter { wanted.contains($0.spec.number) }.map(\.withoutEpochs)
    }

    public func epochs(ofTrials ids: [String]) throws -> [String: [EpochMetrics]] {
        let wanted = Set(ids)
        var out: [String: [EpochMetrics]] = [:]
        for r in try trials() where wanted.contains(r.spec.id) && !r.epochs.isEmpty { out[r.spec.id] = r.epochs }
        return out
    }

    public func forEachTrialLine(_ body: (TrialLine) throws -> Void) throws {
        for r in try trials(withEpochs: false) { try body(TrialLine(r)) }
    }

    public func runningOwners() throws -> Set<String> {
        Set(try trials(withEpochs: false).filter { $0.status == .running }.compactMap(\.owner))
    }

    public func counts() throws -> TrialCounts {
        var c = TrialCounts()
        for r in try trials() {
            c.byStatus[r.status, default: 0] += 1
            c.nextNumber = max(c.nextNumber, r.spec.number + 1)
        }
        return c
    }

    public func bestDone(_ objective: Objective) throws -> (id: String, score: Double)? {
        var best: (id: String, score: Double)?
        for r in try trials() where r.status == .done {
            if let s = r.score(objective), s > (best?.score ?? -.infinity) { best = (r.spec.id, s) }
        }
        return best
    }

    public func close() throws {}

    public func appendEpoch(_ metrics: EpochMetrics, trial id: String, owner: String) throws {
        try appendEpochs([metrics], trial: id, owner: owner)
    }

    public func finish(trial id: String, owner: String, _ finish: TrialFinish) throws {
        try self.finish(trial: id, owner: owner, finish, appending: [])
    }
}

/// What a whole leaderboard reads of one trial (`TrialStore.forEachTrialLine`): its
/// configuration, swept values and summary, without its schedule's settings, error or epochs.
public struct TrialLine: Hashable, Sendable {
    public var number: Int
    public var configuration: String
    public var repeatIndex: Int
    public var kind: ScheduleKind
    /// The swept parameters' values by their space names (empty for baselines).
    public var swept: SweptValues
    public var status: TrialStatus
    public var attempts: Int
    public var seconds: Double?
    /// A finished trial's summary (nil, all three, for an unfinished one).
    public var bestValAcc: Double?
    public var bestEpoch: Int?
    public var finalValAcc: Double?

    public init(number: Int, configuration: String, repeatIndex: Int, kind: ScheduleKind, swept: SweptValues,
                status: TrialStatus, attempts: Int, seconds: Double?, bestValAcc: Double?, bestEpoch: Int?,
                finalValAcc: Double?) {
        self.number = number
        self.configuration = configuration
        self.repeatIndex = repeatIndex
        self.kind = kind
        self.swept = swept
        self.status = status
        self.attempts = attempts
        self.seconds = seconds
        self.bestValAcc = bestValAcc
        self.bestEpoch = bestEpoch
        self.finalValAcc = finalValAcc
    }

    /// The line of a record (its summary values only when it is finished, as a store reads them).
    public init(_ r: TrialRecord) {
        let finished = r.status.isFinished
        self.init(number: r.spec.number, configuration: r.spec.configuration, repeatIndex: r.spec.repeatIndex,
                  kind: r.spec.schedule.kind, swept: SweptValues(r.spec.swept), status: r.status, attempts: r.attempts,
                  seconds: r.seconds, bestValAcc: finished ? r.bestValAcc : nil, bestEpoch: finished ? r.bestEpoch : nil,
                  finalValAcc: finished ? r.finalValAcc : nil)
    }
}

public enum TrialStoreError: Error, Hashable, CustomStringConvertible {
    case notCreated
    case unknownTrial(String)
    case notOwner(trial: String, owner: String)

    public var description: String {
        switch self {
        case .notCreated: "the store holds no sweep yet"
        case .unknownTrial(let id): "no trial \(id) in this sweep"
        case .notOwner(let trial, let owner): "trial \(trial) is not running under \(owner)"
        }
    }
}
