#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The optimizers a run can use.
public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
    /// SGD with momentum (optionally Nesterov), exactly as PyTorch's `torch.optim.SGD`.
    case sgd
    /// Adam (betas 0.9, 0.999, eps 1e-8), with L2 weight decay added to the gradient as in `torch.optim.Adam`.
    case adam
}

/// One optimizer over a flat parameter vector, with its state allocated once. The learning rate
/// is an argument of every step; weight decay (L2) is added to the gradient of every parameter,
/// biases included, as PyTorch does.
final class Optimizer {
    let kind: OptimizerKind
    let count: Int
    let momentum: Float
    let nesterov: Bool
    let weightDecay: Float
    let beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8
    private(set) var steps = 0
    /// SGD: the momentum buffer. Adam: the first moment.
    let first: UnsafeMutablePointer<Float>
    /// Adam: the second moment (unused by SGD).
    let second: UnsafeMutablePointer<Float>

    init(kind: OptimizerKind, count: Int, momentum: Double, nesterov: Bool, weightDecay: Double) {
        self.kind = kind
        self.count = count
        self.momentum = Float(momentum)
        self.nesterov = nesterov
        self.weightDecay = Float(weightDecay)
        first = .allocate(capacity: count)
        first.initialize(repeating: 0, count: count)
        second = .allocate(capacity: kind == .adam ? count : 1)
        second.initialize(repeating: 0, count: kind == .adam ? count : 1)
    }

    deinit {
        first.deallocate()
        second.deallocate()
    }

    /// One update of `params` from `grads` at rate `lr`, in one fused pass.
    func step(params: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>, lr: Double) {
        steps += 1
        let lr = Float(lr), wd = weightDecay, mu = momentum
        let n = count
        switch kind {
        case .sgd:
            let buf = first
            if mu == 0 {
                for i in 0..<n { params[i] -= lr * (grads[i] + wd * params[i]) }
            } else if steps == 1 {
                // PyTorch starts the momentum buffer at the first gradient.
                for i in 0..<n {
                    let d = grads[i] + wd * params[i]
                    buf[i] = d
                    params[i] -= lr * (nesterov ? d + mu * d : d)
                }
            } else if nesterov {
                for i in 0..<n {
                    let d = grads[i] + wd * params[i]
                    let v = mu * buf[i] + d
                    buf[i] = v
                    params[i] -= lr * (d + mu * v)
                }
            } else {
                for i in 0..<n {
                    let v = mu * buf[i] + (grads[i] + wd * params[i])
                    buf[i] = v
                    params[i] -= lr * v
                }
            }
        case .adam:
            let m = first, v = second, b1 = beta1, b2 = beta2, eps = epsilon
            let t = Float(steps)
            let correction1 = 1 - powf(b1, t)
            let sqrtCorrection2 = sqrtf(1 - powf(b2, t))
            let stepSize = lr / correction1
            for i in 0..<n {
                let g = grads[i] + wd * params[i]
                let mi = b1 * m[i] + (1 - b1) * g
                let vi = b2 * v[i] + (1 - b2) * g * g
                m[i] = mi
                v[i] = vi
                params[i] -= stepSize * mi / (sqrtf(vi) / sqrtCorrection2 + eps)
            }
        }
    }
}
