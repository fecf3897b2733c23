/// 3x3 convolution (stride 1, zero padding 1) by Winograd's minimal filtering F(4x4, 3x3)
/// (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016): each 4x4 block of
/// output ("tile") is `Aᵀ [ U ⊙ V ] A` with `U = G g Gᵀ` (6x6, per kernel) and `V = Bᵀ d B` (6x6,
/// per input tile `d`, which overlaps its neighbours by 2). Summed over input channels, the
/// element-wise product becomes, for each of the 36 positions ξ of the 6x6 transform domain,
/// one sgemm `M[ξ] = U[ξ] · V[ξ]` (`outChannels x inChannels` times `inChannels x tiles`): 36
/// multiplications per 16 outputs and input channel instead of 144, 4x fewer (3.06x on a 14x14
/// image, whose 4x4 tiles cover 16x16).
///
/// The backward pass is the adjoint of the same computation (it is the exact gradient of what
/// `forward` computes, up to rounding): `dM = A dY Aᵀ`, then per ξ the weight gradient
/// `dU[ξ] = dM[ξ] · V[ξ]ᵀ` (`dg = Gᵀ dU G`) and the input gradient `dV[ξ] = U[ξ]ᵀ · dM[ξ]`
/// (`dd = B dV Bᵀ`, overlapping tiles added).
///
/// Layout: activations are `channels x batch x height x width` as for `Conv2D`. The batch is cut
/// into chunks of `chunkImages` images (the transform-domain buffers of a chunk stay in cache);
/// within a chunk the images are padded to a multiple of 16 (`lanes`) and the transform domain
/// is `[ξ][channel][tile · paddedImages + image]`, so 16 images of one tile are 16 adjacent
/// floats, which the transforms process as one SIMD vector. Padding lanes hold zeros and add
/// nothing. The input's transform `V` of every chunk is kept from `forward` for the weight
/// gradient; the product `M` (then `dM`) needs one chunk only.
///
/// `forwardNaive` and `backwardNaive` are the same algorithm in plain loops, tile by tile, with
/// the matrices as tables: the reference for the fast transforms; `Conv2D.forwardNaive` is the
/// reference for both.
enum Winograd {
    typealias Lanes = SIMD16<Float>
    static let lanes = 16
    /// Images per chunk (a multiple of `lanes`).
    static let chunkImages = 16
    /// Side of the transform domain (α = m + r − 1 = 4 + 3 − 1).
    static let alpha = 6
    static let positions = 36

    /// Whether a convolution of this shape goes through Winograd (3x3 kernels with enough input
    /// channels for the transform-domain sgemm to pay; the first layer of a grey-scale network,
    /// one input channel, stays on im2col).
    static func applies(to s: Conv2D.Shape) -> Bool { s.kernel == 3 && s.inChannels >= minInputChannels }
    static let minInputChannels = 4

