import Engine
import Foundation
import Schedules
import Sweep
import TrainingTypes

/// Trains with the engine on a data set loaded once and shared read-only by every worker.
///
/// Trials share the epochs their trajectories have in common through `cache` (see
/// `TrajectoryCache`): an epoch whose seed and rates so far were already trained is not trained
/// again; its metrics are reused exactly as computed. Each worker thread trains in its own
/// `TrainingSession`, kept in a pool and reused from trial to trial.
public struct EngineExecutor: TrialExecutor {
    public let data: DataSet
    public let training: TrainingOptions
    /// Shared by every worker (and every copy of this executor).
    public let cache: TrajectoryCache
    private let pool: SessionPool

    /// `cacheBytes`: the cache's budget (0 turns sharing off; results are the same).
    public init(data: DataSet, training: TrainingOptions, cacheBytes: Int = TrajectoryCache.defaultBudgetBytes) {
        self.data = data
        self.training = training
        cache = TrajectoryCache(budgetBytes: cacheBytes)
        pool = SessionPool()
    }

    public func execute(_ spec: TrialSpec, onEpoch: (EpochMetrics) throws -> Void,
                        isCancelled: () -> Bool) throws -> ExecutionOutcome {
        var options = training
        options.seed = spec.seed
        options.epochs = spec.schedule.epochs
        if let problem = options.firstInvalid() { throw TrainingError.invalidOptions(problem) }
        let worker = try pool.take(data: data, options: options)
        defer { pool.give(worker) }
        var schedule = spec.schedule.makeSchedule()
        var key = TrajectoryCache.Key(seed: spec.seed, rates: [])
        key.rates.reserveCapacity(options.epochs)
        for e in 1...options.epochs {
            if isCancelled() { return .cancelled }
            let lr = schedule.beginEpoch()
            let parent = key
            key.rates.append(lr.bitPattern)
            let metrics: EpochMetrics
            switch cache.claim(key, isCancelled: isCancelled) {
            case .cancelled:
                return .cancelled
            case .hit(.diverged):
                return .diverged
            case let .hit(.trained(m, _)):
                metrics = m
            case .claimed:
                switch worker.train(lr: lr, after: parent, keepState: e < options.epochs, cache: cache,
                                    isCancelled: isCancelled) {
                case .cancelled:
                    cache.release(key)
                    return .cancelled
                case .diverged: return .diverged
                case let .completed(m): metrics = m
                }
            }
            schedule.endEpoch(valAcc: metrics.valAcc)
            try onEpoch(metrics)
        }
        return .completed
    }
}

/// A worker's session and the trajectory its state is at (nil: mid-epoch, unusable).
final class WorkerSession {
    let session: TrainingSession
    var at: TrajectoryCache.Key?

    init(_ session: TrainingSession) {
        self.session = session
        at = TrajectoryCache.Key(seed: session.options.seed, rates: [])
    }

    /// Trains the epoch at `lr` after the trajectory `parent`, and caches its outcome. First
    /// brings the session to `parent`'s state: as it is, else from the deepest state the cache
    /// still holds, else from a fresh start, training again the epochs in between.
    func train(lr: Double, after parent: TrajectoryCache.Key, keepState: Bool, cache: TrajectoryCache,
               isCancelled: () -> Bool) -> EpochStep {
        if at != parent {
            var length = 0
            if let (n, checkpoint) = cache.deepestState(parent) {
                session.restore(checkpoint)
                length = n
            } else {
                session.reset(seed: parent.seed)
            }
            at = parent.prefix(length)
            while length < parent.rates.count {
                let replayLR = Double(bitPattern: parent.rates[length])
                cache.countReplay()
                let step = session.runEpoch(lr: replayLR, isCancelled: isCancelled)
                guard case let .completed(m) = step else {
                    // Cancelled (a replay never diverges: it did not the first time).
                    at = nil
                    return step
                }
                length += 1
                at = parent.prefix(length)
                cache.store(at!, .trained(m, session.checkpoint()))
            }
        }
        let step = session.runEpoch(lr: lr, isCancelled: isCancelled)
        var key = parent
        key.rates.append(lr.bitPattern)
        switch step {
        case .cancelled:
            at = nil
        case .diverged:
            at = nil
            cache.store(key, .diverged)
        case let .completed(m):
            at = key
            cache.store(key, .trained(m, keepState && cache.budgetBytes > 0 ? session.checkpoint() : nil))
        }
        return step
    }
}

/// Sessions of one executor, reused from trial to trial: a worker takes one for a trial and
/// gives it back after (as many sessions as workers ever ran at once).
// @unchecked: `free` is used only under `lock`; a session (not Sendable) belongs to the one
// worker that took it until it is given back, which the compiler cannot see through the pool.
final class SessionPool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [WorkerSession] = []

    func take(data: DataSet, options: TrainingOptions) throws -> WorkerSession {
        // Every session of the pool has the executor's options (the seed aside, which the
        // trial sets by a restore or a reset), so any free one will do.
        if let worker = lock.withLock({ free.popLast() }) { return worker }
        return WorkerSession(try TrainingSession(data: data, options: options))
    }

    func give(_ worker: WorkerSession) { lock.withLock { free.append(worker) } }
}
