#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything about one training run except the data and the learning rates.
public struct TrainingOptions: Hashable, Codable, Sendable {
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

    /// Conv widths when a CNN names none.
    public static let defaultConv = [32, 64]
    /// At most this many convolution blocks (28 → 14 → 7 → 3).
    public static let maxConvBlocks = 3
    /// Upper bounds that keep a typo from asking for a run that cannot end or fit (space files
    /// and `train` alike).
    public static let maxEpochs = 100_000, maxBatchSize = 1_000_000, maxLayerWidth = 65536

    public init(model: ModelKind = .mlp, conv: [Int] = TrainingOptions.defaultConv,
                hidden: [Int] = [256, 128], batchSize: Int = 128, epochs: Int = 10,
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

    enum CodingKeys: String, CodingKey {
        case model, conv, hidden, batchSize = "batch_size", epochs, optimizer, momentum, nesterov
        case weightDecay = "weight_decay", seed
    }

    /// Missing fields take their defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TrainingOptions()
        self.init(model: try c.decodeIfPresent(ModelKind.self, forKey: .model) ?? d.model,
                  conv: try c.decodeIfPresent([Int].self, forKey: .conv) ?? d.conv,
                  hidden: try c.decodeIfPresent([Int].self, forKey: .hidden) ?? d.hidden,
                  batchSize: try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize,
                  epochs: try c.decodeIfPresent(Int.self, forKey: .epochs) ?? d.epochs,
                  optimizer: try c.decodeIfPresent(OptimizerKind.self, forKey: .optimizer) ?? d.optimizer,
                  momentum: try c.decodeIfPresent(Double.self, forKey: .momentum) ?? d.momentum,
                  nesterov: try c.decodeIfPresent(Bool.self, forKey: .nesterov) ?? d.nesterov,
                  weightDecay: try c.decodeIfPresent(Double.self, forKey: .weightDecay) ?? d.weightDecay,
                  seed: try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed)
    }