    /// The tiling of one shape.
    struct Plan {
        var shape: Conv2D.Shape
        var tilesHigh: Int { (shape.height + 3) / 4 }
        var tilesWide: Int { (shape.width + 3) / 4 }
        var tilesPerImage: Int { tilesHigh * tilesWide }
        /// Rows and columns of an image zero-padded to whole input tiles (1 before, the rest after).
        var paddedHeight: Int { 4 * tilesHigh + 2 }
        var paddedWidth: Int { 4 * tilesWide + 2 }
        /// Images rounded up to whole SIMD vectors.
        static func padded(_ images: Int) -> Int { (images + 15) / 16 * 16 }
        /// Transform-domain columns of a chunk of `images` images.
        func columns(images: Int) -> Int { tilesPerImage * Plan.padded(images) }
        var chunks: Int { (shape.batch + chunkImages - 1) / chunkImages }
        func chunkRange(_ k: Int) -> Range<Int> { (k * chunkImages)..<min(shape.batch, (k + 1) * chunkImages) }
        /// Floats of `V` (every chunk), of `M` (one chunk), of `U` (and `dU`), of the scratch.
        var inputTransformCount: Int { chunks * positions * inputPlane(columns(images: chunkImages)) }
        var productCount: Int { positions * outputPlane(columns(images: chunkImages)) }
        /// Floats from one position ξ's matrix to the next: the matrix and 16 more, so that the
        /// 36 vectors a transform reads or writes for one tile are not 2^k bytes apart (they would
        /// all fall into the same few cache sets and evict one another).
        func inputPlane(_ columns: Int) -> Int { shape.inChannels * columns + lanes }
        func outputPlane(_ columns: Int) -> Int { shape.outChannels * columns + lanes }
        var weightTransformCount: Int { positions * shape.outChannels * shape.inChannels }
        var scratchCount: Int { 2 * areaCount + positions * lanes + poolAreaCount }
        /// The scratch: the input transform's zero-padded interleaved images (their border stays
        /// zero), a working area of the same size for the others, and 36 vectors between a
        /// transform's column and row passes.
        var areaCount: Int { paddedHeight * paddedWidth * lanes }
        func inputArea(_ scratch: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> { scratch }
        func workArea(_ scratch: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> { scratch + areaCount }
        func tmpArea(_ scratch: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> { scratch + 2 * areaCount }
        /// The fused pooling backward's interleaved window gradients (4 vectors per pooled
        /// position) and a 4x4 tile.
        var poolAreaCount: Int { (4 * (shape.height / 2) * (shape.width / 2) + 16) * lanes }
        func poolArea(_ scratch: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
            scratch + 2 * areaCount + positions * lanes
        }

        /// Multiply-adds per image of one pass's sgemm calls (forward, weight gradient or input
        /// gradient), for batches of whole SIMD vectors (others add their padding lanes).
        var macsPerImagePerPass: Int { positions * shape.outChannels * shape.inChannels * tilesPerImage }
    }

    /// Buffers of one Winograd convolution, for batches of up to `shape.batch` images.
    struct Buffers {
        let v: UnsafeMutablePointer<Float>
        let m: UnsafeMutablePointer<Float>
        let u: UnsafeMutablePointer<Float>
        let du: UnsafeMutablePointer<Float>
        let scratch: UnsafeMutablePointer<Float>

        init(plan: Plan) {
            // Cache-line aligned: the transforms move 16 floats (64 bytes) at a time.
            func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
                let raw = UnsafeMutableRawPointer.allocate(byteCount: 4 * max(1, n), alignment: 64)
                let p = raw.bindMemory(to: Float.self, capacity: max(1, n))
                p.initialize(repeating: 0, count: max(1, n))
                return p
            }
            v = buffer(plan.inputTransformCount)
            m = buffer(plan.productCount)
            u = buffer(plan.weightTransformCount)
            du = buffer(plan.weightTransformCount)
            scratch = buffer(plan.scratchCount)
        }

        func deallocate() { for p in [v, m, u, du, scratch] { UnsafeMutableRawPointer(p).deallocate() } }

        /// Floats every buffer holds for `plan`.
        static func floats(plan: Plan) -> Int {
            plan.inputTransformCount + plan.productCount + 2 * plan.weightTransformCount + plan.scratchCount
        }
    }

    // MARK: The matrices (as tables, for the naive reference and the weight transforms)

    static let bt: [[Float]] = [
        [4, 0, -5, 0, 1, 0],
        [0, -4, -4, 1, 1, 0],
        [0, 4, -4, -1, 1, 0],
        [0, -2, -1, 2, 1, 0],
        [0, 2, -1, -2, 1, 0],
        [0, 4, 0, -5, 0, 1],
    ]
    static let g: [[Float]] = [
        [1.0 / 4, 0, 0],
        [-1.0 / 6, -1.0 / 6, -1.0 / 6],
        [-1.0 / 6, 1.0 / 6, -1.0 / 6],
        [1.0 / 24, 1.0 / 12, 1.0 / 6],
        [1.0 / 24, -1.0 / 12, 1.0 / 6],
        [0, 0, 1],
    ]
    static let at: [[Float]] = [
        [1, 1, 1, 1, 1, 0],
        [0, 1, -1, 2, -2, 0],
        [0, 1, 1, 4, 4, 0],
        [0, 1, -1, 8, -8, 1],
    ]
    /// `g` flattened row-major (6x3), for the hot weight transforms.
    static let gFlat: [Float] = g.flatMap { $0 }

    // MARK: One-dimensional transforms on 16 lanes

    /// `Bᵀ d` for one column `d` of 6.
    @inline(__always)
    static func bTranspose(_ d0: Lanes, _ d1: Lanes, _ d2: Lanes, _ d3: Lanes, _ d4: Lanes, _ d5: Lanes)
        -> (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes) {
        let four = Lanes(repeating: 4), five = Lanes(repeating: 5), two = Lanes(repeating: 2)
        let t1 = d4 - four * d2, t2 = d3 - four * d1
        let t3 = d4 - d2, t4 = two * (d3 - d1)
        return (four * d0 - five * d2 + d4, t1 + t2, t1 - t2, t3 + t4, t3 - t4, four * d1 - five * d3 + d5)
    }

    /// `Aᵀ m` for one column `m` of 6 (4 outputs).
    @inline(__always)
    static func aTranspose(_ m0: Lanes, _ m1: Lanes, _ m2: Lanes, _ m3: Lanes, _ m4: Lanes, _ m5: Lanes)
        -> (Lanes, Lanes, Lanes, Lanes) {
        let a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4
        return (m0 + a + c, b + Lanes(repeating: 2) * d, a + Lanes(repeating: 4) * c, b + Lanes(repeating: 8) * d + m5)
    }

    /// `A y` for one column `y` of 4 (6 outputs): the adjoint of `aTranspose`.
    @inline(__always)
    static func a(_ y0: Lanes, _ y1: Lanes, _ y2: Lanes, _ y3: Lanes) -> (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes) {
        let p = y0 + y2, q = y1 + y3
        let p4 = y0 + Lanes(repeating: 4) * y2, q4 = Lanes(repeating: 2) * y1 + Lanes(repeating: 8) * y3
        return (y0, p + q, p - q, p4 + q4, p4 - q4, y3)
    }

    /// `B v` for one column `v` of 6: the adjoint of `bTranspose`.
    @inline(__always)
    static func b(_ v0: Lanes, _ v1: Lanes, _ v2: Lanes, _ v3: Lanes, _ v4: Lanes, _ v5: Lanes)
        -> (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes) {
        let four = Lanes(repeating: 4), five = Lanes(repeating: 5), two = Lanes(repeating: 2)
        let d12 = v2 - v1, d34 = v3 - v4
        return (four * v0,
                four * (d12 + v5) - two * d34,
                -five * v0 - four * (v1 + v2) - (v3 + v4),
                two * d34 - d12 - five * v5,
                v0 + v1 + v2 + v3 + v4,
                v5)
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Lanes { UnsafeRawPointer(p).loadUnaligned(as: Lanes.self) }
    @inline(__always)
    static func load(_ p: UnsafeMutablePointer<Float>) -> Lanes { UnsafeRawPointer(p).loadUnaligned(as: Lanes.self) }
    @inline(__always)
    static func store(_ v: Lanes, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lanes.self)
    }

    /// `d[i·16] = r[i]` for i < n (one image's row into its lane).
    @inline(__always)
    static func interleaveRow(_ d: UnsafeMutablePointer<Float>, _ r: UnsafePointer<Float>, _ n: Int) {
        var d = d, r = r
        for _ in 0..<n {
            d.pointee = r.pointee
            d += lanes
            r += 1
        }
    }

    /// `d[i] = r[i·16]` for i < n (one lane into its image's row).
    @inline(__always)
    static func deinterleaveRow(_ d: UnsafeMutablePointer<Float>, _ r: UnsafePointer<Float>, _ n: Int) {
        var d = d, r = r
        for _ in 0..<n {
            d.pointee = r.pointee
            d += 1
            r += lanes
        }
    }

    // MARK: Layer transforms

    /// `U[ξ][co][ci] = (G g Gᵀ)[ξ]` for every kernel `g` of `w`.
    static func transformWeights(u: UnsafeMutablePointer<Float>, w: UnsafePointer<Float>, shape s: Conv2D.Shape) {
        let pairs = s.outChannels * s.inChannels
        gFlat.withUnsafeBufferPointer { gp in
            let g = gp.baseAddress!
            for k in 0..<pairs {
                let w9 = w + 9 * k
                // t = G g (6x3), then U = t Gᵀ (6x6).
                var col0 = SIMD8<Float>(), col1 = SIMD8<Float>(), col2 = SIMD8<Float>()
                for i in 0..<6 {
                    let g0 = g[3 * i], g1 = g[3 * i + 1], g2 = g[3 * i + 2]
                    col0[i] = g0 * w9[0] + g1 * w9[3] + g2 * w9[6]
                    col1[i] = g0 * w9[1] + g1 * w9[4] + g2 * w9[7]
                    col2[i] = g0 * w9[2] + g1 * w9[5] + g2 * w9[8]
                }
                for j in 0..<6 {
                    let g0 = g[3 * j], g1 = g[3 * j + 1], g2 = g[3 * j + 2]
                    let row = g0 * col0 + g1 * col1 + g2 * col2
                    for i in 0..<6 { u[(i * 6 + j) * pairs + k] = row[i] }
                }
            }
        }
    }

    /// `dw = Gᵀ dU G + beta · dw` for every kernel.
    static func transformWeightGradient(dw: UnsafeMutablePointer<Float>, du: UnsafePointer<Float>,
                                        shape s: Conv2D.Shape, beta: Float) {
        let pairs = s.outChannels * s.inChannels
        gFlat.withUnsafeBufferPointer { gp in
            let g = gp.baseAddress!
            for k in 0..<pairs {
                // t = Gᵀ dU (3x6), then dg = t G (3x3).
                var t0 = SIMD8<Float>(), t1 = SIMD8<Float>(), t2 = SIMD8<Float>()  // rows 0..2, columns 0..5
                for i in 0..<6 {
                    var row = SIMD8<Float>()
                    for j in 0..<6 { row[j] = du[(i * 6 + j) * pairs + k] }
                    t0 += g[3 * i] * row
                    t1 += g[3 * i + 1] * row
                    t2 += g[3 * i + 2] * row
                }
                let d9 = dw + 9 * k
                @inline(__always) func row(_ r: Int, _ t: SIMD8<Float>) {
                    for c in 0..<3 {
                        var sum: Float = 0
                        for j in 0..<6 { sum += t[j] * g[3 * j + c] }
                        d9[3 * r + c] = beta == 0 ? sum : beta * d9[3 * r + c] + sum
                    }
                }
                row(0, t0); row(1, t1); row(2, t2)
            }
        }
    }

    /// `V` of the chunk of images `first..<first + count` (count ≤ chunkImages) into `v`
    /// (`[ξ][ci][column]`, `columns` columns).
    static func transformInput(v: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, first: Int, count: Int,
                               scratch: UnsafeMutablePointer<Float>, plan: Plan) {
        let s = plan.shape, h = s.height, w = s.width, plane = h * w
        let pw = plan.paddedWidth
        let padded = Plan.padded(count), columns = plan.columns(images: count)
        let tmp = plan.tmpArea(scratch), area = plan.inputArea(scratch)
        let xiStride = plan.inputPlane(columns)
        for ci in 0..<s.inChannels {
            var group = 0
            while group < count {
                let n = min(lanes, count - group)
                // Interleave the group's planes, zero-padded: area[(row·pw + col)·16 + lane]. The
                // border is never written; lanes without an image are zeroed.
                if n < lanes { area.update(repeating: 0, count: plan.areaCount) }
                for lane in 0..<n {
                    let src = x + (ci * s.batch + first + group + lane) * plane
                    for yy in 0..<h {
                        let d = area + ((yy + 1) * pw + 1) * lanes + lane
                        let r = src + yy * w
                        interleaveRow(d, r, w)
                    }
                }
                let out = v + ci * columns + group
                for ty in 0..<plan.tilesHigh {
                    for tx in 0..<plan.tilesWide {
                        let base = area + (4 * ty * pw + 4 * tx) * lanes
                        // Columns: Bᵀ d.
                        for j in 0..<6 {
                            let c = base + j * lanes
                            let r = bTranspose(load(c), load(c + pw * lanes), load(c + 2 * pw * lanes),
                                               load(c + 3 * pw * lanes), load(c + 4 * pw * lanes), load(c + 5 * pw * lanes))
                            store(r.0, tmp + j * lanes); store(r.1, tmp + (6 + j) * lanes)
                            store(r.2, tmp + (12 + j) * lanes); store(r.3, tmp + (18 + j) * lanes)
                            store(r.4, tmp + (24 + j) * lanes); store(r.5, tmp + (30 + j) * lanes)
                        }
                        // Rows: (Bᵀ d) B.
                        let column = out + (ty * plan.tilesWide + tx) * padded
                        for i in 0..<6 {
                            let t = tmp + 6 * i * lanes
                            let r = bTranspose(load(t), load(t + lanes), load(t + 2 * lanes), load(t + 3 * lanes),
                                               load(t + 4 * lanes), load(t + 5 * lanes))
                            let o = column + 6 * i * xiStride
                            store(r.0, o); store(r.1, o + xiStride); store(r.2, o + 2 * xiStride)
                            store(r.3, o + 3 * xiStride); store(r.4, o + 4 * xiStride); store(r.5, o + 5 * xiStride)
                        }
                    }
                }
                group += lanes
            }
        }
    }

    /// `y = Aᵀ M A` (+ `bias`) for the chunk's images, from `m` (`[ξ][co][column]`).
    static func transformOutput(y: UnsafeMutablePointer<Float>, m: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                first: Int, count: Int, scratch: UnsafeMutablePointer<Float>, plan: Plan) {
        let s = plan.shape, h = s.height, w = s.width, plane = h * w
        let ow = 4 * plan.tilesWide
        let padded = Plan.padded(count), columns = plan.columns(images: count)
        let tmp = plan.tmpArea(scratch), scratch = plan.workArea(scratch)
        let xiStride = plan.outputPlane(columns)
        for co in 0..<s.outChannels {
            let b = bias?[co] ?? 0
            var group = 0
            while group < count {
                let n = min(lanes, count - group)
                let src = m + co * columns + group
                for ty in 0..<plan.tilesHigh {
                    for tx in 0..<plan.tilesWide {
                        let column = src + (ty * plan.tilesWide + tx) * padded
                        // Columns: Aᵀ M (4x6).
                        for j in 0..<6 {
                            let c = column + j * xiStride
                            let r = aTranspose(load(c), load(c + 6 * xiStride), load(c + 12 * xiStride),
                                               load(c + 18 * xiStride), load(c + 24 * xiStride), load(c + 30 * xiStride))
                            store(r.0, tmp + j * lanes); store(r.1, tmp + (6 + j) * lanes)
                            store(r.2, tmp + (12 + j) * lanes); store(r.3, tmp + (18 + j) * lanes)
                        }
                        // Rows: (Aᵀ M) A, into the interleaved output tile.
                        let base = scratch + (4 * ty * ow + 4 * tx) * lanes
                        for i in 0..<4 {
                            let t = tmp + 6 * i * lanes
                            let r = aTranspose(load(t), load(t + lanes), load(t + 2 * lanes), load(t + 3 * lanes),
                                               load(t + 4 * lanes), load(t + 5 * lanes))
                            let o = base + i * ow * lanes
                            store(r.0, o); store(r.1, o + lanes); store(r.2, o + 2 * lanes); store(r.3, o + 3 * lanes)
                        }
                    }
                }
                for lane in 0..<n {
                    let dst = y + (co * s.batch + first + group + lane) * plane
                    for yy in 0..<h {
                        let r = scratch + yy * ow * lanes + lane
                        let d = dst + yy * w
                        for xx in 0..<w { d[xx] = r[xx * lanes] + b }
                    }
                }
                group += lanes
            }
        }
    }

    /// `dM = A dY Aᵀ` for the chunk's images into `m` (`[ξ][co][column]`); outputs beyond the
    /// image and padding lanes count as zero.
    static func transformOutputGradient(m: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                        first: Int, count: Int, scratch: UnsafeMutablePointer<Float>, plan: Plan) {
        let s = plan.shape, h = s.height, w = s.width, plane = h * w
        let oh = 4 * plan.tilesHigh, ow = 4 * plan.tilesWide
        let padded = Plan.padded(count), columns = plan.columns(images: count)
        let tmp = plan.tmpArea(scratch), scratch = plan.workArea(scratch)
        let xiStride = plan.outputPlane(columns)
        for co in 0..<s.outChannels {
            var group = 0
            while group < count {
                let n = min(lanes, count - group)
                scratch.update(repeating: 0, count: oh * ow * lanes)
                for lane in 0..<n {
                    let src = dy + (co * s.batch + first + group + lane) * plane
                    for yy in 0..<h {
                        let d = scratch + yy * ow * lanes + lane
                        let r = src + yy * w
                        interleaveRow(d, r, w)
                    }
                }
                let out = m + co * columns + group
                for ty in 0..<plan.tilesHigh {
                    for tx in 0..<plan.tilesWide {
                        let base = scratch + (4 * ty * ow + 4 * tx) * lanes
                        // Columns: A dY (6x4).
                        for j in 0..<4 {
                            let c = base + j * lanes
                            let r = a(load(c), load(c + ow * lanes), load(c + 2 * ow * lanes), load(c + 3 * ow * lanes))
                            store(r.0, tmp + j * lanes); store(r.1, tmp + (4 + j) * lanes)
                            store(r.2, tmp + (8 + j) * lanes); store(r.3, tmp + (12 + j) * lanes)
                            store(r.4, tmp + (16 + j) * lanes); store(r.5, tmp + (20 + j) * lanes)
                        }
                        // Rows: (A dY) Aᵀ.
                        let column = out + (ty * plan.tilesWide + tx) * padded
                        for i in 0..<6 {
                            let t = tmp + 4 * i * lanes
                            let r = a(load(t), load(t + lanes), load(t + 2 * lanes), load(t + 3 * lanes))
                            let o = column + 6 * i * xiStride
                            store(r.0, o); store(r.1, o + xiStride); store(r.2, o + 2 * xiStride)
                            store(r.3, o + 3 * xiStride); store(r.4, o + 4 * xiStride); store(r.5, o + 5 * xiStride)
                        }
                    }
                }
                group += lanes
            }
        }
    }

    /// `dx = Σ over tiles of B dV Bᵀ` (overlaps added, padding dropped) for the chunk's images,
    /// from `dv` (`[ξ][ci][column]`); overwrites the chunk's planes of `dx`.
    static func transformInputGradient(dx: UnsafeMutablePointer<Float>, dv: UnsafePointer<Float>,
                                       first: Int, count: Int, scratch: UnsafeMutablePointer<Float>, plan: Plan) {
        let s = plan.shape, h = s.height, w = s.width, plane = h * w
        let ph = plan.paddedHeight, pw = plan.paddedWidth
        let padded = Plan.padded(count), columns = plan.columns(images: count)
        let tmp = plan.tmpArea(scratch), scratch = plan.workArea(scratch)
        let xiStride = plan.inputPlane(columns)
        for ci in 0..<s.inChannels {
            var group = 0
            while group < count {
                let n = min(lanes, count - group)
                scratch.update(repeating: 0, count: ph * pw * lanes)
                let src = dv + ci * columns + group
                for ty in 0..<plan.tilesHigh {
                    for tx in 0..<plan.tilesWide {
                        let column = src + (ty * plan.tilesWide + tx) * padded
                        // Columns: B dV.
                        for j in 0..<6 {
                            let c = column + j * xiStride
                            let r = b(load(c), load(c + 6 * xiStride), load(c + 12 * xiStride),
                                      load(c + 18 * xiStride), load(c + 24 * xiStride), load(c + 30 * xiStride))
                            store(r.0, tmp + j * lanes); store(r.1, tmp + (6 + j) * lanes)
                            store(r.2, tmp + (12 + j) * lanes); store(r.3, tmp + (18 + j) * lanes)
                            store(r.4, tmp + (24 + j) * lanes); store(r.5, tmp + (30 + j) * lanes)
                        }
                        // Rows: (B dV) Bᵀ, added into the padded interleaved input.
                        let base = scratch + (4 * ty * pw + 4 * tx) * lanes
                        for i in 0..<6 {
                            let t = tmp + 6 * i * lanes
                            let r = b(load(t), load(t + lanes), load(t + 2 * lanes), load(t + 3 * lanes),
                                      load(t + 4 * lanes), load(t + 5 * lanes))
                            let o = base + i * pw * lanes
                            store(load(o) + r.0, o); store(load(o + lanes) + r.1, o + lanes)
                            store(load(o + 2 * lanes) + r.2, o + 2 * lanes); store(load(o + 3 * lanes) + r.3, o + 3 * lanes)
                            store(load(o + 4 * lanes) + r.4, o + 4 * lanes); store(load(o + 5 * lanes) + r.5, o + 5 * lanes)
                        }
                    }
                }
                for lane in 0..<n {
                    let dst = dx + (ci * s.batch + first + group + lane) * plane
                    for yy in 0..<h {
                        let r = scratch + ((yy + 1) * pw + 1) * lanes + lane
                        let d = dst + yy * w
                        deinterleaveRow(d, r, w)
                    }
                }
                group += lanes
            }
        }
    }

    /// `transformOutput` fused with bias, ReLU and 2x2 max-pool: each 4x4 output tile holds 2x2
    /// whole pooling windows (tiles start at multiples of 4), pooled in SIMD over the 16 images
    /// as `BiasReLUMaxPool.window8` does (first maximum in row-major order, a NaN wins; bias after
    /// the maximum, then ReLU). Writes `pooled` (`channels x batch x h/2 x w/2`) and `argmax`
    /// (indices into `channels x batch x h x w`).
    static func transformOutputPooled(pooled: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>,
                                      m: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                      first: Int, count: Int, scratch: UnsafeMutablePointer<Float>, plan: Plan) {
        let s = plan.shape, h = s.height, w = s.width, plane = h * w
        let ph = h / 2, pw = w / 2, pooledPlane = ph * pw
        let padded = Plan.padded(count), columns = plan.columns(images: count)
        let tmp = plan.tmpArea(scratch), tile = plan.workArea(scratch)
        let values = tile + 16 * lanes
        let indices = UnsafeMutableRawPointer(tile + 17 * lanes)  // 16 Int32, stored and read as raw bytes
        let width32 = Int32(truncatingIfNeeded: w)
        let xiStride = plan.outputPlane(columns)
        for co in 0..<s.outChannels {
            let b = Lanes(repeating: bias[co])
            var group = 0
            while group < count {
                let n = min(lanes, count - group)
                let src = m + co * columns + group
                let firstImage = co * s.batch + first + group
                // Where each lane's image starts in the convolution's output layout.
                let planeStarts = SIMD16<Int32>(repeating: Int32(truncatingIfNeeded: firstImage * plane))
                    &+ SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) &* Int32(truncatingIfNeeded: plane)
                for ty in 0..<plan.tilesHigh {
                    for tx in 0..<plan.tilesWide {
                        let column = src + (ty * plan.tilesWide + tx) * padded
                        for j in 0..<6 {
                            let c = column + j * xiStride
                            let r = aTranspose(load(c), load(c + 6 * xiStride), load(c + 12 * xiStride),
                                               load(c + 18 * xiStride), load(c + 24 * xiStride), load(c + 30 * xiStride))
                            store(r.0, tmp + j * lanes); store(r.1, tmp + (6 + j) * lanes)
                            store(r.2, tmp + (12 + j) * lanes); store(r.3, tmp + (18 + j) * lanes)
                        }
                        // The 4x4 tile: tile[(row·4 + col)·16 + lane].
                        for i in 0..<4 {
                            let t = tmp + 6 * i * lanes
                            let r = aTranspose(load(t), load(t + lanes), load(t + 2 * lanes), load(t + 3 * lanes),
                                               load(t + 4 * lanes), load(t + 5 * lanes))
                            let o = tile + 4 * i * lanes
                            store(r.0, o); store(r.1, o + lanes); store(r.2, o + 2 * lanes); store(r.3, o + 3 * lanes)
                        }
                        for wy in 0..<2 {
                            let py = 2 * ty + wy
                            if py >= ph { break }
                            for wx in 0..<2 {
                                let px = 2 * tx + wx
                                if px >= pw { break }
                                let top = tile + (8 * wy + 2 * wx) * lanes, bottom = top + 4 * lanes
                                var best = load(top)
                                var code = SIMD16<Int32>(repeating: 0)
                                @inline(__always) func consider(_ v: Lanes, _ k: Int32) {
                                    let take = (v .> best .| v .!= v) .& (best .== best)
                                    best.replace(with: v, where: take)
                                    code.replace(with: SIMD16(repeating: k), where: take)
                                }
                                consider(load(top + lanes), 1)
                                consider(load(bottom), 2)
                                consider(load(bottom + lanes), 3)
                                var v = best + b
                                v.replace(with: 0, where: v .<= 0)
                                let corner = Int32(truncatingIfNeeded: 2 * py * w + 2 * px)
                                let index = planeStarts &+ corner &+ (code &>> 1) &* width32 &+ (code & 1)
                                // Through memory: extracting lanes from registers in the loop spills them every time.
                                store(v, values)
                                indices.storeBytes(of: index, as: SIMD16<Int32>.self)
                                var o = firstImage * pooledPlane + py * pw + px
                                for lane in 0..<n {
                                    pooled[o] = values[lane]
                                    argmax[o] = indices.load(fromByteOffset: 4 * lane, as: Int32.self)
                                    o += pooledPlane
                                }
                            }
                        }
                    }
                }
                group += lanes
            }
        }
    }

