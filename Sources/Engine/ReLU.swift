/// ReLU, in place: `forward` turns pre-activations into activations; `backward` zeroes the
/// gradient wherever the activation (hence the pre-activation) was not positive.
enum ReLU {
    static func forward(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] = max(x[i], 0) }
    }

    /// `dy` becomes dx, given the layer's output `y`.
    static func backward(_ dy: UnsafeMutablePointer<Float>, y: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { dy[i] = y[i] > 0 ? dy[i] : 0 }
    }
}
