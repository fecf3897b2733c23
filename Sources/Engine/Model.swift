import TrainingTypes
/// The networks a run can train.
/// What the training loop needs of a network: flat parameter and gradient vectors, a batch
/// loader, forward to the logits and backward from their gradient (updating each layer through
/// the optimizer as soon as its gradient is known). Every buffer is allocated by the model's
/// initialiser; no call allocates.
protocol Model: AnyObject {
    var parameterCount: Int { get }
    var params: UnsafeMutablePointer<Float> { get }
    var grads: UnsafeMutablePointer<Float> { get }
    /// Rows (images) every buffer holds: the largest batch `forward` takes.
    var maxBatch: Int { get }
    /// Labels of the loaded batch.
    var labels: UnsafeMutablePointer<UInt8> { get }
    /// Initial weights of `seed` (PyTorch's default initialisation).
    func initialize(seed: UInt64)
    /// Converts the images at `indices` (or, when nil, `count` consecutive images from
    /// `start`) into the input buffer, and copies their labels.
    func loadBatch(images: UnsafePointer<UInt8>, labels: UnsafePointer<UInt8>,
                   indices: UnsafePointer<Int32>?, start: Int, count: Int)
    /// Forward pass over the first `batch` loaded images; answers the logits (batch x classes).
    func forward(batch: Int) -> UnsafeMutablePointer<Float>
    /// Backward pass from the gradient of the loss in the logits buffer; see `MLP.backward`.
    func backward(batch: Int, optimizer: Optimizer?, lr: Double)
    /// Only the sgemm calls of one training step, for the speed floor.
    func gemmsOnly(batch: Int, optimizer: Optimizer)
}

/// A network's architecture and input shape, known before anything is allocated: its parameter
/// count, its sgemm work and the bytes its buffers take.
public struct ModelSpec: Hashable, Sendable {
    public var kind: ModelKind
    /// Convolution widths (CNN only), one 3x3 conv + ReLU + 2x2 max-pool block each.
    public var conv: [Int]
    /// Fully connected hidden widths.
    public var hidden: [Int]
    /// Input images: `channels x side x side`.
    public var channels: Int
    public var side: Int
    public var classes: Int
    /// The CNN's kernel size.
    public static let kernel = 3

    public init(kind: ModelKind, conv: [Int] = [], hidden: [Int], channels: Int = 1, side: Int = 28,
                classes: Int = 10) {
        self.kind = kind
        self.conv = kind == .cnn ? conv : []
        self.hidden = hidden
        self.channels = channels
        self.side = side
        self.classes = classes
    }

    public var pixels: Int { channels * side * side }

    /// Each convolution block's convolution at `batch` images.
    func convShapes(batch: Int) -> [Conv2D.Shape] {
        var shapes: [Conv2D.Shape] = []
        var c = channels, s = side
        for width in conv {
            shapes.append(Conv2D.Shape(batch: batch, inChannels: c, outChannels: width, height: s, width: s,
                                       kernel: Self.kernel))
            c = width
            s = MaxPool2x2.outputSide(s)
        }
        return shapes
    }

    /// Side of the images after the convolution blocks (0: pooled away).
    public var featureSide: Int { conv.reduce(side) { s, _ in MaxPool2x2.outputSide(s) } }

    /// Inputs of the first fully connected layer.
    public var featureCount: Int {
        kind == .mlp ? pixels : (conv.last ?? channels) * featureSide * featureSide
    }

    /// Widths of the fully connected part: its inputs, the hidden layers, the classes.
    var linearSizes: [Int] { [featureCount] + hidden + [classes] }

    public var parameterCount: Int {
        var n = 0
        for s in convShapes(batch: 1) { n += s.weightCount + s.outChannels }
        let sizes = linearSizes
        for l in 0..<(sizes.count - 1) { n += (sizes[l] + 1) * sizes[l + 1] }
        return n
    }

    /// Floating-point operations of one training step per image if every layer were one sgemm
    /// per pass (2·m·n·k each: forward, weight gradient, and input gradient except for the first
    /// layer), i.e. convolutions by im2col: the network's work, whatever algorithm does it.
    public var trainingFlopsPerImage: Double {
        var macs = 0.0
        for (l, s) in convShapes(batch: 1).enumerated() {
            macs += Double(s.weightCount * s.height * s.width) * (l == 0 ? 2 : 3)
        }
        let sizes = linearSizes
        for l in 0..<(sizes.count - 1) {
            let first = kind == .mlp && l == 0
            macs += Double(sizes[l] * sizes[l + 1]) * (first ? 2 : 3)
        }
        return 2 * macs
    }