    /// `transformOutputGradient` of the gradient `BiasReLUMaxPool.backward` would give (each
    /// pooled output's gradient at its window's argmax where the pooled output is > 0, zero
    /// elsewhere), built tile by tile without storing it.
    static func transformPooledGradient(m: UnsafeMutablePointer<Float>, dPooled: UnsafePointer<Float>,
                                        pooled: UnsafePointer<Float>, argmax: UnsafePointer<Int32>,
                                        first: Int, count: Int, scratch: UnsafeMutablePointer<Float>, plan: Plan) {
        let s = plan.shape, h = s.height, w = s.width, plane = h * w
        let ph = h / 2, pw = w / 2, pooledPlane = ph * pw
        let padded = Plan.padded(count), columns = plan.columns(images: count)
        let tmp = plan.tmpArea(scratch)
        // gradients[(p·4 + q)·16 + lane]: the gradient of window p's position q (2·row + column),
        // i.e. the pooled gradient at the window's maximum where the ReLU passed, zero elsewhere;
        // tile[(row·4 + col)·16 + lane]: dY of one tile.
        let gradients = plan.poolArea(scratch)
        let tile = gradients + 4 * pooledPlane * lanes
        let xiStride = plan.outputPlane(columns)
        for co in 0..<s.outChannels {
            var group = 0
            while group < count {
                let n = min(lanes, count - group)
                let out = m + co * columns + group
                let firstImage = co * s.batch + first + group
                if n < lanes { gradients.update(repeating: 0, count: 4 * pooledPlane * lanes) }
                for lane in 0..<n {
                    let image = firstImage + lane
                    var o = image * pooledPlane
                    var d = gradients + lane
                    let start = image * plane
                    for py in 0..<ph {
                        for px in 0..<pw {
                            let offset = Int(argmax[o]) - start - 2 * py * w - 2 * px  // 0, 1, w or w + 1
                            let row = offset >= w ? 1 : 0
                            let q = 2 * row + offset - row * w
                            d[0] = 0; d[lanes] = 0; d[2 * lanes] = 0; d[3 * lanes] = 0
                            // Branch-free: whether the ReLU passed is data, not predictable.
                            d[q * lanes] = pooled[o] > 0 ? dPooled[o] : 0
                            o += 1
                            d += 4 * lanes
                        }
                    }
                }
                for ty in 0..<plan.tilesHigh {
                    for tx in 0..<plan.tilesWide {
                        // Each window's gradient to the position of its maximum, zero elsewhere
                        // (and in windows beyond the pooled output).
                        for wy in 0..<2 {
                            let py = 2 * ty + wy
                            for wx in 0..<2 {
                                let px = 2 * tx + wx
                                let window = tile + (8 * wy + 2 * wx) * lanes
                                if py >= ph || px >= pw {
                                    store(Lanes(), window); store(Lanes(), window + lanes)
                                    store(Lanes(), window + 4 * lanes); store(Lanes(), window + 5 * lanes)
                                    continue
                                }
                                let g = gradients + 4 * (py * pw + px) * lanes
                                store(load(g), window); store(load(g + lanes), window + lanes)
                                store(load(g + 2 * lanes), window + 4 * lanes); store(load(g + 3 * lanes), window + 5 * lanes)
                            }
                        }
                        for j in 0..<4 {
                            let c = tile + j * lanes
                            let r = a(load(c), load(c + 4 * lanes), load(c + 8 * lanes), load(c + 12 * lanes))
                            store(r.0, tmp + j * lanes); store(r.1, tmp + (4 + j) * lanes)
                            store(r.2, tmp + (8 + j) * lanes); store(r.3, tmp + (12 + j) * lanes)
                            store(r.4, tmp + (16 + j) * lanes); store(r.5, tmp + (20 + j) * lanes)
                        }
                        let column = out + (ty * plan.tilesWide + tx) * padded
                        for i in 0..<6 {
                            let t = tmp + 4 * i * lanes
                            let r = a(load(t), load(t + lanes), load(t + 2 * lanes), load(t + 3 * lanes))
                            let o = column + 6 * i * xiStride
                            store(r.0, o); store(r.1, o + xiStride); store(r.2, o + 2 * xiStride)
                            store(r.3, o + 3 * xiStride); store(r.4, o + 4 * xiStride); store(r.5, o + 5 * xiStride)
                        }
                    }
                }
                group += lanes
            }
        }
    }

