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