    /// Floating-point operations per image of the sgemm calls the engine makes in one training
    /// step: as `trainingFlopsPerImage`, except that Winograd convolutions (see
    /// `Winograd.applies`) count their 36 transform-domain sgemms per pass (for batches of a
    /// multiple of 16 images; others also multiply padding lanes).
    public var engineGemmFlopsPerImage: Double {
        var macs = 0.0
        for (l, s) in convShapes(batch: 1).enumerated() {
            let passes = Double(l == 0 ? 2 : 3)
            macs += passes * (Winograd.applies(to: s) ? Double(Winograd.Plan(shape: s).macsPerImagePerPass)
                                                       : Double(s.weightCount * s.height * s.width))
        }
        let sizes = linearSizes
        for l in 0..<(sizes.count - 1) {
            let first = kind == .mlp && l == 0
            macs += Double(sizes[l] * sizes[l + 1]) * (first ? 2 : 3)
        }
        return 2 * macs
    }

    /// Bytes of every buffer the model allocates for batches of up to `batch` images: parameters
    /// and gradients, input, activations, patch matrices (im2col convolutions) or
    /// transform-domain buffers (Winograd convolutions), pooling indices and gradient scratch.
    /// The optimizer's state adds `parameterCount` floats (SGD with momentum) or twice that
    /// (Adam); the shuffle order 4 bytes per training image.
    public func estimatedBytes(batch: Int) -> Int {
        let f = MemoryLayout<Float>.stride
        let sizes = linearSizes
        var floats = 2 * parameterCount + batch * pixels
        floats += sizes.dropFirst().reduce(0) { $0 + batch * $1 }  // linear outputs
        var other = batch  // labels
        switch kind {
        case .mlp:
            floats += 2 * batch * (sizes.max() ?? 1)  // scratchA, scratchB
        case .cnn:
            let shapes = convShapes(batch: batch)
            var widestConv = 0, widestPool = 0, winogradAfterFirst = false
            for (l, s) in shapes.enumerated() {
                let pooled = s.outChannels * batch * MaxPool2x2.outputSide(s.height) * MaxPool2x2.outputSide(s.width)
                if Winograd.applies(to: s) {
                    // Transform-domain buffers; the raw output is never stored.
                    floats += Winograd.Buffers.floats(plan: Winograd.Plan(shape: s))
                    if l > 0 { winogradAfterFirst = true }
                } else {
                    floats += s.outputCount + s.patch * s.positions
                    widestConv = max(widestConv, s.outputCount)
                }
                floats += pooled
                other += pooled * MemoryLayout<Int32>.stride
                widestPool = max(widestPool, pooled)
            }
            floats += batch * featureCount  // flattened features
            floats += 2 * batch * (sizes.max() ?? 1)  // linear gradient scratch
            floats += max(widestConv, channels == 1 ? 0 : batch * pixels) + widestPool
            if winogradAfterFirst { floats += widestPool }  // the second pooled-gradient buffer
        }
        return floats * f + other
    }
}

/// Gathers a batch of byte images into floats in [0, 1] and copies the labels; answers a byte
/// that depends on the touched cache lines (keep it, so the touches are not optimised away).
@inline(__always)
func gatherBatch(into input: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<UInt8>,
                 images: UnsafePointer<UInt8>, sourceLabels: UnsafePointer<UInt8>,
                 indices: UnsafePointer<Int32>?, start: Int, count: Int, width: Int) -> UInt8 {
    var touched: UInt8 = 0
    if let indices {
        // The images are scattered over the data set: touch every cache line of the batch
        // first with independent loads, so that the misses overlap instead of stalling the
        // conversion one image at a time.
        for r in 0..<count {
            let src = images + Int(indices[start + r]) * width
            var offset = 0
            while offset < width {
                touched |= src[offset]
                offset += 64
            }
            touched |= src[width - 1]
        }
    }
    let scale: Float = 1 / 255
    var dst = input
    for r in 0..<count {
        let index = indices.map { Int($0[start + r]) } ?? (start + r)
        let src = images + index * width
        for i in 0..<width { dst[i] = Float(src[i]) * scale }
        labels[r] = sourceLabels[index]
        dst += width
    }
    return touched
}
