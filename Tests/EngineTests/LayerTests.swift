import XCTest
@testable import Engine
import TrainingTypes

/// Random floats in [-1, 1) from a seeded generator.
func randomFloats(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var rng = Xoshiro256(seed: seed)
    return (0..<n).map { _ in Float(rng.nextDouble() * 2 - 1) * scale }
}

func maxRelativeError(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    var worst: Float = 0
    for (x, y) in zip(a, b) { worst = max(worst, abs(x - y) / max(1, abs(x), abs(y))) }
    return worst
}

final class LayerTests: XCTestCase {
    override func setUp() { BLAS.setThreads(1) }

    /// Shapes including odd sizes and a batch of 1.
    let shapes: [(batch: Int, inputs: Int, outputs: Int)] = [(1, 3, 2), (7, 13, 5), (33, 64, 10), (128, 100, 37)]

    func testLinearBLASMatchesNaive() {
        for (k, s) in shapes.enumerated() {
            let x = randomFloats(s.batch * s.inputs, seed: 1 + UInt64(k))
            let w = randomFloats(s.outputs * s.inputs, seed: 100 + UInt64(k))
            let b = randomFloats(s.outputs, seed: 200 + UInt64(k))
            let dy = randomFloats(s.batch * s.outputs, seed: 300 + UInt64(k))
            var y1 = [Float](repeating: .nan, count: s.batch * s.outputs), y2 = y1
            var dw1 = [Float](repeating: .nan, count: w.count), dw2 = dw1
            var db1 = [Float](repeating: .nan, count: b.count), db2 = db1
            var dx1 = [Float](repeating: .nan, count: x.count), dx2 = dx1
            Linear.forward(y: &y1, x: x, w: w, b: b, batch: s.batch, inputs: s.inputs, outputs: s.outputs)
            Linear.forwardNaive(y: &y2, x: x, w: w, b: b, batch: s.batch, inputs: s.inputs, outputs: s.outputs)
            dx1.withUnsafeMutableBufferPointer { dx in
                Linear.backward(dx: dx.baseAddress, dw: &dw1, db: &db1, dy: dy, x: x, w: w,
                                batch: s.batch, inputs: s.inputs, outputs: s.outputs)
            }
            dx2.withUnsafeMutableBufferPointer { dx in
                Linear.backwardNaive(dx: dx.baseAddress, dw: &dw2, db: &db2, dy: dy, x: x, w: w,
                                     batch: s.batch, inputs: s.inputs, outputs: s.outputs)
            }
            XCTAssertLessThan(maxRelativeError(y1, y2), 1e-5, "forward \(s)")
            XCTAssertLessThan(maxRelativeError(dw1, dw2), 1e-5, "dW \(s)")
            XCTAssertLessThan(maxRelativeError(db1, db2), 1e-5, "db \(s)")
            XCTAssertLessThan(maxRelativeError(dx1, dx2), 1e-5, "dx \(s)")
            // Accumulating (beta = momentum), as the fused SGD path does.
            var acc1 = randomFloats(w.count, seed: 400 + UInt64(k)), acc2 = acc1
            var accB1 = randomFloats(b.count, seed: 500 + UInt64(k)), accB2 = accB1
            Linear.backward(dx: nil, dw: &acc1, db: &accB1, dy: dy, x: x, w: w,
                            batch: s.batch, inputs: s.inputs, outputs: s.outputs, beta: 0.9)
            Linear.backwardNaive(dx: nil, dw: &acc2, db: &accB2, dy: dy, x: x, w: w,
                                 batch: s.batch, inputs: s.inputs, outputs: s.outputs, beta: 0.9)
            XCTAssertLessThan(maxRelativeError(acc1, acc2), 1e-5, "dW beta \(s)")
            XCTAssertLessThan(maxRelativeError(accB1, accB2), 1e-5, "db beta \(s)")
            XCTAssertNotEqual(acc1, dw1)
        }
    }

