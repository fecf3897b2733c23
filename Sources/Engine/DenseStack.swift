import TrainingTypes

/// Fully connected layers `sizes[0] → … → sizes.last` (Linear, ReLU between): the MLP is one,
/// and the top of the CNN. Its weights (outputs x inputs, PyTorch's layout) and biases lie in the
/// model's flat parameter vector, from the offset it was made at, each layer's weights followed by
/// its biases. Every buffer is allocated once, for batches of up to `maxBatch` rows.
struct DenseStack {
    /// Widths: inputs, hidden layers, outputs.
    let sizes: [Int]
    var layerCount: Int { sizes.count - 1 }
    /// Offsets of each layer's weights and biases in the model's parameters and gradients.
    let weightOffsets: [Int], biasOffsets: [Int]
    /// The offset just past the stack's last parameter.
    let end: Int
    /// Output of each layer (after its ReLU for hidden layers; logits, then probabilities and
    /// their gradient, for the last).
    let outputs: [UnsafeMutablePointer<Float>]
    /// Gradient scratch, used in turn from the top layer down.
    let scratchA: UnsafeMutablePointer<Float>, scratchB: UnsafeMutablePointer<Float>

    init(sizes: [Int], offset: Int, maxBatch: Int) {
        precondition(sizes.count >= 2)
        self.sizes = sizes
        var w: [Int] = [], b: [Int] = []
        var total = offset
        for l in 0..<(sizes.count - 1) {
            w.append(total); total += sizes[l] * sizes[l + 1]
            b.append(total); total += sizes[l + 1]
        }
        weightOffsets = w
        biasOffsets = b
        end = total
        func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, n))
            p.initialize(repeating: 0, count: max(1, n))
            return p
        }
        outputs = sizes.dropFirst().map { buffer(maxBatch * $0) }
        let widest = sizes.max() ?? 1
        scratchA = buffer(maxBatch * widest)
        scratchB = buffer(maxBatch * widest)
    }

    func deallocate() {
        for p in outputs { p.deallocate() }
        scratchA.deallocate(); scratchB.deallocate()
    }

    /// PyTorch's `nn.Linear` default (Kaiming-uniform, a = √5): each layer's weights, then its
    /// biases, uniform in ±1/√fan_in, drawn in turn from `rng`.
    func initialize(_ params: UnsafeMutablePointer<Float>, rng: inout Xoshiro256) {
        for l in 0..<layerCount {
            let bound = 1 / Double(sizes[l]).squareRoot()
            for i in 0..<((sizes[l] + 1) * sizes[l + 1]) {
                params[weightOffsets[l] + i] = Float((rng.nextDouble() * 2 - 1) * bound)
            }
        }
    }

    /// Forward over the first `batch` rows of `x` (`batch x sizes[0]`); answers the logits.
    func forward(x input: UnsafePointer<Float>, params: UnsafeMutablePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float> {
        var x = input
        for l in 0..<layerCount {
            let y = outputs[l]
            Linear.forward(y: y, x: x, w: params + weightOffsets[l], b: params + biasOffsets[l],
                           batch: batch, inputs: sizes[l], outputs: sizes[l + 1])
            if l < layerCount - 1 { ReLU.forward(y, count: batch * sizes[l + 1]) }
            x = UnsafePointer(y)
        }
        return outputs[layerCount - 1]
    }

    /// Backward from the logits' gradient (in the last output buffer), `x` the stack's input.
    /// Without an optimizer, fills `grads`; with one, each layer's parameters are updated at rate
    /// `lr` as soon as that layer's backward is done (its weights are no longer needed then, and
    /// its gradient is still warm in cache), the gradient going where the optimizer asks. With
    /// `inputGradient`, answers the gradient with respect to `x` (`batch x sizes[0]`).
    func backward(x input: UnsafePointer<Float>, params: UnsafeMutablePointer<Float>, grads: UnsafeMutablePointer<Float>,
                  batch: Int, optimizer: Optimizer?, lr: Double, inputGradient: Bool) -> UnsafeMutablePointer<Float>? {
        var dy = outputs[layerCount - 1]
        var useA = true
        let inMomentum = optimizer?.accumulatesIntoMomentum ?? false
        for l in stride(from: layerCount - 1, through: 0, by: -1) {
            let x = l == 0 ? input : UnsafePointer(outputs[l - 1])
            let dx: UnsafeMutablePointer<Float>? = l == 0 && !inputGradient ? nil : (useA ? scratchA : scratchB)
            let (dw, beta) = optimizer?.gradientTarget(grads: grads, offset: weightOffsets[l]) ?? (grads + weightOffsets[l], 0)
            let db = dw + (biasOffsets[l] - weightOffsets[l])
            Linear.backward(dx: dx, dw: dw, db: db, dy: dy, x: x, w: params + weightOffsets[l],
                            batch: batch, inputs: sizes[l], outputs: sizes[l + 1], beta: beta)
            optimizer?.update(params: params, grads: grads, offset: weightOffsets[l],
                              count: (sizes[l] + 1) * sizes[l + 1], lr: lr, gradientInMomentum: inMomentum)
            guard let dx else { return nil }
            if l > 0 { ReLU.backward(dx, y: outputs[l - 1], count: batch * sizes[l]) }
            dy = dx
            useA.toggle()
        }
        return dy
    }

    /// Only the sgemm calls of one training step (forward and backward); the weight gradients go
    /// where `optimizer` would put them.
    func gemmsOnly(x input: UnsafePointer<Float>, params: UnsafeMutablePointer<Float>, grads: UnsafeMutablePointer<Float>,
                   batch: Int, optimizer: Optimizer, inputGradient: Bool) {
        var useA = true
        for l in 0..<layerCount {
            let x = l == 0 ? input : UnsafePointer(outputs[l - 1])
            let (dw, beta) = optimizer.gradientTarget(grads: grads, offset: weightOffsets[l])
            Linear.gemmsOnly(y: outputs[l], dx: l == 0 && !inputGradient ? nil : (useA ? scratchA : scratchB),
                             dw: dw, x: x, w: params + weightOffsets[l],
                             batch: batch, inputs: sizes[l], outputs: sizes[l + 1], beta: beta)
            useA.toggle()
        }
    }
}
