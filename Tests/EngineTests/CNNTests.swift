import XCTest
@testable import Engine
import TrainingTypes

final class CNNTests: XCTestCase {
    override func setUp() { BLAS.setThreads(1) }

    /// Odd kernels (1, 3, 5), several channels, non-square images, a batch of 1.
    let shapes: [Conv2D.Shape] = [
        .init(batch: 1, inChannels: 1, outChannels: 2, height: 5, width: 5, kernel: 3),
        .init(batch: 3, inChannels: 2, outChannels: 4, height: 7, width: 6, kernel: 3),
        .init(batch: 2, inChannels: 3, outChannels: 5, height: 6, width: 9, kernel: 5),
        .init(batch: 2, inChannels: 4, outChannels: 3, height: 4, width: 5, kernel: 1),
        .init(batch: 4, inChannels: 8, outChannels: 16, height: 14, width: 14, kernel: 3),
    ]

    func testConvBLASMatchesNaive() {
        for (k, s) in shapes.enumerated() {
            let seed = UInt64(10 * k)
            let x = randomFloats(s.inputCount, seed: seed + 1)
            let w = randomFloats(s.weightCount, seed: seed + 2)
            let b = randomFloats(s.outChannels, seed: seed + 3)
            let dy = randomFloats(s.outputCount, seed: seed + 4)
            var col = [Float](repeating: .nan, count: s.patch * s.positions)
            var y1 = [Float](repeating: .nan, count: s.outputCount), y2 = y1
            Conv2D.forward(y: &y1, x: x, col: &col, w: w, b: b, shape: s)
            Conv2D.forwardNaive(y: &y2, x: x, w: w, b: b, shape: s)
            XCTAssertLessThan(maxRelativeError(y1, y2), 1e-5, "forward \(s)")
            for beta: Float in [0, 0.9] {
                var dw1 = beta == 0 ? [Float](repeating: .nan, count: w.count) : randomFloats(w.count, seed: seed + 5)
                var dw2 = dw1
                var db1 = beta == 0 ? [Float](repeating: .nan, count: b.count) : randomFloats(b.count, seed: seed + 6)
                var db2 = db1
                var dx1 = [Float](repeating: .nan, count: x.count), dx2 = dx1
                var scratch = col
                dx1.withUnsafeMutableBufferPointer { dx in
                    Conv2D.backward(dx: dx.baseAddress, dw: &dw1, db: &db1, dy: dy, x: x, col: &scratch, w: w,
                                    shape: s, beta: beta)
                }
                dx2.withUnsafeMutableBufferPointer { dx in
                    Conv2D.backwardNaive(dx: dx.baseAddress, dw: &dw2, db: &db2, dy: dy, x: x, w: w, shape: s, beta: beta)
                }
                XCTAssertLessThan(maxRelativeError(dw1, dw2), 1e-5, "dW \(s) beta \(beta)")
                // Sums over up to 784 positions, in another order: float rounding of either sum.
                XCTAssertLessThan(maxRelativeError(db1, db2), 5e-5, "db \(s) beta \(beta)")
                XCTAssertLessThan(maxRelativeError(dx1, dx2), 1e-5, "dx \(s) beta \(beta)")
            }
        }
    }

    /// L = Σ r ⊙ conv(x, W, b): each analytic gradient entry against a central difference of L
    /// computed from the naive forward.
    func testConvGradientsAgainstFiniteDifferences() {
        for s in [shapes[1], shapes[2]] {
            var x = randomFloats(s.inputCount, seed: 71)
            var w = randomFloats(s.weightCount, seed: 72)
            var b = randomFloats(s.outChannels, seed: 73)
            let r = randomFloats(s.outputCount, seed: 74)
            func loss(_ x: [Float], _ w: [Float], _ b: [Float]) -> Double {
                var y = [Float](repeating: 0, count: s.outputCount)
                Conv2D.forwardNaive(y: &y, x: x, w: w, b: b, shape: s)
                return zip(y, r).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            }
            var col = [Float](repeating: 0, count: s.patch * s.positions)
            var y = [Float](repeating: 0, count: s.outputCount)
            Conv2D.forward(y: &y, x: x, col: &col, w: w, b: b, shape: s)
            var dx = [Float](repeating: 0, count: x.count), dw = [Float](repeating: 0, count: w.count)
            var db = [Float](repeating: 0, count: b.count)
            dx.withUnsafeMutableBufferPointer { p in
                Conv2D.backward(dx: p.baseAddress, dw: &dw, db: &db, dy: r, x: x, col: &col, w: w, shape: s)
            }
            FiniteDifference.checkConvolution(dx: dx, dw: dw, db: db, x: &x, w: &w, b: &b, name: "\(s)", loss: loss)
        }
    }

