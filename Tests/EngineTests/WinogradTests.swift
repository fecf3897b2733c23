import XCTest
@testable import Engine
import TrainingTypes

final class WinogradTests: XCTestCase {
    override func setUp() { BLAS.setThreads(1) }

    /// Sizes that are and are not multiples of the 4x4 tile, batches below, at and beyond a
    /// 16-image SIMD group and a 32-image chunk (a partial last chunk and a partial group).
    let shapes: [Conv2D.Shape] = [
        .init(batch: 1, inChannels: 4, outChannels: 3, height: 5, width: 5, kernel: 3),
        .init(batch: 3, inChannels: 5, outChannels: 6, height: 7, width: 6, kernel: 3),
        .init(batch: 17, inChannels: 4, outChannels: 4, height: 8, width: 9, kernel: 3),
        .init(batch: 37, inChannels: 8, outChannels: 16, height: 14, width: 14, kernel: 3),
        .init(batch: 2, inChannels: 6, outChannels: 2, height: 1, width: 3, kernel: 3),
    ]

    /// Largest |a − b| over the largest |b| (errors of a sum count against the sum's scale, not
    /// against an element that cancels to near zero).
    func scaledError(_ a: [Float], _ b: [Float]) -> Float {
        let scale = b.reduce(Float(0)) { max($0, abs($1)) }
        return zip(a, b).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) } / max(scale, 1e-30)
    }

    /// The fast layer (SIMD transforms, sgemm, chunks) against the same algorithm in plain loops,
    /// and both against the direct convolution.
    func testWinogradMatchesItsNaiveReferenceAndTheDirectConvolution() {
        for (k, s) in shapes.enumerated() {
            let seed = UInt64(100 + 10 * k)
            let x = randomFloats(s.inputCount, seed: seed + 1)
            let w = randomFloats(s.weightCount, seed: seed + 2)
            let b = randomFloats(s.outChannels, seed: seed + 3)
            let dy = randomFloats(s.outputCount, seed: seed + 4)
            let buffers = Winograd.Buffers(plan: Winograd.Plan(shape: s))
            defer { buffers.deallocate() }
            var yFast = [Float](repeating: .nan, count: s.outputCount), yNaive = yFast, yDirect = yFast
            Winograd.forward(y: &yFast, x: x, w: w, b: b, shape: s, buffers: buffers)
            Winograd.forwardNaive(y: &yNaive, x: x, w: w, b: b, shape: s)
            Conv2D.forwardNaive(y: &yDirect, x: x, w: w, b: b, shape: s)
            // Same algorithm, other operation order (the sgemm's sums, the transforms' terms):
            // roundings of intermediate values up to ~8x (Bᵀ) and ~20x (Aᵀ) the inputs' scale,
            // cancelled again by the inverse transform (measured up to 3e-6).
            XCTAssertLessThan(scaledError(yFast, yNaive), 1e-5, "forward vs naive Winograd \(s)")
            // F(4x4, 3x3) in float: its transforms scale values by up to 8 and 5 and cancel them
            // again, so its error is larger than the direct sum's (measured ~1e-6 here).
            XCTAssertLessThan(scaledError(yFast, yDirect), 1e-5, "forward vs direct \(s)")
            for beta: Float in [0, 0.9] {
                var dw1 = beta == 0 ? [Float](repeating: .nan, count: w.count) : randomFloats(w.count, seed: seed + 5)
                var dw2 = dw1, dw3 = dw1
                var db1 = beta == 0 ? [Float](repeating: .nan, count: b.count) : randomFloats(b.count, seed: seed + 6)
                var db2 = db1, db3 = db1
                var dx1 = [Float](repeating: .nan, count: x.count), dx2 = dx1, dx3 = dx1
                // backward overwrites V: run forward again before each.
                Winograd.forward(y: &yFast, x: x, w: w, b: b, shape: s, buffers: buffers)
                dx1.withUnsafeMutableBufferPointer { dx in
                    Winograd.backward(dx: dx.baseAddress, dw: &dw1, db: &db1, dy: dy, shape: s, buffers: buffers, beta: beta)
                }
                dx2.withUnsafeMutableBufferPointer { dx in
                    Winograd.backwardNaive(dx: dx.baseAddress, dw: &dw2, db: &db2, dy: dy, x: x, w: w, shape: s, beta: beta)
                }
                dx3.withUnsafeMutableBufferPointer { dx in
                    Conv2D.backwardNaive(dx: dx.baseAddress, dw: &dw3, db: &db3, dy: dy, x: x, w: w, shape: s, beta: beta)
                }
                XCTAssertLessThan(scaledError(dw1, dw2), 1e-5, "dW vs naive Winograd \(s) beta \(beta)")
                XCTAssertLessThan(scaledError(dx1, dx2), 1e-5, "dx vs naive Winograd \(s) beta \(beta)")
                XCTAssertLessThan(scaledError(dw1, dw3), 2e-5, "dW vs direct \(s) beta \(beta)")
                XCTAssertLessThan(scaledError(dx1, dx3), 1e-5, "dx vs direct \(s) beta \(beta)")
                XCTAssertLessThan(maxRelativeError(db1, db3), 5e-5, "db \(s) beta \(beta)")
                XCTAssertLessThan(maxRelativeError(db2, db3), 5e-5, "db naive \(s) beta \(beta)")
            }
            // Without dx, the weight gradient is the same.
            Winograd.forward(y: &yFast, x: x, w: w, b: b, shape: s, buffers: buffers)
            var dwOnly = [Float](repeating: .nan, count: w.count), dbOnly = [Float](repeating: .nan, count: b.count)
            Winograd.backward(dx: nil, dw: &dwOnly, db: &dbOnly, dy: dy, shape: s, buffers: buffers)
            var dwRef = dwOnly, dbRef = dbOnly
            Winograd.backwardNaive(dx: nil, dw: &dwRef, db: &dbRef, dy: dy, x: x, w: w, shape: s)
            XCTAssertLessThan(scaledError(dwOnly, dwRef), 1e-5, "dW without dx \(s)")
        }
    }

    /// The layer fused with bias, ReLU and max-pool gives the same floats and argmax indices as
    /// the unfused layer followed by `BiasReLUMaxPool`, forward and backward (odd sizes: a
    /// dropped trailing row and column, windows in partial tiles; partial chunks and groups).
    func testFusedPoolingIsBitIdenticalToTheLayersItFuses() {
        let cases: [Conv2D.Shape] = [
            .init(batch: 3, inChannels: 4, outChannels: 5, height: 7, width: 7, kernel: 3),
            .init(batch: 37, inChannels: 8, outChannels: 16, height: 14, width: 14, kernel: 3),
            .init(batch: 17, inChannels: 5, outChannels: 3, height: 10, width: 13, kernel: 3),
            .init(batch: 2, inChannels: 4, outChannels: 2, height: 2, width: 2, kernel: 3),
        ]
        for (k, s) in cases.enumerated() {
            let seed = UInt64(300 + 10 * k)
            let x = randomFloats(s.inputCount, seed: seed), w = randomFloats(s.weightCount, seed: seed + 1)
            let bias = randomFloats(s.outChannels, seed: seed + 2, scale: 0.5)
            let n = s.outChannels * s.batch * (s.height / 2) * (s.width / 2)
            let dPooled = randomFloats(n, seed: seed + 3)
            let fusedBuffers = Winograd.Buffers(plan: Winograd.Plan(shape: s))
            let plainBuffers = Winograd.Buffers(plan: Winograd.Plan(shape: s))
            defer { fusedBuffers.deallocate(); plainBuffers.deallocate() }
            // Unfused.
            var conv = [Float](repeating: .nan, count: s.outputCount)
            var pooled = [Float](repeating: .nan, count: n), argmax = [Int32](repeating: -1, count: n)
            Winograd.forward(y: &conv, x: x, w: w, b: nil, shape: s, buffers: plainBuffers)
            BiasReLUMaxPool.forward(y: &pooled, argmax: &argmax, x: conv, bias: bias, channels: s.outChannels,
                                    batch: s.batch, height: s.height, width: s.width)
            var dConv = [Float](repeating: .nan, count: s.outputCount)
            var dw = randomFloats(s.weightCount, seed: seed + 4), db = randomFloats(s.outChannels, seed: seed + 5)
            var dwFused = dw, dbFused = db
            BiasReLUMaxPool.backward(dx: &dConv, dy: dPooled, y: pooled, argmax: argmax, channels: s.outChannels,
                                     batch: s.batch, height: s.height, width: s.width, db: &db, beta: 0.9)
            var dx = [Float](repeating: .nan, count: s.inputCount)
            dx.withUnsafeMutableBufferPointer { p in
                Winograd.backward(dx: p.baseAddress, dw: &dw, db: nil, dy: dConv, shape: s, buffers: plainBuffers, beta: 0.9)
            }
            // Fused.
            var pooledFused = [Float](repeating: .nan, count: n), argmaxFused = [Int32](repeating: -1, count: n)
            Winograd.forwardPooled(pooled: &pooledFused, argmax: &argmaxFused, x: x, w: w, bias: bias, shape: s,
                                   buffers: fusedBuffers)
            XCTAssertEqual(pooledFused, pooled, "pooled \(s)")
            XCTAssertEqual(argmaxFused, argmax, "argmax \(s)")
            if n > 8 { XCTAssertTrue(pooled.contains(0) && pooled.contains { $0 > 0 }, "some ReLU zeros \(s)") }
            var dxFused = [Float](repeating: .nan, count: s.inputCount)
            dxFused.withUnsafeMutableBufferPointer { p in
                Winograd.backwardPooled(dx: p.baseAddress, dw: &dwFused, db: &dbFused, dPooled: dPooled,
                                        pooled: pooledFused, argmax: argmaxFused, shape: s, buffers: fusedBuffers, beta: 0.9)
            }
            XCTAssertEqual(dxFused, dx, "dx \(s)")
            XCTAssertEqual(dwFused, dw, "dW \(s)")
            XCTAssertEqual(dbFused, db, "db \(s)")
        }
    }

    /// L = Σ r ⊙ conv(x, W, b) with the Winograd forward: each analytic gradient entry against a
    /// central difference of L (in Double). The step is large against float rounding of L.
    func testWinogradGradientsAgainstFiniteDifferences() {
        for s in [shapes[1], shapes[2]] {
            var x = randomFloats(s.inputCount, seed: 171)
            var w = randomFloats(s.weightCount, seed: 172)
            var b = randomFloats(s.outChannels, seed: 173)
            let r = randomFloats(s.outputCount, seed: 174)
            let buffers = Winograd.Buffers(plan: Winograd.Plan(shape: s))
            defer { buffers.deallocate() }
            var y = [Float](repeating: 0, count: s.outputCount)
            func loss(_ x: [Float], _ w: [Float], _ b: [Float]) -> Double {
                Winograd.forward(y: &y, x: x, w: w, b: b, shape: s, buffers: buffers)
                return zip(y, r).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            }
            _ = loss(x, w, b)
            var dx = [Float](repeating: 0, count: x.count), dw = [Float](repeating: 0, count: w.count)
            var db = [Float](repeating: 0, count: b.count)
            dx.withUnsafeMutableBufferPointer { p in
                Winograd.backward(dx: p.baseAddress, dw: &dw, db: &db, dy: r, shape: s, buffers: buffers)
            }
            FiniteDifference.checkConvolution(dx: dx, dw: dw, db: db, x: &x, w: &w, b: &b, name: "\(s)", loss: loss)
        }
    }

    /// Padding lanes and tiles beyond the image hold zeros in the transform domain, so a batch's
    /// images do not depend on each other: an image's output is the same alone and among others.
    func testImagesOfABatchAreIndependent() {
        let s = Conv2D.Shape(batch: 37, inChannels: 8, outChannels: 4, height: 7, width: 7, kernel: 3)
        var one = s
        one.batch = 1
        let x = randomFloats(s.inputCount, seed: 5), w = randomFloats(s.weightCount, seed: 6)
        let b = [Float](repeating: 0, count: s.outChannels)
        let all = Winograd.Buffers(plan: Winograd.Plan(shape: s)), single = Winograd.Buffers(plan: Winograd.Plan(shape: one))
        defer { all.deallocate(); single.deallocate() }
        var y = [Float](repeating: .nan, count: s.outputCount)
        Winograd.forward(y: &y, x: x, w: w, b: b, shape: s, buffers: all)
        let plane = 49, n = 35  // an image of the partial last chunk
        var xn = [Float](), yn = [Float](repeating: .nan, count: one.outputCount)
        for c in 0..<s.inChannels { xn += x[((c * s.batch + n) * plane)..<((c * s.batch + n + 1) * plane)] }
        Winograd.forward(y: &yn, x: xn, w: w, b: b, shape: one, buffers: single)
        for c in 0..<s.outChannels {
            XCTAssertEqual(Array(y[((c * s.batch + n) * plane)..<((c * s.batch + n + 1) * plane)]),
                           Array(yn[(c * plane)..<((c + 1) * plane)]), "channel \(c)")
        }
    }

    /// The CNN with its Winograd layer against the same network on im2col: same initial weights,
    /// logits and gradients within Winograd's float error.
    func testCNNWithWinogradMatchesIm2col() {
        let spec = ModelSpec(kind: .cnn, conv: [4, 8], hidden: [6], channels: 1, side: 12, classes: 10)
        let batch = 20
        let fast = CNN(spec: spec, maxBatch: batch, seed: 9)
        let reference = CNN(spec: spec, maxBatch: batch, seed: 9, allowWinograd: false)
        XCTAssertNil(fast.winograd[0])
        XCTAssertNotNil(fast.winograd[1])
        XCTAssertTrue(reference.winograd.allSatisfy { $0 == nil })
        var rng = Xoshiro256(seed: 4)
        let images = (0..<(batch * spec.pixels)).map { _ in UInt8(rng.nextInt(below: 256)) }
        let labels = (0..<batch).map { UInt8($0 % 10) }
        var results: [[Float]] = []
        for model in [fast, reference] {
            images.withUnsafeBufferPointer { im in
                labels.withUnsafeBufferPointer { lb in
                    model.loadBatch(images: im.baseAddress!, labels: lb.baseAddress!, indices: nil, start: 0, count: batch)
                }
            }
            let logits = model.forward(batch: batch)
            let out = Array(UnsafeBufferPointer(start: logits, count: batch * 10))
            SoftmaxCrossEntropy.backward(logits, labels: model.labels, batch: batch, classes: 10)
            model.backward(batch: batch, optimizer: nil, lr: 0)
            results.append(out + Array(UnsafeBufferPointer(start: model.grads, count: model.parameterCount)))
        }
        XCTAssertLessThan(scaledError(Array(results[0][0..<(batch * 10)]), Array(results[1][0..<(batch * 10)])), 1e-5)
        XCTAssertLessThan(scaledError(Array(results[0][(batch * 10)...]), Array(results[1][(batch * 10)...])), 1e-4)
    }
}
