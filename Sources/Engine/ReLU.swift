/// ReLU, in place: `forward` turns pre-activations into activations; `backward` zeroes the
/// gradient wherever the activation (hence the pre-activation) was not positive.
enum ReLU {
    static func forward(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] = max(x[i], 0) }
    }

    /// `dy` becomes dx, given the layer's output `y` (>= 0). Written on the bit patterns so that
    /// it compiles to packed compare-and-mask instructions: a float >= 0 is > 0 exactly when its
    /// bits, read as a signed integer, are > 0.
    static func backward(_ dy: UnsafeMutablePointer<Float>, y: UnsafePointer<Float>, count: Int) {
        let d = UnsafeMutableRawPointer(dy).assumingMemoryBound(to: UInt32.self)
        let m = UnsafeRawPointer(y).assumingMemoryBound(to: Int32.self)
        for i in 0..<count { d[i] &= UInt32(bitPattern: 0 &- (m[i] > 0 ? 1 : 0)) }
    }

    /// Reference backward.
    static func backwardNaive(_ dy: UnsafeMutablePointer<Float>, y: UnsafePointer<Float>, count: Int) {
        for i in 0..<count where !(y[i] > 0) { dy[i] = 0 }
    }
}