    // MARK: The layer

    /// Offset of chunk `k`'s `V` in the whole-batch buffer.
    @inline(__always)
    static func chunkOffset(_ k: Int, plan: Plan) -> Int {
        k * positions * plan.inputPlane(plan.columns(images: chunkImages))
    }

    /// y = W ∗ x + b (or W ∗ x when `b` is nil), as `Conv2D.forward`. Leaves `U` in `buffers.u`
    /// and every chunk's `V` in `buffers.v`, which `backward` needs.
    static func forward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, w: UnsafePointer<Float>,
                        b: UnsafePointer<Float>?, shape s: Conv2D.Shape, buffers: Buffers) {
        forwardChunks(x: x, w: w, shape: s, buffers: buffers) { plan, first, count in
            transformOutput(y: y, m: buffers.m, bias: b, first: first, count: count, scratch: buffers.scratch, plan: plan)
        }
    }

    /// `forward` fused with the block's bias, ReLU and 2x2 max-pool (`BiasReLUMaxPool.forward`,
    /// same floats, same argmax indices into the convolution's output layout): the convolution's
    /// output is never stored.
    static func forwardPooled(pooled: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>,
                              x: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                              shape s: Conv2D.Shape, buffers: Buffers) {
        forwardChunks(x: x, w: w, shape: s, buffers: buffers) { plan, first, count in
            transformOutputPooled(pooled: pooled, argmax: argmax, m: buffers.m, bias: bias, first: first, count: count,
                                  scratch: buffers.scratch, plan: plan)
        }
    }

