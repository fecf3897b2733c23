#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A learning-rate schedule driven epoch by epoch.
///
/// Epochs are 1-based. A driver calls `beginEpoch()` once at the start of every epoch, in order,
/// and `endEpoch(valAcc:)` once at its end with that epoch's validation accuracy. Schedules are
/// value types with no I/O and no knowledge of training: the same calls give the same rates.
public protocol LearningRateSchedule: Sendable {
    /// The learning rate of the next epoch (the first call answers epoch 1).
    mutating func beginEpoch() -> Double
    /// Feedback at the end of the epoch whose rate `beginEpoch()` last answered.
    mutating func endEpoch(valAcc: Double)
}

/// The cosine of SGDR and of the cosine baseline:
/// `lr_min + (peak - lr_min) * (1 + cos(pi * tCur / tI)) / 2`.
@inlinable
public func cosineAnnealing(peak: Double, lrMin: Double, tCur: Int, tI: Int) -> Double {
    lrMin + (peak - lrMin) * (1 + cos(Double.pi * Double(tCur) / Double(tI))) / 2
}
