import Engine
import EngineAdapter
import Foundation
import Sweep
import TrainerProcess

extension SearchSpace {
    /// Why the space's trials could not start, checked before a sweep creates its database:
    /// whether the data files the built-in training reads exist (without reading them), or with
    /// a `trainer` whether its folder and program exist. A typo in `training.data_dir` is one line
    /// and exit 1, and leaves no database behind that a corrected space would then be refused by.
    /// nil: they can.
    func startProblem() -> String? {
        if let trainer { return TrainerExecutor(trainer: trainer, sweepName: name).startProblem() }
        do {
            try DataSet.checkFiles(data)
            return nil
        } catch {
            return spaceDataMessage(error)
        }
    }
}

/// A data set error as a space file's user reads it: options named by their keys
/// (`training.data_dir`, not `train`'s `--data-dir`).
func spaceDataMessage(_ error: any Error) -> String {
    guard let error = error as? DataError else { return "\(error)" }
    return error.message { "training." + $0.rawValue }
}

extension SweepCommands {
    /// The executor that runs the space's trials: its own trainer, or the built-in engine on the
    /// data set loaded once here (and the BLAS threads set for it). `cacheBytes`: the engine's
    /// trajectory cache (0: none; results are the same).
    static func executor(for space: SearchSpace, cacheBytes: Int) throws -> any TrialExecutor {
        if let trainer = space.trainer { return TrainerExecutor(trainer: trainer, sweepName: space.name) }
        let data: DataSet
        do { data = try DataSet.load(space.data, includeTest: false) } catch { throw SweepError("cannot load the data set: \(spaceDataMessage(error))") }
        BLAS.setThreads(space.trainingThreads)
        return EngineExecutor(data: data, training: space.training, cacheBytes: cacheBytes)
    }
}
