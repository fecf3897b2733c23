import Engine

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
/// - Reads (`info`, `trials`) return a consistent snapshot, epochs included, in `number` order.
/// - **Leases.** A store opened with a lease of L seconds (`--lease`) also counts as runnable a
///   `running` trial whose last heartbeat is more than L seconds old, whoever owns it and on
///   whichever host: the claim sets the heartbeat and `heartbeat(trial:owner:)` renews it (the
///   runner does so every L/4 seconds). `heartbeat` succeeds only on a trial running under that
///   owner and throws `notOwner` otherwise: the worker then lost its lease and stops the trial
///   without writing. Without a lease, only `isAbandoned` makes a running trial runnable.
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
}

extension TrialStore {
    public func appendEpoch(_ metrics: EpochMetrics, trial id: String, owner: String) throws {
        try appendEpochs([metrics], trial: id, owner: owner)
    }

    public func finish(trial id: String, owner: String, _ finish: TrialFinish) throws {
        try self.finish(trial: id, owner: owner, finish, appending: [])
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
