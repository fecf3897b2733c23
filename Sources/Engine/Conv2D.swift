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

/// A convolution's bias, ReLU and 2x2 max pooling fused into one pass over the convolution's
/// raw output `x` (`channels x batch x height x width`, without bias):
/// `y = max(0, max over the window of x + b[channel])`. Adding the bias after the window's
/// maximum gives the same floats (rounding is monotone), and the ReLU after it the same as
/// before it; `backward` sends the gradient to the window's argmax where `y > 0`, which is what
/// ReLU's backward then pooling's backward give (the argmax can differ only where adding the
/// bias rounds two different window values to one float: then both are maxima). The un-fused
/// layers (`ReLU`, `MaxPool2x2`) are the reference.
enum BiasReLUMaxPool {
    static func forward(y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>,
                        x: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                        channels: Int, batch: Int, height: Int, width: Int) {
        let oh = height / 2, ow = width / 2
        var o = 0
        for c in 0..<channels {
            let b = bias[c]
            for n in 0..<batch {
                let base = (c * batch + n) * height * width
                for oy in 0..<oh {
                    let r0 = base + 2 * oy * width
                    if ow >= 8 {
                        // Chunks of 8 outputs; the last one overlaps the one before (same values).
                        var start = 0
                        while true {
                            let from = min(start, ow - 8)
                            window8(y + o + from, argmax + o + from, x, r0 + 2 * from, width, b)
                            if from == ow - 8 { break }
                            start += 8
                        }
                    } else if ow >= 4 {
                        var start = 0
                        while true {
                            let from = min(start, ow - 4)
                            window4(y + o + from, argmax + o + from, x, r0 + 2 * from, width, b)
                            if from == ow - 4 { break }
                            start += 4
                        }
                    } else {
                        for ox in 0..<ow { window1(y + o + ox, argmax + o + ox, x, r0 + 2 * ox, width, b) }
                    }
                    o += ow
                }
            }
        }
    }

    /// One window whose top-left element is `x[i]`.
    @inline(__always)
    static func window1(_ y: UnsafeMutablePointer<Float>, _ argmax: UnsafeMutablePointer<Int32>,
                        _ x: UnsafePointer<Float>, _ i: Int, _ width: Int, _ b: Float) {
        var m = x[i]
        var best = Int32(truncatingIfNeeded: i)
        // First maximum in row-major order; a NaN wins (and stays).
        @inline(__always) func consider(_ j: Int) {
            let v = x[j]
            if (v > m || v != v) && m == m { m = v; best = Int32(truncatingIfNeeded: j) }
        }
        consider(i + 1)
        consider(i + width)
        consider(i + width + 1)
        let v = m + b
        y.pointee = v <= 0 ? 0 : v
        argmax.pointee = best
    }

    /// 8 (or 4) adjacent windows, the first one's top-left element at `x[i]`: loads 16 (8)
    /// floats of each of the two rows and splits them into the windows' left and right columns.
    @inline(__always)
    static func window8(_ y: UnsafeMutablePointer<Float>, _ argmax: UnsafeMutablePointer<Int32>,
                        _ x: UnsafePointer<Float>, _ i: Int, _ width: Int, _ b: Float) {
        let top = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
        let bottom = UnsafeRawPointer(x + i + width).loadUnaligned(as: SIMD16<Float>.self)
        var m = top.evenHalf
        let i0 = SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: i)) &+ SIMD8<Int32>(0, 2, 4, 6, 8, 10, 12, 14)
        var best = i0
        @inline(__always) func consider(_ v: SIMD8<Float>, _ index: SIMD8<Int32>) {
            let take = (v .> m .| v .!= v) .& (m .== m)
            m.replace(with: v, where: take)
            best.replace(with: index, where: take)
        }
        let w = Int32(truncatingIfNeeded: width)
        consider(top.oddHalf, i0 &+ 1)
        consider(bottom.evenHalf, i0 &+ w)
        consider(bottom.oddHalf, i0 &+ (w + 1))
        var v = m + SIMD8(repeating: b)
        v.replace(with: 0, where: v .<= 0)
        UnsafeMutableRawPointer(y).storeBytes(of: v, as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(argmax).storeBytes(of: best, as: SIMD8<Int32>.self)
    }

    @inline(__always)
    static func window4(_ y: UnsafeMutablePointer<Float>, _ argmax: UnsafeMutablePointer<Int32>,
                        _ x: UnsafePointer<Float>, _ i: Int, _ width: Int, _ b: Float) {
        let top = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        let bottom = UnsafeRawPointer(x + i + width).loadUnaligned(as: SIMD8<Float>.self)
        var m = top.evenHalf
        let i0 = SIMD4<Int32>(repeating: Int32(truncatingIfNeeded: i)) &+ SIMD4<Int32>(0, 2, 4, 6)
        var best = i0
        @inline(__always) func consider(_ v: SIMD4<Float>, _ index: SIMD4<Int32>) {
            let take = (v .> m .| v .!= v) .& (m .== m)
            m.replace(with: v, where: take)
            best.replace(with: index, where: take)
        }
        let w = Int32(truncatingIfNeeded: width)
        consider(top.oddHalf, i0 &+ 1)
        consider(bottom.evenHalf, i0 &+ w)
        consider(bottom.oddHalf, i0 &+ (w + 1))
        var v = m + SIMD4(repeating: b)
        v.replace(with: 0, where: v .<= 0)
        UnsafeMutableRawPointer(y).storeBytes(of: v, as: SIMD4<Float>.self)
        UnsafeMutableRawPointer(argmax).storeBytes(of: best, as: SIMD4<Int32>.self)
    }

    /// dx (channels x batch x height x width) = dy routed to each window's argmax where the
    /// output `y` is > 0, zero elsewhere; and, when `db` is given, the bias gradient
    /// `db[c] = Σ dx over channel c + beta · db[c]` (the same sum as over dx, over a quarter of
    /// the elements).
    static func backward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, y: UnsafePointer<Float>,
                         argmax: UnsafePointer<Int32>, channels: Int, batch: Int, height: Int, width: Int,
                         db: UnsafeMutablePointer<Float>? = nil, beta: Float = 0) {
        let plane = height * width, outPlane = (height / 2) * (width / 2)
        for c in 0..<channels {
            // Plane by plane, so that the zeroed plane is still in L1 when the gradient lands in it.
            for p in (c * batch)..<((c + 1) * batch) {
                (dx + p * plane).update(repeating: 0, count: plane)
                for o in (p * outPlane)..<((p + 1) * outPlane) where y[o] > 0 { dx[Int(argmax[o])] = dy[o] }
            }
        }
        if let db { biasGradient(db: db, dy: dy, y: y, channels: channels, perChannel: batch * outPlane, beta: beta) }
    }

    /// `db[c] = Σ dy over channel c where y > 0 + beta · db[c]` (`dy` and `y` are the pooled
    /// output's gradient and the pooled output, `perChannel` entries per channel).
    static func biasGradient(db: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, y: UnsafePointer<Float>,
                             channels: Int, perChannel: Int, beta: Float) {
        for c in 0..<channels {
            let first = c * perChannel
            let sum = maskedSum(dy + first, where: y + first, count: perChannel)
            db[c] = beta == 0 ? sum : beta * db[c] + sum
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
