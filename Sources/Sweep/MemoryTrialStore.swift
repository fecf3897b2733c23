import Foundation
import TrainingTypes

/// A `TrialStore` in memory, for tests and for sweeps that need no persistence.
/// One process only; thread-safe through a lock.
// @unchecked: every mutable property is used only under `lock`.
public final class MemoryTrialStore: TrialStore, @unchecked Sendable {
    private let lock = NSLock()
    private var sweep: SweepInfo?
    private var records: [String: TrialRecord] = [:]
    /// Where heartbeats, lease expiry and the start and finish times read the time.
    public let clock: SweepClock
    /// Seconds after its last heartbeat (or claim) at which a running trial is runnable again.
    public let lease: Double?
    private var beats: [String: Double] = [:]

    public init(clock: SweepClock = .system, lease: Double? = nil) {
        self.clock = clock
        self.lease = lease
    }

    public func create(_ info: SweepInfo) throws -> SweepInfo {
        lock.withLock {
            if let sweep { return sweep }
            sweep = info
            return info
        }
    }

    public func info() throws -> SweepInfo? { lock.withLock { sweep } }

    public func updateSpace(json: String, hash: String) throws {
        try lock.withLock {
            guard sweep != nil else { throw TrialStoreError.notCreated }
            sweep!.spaceJSON = json
            sweep!.spaceHash = hash
        }
    }

    public func heartbeats() throws -> [String: Double] {
        lock.withLock { beats.filter { records[$0.key]?.status == .running } }
    }

    public func addTrials(_ specs: [TrialSpec]) throws {
        try lock.withLock {
            guard sweep != nil else { throw TrialStoreError.notCreated }
            for spec in specs where records[spec.id] == nil {
                records[spec.id] = TrialRecord(spec: spec, status: .pending)
            }
        }
    }

    public func claim(owner: String, isAbandoned: (String) -> Bool) throws -> TrialSpec? {
        lock.withLock {
            let now = clock.now()
            let candidates = records.values.filter { r in
                switch r.status {
                case .pending, .interrupted: true
                case .running:
                    if let lease, let beat = beats[r.spec.id], beat < now - lease { true }
                    else { r.owner.map(isAbandoned) ?? true }
                default: false
                }
            }
            guard let pick = candidates.min(by: { $0.spec.number < $1.spec.number }) else { return nil }
            var r = pick
            r.status = .running
            r.owner = owner
            r.attempts += 1
            r.startedAt = now
            r.finishedAt = nil
            r.seconds = nil
            r.error = nil
            r.epochs = []
            records[r.spec.id] = r
            beats[r.spec.id] = now
            return r.spec
        }
    }

    public func heartbeat(trial id: String, owner: String) throws {
        let now = clock.now()
        try mutateRunning(id, owner) { beats[$0.spec.id] = now }
    }

    public func appendEpochs(_ metrics: [EpochMetrics], trial id: String, owner: String) throws {
        try mutateRunning(id, owner) { $0.epochs += metrics }
    }

    public func finish(trial id: String, owner: String, _ finish: TrialFinish, appending epochs: [EpochMetrics]) throws {
        let now = clock.now()
        try mutateRunning(id, owner) {
            $0.epochs += epochs
            $0.status = finish.status
            $0.seconds = finish.seconds
            $0.error = finish.error
            $0.finishedAt = now
        }
    }

    public func interrupt(trial id: String, owner: String) throws {
        try mutateRunning(id, owner) { $0.status = .interrupted }
    }

    public func trials() throws -> [TrialRecord] {
        lock.withLock { records.values.sorted { $0.spec.number < $1.spec.number } }
    }

    private func mutateRunning(_ id: String, _ owner: String, _ body: (inout TrialRecord) -> Void) throws {
        try lock.withLock {
            guard var r = records[id] else { throw TrialStoreError.unknownTrial(id) }
            guard r.status == .running, r.owner == owner else {
                throw TrialStoreError.notOwner(trial: id, owner: owner)
            }
            body(&r)
            records[id] = r
        }
    }
}
