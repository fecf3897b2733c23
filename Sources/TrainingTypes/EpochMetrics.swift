/// What one epoch measured. Losses are mean cross-entropies; `trainLoss`/`trainAcc` are
/// averaged over the epoch's batches as they were trained; `trainSeconds` is the wall time of
/// the training pass alone (no evaluation).
public struct EpochMetrics: Hashable, Sendable {
    public var epoch: Int
    public var lr: Double
    public var trainLoss: Double
    public var trainAcc: Double
    public var valLoss: Double
    public var valAcc: Double
    public var trainSeconds: Double
    /// Other metrics by name, as a user's own trainer reported them (`docs/TRAINER-PROTOCOL.md`);
    /// empty for the built-in engine.
    public var extra: [String: Double]

    public init(epoch: Int, lr: Double, trainLoss: Double, trainAcc: Double, valLoss: Double,
                valAcc: Double, trainSeconds: Double, extra: [String: Double] = [:]) {
        self.epoch = epoch
        self.lr = lr
        self.trainLoss = trainLoss
        self.trainAcc = trainAcc
        self.valLoss = valLoss
        self.valAcc = valAcc
        self.trainSeconds = trainSeconds
        self.extra = extra
    }
}

extension Sequence where Element == EpochMetrics {
    /// The best epoch: the one with the highest validation accuracy, the first one on ties; nil
    /// when there is none. The one definition that `train`, the stores and the ranking use.
    public var best: EpochMetrics? {
        reduce(nil) { best, m in (best.map { m.valAcc > $0.valAcc } ?? true) ? m : best }
    }
}