    /// L = Σ r ⊙ y(x, W, b) for a fixed random r: compare each analytic gradient entry with a
    /// central difference of L, computed in Double from the naive forward.
    func testLinearGradientsAgainstFiniteDifferences() {
        let batch = 4, inputs = 6, outputs = 3
        var x = randomFloats(batch * inputs, seed: 11)
        var w = randomFloats(outputs * inputs, seed: 12)
        var b = randomFloats(outputs, seed: 13)
        let r = randomFloats(batch * outputs, seed: 14)
        func loss() -> Double {
            var y = [Float](repeating: 0, count: batch * outputs)
            Linear.forward(y: &y, x: x, w: w, b: b, batch: batch, inputs: inputs, outputs: outputs)
            return zip(y, r).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        var dx = [Float](repeating: 0, count: x.count), dw = [Float](repeating: 0, count: w.count)
        var db = [Float](repeating: 0, count: b.count)
        dx.withUnsafeMutableBufferPointer { p in
            Linear.backward(dx: p.baseAddress, dw: &dw, db: &db, dy: r, x: x, w: w,
                            batch: batch, inputs: inputs, outputs: outputs)
        }
        let h: Float = 1e-2, tolerance = FiniteDifference.scaled(1e-3)
        FiniteDifference.check(dx, at: x.indices, step: h, read: { x[$0] }, write: { x[$0] = $1 }, loss: loss,
                               accuracy: tolerance) { "dx[\($0)]" }
        FiniteDifference.check(dw, at: w.indices, step: h, read: { w[$0] }, write: { w[$0] = $1 }, loss: loss,
                               accuracy: tolerance) { "dW[\($0)]" }
        FiniteDifference.check(db, at: b.indices, step: h, read: { b[$0] }, write: { b[$0] = $1 }, loss: loss,
                               accuracy: tolerance) { "db[\($0)]" }
    }

    func testReLUForwardBackwardAndFiniteDifferences() {
        var x: [Float] = [-2, -0.5, 0.3, 1.5, 0, 4]
        let dy: [Float] = [1, 2, 3, 4, 5, 6]
        ReLU.forward(&x, count: x.count)
        XCTAssertEqual(x, [0, 0, 0.3, 1.5, 0, 4])
        var dx = dy
        ReLU.backward(&dx, y: x, count: x.count)
        XCTAssertEqual(dx, [0, 0, 3, 4, 0, 6])
        // The packed (bit-mask) backward agrees with the naive one on many values.
        var act = randomFloats(1001, seed: 31)
        ReLU.forward(&act, count: act.count)
        var g1 = randomFloats(1001, seed: 32), g2 = g1
        ReLU.backward(&g1, y: act, count: act.count)
        ReLU.backwardNaive(&g2, y: act, count: act.count)
        XCTAssertEqual(g1, g2)
        XCTAssertTrue(g1.contains(0) && g1.contains { $0 != 0 })
        // Away from the kink, the derivative is the finite difference.
        let inputs: [Float] = [-1.3, 0.7, 2.2, -0.1]
        for v in inputs {
            let h: Float = 1e-3
            var a = [v + h], c = [v - h]
            ReLU.forward(&a, count: 1); ReLU.forward(&c, count: 1)
            var y = [v]; ReLU.forward(&y, count: 1)
            var g: [Float] = [1]; ReLU.backward(&g, y: y, count: 1)
            XCTAssertEqual(g[0], (a[0] - c[0]) / (2 * h), accuracy: 1e-3)
        }
    }

    func testSoftmaxCrossEntropyGradientAgainstFiniteDifferences() {
        let batch = 5, classes = 10
        let logits = randomFloats(batch * classes, seed: 21, scale: 3)
        let labels: [UInt8] = [0, 3, 9, 3, 7]
        func meanLoss(_ z: [Float]) -> Double {
            var p = z
            return SoftmaxCrossEntropy.forward(&p, labels: labels, batch: batch, classes: classes).lossSum / Double(batch)
        }
        var probs = logits
        let (lossSum, _) = SoftmaxCrossEntropy.forward(&probs, labels: labels, batch: batch, classes: classes)
        // Reference loss in Double.
        var expected = 0.0
        for r in 0..<batch {
            let row = logits[(r * classes)..<((r + 1) * classes)].map(Double.init)
            let m = row.max()!
            expected += log(row.map { exp($0 - m) }.reduce(0, +)) - (row[Int(labels[r])] - m)
        }
        XCTAssertEqual(lossSum, expected, accuracy: 1e-4)
        for r in 0..<batch {
            XCTAssertEqual(probs[(r * classes)..<((r + 1) * classes)].reduce(0, +), 1, accuracy: 1e-5)
        }
        SoftmaxCrossEntropy.backward(&probs, labels: labels, batch: batch, classes: classes)
        var z = logits
        FiniteDifference.check(probs, at: z.indices, step: 1e-2, read: { z[$0] }, write: { z[$0] = $1 },
                               loss: { meanLoss(z) }, accuracy: FiniteDifference.absolute(2e-4)) { "dlogits[\($0)]" }
    }

    func testSoftmaxAccuracyCountAndNonFiniteLoss() {
        var z: [Float] = [0, 5, 1, /**/ 2, 0, 0]
        let (_, correct) = SoftmaxCrossEntropy.forward(&z, labels: [1, 1], batch: 2, classes: 3)
        XCTAssertEqual(correct, 1)
        var bad: [Float] = [0, .nan, 1]
        XCTAssertFalse(SoftmaxCrossEntropy.forward(&bad, labels: [0], batch: 1, classes: 3).lossSum.isFinite)
        var inf: [Float] = [0, .infinity, 1]
        XCTAssertFalse(SoftmaxCrossEntropy.forward(&inf, labels: [0], batch: 1, classes: 3).lossSum.isFinite)
    }

    /// The whole network: backward's gradients against central differences of the mean loss.
    func testMLPGradientsAgainstFiniteDifferences() {
        let sizes = [784, 8, 6, 10], batch = 3
        let model = MLP(sizes: sizes, maxBatch: batch, seed: 5)
        var rng = Xoshiro256(seed: 77)
        let images: [UInt8] = (0..<(batch * 784)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let labels: [UInt8] = [2, 7, 2]
        func loss() -> Double {
            model.loadBatch(images: images, labels: labels, indices: nil, start: 0, count: batch)
            let logits = model.forward(batch: batch)
            return SoftmaxCrossEntropy.forward(logits, labels: model.labels, batch: batch, classes: 10).lossSum / Double(batch)
        }
        _ = loss()
        SoftmaxCrossEntropy.backward(model.activations[2], labels: model.labels, batch: batch, classes: 10)
        model.backward(batch: batch)
        let analytic = Array(UnsafeBufferPointer(start: model.grads, count: model.parameterCount))
        // A spread of parameters from every layer, weights and biases.
        let indices: [Int] = Array(stride(from: 0, to: model.parameterCount, by: 97)) + [model.biasOffsets[0], model.biasOffsets[2] + 3]
        let checked = FiniteDifference.check(analytic, at: indices, step: 5e-3, read: { model.params[$0] },
                                             write: { model.params[$0] = $1 }, loss: loss,
                                             accuracy: FiniteDifference.scaled(2e-3)) { "param \($0)" }
        XCTAssertGreaterThan(checked, 50)
        XCTAssertTrue(analytic.contains { $0 != 0 })
    }
}