    /// The forward pass up to each chunk's `M`, which `output` turns into the layer's output.
    @inline(__always)
    static func forwardChunks(x: UnsafePointer<Float>, w: UnsafePointer<Float>, shape s: Conv2D.Shape,
                              buffers: Buffers, output: (Plan, Int, Int) -> Void) {
        precondition(s.kernel == 3)
        let plan = Plan(shape: s)
        transformWeights(u: buffers.u, w: w, shape: s)
        for k in 0..<plan.chunks {
            let range = plan.chunkRange(k), columns = plan.columns(images: range.count)
            let v = buffers.v + chunkOffset(k, plan: plan)
            transformInput(v: v, x: x, first: range.lowerBound, count: range.count, scratch: buffers.scratch, plan: plan)
            for xi in 0..<positions {
                BLAS.sgemm(transA: false, transB: false, m: s.outChannels, n: columns, k: s.inChannels,
                           alpha: 1, a: buffers.u + xi * s.outChannels * s.inChannels, lda: s.inChannels,
                           b: v + xi * plan.inputPlane(columns), ldb: columns,
                           beta: 0, c: buffers.m + xi * plan.outputPlane(columns), ldc: columns)
            }
            output(plan, range.lowerBound, range.count)
        }
    }

    /// dW = ∂/∂W + beta · dW, db = Σ dy + beta · db (unless `db` is nil) and, when `dx` is given,
    /// dx = ∂/∂x, as `Conv2D.backward`. `buffers` must hold what `forward` left there (`V` is
    /// overwritten).
    static func backward(dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>,
                         db: UnsafeMutablePointer<Float>?, dy: UnsafePointer<Float>,
                         shape s: Conv2D.Shape, buffers: Buffers, beta: Float = 0) {
        backwardChunks(dx: dx, dw: dw, shape: s, buffers: buffers, beta: beta) { plan, first, count in
            transformOutputGradient(m: buffers.m, dy: dy, first: first, count: count, scratch: buffers.scratch, plan: plan)
        }
        if let db {
            let p = s.positions
            for co in 0..<s.outChannels {
                let sum = simdSum(dy + co * p, count: p)
                db[co] = beta == 0 ? sum : beta * db[co] + sum
            }
        }
    }

