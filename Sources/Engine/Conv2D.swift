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
    /// outside the image.
    static func im2col(col: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, shape s: Shape) {
        let k = s.kernel, pad = s.pad, h = s.height, w = s.width, plane = h * w
        var row = col
        for ci in 0..<s.inChannels {
            for ky in 0..<k {
                for kx in 0..<k {
                    let dx = kx - pad, dy = ky - pad
                    let x0 = max(0, -dx), x1 = min(w, w - dx)
                    for b in 0..<s.batch {
                        let src = x + (ci * s.batch + b) * plane
                        let dst = row + b * plane
                        for y in 0..<h {
                            let d = dst + y * w
                            let yy = y + dy
                            if yy < 0 || yy >= h {
                                d.update(repeating: 0, count: w)
                                continue
                            }
                            if x0 > 0 { d.update(repeating: 0, count: x0) }
                            if x1 > x0 { d.advanced(by: x0).update(from: src + yy * w + x0 + dx, count: x1 - x0) }
                            if x1 < w { d.advanced(by: x1).update(repeating: 0, count: w - x1) }
                        }
                    }
                    row += s.positions
                }
            }
        }
    }

    /// The adjoint of `im2col`: `dx` = Σ over the patch entries that read each input element.
    static func col2im(dx: UnsafeMutablePointer<Float>, col: UnsafePointer<Float>, shape s: Shape) {
        let k = s.kernel, pad = s.pad, h = s.height, w = s.width, plane = h * w
        dx.update(repeating: 0, count: s.inputCount)
        var row = col
        for ci in 0..<s.inChannels {
            for ky in 0..<k {
                for kx in 0..<k {
                    let dxOff = kx - pad, dyOff = ky - pad
                    let x0 = max(0, -dxOff), x1 = min(w, w - dxOff)
                    let y0 = max(0, -dyOff), y1 = min(h, h - dyOff)
                    if x1 > x0 {
                        for b in 0..<s.batch {
                            let dst = dx + (ci * s.batch + b) * plane
                            let src = row + b * plane
                            for y in y0..<y1 {
                                let d = dst + (y + dyOff) * w + dxOff
                                let c = src + y * w
                                for x in x0..<x1 { d[x] += c[x] }
                            }
                        }
                    }
                    row += s.positions
                }
            }
        }
    }

    /// y = W ∗ x + b. `col` (patch x positions) receives the patch matrix of `x`, which
    /// `backward` needs.
    static func forward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>,
                        w: UnsafePointer<Float>, b: UnsafePointer<Float>, shape s: Shape) {
        let p = s.positions
        for co in 0..<s.outChannels { (y + co * p).update(repeating: b[co], count: p) }
        if s.kernel == 1 {
            BLAS.sgemm(transA: false, transB: false, m: s.outChannels, n: p, k: s.patch,
                       alpha: 1, a: w, lda: s.patch, b: x, ldb: p, beta: 1, c: y, ldc: p)
            return
        }
        im2col(col: col, x: x, shape: s)
        BLAS.sgemm(transA: false, transB: false, m: s.outChannels, n: p, k: s.patch,
                   alpha: 1, a: w, lda: s.patch, b: col, ldb: p, beta: 1, c: y, ldc: p)
    }

    /// dW = dy · colᵀ + beta · dW, db = Σ dy + beta · db and, when `dx` is given,
    /// dx = col2im(Wᵀ · dy). `col` must hold the patch matrix `forward` left there (for a 1x1
    /// kernel, `x` itself is the patch matrix); with `dx` it is overwritten (scratch).
    static func backward(dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>,
                         db: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                         x: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>,
                         w: UnsafePointer<Float>, shape s: Shape, beta: Float = 0) {
        let p = s.positions
        let patches = s.kernel == 1 ? x : UnsafePointer(col)
        BLAS.sgemm(transA: false, transB: true, m: s.outChannels, n: s.patch, k: p,
                   alpha: 1, a: dy, lda: p, b: patches, ldb: p, beta: beta, c: dw, ldc: s.patch)
        for co in 0..<s.outChannels {
            let row = dy + co * p
            var sum: Float = 0
            for i in 0..<p { sum += row[i] }
            db[co] = beta == 0 ? sum : beta * db[co] + sum
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

/// Max pooling over 2x2 windows with stride 2 (odd trailing rows and columns are dropped, as
/// PyTorch's `MaxPool2d(2)` does), on `planes` independent `height x width` planes (channels x
/// batch). `forward` records, per output, the index in `x` of the window's maximum (the first
/// one in row-major order; a NaN wins, as in PyTorch), which `backward` routes the gradient to.
enum MaxPool2x2 {
    static func outputSide(_ n: Int) -> Int { n / 2 }

    static func forward(y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>,
                        x: UnsafePointer<Float>, planes: Int, height: Int, width: Int) {
        let oh = height / 2, ow = width / 2
        var o = 0
        for p in 0..<planes {
            let base = p * height * width
            for oy in 0..<oh {
                let r0 = base + 2 * oy * width, r1 = r0 + width
                for ox in 0..<ow {
                    var best = r0 + 2 * ox
                    var m = x[best]
                    @inline(__always) func consider(_ i: Int) {
                        let v = x[i]
                        if v > m || (v.isNaN && !m.isNaN) { m = v; best = i }
                    }
                    consider(r0 + 2 * ox + 1)
                    consider(r1 + 2 * ox)
                    consider(r1 + 2 * ox + 1)
                    y[o] = m
                    argmax[o] = Int32(best)
                    o += 1
                }
            }
        }
    }

    /// dx (planes x height x width) = dy routed to each window's maximum, zero elsewhere.
    static func backward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, argmax: UnsafePointer<Int32>,
                         planes: Int, height: Int, width: Int) {
        dx.update(repeating: 0, count: planes * height * width)
        let n = planes * (height / 2) * (width / 2)
        for o in 0..<n { dx[Int(argmax[o])] = dy[o] }
    }

    /// Reference forward: the maximum of each window.
    static func forwardNaive(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                             planes: Int, height: Int, width: Int) {
        let oh = height / 2, ow = width / 2
        for p in 0..<planes {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var m = -Float.infinity
                    for dy in 0..<2 { for dx in 0..<2 { m = max(m, x[(p * height + 2 * oy + dy) * width + 2 * ox + dx]) } }
                    y[(p * oh + oy) * ow + ox] = m
                }
            }
        }
    }

    /// Reference backward: finds each window's first maximum again from `x`.
    static func backwardNaive(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                              planes: Int, height: Int, width: Int) {
        let oh = height / 2, ow = width / 2
        for i in 0..<(planes * height * width) { dx[i] = 0 }
        for p in 0..<planes {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var best = -1
                    for dy in 0..<2 {
                        for dxx in 0..<2 {
                            let i = (p * height + 2 * oy + dy) * width + 2 * ox + dxx
                            if best < 0 || x[i] > x[best] { best = i }
                        }
                    }
                    dx[best] += dy[(p * oh + oy) * ow + ox]
                }
            }
        }
    }
}
