#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TrainingTypes

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

/// Trains the network `options` describe (MLP or CNN) on `data` and answers its metrics.
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
        optimizer = Optimizer(options, count: model.parameterCount)
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
