import TrainingTypes
/// A convolutional network: per `conv` width a 3x3 convolution (zero padding) + ReLU + 2x2
/// max-pool block, then fully connected layers (ReLU between) to the classes, softmax
/// cross-entropy on top. Every buffer is allocated once, for batches of up to `maxBatch` images.
///
/// Convolution activations are channel-major across the batch (`channels x batch x h x w`). A
/// 3x3 convolution with at least `Winograd.minInputChannels` input channels runs as Winograd
/// F(4x4, 3x3) (36 sgemms per pass over chunks of the batch); the others (the first layer of a
/// grey-scale network, other kernels) as one im2col sgemm per pass over the batch; the last block's output is transposed to
/// `batch x (channels·h·w)` (PyTorch's flatten order) for the linear layers. Parameters are one
/// flat vector: each layer's weights (PyTorch's layout) followed by its biases, convolutions
/// first.
final class CNN: Model {
    let spec: ModelSpec
    let maxBatch: Int
    let parameterCount: Int
    let params: UnsafeMutablePointer<Float>
    let grads: UnsafeMutablePointer<Float>
    /// The batch as floats in [0, 1]: `batch x channels x side x side`, which for one input
    /// channel is also the channel-major layout the first convolution reads.
    let input: UnsafeMutablePointer<Float>
    let labels: UnsafeMutablePointer<UInt8>
    /// Convolution shapes at `maxBatch` (a smaller batch uses the same buffers).
    let convShapes: [Conv2D.Shape]
    let convWeightOffsets: [Int]
    /// Per block: the convolution's raw output (no bias: `BiasReLUMaxPool` adds it) and its patch
    /// matrix (im2col layers), or its transform-domain buffers (Winograd layers, whose output
    /// transform is fused with the bias, ReLU and pooling, so that their raw output is never
    /// stored), the pooled output (bias, ReLU, max-pool) and the pooling's argmax indices.
    let convOut: [UnsafeMutablePointer<Float>?]
    let cols: [UnsafeMutablePointer<Float>?]
    let winograd: [Winograd.Buffers?]
    let pooled: [UnsafeMutablePointer<Float>]
    let argmax: [UnsafeMutablePointer<Int32>]
    /// The last block's output as `batch x features`.
    let flat: UnsafeMutablePointer<Float>
    /// The linear part (features, hidden…, classes), after the convolutions' parameters.
    let dense: DenseStack
    /// The linear layers' outputs (after ReLU for hidden layers; logits, then probabilities and
    /// their gradient).
    var linearOut: [UnsafeMutablePointer<Float>] { dense.outputs }
    /// Gradient scratch: one for convolution outputs, one for pooled outputs.
    let dConv: UnsafeMutablePointer<Float>, dPooled: UnsafeMutablePointer<Float>
    /// A second pooled-gradient buffer when a Winograd block follows another block: its fused
    /// backward reads one while writing the previous block's gradient into the other.
    let dPooledOther: UnsafeMutablePointer<Float>?
    var touchSink: UInt8 = 0

