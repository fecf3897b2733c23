/// Softmax followed by the mean cross-entropy over the batch.
enum SoftmaxCrossEntropy {
    /// Replaces `logits` (batch x classes) by the probabilities; answers the summed loss (in
    /// Double, summed over the batch) and the number of rows whose arg-max is the label.
    static func forward(_ logits: UnsafeMutablePointer<Float>, labels: UnsafePointer<UInt8>,
                        batch: Int, classes: Int) -> (lossSum: Double, correct: Int) {
        var lossSum = 0.0
        var correct = 0
        var row = logits
        for r in 0..<batch {
            var maxValue = row[0]
            var argmax = 0
            for j in 1..<classes where row[j] > maxValue {
                maxValue = row[j]
                argmax = j
            }
            // A NaN logit never wins the comparison above; make the loss say so.
            let label = Int(labels[r])
            let shiftedLabelLogit = row[label] - maxValue
            var sum: Float = 0
            for j in 0..<classes {
                let e = expf(row[j] - maxValue)
                row[j] = e
                sum += e
            }
            let inv = 1 / sum
            for j in 0..<classes { row[j] *= inv }
            // -log p_label = log Σ exp(z - max) - (z_label - max).
            lossSum += Double(logf(sum)) - Double(shiftedLabelLogit)
            if argmax == label { correct += 1 }
            row += classes
        }
        return (lossSum, correct)
    }

    /// `probs` (from `forward`) becomes the gradient of the mean loss: (p - onehot) / batch.
    static func backward(_ probs: UnsafeMutablePointer<Float>, labels: UnsafePointer<UInt8>,
                         batch: Int, classes: Int) {
        let scale = 1 / Float(batch)
        for r in 0..<batch {
            let row = probs + r * classes
            row[Int(labels[r])] -= 1
            for j in 0..<classes { row[j] *= scale }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
