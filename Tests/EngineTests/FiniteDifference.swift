import XCTest

/// Central finite differences: the engine tests' one gradient oracle. A value is reached through
/// `read`/`write` (an array element, a model parameter), moved to v + h and v − h (rounded to Float,
/// as the model holds it), and the loss (summed in Double) is evaluated at both.
enum FiniteDifference {
    /// (L(v + h) − L(v − h)) / 2h; the value is restored afterwards.
    static func central(step h: Float, read: () -> Float, write: (Float) -> Void, loss: () -> Double) -> Double {
        let saved = read()
        write(saved + h)
        let up = loss()
        write(saved - h)
        let down = loss()
        write(saved)
        return (up - down) / Double(2 * h)
    }

    /// The tolerance `t · max(1, |numeric|)`: absolute for small gradients, relative for large ones.
    static func scaled(_ t: Double) -> (Double) -> Double { { t * max(1, abs($0)) } }

    /// The tolerance `t`, whatever the gradient.
    static func absolute(_ t: Double) -> (Double) -> Double { { _ in t } }

    /// Asserts `analytic[i]` equals the central difference within `accuracy(numeric)`, for each
    /// index; `message(i)` names the entry in a failure. Answers how many entries were checked.
    @discardableResult
    static func check(_ analytic: [Float], at indices: some Sequence<Int>, step: Float,
                      read: (Int) -> Float, write: (Int, Float) -> Void, loss: () -> Double,
                      accuracy: (Double) -> Double, _ message: (Int) -> String,
                      file: StaticString = #filePath, line: UInt = #line) -> Int {
        var checked = 0
        for i in indices {
            let numeric = central(step: step, read: { read(i) }, write: { write(i, $0) }, loss: loss)
            XCTAssertEqual(Double(analytic[i]), numeric, accuracy: accuracy(numeric), message(i), file: file, line: line)
            checked += 1
        }
        return checked
    }

    /// A convolution's three gradients against central differences of `loss(x, w, b)`: about 40
    /// entries each of dx, dW and db, step 1e-2, tolerance `scaled(2e-3)`; `name` (the shape)
    /// names them in a failure. The values are moved in `x`, `w` and `b` and restored.
    static func checkConvolution(dx: [Float], dw: [Float], db: [Float], x: inout [Float], w: inout [Float], b: inout [Float],
                                 name: String, loss: ([Float], [Float], [Float]) -> Double,
                                 file: StaticString = #filePath, line: UInt = #line) {
        let h: Float = 1e-2, tolerance = scaled(2e-3)
        check(dx, at: sample(dx.count, about: 40), step: h, read: { x[$0] }, write: { x[$0] = $1 },
              loss: { loss(x, w, b) }, accuracy: tolerance, { "dx[\($0)] \(name)" }, file: file, line: line)
        check(dw, at: sample(dw.count, about: 40), step: h, read: { w[$0] }, write: { w[$0] = $1 },
              loss: { loss(x, w, b) }, accuracy: tolerance, { "dW[\($0)] \(name)" }, file: file, line: line)
        check(db, at: sample(db.count, about: 40), step: h, read: { b[$0] }, write: { b[$0] = $1 },
              loss: { loss(x, w, b) }, accuracy: tolerance, { "db[\($0)] \(name)" }, file: file, line: line)
    }

    /// Every `n / samples`-th index of `0..<n` (all of them when n ≤ samples).
    static func sample(_ n: Int, about samples: Int) -> StrideTo<Int> {
        stride(from: 0, to: n, by: max(1, n / samples))
    }
}