    /// `spec.kind` must be `.cnn` with at least one convolution and features left after pooling.
    /// `allowWinograd: false` keeps every convolution on im2col (the reference for tests and the
    /// im2col floor of `bench`).
    init(spec: ModelSpec, maxBatch: Int, seed: UInt64, allowWinograd: Bool = true) {
        precondition(spec.kind == .cnn && !spec.conv.isEmpty && spec.featureSide >= 1)
        self.spec = spec
        self.maxBatch = maxBatch
        func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, n))
            p.initialize(repeating: 0, count: max(1, n))
            return p
        }
        convShapes = spec.convShapes(batch: maxBatch)
        let useWinograd = convShapes.map { allowWinograd && Winograd.applies(to: $0) }
        var total = 0
        var cw: [Int] = []
        for s in convShapes {
            cw.append(total)
            total += s.weightCount + s.outChannels
        }
        convWeightOffsets = cw
        dense = DenseStack(sizes: spec.linearSizes, offset: total, maxBatch: maxBatch)
        total = dense.end
        parameterCount = total
        params = buffer(total)
        grads = buffer(total)
        input = buffer(maxBatch * spec.pixels)
        labels = .allocate(capacity: maxBatch)
        labels.initialize(repeating: 0, count: maxBatch)
        var widestConv = 0, widestPool = 0
        var co: [UnsafeMutablePointer<Float>?] = [], cl: [UnsafeMutablePointer<Float>?] = []
        var po: [UnsafeMutablePointer<Float>] = [], am: [UnsafeMutablePointer<Int32>] = []
        var wg: [Winograd.Buffers?] = []
        for (l, s) in convShapes.enumerated() {
            let n = s.outChannels * maxBatch * MaxPool2x2.outputSide(s.height) * MaxPool2x2.outputSide(s.width)
            co.append(useWinograd[l] ? nil : buffer(s.outputCount))
            cl.append(useWinograd[l] ? nil : buffer(s.patch * s.positions))
            wg.append(useWinograd[l] ? Winograd.Buffers(plan: Winograd.Plan(shape: s)) : nil)
            po.append(buffer(n))
            let a = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, n))
            a.initialize(repeating: 0, count: max(1, n))
            am.append(a)
            if !useWinograd[l] { widestConv = max(widestConv, s.outputCount) }
            widestPool = max(widestPool, n)
        }
        convOut = co; cols = cl; pooled = po; argmax = am; winograd = wg
        flat = buffer(maxBatch * spec.featureCount)
        dConv = buffer(max(widestConv, spec.channels == 1 ? 0 : maxBatch * spec.pixels))
        dPooled = buffer(widestPool)
        dPooledOther = useWinograd.dropFirst().contains(true) ? buffer(widestPool) : nil
        initialize(seed: seed)
    }

    deinit {
        params.deallocate(); grads.deallocate(); input.deallocate(); labels.deallocate()
        for p in pooled { p.deallocate() }
        for p in convOut { p?.deallocate() }
        dPooledOther?.deallocate()
        for p in cols { p?.deallocate() }
        for a in argmax { a.deallocate() }
        for b in winograd { b?.deallocate() }
        flat.deallocate()
        dense.deallocate()
        dConv.deallocate(); dPooled.deallocate()
    }

    /// PyTorch's defaults for `nn.Conv2d` and `nn.Linear` (Kaiming-uniform, a = √5): weights
    /// and biases uniform in ±1/√fan_in, drawn from the run's seed.
    func initialize(seed: UInt64) {
        var rng = Xoshiro256(seed: seed, stream: 0xC0CA)
        func fill(_ offset: Int, _ count: Int, fanIn: Int) {
            let bound = 1 / Double(fanIn).squareRoot()
            for i in 0..<count { params[offset + i] = Float((rng.nextDouble() * 2 - 1) * bound) }
        }
        for (l, s) in convShapes.enumerated() {
            fill(convWeightOffsets[l], s.weightCount + s.outChannels, fanIn: s.patch)
        }
        dense.initialize(params, rng: &rng)
    }

    func loadBatch(images: UnsafePointer<UInt8>, labels source: UnsafePointer<UInt8>,
                   indices: UnsafePointer<Int32>?, start: Int, count: Int) {
        touchSink = gatherBatch(into: input, labels: labels, images: images, sourceLabels: source,
                                indices: indices, start: start, count: count, width: spec.pixels)
    }

    /// The convolution shapes for `batch` images.
    @inline(__always)
    func shape(_ l: Int, batch: Int) -> Conv2D.Shape {
        var s = convShapes[l]
        s.batch = batch
        return s
    }

    /// The network's input in channel-major layout: `input` itself for one channel; for more,
    /// `input` transposed into `dConv` (free until backward, which reads the first block's
    /// input only through its patch matrix).
    func channelMajorInput(batch: Int) -> UnsafePointer<Float> {
        let c = spec.channels
        if c == 1 { return UnsafePointer(input) }
        let plane = spec.side * spec.side
        for b in 0..<batch {
            for ch in 0..<c {
                (dConv + (ch * batch + b) * plane).update(from: input + (b * c + ch) * plane, count: plane)
            }
        }
        return UnsafePointer(dConv)
    }

    @discardableResult
    func forward(batch: Int) -> UnsafeMutablePointer<Float> {
        var x = channelMajorInput(batch: batch)
        for l in 0..<convShapes.count {
            let s = shape(l, batch: batch), w = params + convWeightOffsets[l]
            if let buffers = winograd[l] {
                Winograd.forwardPooled(pooled: pooled[l], argmax: argmax[l], x: x, w: w, bias: w + s.weightCount,
                                       shape: s, buffers: buffers)
            } else {
                Conv2D.forward(y: convOut[l]!, x: x, col: cols[l]!, w: w, b: nil, shape: s)
                BiasReLUMaxPool.forward(y: pooled[l], argmax: argmax[l], x: convOut[l]!, bias: w + s.weightCount,
                                        channels: s.outChannels, batch: batch, height: s.height, width: s.width)
            }
            x = UnsafePointer(pooled[l])
        }
        // channels x batch x plane → batch x (channels·plane).
        let channels = convShapes.last!.outChannels, plane = spec.featureSide * spec.featureSide
        let features = channels * plane
        for c in 0..<channels {
            for b in 0..<batch {
                (flat + b * features + c * plane).update(from: x + (c * batch + b) * plane, count: plane)
            }
        }
        return dense.forward(x: flat, params: params, batch: batch)
    }

    /// Backward pass from the logits' gradient (in the last linear output buffer), as
    /// `MLP.backward`: each layer's parameters are updated through `optimizer` as soon as that
    /// layer's gradients are known.
    func backward(batch: Int, optimizer: Optimizer?, lr: Double) {
        optimizer?.beginStep()
        let inMomentum = optimizer?.accumulatesIntoMomentum ?? false
        func target(_ offset: Int) -> (UnsafeMutablePointer<Float>, Float) {
            optimizer?.gradientTarget(grads: grads, offset: offset) ?? (grads + offset, 0)
        }
        // The linear part's input gradient is always asked for: the convolutions need it.
        guard let dy = dense.backward(x: flat, params: params, grads: grads, batch: batch, optimizer: optimizer,
                                      lr: lr, inputGradient: true) else { return }
        // dy: batch x features → channels x batch x plane.
        let blocks = convShapes.count
        let channels = convShapes[blocks - 1].outChannels, plane = spec.featureSide * spec.featureSide
        let features = channels * plane
        for c in 0..<channels {
            for b in 0..<batch {
                (dPooled + (c * batch + b) * plane).update(from: dy + b * features + c * plane, count: plane)
            }
        }
        // The gradient of the current block's pooled output.
        var dyPooled = dPooled
        for l in stride(from: blocks - 1, through: 0, by: -1) {
            let s = shape(l, batch: batch)
            let (dw, beta) = target(convWeightOffsets[l])
            if let buffers = winograd[l] {
                let dx = l == 0 ? nil : (dyPooled == dPooled ? dPooledOther! : dPooled)
                Winograd.backwardPooled(dx: dx, dw: dw, db: dw + s.weightCount, dPooled: dyPooled, pooled: pooled[l],
                                        argmax: argmax[l], shape: s, buffers: buffers, beta: beta)
                if let dx { dyPooled = dx }
            } else {
                BiasReLUMaxPool.backward(dx: dConv, dy: dyPooled, y: pooled[l], argmax: argmax[l],
                                         channels: s.outChannels, batch: batch, height: s.height, width: s.width,
                                         db: dw + s.weightCount, beta: beta)
                let x = l == 0 ? UnsafePointer(input) : UnsafePointer(pooled[l - 1])
                // The gradient of the previous block's pooled output overwrites dyPooled, already consumed.
                Conv2D.backward(dx: l == 0 ? nil : dyPooled, dw: dw, db: nil, dy: dConv, x: x,
                                col: cols[l]!, w: params + convWeightOffsets[l], shape: s, beta: beta)
            }
            optimizer?.update(params: params, grads: grads, offset: convWeightOffsets[l],
                              count: s.weightCount + s.outChannels, lr: lr, gradientInMomentum: inMomentum)
        }
    }

    /// Only the sgemm calls of one training step (forward and backward); the weight gradients
    /// go where `optimizer` would put them.
    func gemmsOnly(batch: Int, optimizer: Optimizer) {
        for l in 0..<convShapes.count {
            if let buffers = winograd[l] {
                Winograd.gemmsOnly(buffers: buffers, shape: shape(l, batch: batch), inputGradient: l > 0)
                continue
            }
            let (dw, beta) = optimizer.gradientTarget(grads: grads, offset: convWeightOffsets[l])
            Conv2D.gemmsOnly(y: convOut[l]!, col: cols[l]!, dw: dw, w: params + convWeightOffsets[l],
                             shape: shape(l, batch: batch), inputGradient: l > 0, beta: beta)
        }
        dense.gemmsOnly(x: flat, params: params, grads: grads, batch: batch, optimizer: optimizer, inputGradient: true)
    }
}