    /// `backward` fused with `BiasReLUMaxPool.backward`: from the gradient of the pooled output
    /// `dPooled`, the pooled output and the argmax indices `forwardPooled` left; `db` is the bias
    /// gradient as `BiasReLUMaxPool.backward` computes it (same floats). `dx` must not overlap
    /// `dPooled`.
    static func backwardPooled(dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>,
                               db: UnsafeMutablePointer<Float>, dPooled: UnsafePointer<Float>,
                               pooled: UnsafePointer<Float>, argmax: UnsafePointer<Int32>,
                               shape s: Conv2D.Shape, buffers: Buffers, beta: Float = 0) {
        backwardChunks(dx: dx, dw: dw, shape: s, buffers: buffers, beta: beta) { plan, first, count in
            transformPooledGradient(m: buffers.m, dPooled: dPooled, pooled: pooled, argmax: argmax, first: first,
                                    count: count, scratch: buffers.scratch, plan: plan)
        }
        BiasReLUMaxPool.biasGradient(db: db, dy: dPooled, y: pooled, channels: s.outChannels,
                                     perChannel: s.batch * (s.height / 2) * (s.width / 2), beta: beta)
    }

    /// The backward pass from each chunk's `dM`, which `outputGradient` writes into `buffers.m`.
    @inline(__always)
    static func backwardChunks(dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>,
                               shape s: Conv2D.Shape, buffers: Buffers, beta: Float,
                               outputGradient: (Plan, Int, Int) -> Void) {
        let plan = Plan(shape: s)
        for k in 0..<plan.chunks {
            let range = plan.chunkRange(k), columns = plan.columns(images: range.count)
            let v = buffers.v + chunkOffset(k, plan: plan)
            outputGradient(plan, range.lowerBound, range.count)
            for xi in 0..<positions {
                BLAS.sgemm(transA: false, transB: true, m: s.outChannels, n: s.inChannels, k: columns,
                           alpha: 1, a: buffers.m + xi * plan.outputPlane(columns), lda: columns,
                           b: v + xi * plan.inputPlane(columns), ldb: columns,
                           beta: k == 0 ? 0 : 1, c: buffers.du + xi * s.outChannels * s.inChannels, ldc: s.inChannels)
            }
            if let dx {
                for xi in 0..<positions {
                    BLAS.sgemm(transA: true, transB: false, m: s.inChannels, n: columns, k: s.outChannels,
                               alpha: 1, a: buffers.u + xi * s.outChannels * s.inChannels, lda: s.inChannels,
                               b: buffers.m + xi * plan.outputPlane(columns), ldb: columns,
                               beta: 0, c: v + xi * plan.inputPlane(columns), ldc: columns)
                }
                transformInputGradient(dx: dx, dv: v, first: range.lowerBound, count: range.count,
                                       scratch: buffers.scratch, plan: plan)
            }
        }
        transformWeightGradient(dw: dw, du: buffers.du, shape: s, beta: beta)
    }

