import Foundation
import Schedules
import Sweep
import TrainingTypes

extension SweepCommands {
    /// `sgdr-search trial DB CONFIGURATION [--repeat R]`: runs one trial of a stored sweep again,
    /// outside the sweep (nothing is written to the database), as the sweep ran it: through the
    /// space's own trainer, or the built-in engine. One CSV row per epoch on stdout (the columns
    /// of `train`), the trial's end on stderr. This is the rerun `best` names for a sweep with a
    /// `trainer`.
    public static func trial(db: String, configuration: String, repeatIndex: Int, openStore: StoreOpener,
                             console: Console) -> Int32 {
        report(console) {
            let (store, _, space) = try openExisting(db, openStore)
            // A tpe search's proposals are not a function of the space: read the stored one.
            let proposed = space.strategy == .tpe && configuration.hasPrefix("sgdr-")
                ? try store.trials(withEpochs: false).first { $0.spec.configuration == configuration }?.spec : nil
            try? store.close()
            guard repeatIndex >= 0 && repeatIndex < max(space.repeats, 1) else {
                throw SweepError("--repeat \(repeatIndex) is out of range; the sweep has repeats 0 to \(space.repeats - 1)", exitCode: exitUsage)
            }
            guard let c = proposed.map({ (id: $0.configuration, schedule: $0.schedule, swept: $0.swept) })
                    ?? space.configuration(named: configuration).map({ (id: $0.id, schedule: $0.schedule, swept: $0.swept) }),
                  space.strategy != .tpe || proposed != nil || !configuration.hasPrefix("sgdr-") else {
                throw SweepError("\(db) has no configuration \"\(configuration)\"; its configurations are the baselines (\(space.baselines.map(\.rawValue).joined(separator: ", "))) and sgdr-0000 to \(SearchSpace.configurationID(max(0, space.sampler.count - 1)))", exitCode: exitUsage)
            }
            let spec = TrialSpec(id: TrialSpec.id(configuration: c.id, repeatIndex: repeatIndex), number: 0,
                                 configuration: c.id, repeatIndex: repeatIndex,
                                 seed: Seeds.training(sweepSeed: space.seed, repeatIndex: repeatIndex),
                                 schedule: c.schedule, swept: c.swept)
            if let problem = space.startProblem() { throw SweepError(problem) }
            let executor = try Self.executor(for: space, cacheBytes: 0)
            try console.data("epoch,lr,train_loss,train_acc,val_loss,val_acc,train_seconds\n")
            var outputFailure: OutputError?
            let outcome: ExecutionOutcome
            do {
                outcome = try executor.execute(spec, onEpoch: { m in
                    do throws(OutputError) {
                        try console.data("\(m.epoch),\(m.lr),\(m.trainLoss),\(m.trainAcc),\(m.valLoss),\(m.valAcc),\(m.trainSeconds)\n")
                    } catch {
                        outputFailure = error
                        throw error
                    }
                }, isCancelled: { false })
            } catch {
                if let outputFailure { throw outputFailure }
                throw SweepError("\(spec.id) failed: \(error)")
            }
            switch outcome {
            case .completed, .cancelled: try console.err("\(spec.id): done\n")
            case .diverged: throw SweepError("\(spec.id) diverged (non-finite loss)")
            }
            return 0
        }
    }
}

extension SearchSpace {
    /// The configuration with this id (`sgdr-0007`, or a baseline's name), computed alone.
    func configuration(named id: String) -> Configuration? {
        if let k = baselines.firstIndex(where: { $0.rawValue == id }) { return configuration(at: k) }
        guard id.hasPrefix("sgdr-"), let n = Int(id.dropFirst(5)), n >= 0, n < sampler.count,
              Self.configurationID(n) == id else { return nil }
        return configuration(at: baselines.count + n)
    }
}
