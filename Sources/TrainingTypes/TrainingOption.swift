import Schedules

/// The training options, declared once.
///
/// Each case is one row of the table: its name (the key under a space file's `training`, the
/// canonical form's `training.<name>` line, `best --json`'s key), its command-line option, what
/// it allows, its default (which may follow the model or the data set), where it lives in
/// `TrainingSettings`, and how each output shows it. The space parser, the `train`/`bench`
/// options, the sweep's identity (canonical form and hash), `best`'s rerun command, `best
/// --json`, the report's settings and the engine's messages all read it.
///
/// To add a training option: add a case here and fill in each property's switch (the compiler
/// lists the ones missing), add its field to `TrainingOptions` or `DataOptions` and use it in
/// the engine; then add its `@Option` to `train` (see README, "Adding a training option").
public enum TrainingOption: String, Hashable, Sendable, CaseIterable {
    // The order of the cases is the order of a space file's `training` keys and of the
    // canonical form's lines (frozen: a sweep's hash covers them in this order).
    case dataset
    case dataDir = "data_dir"
    case trainSize = "train_size"
    case valSize = "val_size"
    case epochs
    case batchSize = "batch_size"
    case model
    case conv
    case hidden
    case optimizer
    case momentum
    case nesterov
    case weightDecay = "weight_decay"
    case threads

    /// The name in space files, the canonical form and JSON: `batch_size`.
    public var name: String { rawValue }
    /// The command-line option: `--batch-size`.
    public var option: String { "--" + longName }
    /// The option without its dashes: `batch-size`.
    public var longName: String { String(rawValue.map { $0 == "_" ? "-" : $0 }) }

    /// The largest BLAS thread count of a trial.
    public static let maxThreads = 256
    /// The widest convolution.
    public static let maxConvWidth = 4096

    /// What a value may be.
    public enum Rule: Hashable, Sendable {
        /// One of these names.
        case choice([String])
        /// A folder's path.
        case path
        /// A whole number in the range.
        case integer(ClosedRange<Int>)
        /// A finite number >= `min`, and `< below` when given.
        case number(min: Double, below: Double?)
        /// true or false.
        case flag
        /// A list of `count` integers, each in `each`.
        case widths(count: ClosedRange<Int>, each: ClosedRange<Int>)
    }

    /// What the option allows.
    public var rule: Rule {
        switch self {
        case .dataset: .choice(DatasetKind.allCases.map(\.rawValue))
        case .dataDir: .path
        case .trainSize, .valSize: .integer(1...(DatasetKind.fashionMNIST.trainFileCount - 1))
        case .epochs: .integer(1...TrainingOptions.maxEpochs)
        case .batchSize: .integer(1...TrainingOptions.maxBatchSize)
        case .model: .choice(ModelKind.allCases.map(\.rawValue))
        case .conv: .widths(count: 1...TrainingOptions.maxConvBlocks, each: 1...Self.maxConvWidth)
        case .hidden: .widths(count: 0...Int.max, each: 1...TrainingOptions.maxLayerWidth)
        case .optimizer: .choice(OptimizerKind.allCases.map(\.rawValue))
        case .momentum: .number(min: 0, below: 1)
        case .nesterov: .flag
        case .weightDecay: .number(min: 0, below: nil)
        case .threads: .integer(1...Self.maxThreads)
        }
    }

    /// What the option allows, as a space file's messages say it: `batch_size must be an integer
    /// in [1, 1000000]`.
    public var allowed: String {
        switch self {
        case .dataset, .model, .optimizer:
            guard case .choice(let names) = rule else { return name }
            return "\(name) must be one of " + names.map { "\"\($0)\"" }.joined(separator: ", ")
        case .dataDir: return "data_dir is the directory of the dataset's files (Fashion-MNIST IDX, or CIFAR-10 binary)"
        case .trainSize, .valSize:
            let n = DatasetKind.fashionMNIST.trainFileCount
            return "\(name) must be an integer in [1, \(n - 1)] (train_size + val_size <= \(n); \(DatasetKind.cifar10.trainFileCount) for cifar10)"
        case .epochs, .batchSize: return "\(name) must be an integer in [1, \(upper)]"
        case .threads: return "threads (BLAS threads per trial) must be an integer in [1, \(upper)]"
        case .conv:
            return "conv is a list of 1 to \(TrainingOptions.maxConvBlocks) convolution widths, integers in [1, \(Self.maxConvWidth)] (e.g. [32, 64])"
        case .hidden:
            return "hidden is a list of layer widths, integers in [1, \(TrainingOptions.maxLayerWidth)] (e.g. [256, 128]; [] for none)"
        case .momentum: return "momentum must be a number in [0, 1)"
        case .nesterov: return "nesterov is true or false"
        case .weightDecay: return "weight_decay must be a number >= 0"
        }
    }

