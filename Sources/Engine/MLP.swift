/// A multi-layer perceptron `784 → hidden… → 10` (Linear, ReLU between, softmax cross-entropy on
/// top) with every buffer it needs allocated once: parameters and gradients as flat vectors,
/// the input batch as floats, one activation buffer per layer and two gradient scratch buffers.
final class MLP {
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
        let width = sizes[0]
        let scale: Float = 1 / 255
        var dst = input
        for r in 0..<count {
            let index = indices.map { Int($0[start + r]) } ?? (start + r)
            let src = images + index * width
            for i in 0..<width { dst[i] = Float(src[i]) * scale }
            labels[r] = source[index]
            dst += width
        }
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
    /// to the logits; fills `grads`.
    func backward(batch: Int) {
        var dy = activations[layerCount - 1]
        var useA = true
        for l in stride(from: layerCount - 1, through: 0, by: -1) {
            let x = l == 0 ? UnsafePointer(input) : UnsafePointer(activations[l - 1])
            let dx: UnsafeMutablePointer<Float>? = l == 0 ? nil : (useA ? scratchA : scratchB)
            Linear.backward(dx: dx, dw: grads + weightOffsets[l], db: grads + biasOffsets[l], dy: dy,
                            x: x, w: params + weightOffsets[l], batch: batch, inputs: sizes[l], outputs: sizes[l + 1])
            if let dx {
                ReLU.backward(dx, y: activations[l - 1], count: batch * sizes[l])
                dy = dx
                useA.toggle()
            }
        }
    }

    /// Only the sgemm calls of one training step (forward and backward), for the speed floor.
    func gemmsOnly(batch: Int) {
        var useA = true
        for l in 0..<layerCount {
            let x = l == 0 ? UnsafePointer(input) : UnsafePointer(activations[l - 1])
            Linear.gemmsOnly(y: activations[l], dx: l == 0 ? nil : (useA ? scratchA : scratchB),
                             dw: grads + weightOffsets[l], x: x, w: params + weightOffsets[l],
                             batch: batch, inputs: sizes[l], outputs: sizes[l + 1])
            useA.toggle()
        }
    }
}
