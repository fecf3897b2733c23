import XCTest
@testable import Engine

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