    /// The sgemm calls of `forward` and `backward` alone, on the same shapes: the speed floor.
    static func gemmsOnly(buffers: Buffers, shape s: Conv2D.Shape, inputGradient: Bool) {
        let plan = Plan(shape: s)
        for k in 0..<plan.chunks {
            let columns = plan.columns(images: plan.chunkRange(k).count)
            let v = buffers.v + chunkOffset(k, plan: plan)
            for xi in 0..<positions {
                BLAS.sgemm(transA: false, transB: false, m: s.outChannels, n: columns, k: s.inChannels,
                           alpha: 1, a: buffers.u + xi * s.outChannels * s.inChannels, lda: s.inChannels,
                           b: v + xi * plan.inputPlane(columns), ldb: columns,
                           beta: 0, c: buffers.m + xi * plan.outputPlane(columns), ldc: columns)
            }
            for xi in 0..<positions {
                BLAS.sgemm(transA: false, transB: true, m: s.outChannels, n: s.inChannels, k: columns,
                           alpha: 1, a: buffers.m + xi * plan.outputPlane(columns), lda: columns,
                           b: v + xi * plan.inputPlane(columns), ldb: columns,
                           beta: k == 0 ? 0 : 1, c: buffers.du + xi * s.outChannels * s.inChannels, ldc: s.inChannels)
            }
            if inputGradient {
                for xi in 0..<positions {
                    BLAS.sgemm(transA: true, transB: false, m: s.inChannels, n: columns, k: s.outChannels,
                               alpha: 1, a: buffers.u + xi * s.outChannels * s.inChannels, lda: s.inChannels,
                               b: buffers.m + xi * plan.outputPlane(columns), ldb: columns,
                               beta: 0, c: v + xi * plan.inputPlane(columns), ldc: columns)
                }
            }
        }
    }

    // MARK: Naive reference: the same algorithm, tile by tile, matrices as tables

