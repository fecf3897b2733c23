import TrainingTypes
/// A multi-layer perceptron `784 → hidden… → 10` (Linear, ReLU between, softmax cross-entropy on
/// top) with every buffer it needs allocated once: parameters and gradients as flat vectors,
/// the input batch as floats, one activation buffer per layer and two gradient scratch buffers.
final class MLP: Model {
    /// Widths: inputs, hidden layers, classes.
    let sizes: [Int]
    var layerCount: Int { sizes.count - 1 }
    let parameterCount: Int
    let params: UnsafeMutablePointer<Float>
    let grads: UnsafeMutablePointer<Float>
    /// Offsets of each layer's weights (outputs x inputs) and biases in `params`/`grads`.
    let weightOffsets: [Int], biasOffsets: [Int]
    /// Rows every buffer holds.
    let maxBatch: Int
    /// The batch as floats in [0, 1] (maxBatch x inputs) and its labels.
    let input: UnsafeMutablePointer<Float>
    let labels: UnsafeMutablePointer<UInt8>
    /// Output of each layer (after its ReLU for hidden layers; logits, then probabilities and
    /// their gradient, for the last).
    let activations: [UnsafeMutablePointer<Float>]
    let scratchA: UnsafeMutablePointer<Float>, scratchB: UnsafeMutablePointer<Float>
    /// Keeps the cache-line touches of `loadBatch` from being optimised away.
    var touchSink: UInt8 = 0

    init(sizes: [Int], maxBatch: Int, seed: UInt64) {
        self.sizes = sizes
        self.maxBatch = maxBatch
        var w: [Int] = [], b: [Int] = []
        var total = 0
        for l in 0..<(sizes.count - 1) {
            w.append(total); total += sizes[l] * sizes[l + 1]
            b.append(total); total += sizes[l + 1]
        }
        weightOffsets = w
        biasOffsets = b
        parameterCount = total
        params = .allocate(capacity: total)
        grads = .allocate(capacity: total)
        grads.initialize(repeating: 0, count: total)
        input = .allocate(capacity: maxBatch * sizes[0])
        input.initialize(repeating: 0, count: maxBatch * sizes[0])
        labels = .allocate(capacity: maxBatch)
        labels.initialize(repeating: 0, count: maxBatch)
        activations = sizes.dropFirst().map { width in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: maxBatch * width)
            p.initialize(repeating: 0, count: maxBatch * width)
            return p
        }
        let widest = sizes.max() ?? 1
        scratchA = .allocate(capacity: maxBatch * widest)
        scratchA.initialize(repeating: 0, count: maxBatch * widest)
        scratchB = .allocate(capacity: maxBatch * widest)
        scratchB.initialize(repeating: 0, count: maxBatch * widest)
        initialize(seed: seed)
    }

    deinit {
        params.deallocate(); grads.deallocate(); input.deallocate(); labels.deallocate()
        for a in activations { a.deallocate() }
        scratchA.deallocate(); scratchB.deallocate()
    }

    /// PyTorch's `nn.Linear` default (Kaiming-uniform, a = √5): weights and biases uniform in
    /// ±1/√fan_in, drawn from the run's seed.
    func initialize(seed: UInt64) {
        var rng = Xoshiro256(seed: seed, stream: 0x1A17)
        for l in 0..<layerCount {
            let fanIn = sizes[l], fanOut = sizes[l + 1]
            let bound = 1 / Double(fanIn).squareRoot()
            for i in 0..<(fanIn * fanOut) {
                params[weightOffsets[l] + i] = Float((rng.nextDouble() * 2 - 1) * bound)
            }
            for i in 0..<fanOut {
                params[biasOffsets[l] + i] = Float((rng.nextDouble() * 2 - 1) * bound)
            }
        }
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
        var x = UnsafePointer(input)
        for l in 0..<layerCount {
            let y = activations[l]
            Linear.forward(y: y, x: x, w: params + weightOffsets[l], b: params + biasOffsets[l],
                           batch: batch, inputs: sizes[l], outputs: sizes[l + 1])
            if l < layerCount - 1 { ReLU.forward(y, count: batch * sizes[l + 1]) }
            x = UnsafePointer(y)
        }
        return activations[layerCount - 1]
    }

    /// Backward pass: the last activation buffer must hold the gradient of the loss with respect
    /// to the logits. Without an optimizer, fills `grads`. With one, each layer's parameters are
    /// updated at rate `lr` as soon as that layer's backward is done (its weights are no longer
    /// needed then, and its gradient is still warm in cache); the gradient goes where the
    /// optimizer asks (`gradientTarget`).
    func backward(batch: Int, optimizer: Optimizer? = nil, lr: Double = 0) {
        optimizer?.beginStep()
        var dy = activations[layerCount - 1]
        var useA = true
        for l in stride(from: layerCount - 1, through: 0, by: -1) {
            let x = l == 0 ? UnsafePointer(input) : UnsafePointer(activations[l - 1])
            let dx: UnsafeMutablePointer<Float>? = l == 0 ? nil : (useA ? scratchA : scratchB)
            let (dw, beta) = optimizer?.gradientTarget(grads: grads, offset: weightOffsets[l]) ?? (grads + weightOffsets[l], 0)
            let db = dw + (biasOffsets[l] - weightOffsets[l])
            Linear.backward(dx: dx, dw: dw, db: db, dy: dy, x: x, w: params + weightOffsets[l],
                            batch: batch, inputs: sizes[l], outputs: sizes[l + 1], beta: beta)
            optimizer?.update(params: params, grads: grads, offset: weightOffsets[l],
                              count: (sizes[l] + 1) * sizes[l + 1], lr: lr,
                              gradientInMomentum: optimizer?.accumulatesIntoMomentum ?? false)
            if let dx {
                ReLU.backward(dx, y: activations[l - 1], count: batch * sizes[l])
                dy = dx
                useA.toggle()
            }
        }
    }

    /// Only the sgemm calls of one training step (forward and backward), for the speed floor;
    /// the weight gradients go where `optimizer` would put them.
    func gemmsOnly(batch: Int, optimizer: Optimizer) {
        var useA = true
        for l in 0..<layerCount {
            let x = l == 0 ? UnsafePointer(input) : UnsafePointer(activations[l - 1])
            let (dw, beta) = optimizer.gradientTarget(grads: grads, offset: weightOffsets[l])
            Linear.gemmsOnly(y: activations[l], dx: l == 0 ? nil : (useA ? scratchA : scratchB),
                             dw: dw, x: x, w: params + weightOffsets[l],
                             batch: batch, inputs: sizes[l], outputs: sizes[l + 1], beta: beta)
            useA.toggle()
        }
    }
}