    func testMaxPoolMatchesNaiveOnOddSizesAndTies() {
        for (planes, h, w) in [(1, 2, 2), (3, 7, 7), (5, 6, 9), (2, 5, 4)] {
            let x = randomFloats(planes * h * w, seed: UInt64(h * 100 + w))
            let n = planes * (h / 2) * (w / 2)
            var y1 = [Float](repeating: .nan, count: n), y2 = y1
            var idx = [Int32](repeating: -1, count: n)
            MaxPool2x2.forward(y: &y1, argmax: &idx, x: x, planes: planes, height: h, width: w)
            MaxPool2x2.forwardNaive(y: &y2, x: x, planes: planes, height: h, width: w)
            XCTAssertEqual(y1, y2, "\(planes)x\(h)x\(w)")
            let dy = randomFloats(n, seed: 9)
            var dx1 = [Float](repeating: .nan, count: x.count), dx2 = dx1
            MaxPool2x2.backward(dx: &dx1, dy: dy, argmax: idx, planes: planes, height: h, width: w)
            MaxPool2x2.backwardNaive(dx: &dx2, dy: dy, x: x, planes: planes, height: h, width: w)
            XCTAssertEqual(dx1, dx2, "\(planes)x\(h)x\(w)")
            // Dropped trailing rows/columns get no gradient.
            if h % 2 == 1 { XCTAssertTrue(dx1[(h - 1) * w..<h * w].allSatisfy { $0 == 0 }) }
        }
        // A tie goes to the first maximum in row-major order; a NaN wins.
        let x: [Float] = [1, 3, 3, 2, .nan, 0, 5, 5]
        var y = [Float](repeating: 0, count: 2), idx = [Int32](repeating: 0, count: 2)
        MaxPool2x2.forward(y: &y, argmax: &idx, x: x, planes: 2, height: 2, width: 2)
        XCTAssertEqual(idx, [1, 4])
        XCTAssertEqual(y[0], 3)
        XCTAssertTrue(y[1].isNaN)
    }

    /// The fused bias + ReLU + max-pool against bias, `ReLU` and the naive `MaxPool2x2`.
    func testFusedBiasReLUMaxPoolMatchesTheLayersItFuses() {
        for (channels, batch, h, w) in [(1, 1, 2, 2), (3, 2, 7, 7), (4, 3, 6, 9), (2, 2, 4, 20), (1, 3, 14, 14), (2, 1, 28, 28)] {
            let plane = h * w, n = channels * batch * (h / 2) * (w / 2)
            let x = randomFloats(channels * batch * plane, seed: UInt64(h * w + channels))
            let bias = randomFloats(channels, seed: 5, scale: 0.5)
            var activated = x
            for c in 0..<channels {
                for i in 0..<(batch * plane) { activated[c * batch * plane + i] += bias[c] }
            }
            ReLU.forward(&activated, count: activated.count)
            var expected = [Float](repeating: .nan, count: n)
            MaxPool2x2.forwardNaive(y: &expected, x: activated, planes: channels * batch, height: h, width: w)
            var y = [Float](repeating: .nan, count: n), idx = [Int32](repeating: -1, count: n)
            BiasReLUMaxPool.forward(y: &y, argmax: &idx, x: x, bias: bias, channels: channels, batch: batch,
                                    height: h, width: w)
            XCTAssertEqual(y, expected)
            if n > 4 { XCTAssertTrue(y.contains(0) && y.contains { $0 > 0 }) }
            let dy = randomFloats(n, seed: 6)
            var dxExpected = [Float](repeating: .nan, count: x.count)
            MaxPool2x2.backwardNaive(dx: &dxExpected, dy: dy, x: activated, planes: channels * batch, height: h, width: w)
            ReLU.backwardNaive(&dxExpected, y: activated, count: activated.count)
            var dx = [Float](repeating: .nan, count: x.count)
            var db = randomFloats(channels, seed: 7)
            let previous = db
            BiasReLUMaxPool.backward(dx: &dx, dy: dy, y: y, argmax: idx, channels: channels, batch: batch,
                                     height: h, width: w, db: &db, beta: 0.9)
            XCTAssertEqual(dx, dxExpected)
            // The bias gradient: the sum of dx over each channel (in Double), plus beta times the old one.
            for c in 0..<channels {
                let sum = dx[(c * batch * plane)..<((c + 1) * batch * plane)].reduce(0.0) { $0 + Double($1) }
                XCTAssertEqual(Double(db[c]), sum + 0.9 * Double(previous[c]), accuracy: 1e-5 * max(1, abs(sum)), "db[\(c)]")
            }
        }
        // A NaN propagates (so the loss shows it).
        var y: [Float] = [0], idx: [Int32] = [0]
        BiasReLUMaxPool.forward(y: &y, argmax: &idx, x: [1, .nan, 2, 0], bias: [0], channels: 1, batch: 1, height: 2, width: 2)
        XCTAssertTrue(y[0].isNaN)
    }

