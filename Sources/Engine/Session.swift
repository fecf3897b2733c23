import TrainingTypes
/// One epoch of a `TrainingSession`.
public enum EpochStep: Hashable, Sendable {
    /// The epoch trained and was evaluated.
    case completed(EpochMetrics)
    /// The loss (training or validation) became non-finite during the epoch.
    case diverged
    /// `isCancelled` answered true before one of the epoch's batches.
    case cancelled
}

/// The complete state of a `TrainingSession` between epochs: parameters, optimizer state
/// (momentum, or Adam's moments and step count), the shuffle generator and the permutation it
/// shuffles in place, and the number of epochs trained. Immutable; restoring it into a session
/// of the same data and options continues bit-identically.
public struct TrainingCheckpoint: Sendable {
    /// The seed of the run this state belongs to.
    public let seed: UInt64
    /// Epochs trained to reach this state (0: the fresh state of `seed`).
    public let epoch: Int
    let params: [Float]
    /// SGD: the momentum buffer (empty without momentum). Adam: the first moment.
    let first: [Float]
    /// Adam: the second moment (empty for SGD).
    let second: [Float]
    let optimizerSteps: Int
    let rng: (UInt64, UInt64, UInt64, UInt64)
    let order: [Int32]

    /// Bytes held by the state's arrays.
    public var byteCount: Int {
        (params.count + first.count + second.count) * MemoryLayout<Float>.stride
            + order.count * MemoryLayout<Int32>.stride + 64
    }
}

/// One training run's model, optimizer and shuffle state, with every buffer allocated once,
/// driven one epoch at a time. It can save its state between epochs (`checkpoint()`) and take
/// any saved state back (`restore(_:)`), so runs that share their first epochs' learning rates
/// can share those epochs.
///
/// Not thread-safe: one thread uses a session at a time.
public final class TrainingSession {
    public let data: DataSet
    /// The options the session was made with; `seed` follows `reset(seed:)` and `restore(_:)`.
    public private(set) var options: TrainingOptions
    let trainer: Trainer
    /// Epochs trained since the fresh state.
    public private(set) var epoch = 0
    /// False after an epoch diverged or was cancelled: the state is mid-epoch and only
    /// `restore(_:)` or `reset()` make the session usable again.
    public private(set) var isConsistent = true

    /// A fresh run of `options` (initial weights and shuffle stream from `options.seed`).
    public init(data: DataSet, options: TrainingOptions) throws {
        if let problem = options.firstInvalid() { throw TrainingError.invalidOptions(problem) }
        self.data = data
        self.options = options
        trainer = Trainer(data: data, options: options)
    }

    /// Trains the next epoch at rate `lr` and evaluates it on the validation set. After
    /// `.diverged` or `.cancelled` the session must be restored or reset before the next epoch.
    public func runEpoch(lr: Double, isCancelled: () -> Bool) -> EpochStep {
        precondition(isConsistent, "restore or reset a session after a diverged or cancelled epoch")
        switch trainer.trainEpoch(lr: lr, isCancelled: isCancelled) {
        case .cancelled:
            isConsistent = false
            return .cancelled
        case .diverged:
            isConsistent = false
            return .diverged
        case let .done(loss, acc, seconds):
            let (valLoss, valAcc) = trainer.evaluate(images: data.valImages, labels: data.valLabels)
            if !valLoss.isFinite {
                // The weights moved, but the run ends here: the state is no epoch's.
                isConsistent = false
                return .diverged
            }
            epoch += 1
            return .completed(EpochMetrics(epoch: epoch, lr: lr, trainLoss: loss, trainAcc: acc,
                                           valLoss: valLoss, valAcc: valAcc, trainSeconds: seconds))
        }
    }

    /// Accuracy of the current model on the test set.
    public func testAccuracy() -> Double {
        trainer.evaluate(images: data.testImages, labels: data.testLabels).accuracy
    }

    /// The current state (between epochs).
    public func checkpoint() -> TrainingCheckpoint {
        precondition(isConsistent, "no checkpoint of a diverged or cancelled epoch")
        let model = trainer.model, opt = trainer.optimizer
        let n = model.parameterCount
        let hasFirst = opt.kind == .adam || opt.momentum != 0
        let r = trainer.shuffleRNG
        return TrainingCheckpoint(
            seed: options.seed, epoch: epoch,
            params: Array(UnsafeBufferPointer(start: model.params, count: n)),
            first: hasFirst ? Array(UnsafeBufferPointer(start: opt.first, count: n)) : [],
            second: opt.kind == .adam ? Array(UnsafeBufferPointer(start: opt.second, count: n)) : [],
            optimizerSteps: opt.steps, rng: (r.s0, r.s1, r.s2, r.s3),
            order: Array(UnsafeBufferPointer(start: trainer.order, count: data.trainCount)))
    }

    /// Takes the state of `c` (a checkpoint of a session with the same data and options, the
    /// seed aside): the session then continues exactly as the checkpointed one would have.
    public func restore(_ c: TrainingCheckpoint) {
        let model = trainer.model, opt = trainer.optimizer
        let n = model.parameterCount
        precondition(c.params.count == n && c.order.count == data.trainCount,
                     "a checkpoint of another model or data set")
        c.params.withUnsafeBufferPointer { model.params.update(from: $0.baseAddress!, count: n) }
        if c.first.isEmpty {
            opt.first.update(repeating: 0, count: n)
        } else {
            precondition(c.first.count == n)
            c.first.withUnsafeBufferPointer { opt.first.update(from: $0.baseAddress!, count: n) }
        }
        if opt.kind == .adam {
            precondition(c.second.count == n, "a checkpoint of another optimizer")
            c.second.withUnsafeBufferPointer { opt.second.update(from: $0.baseAddress!, count: n) }
        }
        opt.steps = c.optimizerSteps
        trainer.shuffleRNG = Xoshiro256(s0: c.rng.0, s1: c.rng.1, s2: c.rng.2, s3: c.rng.3)
        c.order.withUnsafeBufferPointer { trainer.order.update(from: $0.baseAddress!, count: data.trainCount) }
        options.seed = c.seed
        epoch = c.epoch
        isConsistent = true
    }

    /// Back to the fresh state of `seed` (default: the current `options.seed`): initial
    /// weights, zero optimizer state, the shuffle stream's start, the identity permutation.
    public func reset(seed: UInt64? = nil) {
        if let seed { options.seed = seed }
        trainer.reset(seed: options.seed)
        epoch = 0
        isConsistent = true
    }
}