    private var upper: Int {
        switch rule {
        case .integer(let r): r.upperBound
        case .widths(_, let each): each.upperBound
        default: 0
        }
    }

    /// The option's help text (`train` and `bench`).
    public var help: String {
        switch self {
        case .dataset: "The data set: fashion-mnist, synthetic or cifar10 (needs --data-dir)."
        case .dataDir: "Folder of the Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist), or of CIFAR-10's data_batch_1..5.bin and test_batch.bin."
        case .trainSize: "Training images: the first N of the training file (default 50000; cifar10: 50000 - --val-size)."
        case .valSize: "Validation images: the last N of the training file."
        case .epochs: "Epochs."
        case .batchSize: "Mini-batch size."
        case .model: "The network: mlp or cnn."
        case .conv: "CNN only: widths of the 3x3 conv + ReLU + 2x2 max-pool blocks, comma-separated (default 32,64)."
        case .hidden: "Hidden (fully connected) layer widths, comma-separated, or 'none' (or empty) for none (default 256,128 for mlp, 128 for cnn)."
        case .optimizer: "The optimizer: sgd or adam."
        case .momentum: "SGD momentum."
        case .nesterov: "Nesterov momentum."
        case .weightDecay: "L2 weight decay."
        case .threads: "OpenBLAS threads."
        }
    }

    /// The value in `s`.
    public func value(in s: TrainingSettings) -> OptionValue {
        let d = s.data, t = s.training
        switch self {
        case .dataset: return .text(d.dataset.rawValue)
        case .dataDir: return d.dataDir.map(OptionValue.text) ?? .absent
        case .trainSize: return .integer(d.trainSize)
        case .valSize: return .integer(d.valSize)
        case .epochs: return .integer(t.epochs)
        case .batchSize: return .integer(t.batchSize)
        case .model: return .text(t.model.rawValue)
        case .conv: return .widths(t.conv)
        case .hidden: return .widths(t.hidden)
        case .optimizer: return .text(t.optimizer.rawValue)
        case .momentum: return .number(t.momentum)
        case .nesterov: return .flag(t.nesterov)
        case .weightDecay: return .number(t.weightDecay)
        case .threads: return .integer(s.threads)
        }
    }

    /// Sets the option in `s` to a value its rule allows (a value of another type, or a name
    /// that is not a choice, leaves `s` as it is).
    public func set(_ v: OptionValue, in s: inout TrainingSettings) {
        switch (self, v) {
        case (.dataset, .text(let x)): if let k = DatasetKind(rawValue: x) { s.data.dataset = k }
        case (.dataDir, .text(let x)): s.data.dataDir = x
        case (.dataDir, .absent): s.data.dataDir = nil
        case (.trainSize, .integer(let n)): s.data.trainSize = n
        case (.valSize, .integer(let n)): s.data.valSize = n
        case (.epochs, .integer(let n)): s.training.epochs = n
        case (.batchSize, .integer(let n)): s.training.batchSize = n
        case (.model, .text(let x)): if let k = ModelKind(rawValue: x) { s.training.model = k }
        case (.conv, .widths(let w)): s.training.conv = w
        case (.hidden, .widths(let w)): s.training.hidden = w
        case (.optimizer, .text(let x)): if let k = OptimizerKind(rawValue: x) { s.training.optimizer = k }
        case (.momentum, .number(let x)): s.training.momentum = x
        case (.nesterov, .flag(let b)): s.training.nesterov = b
        case (.weightDecay, .number(let x)): s.training.weightDecay = x
        case (.threads, .integer(let n)): s.threads = n
        default: break
        }
    }