    func testMaxPoolGradientAgainstFiniteDifferences() {
        let planes = 2, h = 5, w = 6
        var x = randomFloats(planes * h * w, seed: 81)
        let n = planes * (h / 2) * (w / 2)
        let r = randomFloats(n, seed: 82)
        func loss() -> Double {
            var y = [Float](repeating: 0, count: n)
            MaxPool2x2.forwardNaive(y: &y, x: x, planes: planes, height: h, width: w)
            return zip(y, r).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        var y = [Float](repeating: 0, count: n), idx = [Int32](repeating: 0, count: n)
        MaxPool2x2.forward(y: &y, argmax: &idx, x: x, planes: planes, height: h, width: w)
        var dx = [Float](repeating: 0, count: x.count)
        MaxPool2x2.backward(dx: &dx, dy: r, argmax: idx, planes: planes, height: h, width: w)
        let step: Float = 1e-4  // below the gap between any two of the random values
        FiniteDifference.check(dx, at: x.indices, step: step, read: { x[$0] }, write: { x[$0] = $1 }, loss: loss,
                               accuracy: FiniteDifference.absolute(1e-2)) { "dx[\($0)]" }
        XCTAssertEqual(dx.filter { $0 != 0 }.count, n)
    }

    /// The whole network: the gradient of the mean cross-entropy with respect to sampled
    /// parameters of every layer, against central differences of the model's own forward.
    func testCNNGradientsAgainstFiniteDifferences() {
        for channels in [1, 3] {
            let spec = ModelSpec(kind: .cnn, conv: [3, 4], hidden: [5], channels: channels, side: 8, classes: 10)
            let batch = 3
            let model = CNN(spec: spec, maxBatch: batch, seed: 3)
            let pixels = spec.pixels
            var rng = Xoshiro256(seed: 7)
            let images = (0..<(batch * pixels)).map { _ in UInt8(rng.nextInt(below: 256)) }
            let labels: [UInt8] = [2, 7, 0]
            func meanLoss() -> Double {
                images.withUnsafeBufferPointer { im in
                    labels.withUnsafeBufferPointer { lb in
                        model.loadBatch(images: im.baseAddress!, labels: lb.baseAddress!, indices: nil, start: 0, count: batch)
                    }
                }
                let logits = model.forward(batch: batch)
                return SoftmaxCrossEntropy.forward(logits, labels: model.labels, batch: batch, classes: 10).lossSum / Double(batch)
            }
            _ = meanLoss()
            let logits = model.linearOut.last!
            SoftmaxCrossEntropy.backward(logits, labels: model.labels, batch: batch, classes: 10)
            model.backward(batch: batch, optimizer: nil, lr: 0)
            let analytic = Array(UnsafeBufferPointer(start: model.grads, count: model.parameterCount))
            XCTAssertEqual(model.parameterCount, spec.parameterCount)
            // Every layer's weights and biases are sampled.
            // Small steps, so that few ReLU or pooling kinks are crossed; the loss is summed in Double.
            let checked = FiniteDifference.check(
                analytic, at: stride(from: 0, to: model.parameterCount, by: 3), step: 1e-3,
                read: { model.params[$0] }, write: { model.params[$0] = $1 }, loss: meanLoss,
                accuracy: { 5e-4 + 1e-2 * abs($0) }) { "param \($0) of \(model.parameterCount), \(channels) channel(s)" }
            XCTAssertGreaterThan(checked, 50)
            XCTAssertTrue(analytic.contains { $0 != 0 })
        }
    }

    /// The whole network through its Winograd layers (`conv` widths after the first have >= 4 input
    /// channels; the second case has a Winograd block after another): every parameter's gradient of
    /// the mean cross-entropy against a central difference of the model's own forward.
    ///
    /// The engine computes in Float only, so the difference is of a Float forward (the loss taken in
    /// Double from its logits). Within one piece of the network (the same ReLU units active and the same pooling
    /// winners), the logits are affine in any single parameter, so the loss is smooth there and the
    /// central difference is exact up to h² times its third derivative / 6 plus the forward's
    /// rounding over 2h. A step that moves a unit across its kink changes the piece: this is
    /// recognised by the pattern of active units and pooling winners at v ± h differing from that at
    /// v, and the parameter is compared at a smaller step instead (at most 1% may be left out; none
    /// are). Tried: one Winograd weight-gradient entry made 1% too large (a 3e-3 gradient, so 3e-5
    /// off, against a tolerance of 5e-6 at the largest step) fails.
    func testCNNGradientsThroughWinogradAgainstFiniteDifferences() {
        let cases = [
            (ModelSpec(kind: .cnn, conv: [4, 6], hidden: [7], channels: 1, side: 12, classes: 10), [false, true]),
            (ModelSpec(kind: .cnn, conv: [4, 5, 6], hidden: [5], channels: 3, side: 10, classes: 10), [false, true, true]),
        ]
        for (spec, expectedWinograd) in cases {
            let batch = 3
            let model = CNN(spec: spec, maxBatch: batch, seed: 11)
            // The layers that should run as Winograd do (and the selection rule agrees).
            XCTAssertEqual(model.winograd.map { $0 != nil }, expectedWinograd, "\(spec.conv)")
            XCTAssertEqual(model.convShapes.map(Winograd.applies), expectedWinograd)
            var rng = Xoshiro256(seed: 8)
            let images = (0..<(batch * spec.pixels)).map { _ in UInt8(rng.nextInt(below: 256)) }
            let labels: [UInt8] = [4, 1, 9]
            func meanLoss() -> Double {
                images.withUnsafeBufferPointer { im in
                    labels.withUnsafeBufferPointer { lb in
                        model.loadBatch(images: im.baseAddress!, labels: lb.baseAddress!, indices: nil, start: 0, count: batch)
                    }
                }
                let logits = model.forward(batch: batch)
                // The cross-entropy in Double from the Float logits (less rounding than the engine's
                // Float softmax; the engine's softmax gradient has its own check in LayerTests).
                var sum = 0.0
                for r in 0..<batch {
                    let row = (0..<10).map { Double(logits[r * 10 + $0]) }, top = row.max()!
                    sum += log(row.reduce(0) { $0 + exp($1 - top) }) - (row[Int(labels[r])] - top)
                }
                return sum / Double(batch)
            }
            // The piece of the last forward: each pooling window's winner (-1 when it pooled a ReLU
            // zero) and each hidden unit's activity.
            func piece() -> [Int32] {
                var pattern: [Int32] = []
                for (l, s) in model.convShapes.enumerated() {
                    let n = s.outChannels * batch * MaxPool2x2.outputSide(s.height) * MaxPool2x2.outputSide(s.width)
                    for i in 0..<n { pattern.append(model.pooled[l][i] > 0 ? model.argmax[l][i] : -1) }
                }
                for l in 0..<(model.dense.layerCount - 1) {
                    for i in 0..<(batch * model.dense.sizes[l + 1]) { pattern.append(model.linearOut[l][i] > 0 ? 1 : 0) }
                }
                return pattern
            }
            _ = meanLoss()
            let base = piece()
            let logits = model.linearOut.last!
            _ = SoftmaxCrossEntropy.forward(logits, labels: model.labels, batch: batch, classes: 10)
            SoftmaxCrossEntropy.backward(logits, labels: model.labels, batch: batch, classes: 10)
            model.backward(batch: batch, optimizer: nil, lr: 0)
            let analytic = Array(UnsafeBufferPointer(start: model.grads, count: model.parameterCount))
            XCTAssertEqual(model.parameterCount, spec.parameterCount)
            // The largest step that stays in the piece, and the tolerance of its rounding: the
            // forward's loss (Float logits, cross-entropy in Double) is off by ~1e-8 at v ± h (the
            // largest |analytic − numeric| · h measured was 1.7e-8 in both cases).
            let steps: [Float] = [1e-2, 1e-3, 1e-4]
            func tolerance(_ h: Float, _ numeric: Double) -> Double { 5e-8 / Double(h) + 1e-4 * abs(numeric) }
            var comparedAt = [Int](repeating: 0, count: steps.count), uncompared = 0
            var nonzeroPerLayer = [Int](repeating: 0, count: spec.conv.count)
            for i in 0..<model.parameterCount {
                var found: (h: Float, numeric: Double)?
                for (k, h) in steps.enumerated() {
                    var samePiece = true
                    let numeric = FiniteDifference.central(step: h, read: { model.params[i] }, write: { model.params[i] = $0 }) {
                        let loss = meanLoss()
                        if piece() != base { samePiece = false }
                        return loss
                    }
                    if samePiece { found = (h, numeric); comparedAt[k] += 1; break }
                }
                guard let (h, numeric) = found else { uncompared += 1; continue }
                XCTAssertEqual(Double(analytic[i]), numeric, accuracy: tolerance(h, numeric),
                               "param \(i) of \(model.parameterCount), conv \(spec.conv), step \(h)")
                if let l = model.convWeightOffsets.lastIndex(where: { $0 <= i }), l < spec.conv.count,
                   i < model.convWeightOffsets[l] + model.convShapes[l].weightCount + model.convShapes[l].outChannels,
                   analytic[i] != 0 {
                    nonzeroPerLayer[l] += 1
                }
            }
            // Most at the largest step, none left out (measured: [575, 103, 49] and [487, 181, 0]).
            XCTAssertGreaterThanOrEqual(comparedAt[0], model.parameterCount / 2, "\(comparedAt)")
            XCTAssertLessThanOrEqual(uncompared, model.parameterCount / 100, "\(comparedAt)")
            // Every convolution, Winograd or not, had gradients that are not trivially zero.
            for (l, n) in nonzeroPerLayer.enumerated() { XCTAssertGreaterThan(n, 10, "conv \(l) of \(spec.conv)") }
        }
    }

    func testEstimateAndFlopsOfTheReferenceCNN() {
        let spec = TrainingOptions(model: .cnn, conv: [32, 64], hidden: [128]).modelSpec()
        // conv1 32·9+32, conv2 64·288+64, fc 3136·128+128, 128·10+10.
        XCTAssertEqual(spec.parameterCount, 320 + 18496 + 401_536 + 1290)
        XCTAssertEqual(spec.featureCount, 3136)
        // By hand, batch 128: params+grads, input, linear outputs, conv1's output, patch matrix
        // and pooled output, conv2's Winograd buffers (V of the batch: 8 chunks of 36 positions x
        // (32 channels x 16 tiles x 16 images + 16 floats of padding); M of one chunk, likewise;
        // U and dU; the scratch, two 18x18 x 16
        // lanes areas + 36 x 16 + the pooling backward's 4 x 7x7 x 16 and a 4x4 x 16 tile) and
        // pooled output (its raw output is never stored), flat features, two linear scratches,
        // conv gradient scratch (conv1's output) and two pooled gradient buffers (conv1's pooled
        // output).
        let winograd = 8 * 36 * (32 * 16 * 16 + 16) + 36 * (64 * 16 * 16 + 16) + 2 * 36 * 64 * 32 + (2 * 18 * 18 * 16 + 36 * 16 + (4 * 49 + 16) * 16)
        let floats = 2 * 421_642 + 128 * 784 + 128 * 138
            + 32 * 128 * 784 + 9 * 128 * 784 + 32 * 128 * 196
            + winograd + 64 * 128 * 49
            + 128 * 3136 + 2 * 128 * 3136 + 32 * 128 * 784 + 2 * 32 * 128 * 196
        let other = 128 + 4 * (32 * 128 * 196 + 64 * 128 * 49)
        XCTAssertEqual(spec.estimatedBytes(batch: 128), floats * 4 + other)
        // MACs per image: conv1 32·9·784 (fwd, dW), conv2 64·288·196 (fwd, dW, dX), fc 3136·128 and 128·10 (×3).
        let macs = 2.0 * 225_792 + 3.0 * 3_612_672 + 3.0 * (401_408 + 1280)
        XCTAssertEqual(spec.trainingFlopsPerImage, 2 * macs)
        // The engine's own sgemms: conv2 by Winograd F(4x4, 3x3), 36 positions x 64 x 32 x 16 tiles per pass.
        let engineMacs = 2.0 * 225_792 + 3.0 * 36 * 64 * 32 * 16 + 3.0 * (401_408 + 1280)
        XCTAssertEqual(spec.engineGemmFlopsPerImage, 2 * engineMacs)
        // A session: the batch (capped by the training set), the optimizer's state and the order.
        let options = TrainingOptions(model: .cnn, conv: [32, 64], hidden: [128], batchSize: 128)
        XCTAssertEqual(options.sessionBatch(trainCount: 100), 100)
        XCTAssertEqual(options.estimatedSessionBytes(trainCount: 50000),
                       spec.estimatedBytes(batch: 128) + 421_642 * 4 + 50000 * 4)
    }

    func testCNNTrainsDeterministicallyAndLearns() throws {
        let data = DataSet.synthetic(trainSize: 400, valSize: 200, testSize: 100, seed: 2)
        let options = TrainingOptions(model: .cnn, conv: [8, 16], hidden: [32], batchSize: 16, epochs: 4, seed: 0)
        func run() throws -> TrainingResult {
            try train(data: data, options: options, learningRate: { _ in 0.1 }, onEpoch: { _ in .proceed },
                      evaluateTest: true)
        }
        let a = try run(), b = try run()
        XCTAssertEqual(a.outcome, .completed)
        XCTAssertEqual(a.epochs.map(\.valLoss), b.epochs.map(\.valLoss))
        XCTAssertEqual(a.epochs.map(\.trainLoss), b.epochs.map(\.trainLoss))
        XCTAssertEqual(a.testAccuracy, b.testAccuracy)
        XCTAssertGreaterThan(try XCTUnwrap(a.best).valAcc, 0.5)
        // Another seed, another run.
        var other = options
        other.seed = 5
        let c = try train(data: data, options: other, learningRate: { _ in 0.1 }, onEpoch: { _ in .proceed })
        XCTAssertNotEqual(c.epochs.map(\.valLoss), a.epochs.map(\.valLoss))
    }

    func testInvalidCNNOptionsAreRefused() {
        XCTAssertEqual(TrainingOptions(model: .cnn, conv: []).firstInvalid()?.description, "conv must list 1 to 3 convolution widths (got 0)")
        XCTAssertEqual(TrainingOptions(model: .cnn, conv: [8, 8, 8, 8]).firstInvalid()?.description, "conv must list 1 to 3 convolution widths (got 4)")
        XCTAssertEqual(TrainingOptions(model: .cnn, conv: [8, 0]).firstInvalid()?.description, "conv widths must be in 1...4096 (got 0)")
        XCTAssertNil(TrainingOptions(model: .mlp, conv: []).firstInvalid())
        XCTAssertThrowsError(try TrainingSession(data: DataSet.synthetic(trainSize: 10, valSize: 10, testSize: nil, seed: 0),
                                                 options: TrainingOptions(model: .cnn, conv: [])))
    }
}