    /// The first out-of-range field, as "batch_size must be >= 1 (got 0)", or nil.
    public func firstInvalid() -> EngineOptionProblem? {
        if model == .cnn {
            if conv.isEmpty || conv.count > Self.maxConvBlocks {
                return EngineOptionProblem(.conv, " must list 1 to \(Self.maxConvBlocks) convolution widths (got \(conv.count))")
            }
            if let c = conv.first(where: { $0 < 1 || $0 > 4096 }) {
                return EngineOptionProblem(.conv, " widths must be in 1...4096 (got \(c))")
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

/// What one epoch measured. Losses are mean cross-entropies; `trainLoss`/`trainAcc` are
/// averaged over the epoch's batches as they were trained; `trainSeconds` is the wall time of
/// the training pass alone (no evaluation).
public struct EpochMetrics: Hashable, Codable, Sendable {
    public var epoch: Int
    public var lr: Double
    public var trainLoss: Double
    public var trainAcc: Double
    public var valLoss: Double
    public var valAcc: Double
    public var trainSeconds: Double

    public init(epoch: Int, lr: Double, trainLoss: Double, trainAcc: Double, valLoss: Double,
                valAcc: Double, trainSeconds: Double) {
        self.epoch = epoch
        self.lr = lr
        self.trainLoss = trainLoss
        self.trainAcc = trainAcc
        self.valLoss = valLoss
        self.valAcc = valAcc
        self.trainSeconds = trainSeconds
    }

    enum CodingKeys: String, CodingKey {
        case epoch, lr, trainLoss = "train_loss", trainAcc = "train_acc", valLoss = "val_loss"
        case valAcc = "val_acc", trainSeconds = "train_seconds"
    }
}

/// The answer of the per-epoch callback.
public enum TrainingControl: Sendable {
    case proceed, stop
}

/// How a run ended.
public enum TrainingOutcome: Hashable, Sendable {
    /// All epochs ran.
    case completed
    /// The loss became non-finite during this epoch (1-based); the run stopped there.
    case diverged(epoch: Int)
    /// The callback answered `.stop` before the last epoch (a `.stop` after the last epoch is
    /// still `.completed`).
    case stopped
    /// `isCancelled` answered true.
    case cancelled
}

/// A run's metrics and ending.
public struct TrainingResult: Sendable {
    /// One entry per finished epoch (a diverged or cancelled epoch has none).
    public var epochs: [EpochMetrics]
    public var outcome: TrainingOutcome
    /// Test accuracy of the final model, when asked for and the run completed or was stopped.
    public var testAccuracy: Double?
    /// Wall time of the whole run.
    public var seconds: Double

    public init(epochs: [EpochMetrics], outcome: TrainingOutcome, testAccuracy: Double?, seconds: Double) {
        self.epochs = epochs
        self.outcome = outcome
        self.testAccuracy = testAccuracy
        self.seconds = seconds
    }

    /// The epoch with the highest validation accuracy (the first such), if any.
    public var best: EpochMetrics? { epochs.best }
}

extension Sequence where Element == EpochMetrics {
    /// The best epoch: the one with the highest validation accuracy, the first one on ties; nil
    /// when there is none. The one definition that `train`, the stores and the ranking use.
    public var best: EpochMetrics? {
        reduce(nil) { best, m in (best.map { m.valAcc > $0.valAcc } ?? true) ? m : best }
    }
}

/// Why a run could not start.
public enum TrainingError: Error, CustomStringConvertible, Equatable, Sendable {
    case invalidOptions(EngineOptionProblem)

    public var description: String {
        switch self {
        case let .invalidOptions(problem): problem.description
        }
    }
}

/// Seconds on a monotonic clock.
@inline(__always)
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Rows per forward pass when evaluating.
let evaluationBatch = 1000

/// Trains an MLP on `data` and answers its metrics.
///
/// - `learningRate(epoch)` is asked once at the start of each epoch (1-based).
/// - `onEpoch` gets each epoch's metrics after its validation; `.stop` ends the run.
/// - `isCancelled` is polled before every batch; a run answers `.cancelled` within one batch.
/// - `evaluateTest`: also measure the final model's accuracy on the test set.
///
/// The same data, options and BLAS thread count give bit-identical metrics. Every buffer is
/// allocated before the first batch; the per-batch loop allocates nothing. This is a
/// `TrainingSession` driven epoch by epoch.
public func train(data: DataSet, options: TrainingOptions,
                  learningRate: (Int) -> Double,
                  onEpoch: (EpochMetrics) -> TrainingControl,
                  isCancelled: () -> Bool = { false },
                  evaluateTest: Bool = false) throws -> TrainingResult {
    let start = monotonicSeconds()
    let session = try TrainingSession(data: data, options: options)
    var epochs: [EpochMetrics] = []
    epochs.reserveCapacity(min(options.epochs, 10_000))
    var outcome = TrainingOutcome.completed
    epochLoop: for epoch in 1...options.epochs {
        let lr = learningRate(epoch)
        switch session.runEpoch(lr: lr, isCancelled: isCancelled) {
        case .cancelled:
            outcome = .cancelled
            break epochLoop
        case .diverged:
            outcome = .diverged(epoch: epoch)
            break epochLoop
        case let .completed(metrics):
            epochs.append(metrics)
            if onEpoch(metrics) == .stop {
                if epoch < options.epochs { outcome = .stopped }
                break epochLoop
            }
        }
    }
    var testAccuracy: Double?
    if evaluateTest, outcome == .completed || outcome == .stopped {
        testAccuracy = session.testAccuracy()
    }
    return TrainingResult(epochs: epochs, outcome: outcome, testAccuracy: testAccuracy,
                          seconds: monotonicSeconds() - start)
}

extension TrainingOptions {
    /// The network these options train on images of `channels x side x side`.
    public func modelSpec(channels: Int = 1, side: Int = DataSet.imageSide) -> ModelSpec {
        ModelSpec(kind: model, conv: conv, hidden: hidden, channels: channels, side: side, classes: DataSet.classes)
    }

    /// Images every buffer of a session holds: the batch size, never more than the training set
    /// (a larger batch is the whole set), for a CNN, whose evaluation runs in such batches too;
    /// for the MLP, at least the evaluation batch.
    public func sessionBatch(trainCount: Int) -> Int {
        let batch = max(1, min(batchSize, trainCount))
        switch model {
        case .mlp: return max(batch, evaluationBatch)
        case .cnn: return batch
        }
    }

    /// Bytes one training session of these options allocates on `trainCount` training images
    /// (model buffers, optimizer state, shuffle order), before anything is allocated.
    public func estimatedSessionBytes(trainCount: Int, channels: Int = 1, side: Int = DataSet.imageSide) -> Int {
        let spec = modelSpec(channels: channels, side: side)
        let optimizerFloats = spec.parameterCount * (optimizer == .adam ? 2 : 1)
        return spec.estimatedBytes(batch: sessionBatch(trainCount: trainCount))
            + optimizerFloats * MemoryLayout<Float>.stride + trainCount * MemoryLayout<Int32>.stride
    }
}

/// One run's model, optimizer and shuffle state.
final class Trainer {
    enum Pass { case done(loss: Double, accuracy: Double, seconds: Double), diverged, cancelled }

    let data: DataSet
    let options: TrainingOptions
    let model: any Model
    let optimizer: Optimizer
    var shuffleRNG: Xoshiro256
    let order: UnsafeMutablePointer<Int32>

    /// `allowWinograd: false` keeps a CNN's convolutions on im2col (the floor before Winograd).
    init(data: DataSet, options: TrainingOptions, allowWinograd: Bool = true) {
        self.data = data
        self.options = options
        let maxBatch = options.sessionBatch(trainCount: data.trainCount)
        switch options.model {
        case .mlp:
            let sizes = [data.pixelsPerImage] + options.hidden + [DataSet.classes]
            model = MLP(sizes: sizes, maxBatch: maxBatch, seed: options.seed)
        case .cnn:
            model = CNN(spec: options.modelSpec(channels: data.channels, side: data.side), maxBatch: maxBatch,
                        seed: options.seed, allowWinograd: allowWinograd)
        }
        optimizer = Optimizer(kind: options.optimizer, count: model.parameterCount,
                              momentum: options.momentum, nesterov: options.nesterov,
                              weightDecay: options.weightDecay)
        shuffleRNG = Xoshiro256(seed: options.seed, stream: 0x5AFF)
        order = .allocate(capacity: data.trainCount)
        for i in 0..<data.trainCount { order[i] = Int32(i) }
    }

    deinit { order.deallocate() }

    /// The fresh state of `seed`, as `init` leaves it.
    func reset(seed: UInt64) {
        model.initialize(seed: seed)
        let n = model.parameterCount
        optimizer.first.update(repeating: 0, count: n)
        if optimizer.kind == .adam { optimizer.second.update(repeating: 0, count: n) }
        optimizer.steps = 0
        shuffleRNG = Xoshiro256(seed: seed, stream: 0x5AFF)
        for i in 0..<data.trainCount { order[i] = Int32(i) }
    }

    /// Fisher–Yates over the training indices, from the run's shuffle stream.
    func shuffle() {
        let n = data.trainCount
        var i = n - 1
        while i > 0 {
            let j = shuffleRNG.nextInt(below: i + 1)
            let t = order[i]; order[i] = order[j]; order[j] = t
            i -= 1
        }
    }

    /// One pass over the shuffled training set at rate `lr`.
    func trainEpoch(lr: Double, isCancelled: () -> Bool) -> Pass {
        shuffle()
        let n = data.trainCount, batchSize = options.batchSize
        let started = monotonicSeconds()
        var lossSum = 0.0
        var correct = 0
        let stop: Pass? = data.trainImages.withUnsafeBufferPointer { images in
            data.trainLabels.withUnsafeBufferPointer { labels in
                var start = 0
                while start < n {
                    if isCancelled() { return .cancelled }
                    let batch = min(batchSize, n - start)
                    let (loss, right) = trainBatch(images: images.baseAddress!, labels: labels.baseAddress!,
                                                   start: start, count: batch, lr: lr)
                    if !loss.isFinite { return .diverged }
                    lossSum += loss
                    correct += right
                    start += batch
                }
                return nil
            }
        }
        if let stop { return stop }
        let seconds = monotonicSeconds() - started
        return .done(loss: lossSum / Double(n), accuracy: Double(correct) / Double(n), seconds: seconds)
    }

    /// One step on the `count` shuffled training images from position `start`: answers the
    /// summed loss and the number of right answers, and updates the model unless the loss is
    /// not finite.
    @inline(__always)
    func trainBatch(images: UnsafePointer<UInt8>, labels: UnsafePointer<UInt8>, start: Int, count: Int,
                    lr: Double) -> (lossSum: Double, correct: Int) {
        let classes = DataSet.classes
        model.loadBatch(images: images, labels: labels, indices: order, start: start, count: count)
        let logits = model.forward(batch: count)
        let (loss, right) = SoftmaxCrossEntropy.forward(logits, labels: model.labels, batch: count, classes: classes)
        if !loss.isFinite { return (loss, right) }
        SoftmaxCrossEntropy.backward(logits, labels: model.labels, batch: count, classes: classes)
        model.backward(batch: count, optimizer: optimizer, lr: lr)
        return (loss, right)
    }

    /// Mean loss and accuracy of the current model on a labelled set, in large batches.
    func evaluate(images: [UInt8], labels: [UInt8]) -> (loss: Double, accuracy: Double) {
        let n = labels.count
        guard n > 0 else { return (0, 0) }
        var lossSum = 0.0
        var correct = 0
        images.withUnsafeBufferPointer { im in
            labels.withUnsafeBufferPointer { lb in
                var start = 0
                while start < n {
                    let batch = min(model.maxBatch, n - start)
                    model.loadBatch(images: im.baseAddress!, labels: lb.baseAddress!, indices: nil,
                                    start: start, count: batch)
                    let logits = model.forward(batch: batch)
                    let (loss, right) = SoftmaxCrossEntropy.forward(logits, labels: model.labels,
                                                                    batch: batch, classes: DataSet.classes)
                    lossSum += loss
                    correct += right
                    start += batch
                }
            }
        }
        return (lossSum / Double(n), Double(correct) / Double(n))
    }
}
