import Engine
import Foundation
import Schedules

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

/// Trains with the engine on a data set loaded once and shared read-only by every worker.
public struct EngineExecutor: TrialExecutor {
    public let data: DataSet
    public let training: TrainingOptions

    public init(data: DataSet, training: TrainingOptions) {
        self.data = data
        self.training = training
    }

    public func execute(_ spec: TrialSpec, onEpoch: (EpochMetrics) throws -> Void,
                        isCancelled: () -> Bool) throws -> ExecutionOutcome {
        var options = training
        options.seed = spec.seed
        options.epochs = spec.schedule.epochs
        var schedule = spec.schedule.makeSchedule()
        var callbackError: (any Error)?
        let result = try train(
            data: data, options: options,
            learningRate: { _ in schedule.beginEpoch() },
            onEpoch: { metrics in
                schedule.endEpoch(valAcc: metrics.valAcc)
                do { try onEpoch(metrics) } catch { callbackError = error; return .stop }
                return .proceed
            },
            isCancelled: isCancelled)
        if let callbackError { throw callbackError }
        switch result.outcome {
        case .completed, .stopped: return .completed
        case .diverged: return .diverged
        case .cancelled: return .cancelled
        }
    }
}

/// A flag set once (Ctrl-C, a fatal store error) and read by every worker between batches.
public final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var set = false

    public init() {}
    public var isCancelled: Bool { lock.withLock { set } }
    public func cancel() { lock.withLock { set = true } }
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
public final class SweepRunner: @unchecked Sendable {
    public let store: any TrialStore
    public let executor: any TrialExecutor
    public let concurrency: Int
    public let owner: String
    public let cancellation: CancellationFlag
    public var isAbandoned: @Sendable (String) -> Bool = Owner.isAbandoned
    public var onEvent: @Sendable (SweepEvent) -> Void = { _ in }

    private let lock = NSLock()
    private var storeError: (any Error)?
    private var workerNanos: UInt64 = 0
    private var trainingNanos: UInt64 = 0

    /// Where the workers' time went, once `run()` returned: the sum over workers of their whole
    /// time, and of the part spent training (the executor, minus the store calls it made).
    /// The rest is storage and dispatch: claiming, storing epochs, finishing.
    public var timing: (workerSeconds: Double, trainingSeconds: Double) {
        lock.withLock { (Double(workerNanos) / 1e9, Double(trainingNanos) / 1e9) }
    }

    public init(store: any TrialStore, executor: any TrialExecutor, concurrency: Int,
                owner: String = Owner.current, cancellation: CancellationFlag = CancellationFlag()) {
        precondition(concurrency >= 1)
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
        let group = DispatchGroup()
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

    private func fail(_ error: any Error) {
        lock.withLock { if storeError == nil { storeError = error } }
        cancellation.cancel()
    }

    private static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    private func worker() {
        let begin = Self.now()
        var training: UInt64 = 0
        defer {
            let total = Self.now() - begin
            lock.withLock { workerNanos += total; trainingNanos += training }
        }
        while !cancellation.isCancelled {
            let spec: TrialSpec
            do {
                guard let claimed = try store.claim(owner: owner, isAbandoned: isAbandoned) else { return }
                spec = claimed
            } catch {
                fail(error)
                return
            }
            onEvent(.started(spec))
            let start = Self.now()
            func seconds() -> Double { Double(Self.now() - start) / 1e9 }
            var finish: TrialFinish?
            var epochs: [EpochMetrics] = []
            var inStore: UInt64 = 0
            do {
                defer { training += Self.now() - start - inStore }
                let outcome = try executor.execute(spec, onEpoch: { metrics in
                    let t = Self.now()
                    defer { inStore += Self.now() - t }
                    do { try store.appendEpoch(metrics, trial: spec.id, owner: owner) } catch { throw StoreFailure(underlying: error) }
                    epochs.append(metrics)
                    onEvent(.epoch(spec, metrics))
                }, isCancelled: { cancellation.isCancelled })
                switch outcome {
                case .completed: finish = TrialFinish(status: .done, seconds: seconds())
                case .diverged: finish = TrialFinish(status: .diverged, seconds: seconds())
                case .cancelled: finish = nil
                }
            } catch let failure as StoreFailure {
                fail(failure.underlying)
                try? store.interrupt(trial: spec.id, owner: owner)
                return
            } catch {
                finish = TrialFinish(status: .failed, seconds: seconds(), error: "\(error)")
            }
            do {
                if let finish {
                    try store.finish(trial: spec.id, owner: owner, finish)
                    onEvent(.finished(TrialRecord(spec: spec, status: finish.status, owner: owner,
                                                  seconds: finish.seconds, error: finish.error, epochs: epochs)))
                } else {
                    try store.interrupt(trial: spec.id, owner: owner)
                    onEvent(.interrupted(spec))
                }
            } catch {
                fail(error)
                return
            }
        }
    }
}