    /// `out = L · X · Rᵀ` for small row-major matrices (`L` is p x q, `X` q x r, `R` s x r).
    static func sandwich(_ l: [[Float]], _ x: [[Float]], _ r: [[Float]]) -> [[Float]] {
        let lx = l.map { row in (0..<x[0].count).map { j in (0..<x.count).reduce(Float(0)) { $0 + row[$1] * x[$1][j] } } }
        return lx.map { row in r.map { rrow in (0..<row.count).reduce(Float(0)) { $0 + row[$1] * rrow[$1] } } }
    }

    static func transposed(_ m: [[Float]]) -> [[Float]] {
        (0..<m[0].count).map { j in m.map { $0[j] } }
    }

    /// Reference forward: for every image, output channel and 4x4 tile, `Aᵀ [Σ_ci (G g Gᵀ) ⊙
    /// (Bᵀ d Bᵀᵀ)] A`, with `d` read from the zero-padded input.
    static func forwardNaive(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, w: UnsafePointer<Float>,
                             b: UnsafePointer<Float>, shape s: Conv2D.Shape) {
        let plan = Plan(shape: s), h = s.height, wd = s.width
        func kernel(_ co: Int, _ ci: Int) -> [[Float]] {
            (0..<3).map { ky in (0..<3).map { kx in w[((co * s.inChannels + ci) * 3 + ky) * 3 + kx] } }
        }
        func inputTile(_ n: Int, _ ci: Int, _ ty: Int, _ tx: Int) -> [[Float]] {
            (0..<6).map { i in
                (0..<6).map { j in
                    let yy = 4 * ty - 1 + i, xx = 4 * tx - 1 + j
                    return yy < 0 || yy >= h || xx < 0 || xx >= wd ? 0 : x[((ci * s.batch + n) * h + yy) * wd + xx]
                }
            }
        }
        let us = (0..<s.outChannels).map { co in (0..<s.inChannels).map { ci in sandwich(g, kernel(co, ci), g) } }
        for n in 0..<s.batch {
            for ty in 0..<plan.tilesHigh {
                for tx in 0..<plan.tilesWide {
                    let vs = (0..<s.inChannels).map { ci in sandwich(bt, inputTile(n, ci, ty, tx), bt) }
                    for co in 0..<s.outChannels {
                        var m = [[Float]](repeating: [Float](repeating: 0, count: 6), count: 6)
                        for ci in 0..<s.inChannels {
                            for i in 0..<6 { for j in 0..<6 { m[i][j] += us[co][ci][i][j] * vs[ci][i][j] } }
                        }
                        let out = sandwich(at, m, at)
                        for i in 0..<4 {
                            for j in 0..<4 {
                                let yy = 4 * ty + i, xx = 4 * tx + j
                                if yy < h && xx < wd { y[((co * s.batch + n) * h + yy) * wd + xx] = out[i][j] + b[co] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Reference backward (same conventions as `backward`): the adjoint of `forwardNaive`, tile by
    /// tile.
    static func backwardNaive(dx: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>,
                              db: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                              w: UnsafePointer<Float>, shape s: Conv2D.Shape, beta: Float = 0) {
        let plan = Plan(shape: s), h = s.height, wd = s.width
        let a = transposed(at), b = transposed(bt), gt = transposed(g)
        func kernel(_ co: Int, _ ci: Int) -> [[Float]] {
            (0..<3).map { ky in (0..<3).map { kx in w[((co * s.inChannels + ci) * 3 + ky) * 3 + kx] } }
        }
        let us = (0..<s.outChannels).map { co in (0..<s.inChannels).map { ci in sandwich(g, kernel(co, ci), g) } }
        let zero6 = [[Float]](repeating: [Float](repeating: 0, count: 6), count: 6)
        var dus = [[[[Float]]]](repeating: [[[Float]]](repeating: zero6, count: s.inChannels), count: s.outChannels)
        if let dx { for i in 0..<s.inputCount { dx[i] = 0 } }
        for n in 0..<s.batch {
            for ty in 0..<plan.tilesHigh {
                for tx in 0..<plan.tilesWide {
                    let vs = (0..<s.inChannels).map { ci in
                        sandwich(bt, (0..<6).map { i in
                            (0..<6).map { j in
                                let yy = 4 * ty - 1 + i, xx = 4 * tx - 1 + j
                                return yy < 0 || yy >= h || xx < 0 || xx >= wd ? 0 : x[((ci * s.batch + n) * h + yy) * wd + xx]
                            }
                        }, bt)
                    }
                    let dms = (0..<s.outChannels).map { co in
                        sandwich(a, (0..<4).map { i in
                            (0..<4).map { j in
                                let yy = 4 * ty + i, xx = 4 * tx + j
                                return yy < h && xx < wd ? dy[((co * s.batch + n) * h + yy) * wd + xx] : 0
                            }
                        }, a)
                    }
                    for co in 0..<s.outChannels {
                        for ci in 0..<s.inChannels {
                            for i in 0..<6 { for j in 0..<6 { dus[co][ci][i][j] += dms[co][i][j] * vs[ci][i][j] } }
                        }
                    }
                    guard let dx else { continue }
                    for ci in 0..<s.inChannels {
                        var dv = zero6
                        for co in 0..<s.outChannels {
                            for i in 0..<6 { for j in 0..<6 { dv[i][j] += us[co][ci][i][j] * dms[co][i][j] } }
                        }
                        let dd = sandwich(b, dv, b)
                        for i in 0..<6 {
                            for j in 0..<6 {
                                let yy = 4 * ty - 1 + i, xx = 4 * tx - 1 + j
                                if yy >= 0 && yy < h && xx >= 0 && xx < wd { dx[((ci * s.batch + n) * h + yy) * wd + xx] += dd[i][j] }
                            }
                        }
                    }
                }
            }
        }
        for co in 0..<s.outChannels {
            for ci in 0..<s.inChannels {
                let dg = sandwich(gt, dus[co][ci], gt)
                for ky in 0..<3 {
                    for kx in 0..<3 {
                        let i = ((co * s.inChannels + ci) * 3 + ky) * 3 + kx
                        dw[i] = dg[ky][kx] + (beta == 0 ? 0 : beta * dw[i])
                    }
                }
            }
            var sb: Float = 0
            for i in 0..<s.positions { sb += dy[co * s.positions + i] }
            db[co] = sb + (beta == 0 ? 0 : beta * db[co])
        }
    }
}
