import XCTest
@testable import Engine
import TrainingTypes

final class OptimizerTests: XCTestCase {
    /// Two steps of SGD against PyTorch's formulas, written out in Double.
    func testSGDMomentumAndNesterovMatchPyTorch() {
        for nesterov in [false, true] {
            let lr = 0.1, mu = 0.9, wd = 0.01
            var p: [Float] = [1, -2, 0.5]
            let g1: [Float] = [0.3, -0.1, 2], g2: [Float] = [-0.2, 0.4, 1]
            let opt = Optimizer(kind: .sgd, count: 3, momentum: mu, nesterov: nesterov, weightDecay: wd)
            var ep = p.map(Double.init), buf = [Double](repeating: 0, count: 3)
            for (step, g) in [g1, g2].enumerated() {
                opt.step(params: &p, grads: g, lr: lr)
                for i in 0..<3 {
                    let d = Double(g[i]) + wd * ep[i]
                    buf[i] = step == 0 ? d : mu * buf[i] + d
                    ep[i] -= lr * (nesterov ? d + mu * buf[i] : buf[i])
                }
                for i in 0..<3 { XCTAssertEqual(Double(p[i]), ep[i], accuracy: 1e-6, "nesterov \(nesterov) step \(step)") }
            }
        }
    }

    func testPlainSGDWithoutMomentum() {
        var p: [Float] = [1, 2]
        let opt = Optimizer(kind: .sgd, count: 2, momentum: 0, nesterov: false, weightDecay: 0)
        opt.step(params: &p, grads: [0.5, -1], lr: 0.2)
        XCTAssertEqual(p, [0.9, 2.2])
    }

    func testAdamMatchesPyTorch() {
        let lr = 0.01, wd = 0.001, b1 = 0.9, b2 = 0.999, eps = 1e-8
        var p: [Float] = [0.5, -1.5]
        let grads: [[Float]] = [[0.2, -3], [0.1, 1], [-0.4, 0.5]]
        let opt = Optimizer(kind: .adam, count: 2, momentum: 0.9, nesterov: false, weightDecay: wd)
        var ep = p.map(Double.init), m = [0.0, 0.0], v = [0.0, 0.0]
        for (t, g) in grads.enumerated() {
            opt.step(params: &p, grads: g, lr: lr)
            for i in 0..<2 {
                let gi = Double(g[i]) + wd * ep[i]
                m[i] = b1 * m[i] + (1 - b1) * gi
                v[i] = b2 * v[i] + (1 - b2) * gi * gi
                let mh = m[i] / (1 - pow(b1, Double(t + 1))), vh = v[i] / (1 - pow(b2, Double(t + 1)))
                ep[i] -= lr * mh / (vh.squareRoot() + eps)
            }
            for i in 0..<2 { XCTAssertEqual(Double(p[i]), ep[i], accuracy: 1e-5, "step \(t)") }
        }
    }
}

final class FusedUpdateTests: XCTestCase {
    /// The training path (each layer updated right after its backward, SGD momentum accumulated
    /// by the sgemm into the momentum buffer) against the plain path (full backward into
    /// `grads`, then one `step` over all parameters).
    func testLayerwiseAndFusedUpdatesMatchThePlainStep() {
        BLAS.setThreads(1)
        let configurations: [(OptimizerKind, Bool, Double)] = [(.sgd, false, 0.9), (.sgd, true, 0.9), (.sgd, false, 0), (.adam, false, 0.9)]
        for (kind, nesterov, momentum) in configurations {
            let sizes = [784, 12, 10], batch = 9
            let a = MLP(sizes: sizes, maxBatch: batch, seed: 4), b = MLP(sizes: sizes, maxBatch: batch, seed: 4)
            let optA = Optimizer(kind: kind, count: a.parameterCount, momentum: momentum, nesterov: nesterov, weightDecay: 5e-3)
            let optB = Optimizer(kind: kind, count: b.parameterCount, momentum: momentum, nesterov: nesterov, weightDecay: 5e-3)
            var rng = Xoshiro256(seed: 9)
            for _ in 0..<4 {
                let images: [UInt8] = (0..<(batch * 784)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                let labels: [UInt8] = (0..<batch).map { _ in UInt8(rng.nextInt(below: 10)) }
                for (model, opt, fused) in [(a, optA, true), (b, optB, false)] {
                    model.loadBatch(images: images, labels: labels, indices: nil, start: 0, count: batch)
                    let logits = model.forward(batch: batch)
                    _ = SoftmaxCrossEntropy.forward(logits, labels: model.labels, batch: batch, classes: 10)
                    SoftmaxCrossEntropy.backward(logits, labels: model.labels, batch: batch, classes: 10)
                    if fused {
                        model.backward(batch: batch, optimizer: opt, lr: 0.05)
                    } else {
                        model.backward(batch: batch)
                        opt.step(params: model.params, grads: model.grads, lr: 0.05)
                    }
                }
            }
            let pa = Array(UnsafeBufferPointer(start: a.params, count: a.parameterCount))
            let pb = Array(UnsafeBufferPointer(start: b.params, count: b.parameterCount))
            XCTAssertLessThan(maxRelativeError(pa, pb), 1e-5, "\(kind) nesterov \(nesterov) momentum \(momentum)")
            if !optA.accumulatesIntoMomentum { XCTAssertEqual(pa, pb, "\(kind): same arithmetic, same bits") }
            let initial = MLP(sizes: sizes, maxBatch: 1, seed: 4)
            XCTAssertNotEqual(pa, Array(UnsafeBufferPointer(start: initial.params, count: initial.parameterCount)))
        }
    }
}
