/// The fully connected layer `y = x · Wᵀ + b`, row-major: `x` is `batch x inputs`, `W` is
/// `outputs x inputs` (PyTorch's layout), `b` has `outputs` entries, `y` is `batch x outputs`.
/// The BLAS pair runs on `sgemm`; the naive pair beside it is the reference for tests.
enum Linear {
    /// y = x · Wᵀ + b: the bias is broadcast into `y`, then `sgemm` accumulates with beta = 1.
    static func forward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                        w: UnsafePointer<Float>, b: UnsafePointer<Float>,
                        batch: Int, inputs: Int, outputs: Int) {
        var row = y
        for _ in 0..<batch {
            row.update(from: b, count: outputs)
            row += outputs
        }
        BLAS.sgemm(transA: false, transB: true, m: batch, n: outputs, k: inputs,
                   alpha: 1, a: x, lda: inputs, b: w, ldb: inputs, beta: 1, c: y, ldc: outputs)
    }

    /// dW = dyᵀ · x + beta · dW, db = Σ_rows dy + beta · db, and (when `dx` is given)
    /// dx = dy · W. With beta = 0 (the default) the gradients overwrite; the optimizer may ask
    /// for beta = momentum to accumulate into its momentum buffer.
    static func backward(dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>,
                         db: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                         x: UnsafePointer<Float>, w: UnsafePointer<Float>,
                         batch: Int, inputs: Int, outputs: Int, beta: Float = 0) {
        BLAS.sgemm(transA: true, transB: false, m: outputs, n: inputs, k: batch,
                   alpha: 1, a: dy, lda: outputs, b: x, ldb: inputs, beta: beta, c: dw, ldc: inputs)
        if beta == 0 {
            db.update(repeating: 0, count: outputs)
        } else {
            for j in 0..<outputs { db[j] *= beta }
        }
        var row = dy
        for _ in 0..<batch {
            for j in 0..<outputs { db[j] += row[j] }
            row += outputs
        }
        if let dx {
            BLAS.sgemm(transA: false, transB: false, m: batch, n: inputs, k: outputs,
                       alpha: 1, a: dy, lda: outputs, b: w, ldb: inputs, beta: 0, c: dx, ldc: inputs)
        }
    }

    /// The sgemm calls of `forward` and `backward` alone, on the same shapes: the speed floor.
    static func gemmsOnly(y: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                          dw: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                          w: UnsafePointer<Float>, batch: Int, inputs: Int, outputs: Int, beta: Float) {
        BLAS.sgemm(transA: false, transB: true, m: batch, n: outputs, k: inputs,
                   alpha: 1, a: x, lda: inputs, b: w, ldb: inputs, beta: 1, c: y, ldc: outputs)
        BLAS.sgemm(transA: true, transB: false, m: outputs, n: inputs, k: batch,
                   alpha: 1, a: y, lda: outputs, b: x, ldb: inputs, beta: beta, c: dw, ldc: inputs)
        if let dx {
            BLAS.sgemm(transA: false, transB: false, m: batch, n: inputs, k: outputs,
                       alpha: 1, a: y, lda: outputs, b: w, ldb: inputs, beta: 0, c: dx, ldc: inputs)
        }
    }

    /// Reference forward: plain loops.
    static func forwardNaive(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                             w: UnsafePointer<Float>, b: UnsafePointer<Float>,
                             batch: Int, inputs: Int, outputs: Int) {
        for r in 0..<batch {
            for o in 0..<outputs {
                var s = b[o]
                for i in 0..<inputs { s += x[r * inputs + i] * w[o * inputs + i] }
                y[r * outputs + o] = s
            }
        }
    }

    /// Reference backward: plain loops.
    static func backwardNaive(dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>,
                              db: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                              x: UnsafePointer<Float>, w: UnsafePointer<Float>,
                              batch: Int, inputs: Int, outputs: Int, beta: Float = 0) {
        for o in 0..<outputs {
            var sb: Float = 0
            for r in 0..<batch { sb += dy[r * outputs + o] }
            db[o] = sb + (beta == 0 ? 0 : beta * db[o])
            for i in 0..<inputs {
                var s: Float = 0
                for r in 0..<batch { s += dy[r * outputs + o] * x[r * inputs + i] }
                dw[o * inputs + i] = s + (beta == 0 ? 0 : beta * dw[o * inputs + i])
            }
        }
        if let dx {
            for r in 0..<batch {
                for i in 0..<inputs {
                    var s: Float = 0
                    for o in 0..<outputs { s += dy[r * outputs + o] * w[o * inputs + i] }
                    dx[r * inputs + i] = s
                }
            }
        }
    }
}
