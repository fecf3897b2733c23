/// What a training run is told, besides the learning rates: the network, the optimizer, the run
/// and the data. Shared by the engine, the sweep and the stores.

public enum ModelKind: String, Sendable, CaseIterable {
    /// Fully connected: `pixels → hidden… → classes`.
    case mlp
    /// Convolutional: per `conv` width a 3x3 convolution (zero padding) + ReLU + 2x2 max-pool
    /// block, then the fully connected `hidden…` layers and the classes.
    case cnn
}

/// The optimizers a run can use.
public enum OptimizerKind: String, Sendable, CaseIterable {
    /// SGD with momentum (optionally Nesterov), exactly as PyTorch's `torch.optim.SGD`.
    case sgd
    /// Adam (betas 0.9, 0.999, eps 1e-8), with L2 weight decay added to the gradient as in `torch.optim.Adam`.
    case adam
}

/// The data sets a run can train on.
public enum DatasetKind: String, Sendable, CaseIterable {
    /// Debian's `dataset-fashion-mnist` (or the same IDX files in `dataDir`).
    case fashionMNIST = "fashion-mnist"
    /// A seeded, learnable 10-class set of 28x28 byte images generated in memory.
    case synthetic
    /// CIFAR-10's binary files (3x32x32 colour images) in `dataDir`.
    case cifar10

    /// Images in the training file(s): train_size + val_size may not exceed it.
    public var trainFileCount: Int { self == .cifar10 ? 50000 : 60000 }
}

/// Which data to load and how to split it.
public struct DataOptions: Hashable, Sendable {
    public static let defaultFashionMNISTDirectory = "/usr/share/datasets/fashion-mnist"

    public var dataset: DatasetKind
    /// Folder of the IDX files (Fashion-MNIST; nil: `defaultFashionMNISTDirectory`) or of the
    /// CIFAR-10 binary files (required for it).
    public var dataDir: String?
    /// Training images: the first `trainSize` of the training file (60,000 images; CIFAR-10:
    /// the five training files, 50,000).
    public var trainSize: Int
    /// Validation images: the last `valSize` of the training file (never overlapping training).
    public var valSize: Int
    /// Seed of the synthetic data set (ignored for Fashion-MNIST).
    public var syntheticSeed: UInt64

    public init(dataset: DatasetKind = .fashionMNIST, dataDir: String? = nil,
                trainSize: Int = 50000, valSize: Int = 10000, syntheticSeed: UInt64 = 0) {
        self.dataset = dataset
        self.dataDir = dataDir
        self.trainSize = trainSize
        self.valSize = valSize
        self.syntheticSeed = syntheticSeed
    }

    /// The first out-of-range field, as "train_size must be ..." (snake_case), or nil.
    public func firstInvalid() -> EngineOptionProblem? {
        if dataset == .cifar10 && dataDir == nil { return Self.cifar10NeedsDirectory }
        if trainSize < 1 { return EngineOptionProblem(.trainSize, " must be >= 1 (got \(trainSize))") }
        if valSize < 1 { return EngineOptionProblem(.valSize, " must be >= 1 (got \(valSize))") }
        if trainSize > dataset.trainFileCount - valSize {
            return EngineOptionProblem(.trainSize, " + " + .valSize + " must be <= \(dataset.trainFileCount) so that training and validation never overlap (got \(trainSize) + \(valSize))")
        }
        return nil
    }

    public static let cifar10NeedsDirectory = EngineOptionProblem(
        .dataDir, " is needed for cifar10: a folder holding data_batch_1.bin … data_batch_5.bin and test_batch.bin")
}

/// Everything about one training run except the data and the learning rates.
public struct TrainingOptions: Hashable, Sendable {
    /// The network: an MLP (the default) or a CNN with `conv` widths.
    public var model: ModelKind
    /// Convolution widths of a CNN (one 3x3 conv + ReLU + 2x2 max-pool block each); ignored by
    /// the MLP.
    public var conv: [Int]
    /// Widths of the hidden (fully connected) layers (may be empty: softmax regression, or a
    /// CNN's features straight to the classes).
    public var hidden: [Int]
    public var batchSize: Int
    public var epochs: Int
    public var optimizer: OptimizerKind
    /// SGD momentum (ignored by Adam).
    public var momentum: Double
    /// Nesterov momentum (SGD only; needs momentum > 0).
    public var nesterov: Bool
    /// L2 weight decay added to the gradient of every parameter.
    public var weightDecay: Double
    /// Seeds the initialisation and the shuffles.
    public var seed: UInt64

    /// An MLP's hidden widths when none are given.
    public static let mlpHidden = [256, 128]
    /// Conv widths when a CNN names none.
    public static let defaultConv = [32, 64]
    /// At most this many convolution blocks (28 → 14 → 7 → 3).
    public static let maxConvBlocks = 3
    /// Upper bounds that keep a typo from asking for a run that cannot end or fit (space files
    /// and `train` alike).
    public static let maxEpochs = 100_000, maxBatchSize = 1_000_000, maxLayerWidth = 65536

    public init(model: ModelKind = .mlp, conv: [Int] = TrainingOptions.defaultConv,
                hidden: [Int] = TrainingOptions.mlpHidden, batchSize: Int = 128, epochs: Int = 10,
                optimizer: OptimizerKind = .sgd, momentum: Double = 0.9, nesterov: Bool = false,
                weightDecay: Double = 5e-4, seed: UInt64 = 0) {
        self.model = model
        self.conv = conv
        self.hidden = hidden
        self.batchSize = batchSize
        self.epochs = epochs
        self.optimizer = optimizer
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        self.seed = seed
    }

    /// The first out-of-range field, as "batch_size must be >= 1 (got 0)", or nil.
    public func firstInvalid() -> EngineOptionProblem? {
        if model == .cnn {
            if conv.isEmpty || conv.count > Self.maxConvBlocks {
                return EngineOptionProblem(.conv, " must list 1 to \(Self.maxConvBlocks) convolution widths (got \(conv.count))")
            }
            if let c = conv.first(where: { $0 < 1 || $0 > TrainingOption.maxConvWidth }) {
                return EngineOptionProblem(.conv, " widths must be in 1...\(TrainingOption.maxConvWidth) (got \(c))")
            }
        }
        if let h = hidden.first(where: { $0 < 1 || $0 > Self.maxLayerWidth }) {
            return EngineOptionProblem(.hidden, " sizes must be in 1...\(Self.maxLayerWidth) (got \(h))")
        }
        if batchSize < 1 || batchSize > Self.maxBatchSize {
            return EngineOptionProblem(.batchSize, " must be an integer in [1, \(Self.maxBatchSize)] (got \(batchSize))")
        }
        if epochs < 1 || epochs > Self.maxEpochs {
            return EngineOptionProblem(.epochs, " must be an integer in [1, \(Self.maxEpochs)] (got \(epochs))")
        }
        if !(momentum.isFinite && momentum >= 0 && momentum < 1) {
            return EngineOptionProblem(.momentum, " must be in [0, 1) (got \(momentum))")
        }
        if nesterov && optimizer == .sgd && momentum == 0 {
            return EngineOptionProblem(.nesterov, " needs " + .momentum + " > 0")
        }
        if !(weightDecay.isFinite && weightDecay >= 0) {
            return EngineOptionProblem(.weightDecay, " must be a finite number >= 0 (got \(weightDecay))")
        }
        return nil
    }
}

