/// 2-D convolution with an odd square kernel, stride 1 and zero padding `kernel / 2` (the output
/// has the input's height and width). Activations are channel-major across the batch: `x` is
/// `inChannels x batch x height x width`, `y` is `outChannels x batch x height x width`, so that a
/// whole batch is one sgemm per pass. `W` is `outChannels x inChannels x kernel x kernel`
/// (PyTorch's layout), `b` has `outChannels` entries.
///
/// The BLAS pair lowers the convolution to sgemm over a patch matrix (`im2col`,
/// `patch x positions`); the naive pair beside it is the reference for tests.
enum Conv2D {
    struct Shape: Hashable {
        var batch: Int
        var inChannels: Int
        var outChannels: Int
        var height: Int
        var width: Int
        var kernel: Int

        var pad: Int { kernel / 2 }
        /// Rows of the patch matrix: one per input channel and kernel tap.
        var patch: Int { inChannels * kernel * kernel }
        /// Output positions over the batch: the patch matrix's columns.
        var positions: Int { batch * height * width }
        var inputCount: Int { inChannels * positions }
        var outputCount: Int { outChannels * positions }
        var weightCount: Int { outChannels * patch }
    }

    /// `col[(ci·k + ky)·k + kx][b·H·W + y·W + x] = x[ci][b][y + ky - pad][x + kx - pad]`, zero
    /// outside the image. One input plane at a time (it stays in L1) is spread over the k² rows.
    static func im2col(col: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, shape s: Shape) {
        let k = s.kernel, pad = s.pad, h = s.height, w = s.width, plane = h * w
        for ci in 0..<s.inChannels {
            for b in 0..<s.batch {
                let src = x + (ci * s.batch + b) * plane
                for ky in 0..<k {
                    for kx in 0..<k {
                        let dx = kx - pad, dy = ky - pad
                        let x0 = max(0, -dx), x1 = min(w, w - dx)
                        let dst = col + ((ci * k + ky) * k + kx) * s.positions + b * plane
                        for y in 0..<h {
                            let d = dst + y * w
                            let yy = y + dy
                            if yy < 0 || yy >= h || x1 <= x0 {
                                d.update(repeating: 0, count: w)
                                continue
                            }
                            let r = src + yy * w + dx
                            for x in 0..<x0 { d[x] = 0 }
                            for x in x0..<x1 { d[x] = r[x] }
                            for x in x1..<w { d[x] = 0 }
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of `im2col`: `dx` = Σ over the patch entries that read each input element,
    /// one input plane at a time (it stays in L1), taps in a fixed order.
    static func col2im(dx: UnsafeMutablePointer<Float>, col: UnsafePointer<Float>, shape s: Shape) {
        let k = s.kernel, pad = s.pad, h = s.height, w = s.width, plane = h * w
        for ci in 0..<s.inChannels {
            for b in 0..<s.batch {
                let dst = dx + (ci * s.batch + b) * plane
                dst.update(repeating: 0, count: plane)
                for ky in 0..<k {
                    for kx in 0..<k {
                        let dxOff = kx - pad, dyOff = ky - pad
                        let x0 = max(0, -dxOff), x1 = min(w, w - dxOff)
                        let y0 = max(0, -dyOff), y1 = min(h, h - dyOff)
                        if x1 <= x0 { continue }
                        let src = col + ((ci * k + ky) * k + kx) * s.positions + b * plane
                        for y in y0..<y1 {
                            let d = dst + (y + dyOff) * w + dxOff
                            let c = src + y * w
                            for x in x0..<x1 { d[x] += c[x] }
                        }
                    }
                }
            }
        }
    }

    /// y = W ∗ x + b, or W ∗ x when `b` is nil (a following layer adds the bias: see
    /// `BiasReLUMaxPool`). `col` (patch x positions) receives the patch matrix of `x`, which
    /// `backward` needs.
    static func forward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>,
                        w: UnsafePointer<Float>, b: UnsafePointer<Float>?, shape s: Shape) {
        let p = s.positions
        if let b {
            for co in 0..<s.outChannels { (y + co * p).update(repeating: b[co], count: p) }
        }
        let beta: Float = b == nil ? 0 : 1
        if s.kernel == 1 {
            BLAS.sgemm(transA: false, transB: false, m: s.outChannels, n: p, k: s.patch,
                       alpha: 1, a: w, lda: s.patch, b: x, ldb: p, beta: beta, c: y, ldc: p)
            return
        }
        im2col(col: col, x: x, shape: s)
        BLAS.sgemm(transA: false, transB: false, m: s.outChannels, n: p, k: s.patch,
                   alpha: 1, a: w, lda: s.patch, b: col, ldb: p, beta: beta, c: y, ldc: p)
    }

    /// dW = dy · colᵀ + beta · dW, db = Σ dy + beta · db (unless `db` is nil: a fused layer
    /// computed it) and, when `dx` is given, dx = col2im(Wᵀ · dy). `col` must hold the patch
    /// matrix `forward` left there (for a 1x1 kernel, `x` itself is the patch matrix); with `dx`
    /// it is overwritten (scratch).
    static func backward(dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>,
                         db: UnsafeMutablePointer<Float>?, dy: UnsafePointer<Float>,
                         x: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>,
                         w: UnsafePointer<Float>, shape s: Shape, beta: Float = 0) {
        let p = s.positions
        let patches = s.kernel == 1 ? x : UnsafePointer(col)
        BLAS.sgemm(transA: false, transB: true, m: s.outChannels, n: s.patch, k: p,
                   alpha: 1, a: dy, lda: p, b: patches, ldb: p, beta: beta, c: dw, ldc: s.patch)
        if let db {
            for co in 0..<s.outChannels {
                let sum = simdSum(dy + co * p, count: p)
                db[co] = beta == 0 ? sum : beta * db[co] + sum
            }
        }
        if let dx {
            if s.kernel == 1 {
                BLAS.sgemm(transA: true, transB: false, m: s.patch, n: p, k: s.outChannels,
                           alpha: 1, a: w, lda: s.patch, b: dy, ldb: p, beta: 0, c: dx, ldc: p)
            } else {
                BLAS.sgemm(transA: true, transB: false, m: s.patch, n: p, k: s.outChannels,
                           alpha: 1, a: w, lda: s.patch, b: dy, ldb: p, beta: 0, c: col, ldc: p)
                col2im(dx: dx, col: col, shape: s)
            }
        }
    }

    /// The sgemm calls of `forward` and `backward` alone, on the same shapes: the speed floor.
    static func gemmsOnly(y: UnsafeMutablePointer<Float>, col: UnsafeMutablePointer<Float>,
                          dw: UnsafeMutablePointer<Float>, w: UnsafePointer<Float>, shape s: Shape,
                          inputGradient: Bool, beta: Float) {
        let p = s.positions
        BLAS.sgemm(transA: false, transB: false, m: s.outChannels, n: p, k: s.patch,
                   alpha: 1, a: w, lda: s.patch, b: col, ldb: p, beta: 1, c: y, ldc: p)
        BLAS.sgemm(transA: false, transB: true, m: s.outChannels, n: s.patch, k: p,
                   alpha: 1, a: y, lda: p, b: col, ldb: p, beta: beta, c: dw, ldc: s.patch)
        if inputGradient {
            BLAS.sgemm(transA: true, transB: false, m: s.patch, n: p, k: s.outChannels,
                       alpha: 1, a: w, lda: s.patch, b: y, ldb: p, beta: 0, c: col, ldc: p)
        }
    }

    /// Reference forward: the convolution sum, plain loops.
    static func forwardNaive(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                             w: UnsafePointer<Float>, b: UnsafePointer<Float>, shape s: Shape) {
        let k = s.kernel, pad = s.pad, h = s.height, wd = s.width
        for co in 0..<s.outChannels {
            for n in 0..<s.batch {
                for oy in 0..<h {
                    for ox in 0..<wd {
                        var sum = b[co]
                        for ci in 0..<s.inChannels {
                            for ky in 0..<k {
                                let iy = oy + ky - pad
                                if iy < 0 || iy >= h { continue }
                                for kx in 0..<k {
                                    let ix = ox + kx - pad
                                    if ix < 0 || ix >= wd { continue }
                                    sum += w[((co * s.inChannels + ci) * k + ky) * k + kx]
                                        * x[((ci * s.batch + n) * h + iy) * wd + ix]
                                }
                            }
                        }
                        y[((co * s.batch + n) * h + oy) * wd + ox] = sum
                    }
                }
            }
        }
    }

    /// Reference backward: plain loops (same `beta` convention as `backward`).
    static func backwardNaive(dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>,
                              db: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                              x: UnsafePointer<Float>, w: UnsafePointer<Float>, shape s: Shape,
                              beta: Float = 0) {
        let k = s.kernel, pad = s.pad, h = s.height, wd = s.width
        for co in 0..<s.outChannels {
            var sb: Float = 0
            for i in 0..<s.positions { sb += dy[co * s.positions + i] }
            db[co] = sb + (beta == 0 ? 0 : beta * db[co])
            for ci in 0..<s.inChannels {
                for ky in 0..<k {
                    for kx in 0..<k {
                        var sum: Float = 0
                        for n in 0..<s.batch {
                            for oy in 0..<h {
                                let iy = oy + ky - pad
                                if iy < 0 || iy >= h { continue }
                                for ox in 0..<wd {
                                    let ix = ox + kx - pad
                                    if ix < 0 || ix >= wd { continue }
                                    sum += dy[((co * s.batch + n) * h + oy) * wd + ox]
                                        * x[((ci * s.batch + n) * h + iy) * wd + ix]
                                }
                            }
                        }
                        let i = ((co * s.inChannels + ci) * k + ky) * k + kx
                        dw[i] = sum + (beta == 0 ? 0 : beta * dw[i])
                    }
                }
            }
        }
        guard let dx else { return }
        for ci in 0..<s.inChannels {
            for n in 0..<s.batch {
                for iy in 0..<h {
                    for ix in 0..<wd {
                        var sum: Float = 0
                        for co in 0..<s.outChannels {
                            for ky in 0..<k {
                                let oy = iy - ky + pad
                                if oy < 0 || oy >= h { continue }
                                for kx in 0..<k {
                                    let ox = ix - kx + pad
                                    if ox < 0 || ox >= wd { continue }
                                    sum += w[((co * s.inChannels + ci) * k + ky) * k + kx]
                                        * dy[((co * s.batch + n) * h + oy) * wd + ox]
                                }
                            }
                        }
                        dx[((ci * s.batch + n) * h + iy) * wd + ix] = sum
                    }
                }
            }
        }
    }
}

/// Σ p[i] in a fixed order: 16 running lanes, then the lanes, then the tail (a plain loop would
/// be one serial chain of additions). Deterministic.
@inline(__always)
func simdSum(_ p: UnsafePointer<Float>, count n: Int) -> Float {
    var acc = SIMD16<Float>()
    var i = 0
    while i + 16 <= n {
        acc += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self)
        i += 16
    }
    var s = acc.sum()
    while i < n { s += p[i]; i += 1 }
    return s
}

/// Σ p[i] over the i where y[i] > 0, in the order of `simdSum`.
@inline(__always)
func maskedSum(_ p: UnsafePointer<Float>, where y: UnsafePointer<Float>, count n: Int) -> Float {
    var acc = SIMD16<Float>()
    var i = 0
    while i + 16 <= n {
        let v = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self)
        let m = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
        acc += v.replacing(with: 0, where: .!(m .> 0))
        i += 16
    }
    var s = acc.sum()
    while i < n {
        if y[i] > 0 { s += p[i] }
        i += 1
    }
    return s
}
