#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TrainingTypes

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
    /// Steps taken (settable to restore a checkpoint).
    var steps = 0
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

    /// The optimizer `options` ask for, over `count` parameters.
    convenience init(_ options: TrainingOptions, count: Int) {
        self.init(kind: options.optimizer, count: count, momentum: options.momentum, nesterov: options.nesterov,
                  weightDecay: options.weightDecay)
    }

    deinit {
        first.deallocate()
        second.deallocate()
    }

    /// True for SGD with (non-Nesterov) momentum: the weight-gradient sgemm then accumulates
    /// straight into the momentum buffer (`v = momentum * v + g`, via its beta), and the update
    /// pass only adds the weight decay and moves the weights. This saves a stream of memory
    /// traffic per parameter and step; the arithmetic is PyTorch's.
    var accumulatesIntoMomentum: Bool { kind == .sgd && momentum > 0 && !nesterov }

    /// Where the gradient of the parameters at `offset` goes and with which beta:
    /// `target = gradient + beta * target`.
    func gradientTarget(grads: UnsafeMutablePointer<Float>, offset: Int) -> (UnsafeMutablePointer<Float>, Float) {
        accumulatesIntoMomentum ? (first + offset, momentum) : (grads + offset, 0)
    }

    /// Starts a step (Adam's bias correction counts steps).
    func beginStep() { steps += 1 }

    /// One update of `params` from `grads` at rate `lr`, in one fused pass.
    func step(params: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>, lr: Double) {
        beginStep()
        update(params: params, grads: grads, offset: 0, count: count, lr: lr, gradientInMomentum: false)
    }

    /// Updates `count` parameters from `offset` (after `beginStep()`): the gradient is in
    /// `grads`, or, when `gradientInMomentum` (only if `accumulatesIntoMomentum`), already
    /// added into the momentum buffer as `momentum * v + g`.
    func update(params: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>, offset: Int, count n: Int,
                lr: Double, gradientInMomentum: Bool) {
        let lr = Float(lr), wd = weightDecay, mu = momentum
        let params = params + offset, grads = grads + offset
        switch kind {
        case .sgd:
            let buf = first + offset
            if gradientInMomentum && accumulatesIntoMomentum {
                // buf already holds momentum * v + g.
                for i in 0..<n {
                    let v = buf[i] + wd * params[i]
                    buf[i] = v
                    params[i] -= lr * v
                }
            } else if mu == 0 {
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
            let m = first + offset, v = second + offset, b1 = beta1, b2 = beta2, eps = epsilon
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