    /// The default that follows other options, when one does: a CNN's fully connected part is
    /// one layer of 128 (an MLP's 256, 128); CIFAR-10's training set is all its 50,000 images
    /// but the validation ones. Applied to the options not given, after the given ones.
    public func dependentDefault(in s: TrainingSettings) -> OptionValue? {
        switch self {
        case .hidden: return .widths(s.training.model == .cnn ? [128] : TrainingOptions.mlpHidden)
        case .trainSize:
            return .integer(s.data.dataset == .cifar10 ? max(1, s.data.dataset.trainFileCount - s.data.valSize)
                                                       : DataOptions().trainSize)
        default: return nil
        }
    }

    /// Sets every option not in `given` that has a dependent default to it.
    public static func applyDependentDefaults(to s: inout TrainingSettings, given: Set<TrainingOption>) {
        for o in allCases where !given.contains(o) {
            if let v = o.dependentDefault(in: s) { o.set(v, in: &s) }
        }
    }

    /// Whether the option means anything for `s` (`conv`: only for a CNN). An option that does
    /// not apply is refused when given and left out of every output.
    public func applies(to s: TrainingSettings) -> Bool {
        self == .conv ? s.training.model == .cnn : true
    }

    /// Why a given option does not apply, for messages: `applies only to "model": "cnn"`.
    public func notApplying(to s: TrainingSettings) -> String {
        "applies only to \"model\": \"cnn\" (the model is \"\(s.training.model.rawValue)\")"
    }

    // MARK: How each output shows the option

    /// The canonical form's value (the sweep's identity), or nil when the line is left out:
    /// `model` and `conv` only for a CNN, so that the hashes of MLP sweeps stay what they were
    /// before the CNN existed; an absent `data_dir` is `-`.
    public func canonicalText(_ s: TrainingSettings) -> String? {
        if self == .model && s.training.model == .mlp { return nil }
        guard applies(to: s) else { return nil }
        switch value(in: s) {
        case .absent: return "-"
        case .text(let x): return x
        case .integer(let n): return String(n)
        case .number(let x): return fmt(x)
        case .flag(let b): return String(b)
        case .widths(let w): return "[" + w.map(String.init).joined(separator: ", ") + "]"
        }
    }

    /// The `train` arguments that set the option as `s` has it (none for an absent `data_dir`, a
    /// false flag, an MLP's `model`, or an option that does not apply). Empty widths are `none`:
    /// an empty argument would vanish in a shell's word splitting.
    public func arguments(_ s: TrainingSettings) -> [String] {
        if self == .model && s.training.model == .mlp { return [] }
        guard applies(to: s) else { return [] }
        switch value(in: s) {
        case .absent: return []
        case .text(let x): return [option, x]
        case .integer(let n): return [option, String(n)]
        case .number(let x): return [option, fmt(x)]
        case .flag(let b): return b ? [option] : []
        case .widths(let w): return [option, w.isEmpty ? "none" : w.map(String.init).joined(separator: ",")]
        }
    }

    /// The order of a rerun command's training arguments (after the schedule's, before the seed):
    /// frozen, as printed by `best` since its first version.
    public static let argumentOrder: [TrainingOption] = [
        .epochs, .dataset, .dataDir, .trainSize, .valSize, .model, .conv, .hidden, .batchSize, .optimizer,
        .momentum, .nesterov, .weightDecay,
    ]

    /// The options in `best --json`'s `training` object, in its order (frozen). `data_dir` and
    /// `threads` describe the machine rather than the training, and are left out.
    public static let jsonOrder: [TrainingOption] = [
        .dataset, .trainSize, .valSize, .epochs, .batchSize, .model, .conv, .hidden, .optimizer, .momentum,
        .nesterov, .weightDecay,
    ]
}

/// A training option's value, whatever its type.
public enum OptionValue: Hashable, Sendable {
    case text(String)
    case integer(Int)
    case number(Double)
    case flag(Bool)
    case widths([Int])
    /// An optional option not given (`data_dir`).
    case absent
}

/// Everything a trial is trained with besides its schedule and seed: the run, the data and the
/// BLAS threads.
public struct TrainingSettings: Hashable, Sendable {
    public var data: DataOptions
    public var training: TrainingOptions
    /// BLAS threads per trial.
    public var threads: Int

    public init(data: DataOptions = DataOptions(), training: TrainingOptions = TrainingOptions(), threads: Int = 1) {
        self.data = data
        self.training = training
        self.threads = threads
    }
}
