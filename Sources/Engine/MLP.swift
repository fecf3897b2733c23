import TrainingTypes
/// A multi-layer perceptron `784 → hidden… → 10` (Linear, ReLU between, softmax cross-entropy on
/// top) with every buffer it needs allocated once: parameters and gradients as flat vectors,
/// the input batch as floats, one activation buffer per layer and two gradient scratch buffers.
final class MLP: Model {
    /// Widths: inputs, hidden layers, classes.
    var sizes: [Int] { dense.sizes }
    let dense: DenseStack
    let parameterCount: Int
    let params: UnsafeMutablePointer<Float>
    let grads: UnsafeMutablePointer<Float>
    /// Offsets of each layer's biases in `params`/`grads`.
    var biasOffsets: [Int] { dense.biasOffsets }
    /// Rows every buffer holds.
    let maxBatch: Int
    /// The batch as floats in [0, 1] (maxBatch x inputs) and its labels.
    let input: UnsafeMutablePointer<Float>
    let labels: UnsafeMutablePointer<UInt8>
    /// Output of each layer (after its ReLU for hidden layers; logits, then probabilities and
    /// their gradient, for the last).
    var activations: [UnsafeMutablePointer<Float>] { dense.outputs }
    /// Keeps the cache-line touches of `loadBatch` from being optimised away.
    var touchSink: UInt8 = 0

    init(sizes: [Int], maxBatch: Int, seed: UInt64) {
        self.maxBatch = maxBatch
        dense = DenseStack(sizes: sizes, offset: 0, maxBatch: maxBatch)
        parameterCount = dense.end
        params = .allocate(capacity: parameterCount)
        grads = .allocate(capacity: parameterCount)
        grads.initialize(repeating: 0, count: parameterCount)
        input = .allocate(capacity: maxBatch * sizes[0])
        input.initialize(repeating: 0, count: maxBatch * sizes[0])
        labels = .allocate(capacity: maxBatch)
        labels.initialize(repeating: 0, count: maxBatch)
        initialize(seed: seed)
    }

    deinit {
        params.deallocate(); grads.deallocate(); input.deallocate(); labels.deallocate()
        dense.deallocate()
    }

    /// PyTorch's `nn.Linear` default, drawn from the run's seed (see `DenseStack.initialize`).
    func initialize(seed: UInt64) {
        var rng = Xoshiro256(seed: seed, stream: 0x1A17)
        dense.initialize(params, rng: &rng)
    }

    /// Converts the images at `indices` (or, when nil, `count` consecutive images from `start`)
    /// into `input`, and copies their labels.
    func loadBatch(images: UnsafePointer<UInt8>, labels source: UnsafePointer<UInt8>,
                   indices: UnsafePointer<Int32>?, start: Int, count: Int) {
        touchSink = gatherBatch(into: input, labels: labels, images: images, sourceLabels: source,
                                indices: indices, start: start, count: count, width: sizes[0])
    }

    /// Forward pass over the first `batch` rows of `input`; answers the logits.
    @discardableResult
    func forward(batch: Int) -> UnsafeMutablePointer<Float> {
        dense.forward(x: input, params: params, batch: batch)
    }

    /// Backward pass: the last activation buffer must hold the gradient of the loss with respect
    /// to the logits. Without an optimizer, fills `grads`; with one, updates each layer as soon
    /// as its gradient is known (see `DenseStack.backward`).
    func backward(batch: Int, optimizer: Optimizer? = nil, lr: Double = 0) {
        optimizer?.beginStep()
        _ = dense.backward(x: input, params: params, grads: grads, batch: batch, optimizer: optimizer, lr: lr,
                           inputGradient: false)
    }

    /// Only the sgemm calls of one training step (forward and backward), for the speed floor;
    /// the weight gradients go where `optimizer` would put them.
    func gemmsOnly(batch: Int, optimizer: Optimizer) {
        dense.gemmsOnly(x: input, params: params, grads: grads, batch: batch, optimizer: optimizer, inputGradient: false)
    }
}
