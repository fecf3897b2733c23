import Sweep
import TrainingTypes
import Engine
import Foundation

extension SearchSpace {
    /// Memory one trial costs a run at its end (its brief and its place in the ranking; the run
    /// reads full records only for the rows it prints), with room to spare.
    public static let bytesPerTrial = 200

    /// What a run of this sweep would hold at once, by part: each worker's training session
    /// (and the state it saves for the trajectory cache), the cache's budget, the data set, and
    /// the trial table read at the end.
    public func memoryParts(concurrency: Int, cacheBytes: Int) -> [(what: String, bytes: Int)] {
        let workers = max(1, min(concurrency, trialCount))
        var worker = training.sessionBytes(data: data)
        if cacheBytes > 0 { worker = Memory.sum(worker, training.checkpointBytes(data: data)) }
        let images = training.sessionBatch(trainCount: data.trainSize)
        return [
            ("\(workers) worker\(workers == 1 ? "" : "s") x \(Memory.format(worker)) (model \(training.modelDescription(data: data)) "
                + "with \(images)-image buffers: weights, gradients, optimizer state, activations)",
             Memory.product(workers, worker)),
            ("trajectory cache \(Memory.format(cacheBytes))", cacheBytes),
            ("data \(Memory.format(data.loadedBytes(includeTest: false)))", data.loadedBytes(includeTest: false)),
            ("\(trialCount) trials \(Memory.format(Memory.product(trialCount, Self.bytesPerTrial)))",
             Memory.product(trialCount, Self.bytesPerTrial)),
        ]
    }

    /// One line saying how much memory the sweep would take and what limit that passes, or nil
    /// when it fits (checked before anything is created).
    public func memoryProblem(concurrency: Int, cacheBytes: Int, limit: Int = Memory.limit,
                              limitDescription: String = Memory.limitDescription) -> String? {
        guard trainer == nil else { return nil }  // the user's script: its memory is its own
        let parts = memoryParts(concurrency: concurrency, cacheBytes: cacheBytes)
        let total = parts.reduce(0) { Memory.sum($0, $1.bytes) }
        guard total > limit else { return nil }
        return "the sweep would need about \(Memory.format(total)) of memory, more than the limit of \(limitDescription): "
            + parts.map(\.what).joined(separator: ", ")
            + "; lower training.hidden or training.batch_size, the concurrency, or --cache-mb"
    }
}
