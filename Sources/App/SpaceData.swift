import Engine
import Foundation
import Sweep
import TrainerProcess

extension SearchSpace {
    /// Whether the data files the space's training reads exist (checked without reading them),
    /// before a sweep creates its database: a typo in `training.data_dir` is one line and exit 1,
    /// and leaves no database behind that a corrected space would then be refused by. nil: they do.
    /// With a `trainer`: whether its folder and program exist.
    func dataFilesProblem() -> String? {
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
