// TEMPORARY interface of the Engine target, so that Sweep can be written in parallel.
// The engine branch replaces this whole file with the real implementation.
public enum DatasetKind: String, Codable, Sendable, CaseIterable { case fashionMNIST = "fashion-mnist", synthetic }

public struct DataOptions: Hashable, Codable, Sendable {
    public var dataset: DatasetKind
    public var dataDir: String?
    public var trainSize: Int
    public var valSize: Int
    public init(dataset: DatasetKind = .fashionMNIST, dataDir: String? = nil, trainSize: Int = 50000, valSize: Int = 10000) {
        self.dataset = dataset; self.dataDir = dataDir; self.trainSize = trainSize; self.valSize = valSize
    }
}

public final class DataSet: Sendable {
    public let trainCount = 0, valCount = 0, testCount = 0
    public static func load(_ options: DataOptions) throws -> DataSet { fatalError("engine not merged yet") }
}

public enum OptimizerKind: String, Codable, Sendable, CaseIterable { case sgd, adam }

public struct TrainingOptions: Hashable, Codable, Sendable {
    public var hidden: [Int] = [256, 128]
    public var batchSize = 128
    public var epochs: Int
    public var optimizer: OptimizerKind = .sgd
    public var momentum = 0.9
    public var nesterov = false
    public var weightDecay = 5e-4
    public var seed: UInt64 = 0
    public init(epochs: Int) { self.epochs = epochs }
    public func firstInvalid() -> String? { nil }
}

public struct EpochMetrics: Hashable, Codable, Sendable {
    public var epoch: Int
    public var lr: Double
    public var trainLoss: Double
    public var trainAcc: Double
    public var valLoss: Double
    public var valAcc: Double
    public var trainSeconds: Double
    public init(epoch: Int, lr: Double, trainLoss: Double, trainAcc: Double, valLoss: Double, valAcc: Double, trainSeconds: Double) {
        self.epoch = epoch; self.lr = lr; self.trainLoss = trainLoss; self.trainAcc = trainAcc
        self.valLoss = valLoss; self.valAcc = valAcc; self.trainSeconds = trainSeconds
    }
}

public enum TrainingControl: Sendable { case proceed, stop }
public enum TrainingOutcome: Hashable, Sendable { case completed, diverged(epoch: Int), stopped, cancelled }

public struct TrainingResult: Sendable {
    public var epochs: [EpochMetrics]
    public var outcome: TrainingOutcome
    public var testAccuracy: Double?
    public var seconds: Double
}

public func train(data: DataSet, options: TrainingOptions,
                  learningRate: (Int) -> Double,
                  onEpoch: (EpochMetrics) -> TrainingControl,
                  isCancelled: () -> Bool = { false },
                  evaluateTest: Bool = false) throws -> TrainingResult {
    fatalError("engine not merged yet")
}

public enum BLAS {
    public static func setThreads(_ n: Int) {}
    public static var threads: Int { 1 }
}
