/// Step decay: `lr_max * factor^k`, where k counts the milestones (fractions of the run) that
/// epoch `e` has passed (`e > milestone * epochs`). Defaults: milestones 0.5 and 0.75, factor 0.1.
public struct StepSchedule: LearningRateSchedule {
    public var lrMax: Double
    public var epochs: Int
    public var milestones: [Double]
    public var factor: Double
    public private(set) var epoch = 0

    public init(lrMax: Double, epochs: Int, milestones: [Double] = [0.5, 0.75], factor: Double = 0.1) {
        self.lrMax = lrMax
        self.epochs = epochs
        self.milestones = milestones
        self.factor = factor
    }

    public func learningRate(forEpoch e: Int) -> Double {
        var lr = lrMax
        for m in milestones where Double(e) > m * Double(epochs) { lr *= factor }
        return lr
    }

    public mutating func beginEpoch() -> Double {
        epoch += 1
        return learningRate(forEpoch: epoch)
    }

    public mutating func endEpoch(valAcc: Double) {}
}

/// One cosine from lr_max to lr_min over all epochs, no restart (`T_cur = e`, `T_i = epochs`).
public struct CosineSchedule: LearningRateSchedule {
    public var lrMax: Double
    public var lrMin: Double
    public var epochs: Int
    public private(set) var epoch = 0

    public init(lrMax: Double, lrMin: Double, epochs: Int) {
        self.lrMax = lrMax
        self.lrMin = lrMin
        self.epochs = epochs
    }

    public func learningRate(forEpoch e: Int) -> Double {
        cosineAnnealing(peak: lrMax, lrMin: lrMin, tCur: min(e, epochs), tI: epochs)
    }

    public mutating func beginEpoch() -> Double {
        epoch += 1
        return learningRate(forEpoch: epoch)
    }

    public mutating func endEpoch(valAcc: Double) {}
}

/// `lr_max` throughout.
public struct ConstantSchedule: LearningRateSchedule {
    public var lrMax: Double

    public init(lrMax: Double) { self.lrMax = lrMax }

    public mutating func beginEpoch() -> Double { lrMax }
    public mutating func endEpoch(valAcc: Double) {}
}

/// The settings of the `plateau` baseline (Keras's `ReduceLROnPlateau` on val_acc, no cooldown).
public struct PlateauSettings: Hashable, Sendable {
    /// The rate is multiplied by this (in (0, 1)) when val_acc has not improved for `patience` epochs.
    public var factor: Double
    /// Epochs without improvement before the rate falls (>= 1).
    public var patience: Int
    /// An epoch improves when `val_acc > best + minDelta` (>= 0).
    public var minDelta: Double

    public init(factor: Double = 0.1, patience: Int = 3, minDelta: Double = 1e-4) {
        self.factor = factor
        self.patience = patience
        self.minDelta = minDelta
    }

    /// The rules of the three settings, shared by option and space-file validation.
    public static let factorRule = ParameterRule(name: "plateau_factor", allowed: "a number in (0, 1)") {
        $0.isFinite && $0 > 0 && $0 < 1
    }
    public static let patienceRule = ParameterRule(name: "plateau_patience", allowed: "an integer in [1, 1000000]") {
        $0 >= 1 && $0 <= 1_000_000 && $0 == $0.rounded()
    }
    public static let minDeltaRule = ParameterRule(name: "plateau_min_delta", allowed: "a number in [0, 1]") {
        $0.isFinite && $0 >= 0 && $0 <= 1
    }

    /// The three rules, in the order of the settings.
    public static let rules = [factorRule, patienceRule, minDeltaRule]

    /// The first setting out of its range, or nil when all are valid.
    public func firstInvalid() -> ParameterProblem? {
        Self.factorRule.problem(factor) ?? Self.patienceRule.problem(Double(patience)) ?? Self.minDeltaRule.problem(minDelta)
    }
}

/// Keras's `ReduceLROnPlateau` watching val_acc, exactly as docs/SCHEDULE.md's "plateau" baseline:
/// the rate starts at `lr_max`; at the end of each epoch, `a > best + min_delta` is an
/// improvement (`best = a`, `wait = 0`); otherwise `wait += 1`, and once `wait >= patience`
/// while the rate is above `lr_min`, the rate becomes `max(rate * factor, lr_min)` from the next
/// epoch on and `wait = 0`.
public struct PlateauSchedule: LearningRateSchedule {
    public let lrMax: Double
    public let lrMin: Double
    public let settings: PlateauSettings
    /// The rate of the next epoch.
    public private(set) var lr: Double
    public private(set) var best = -Double.infinity
    public private(set) var wait = 0

    public init(lrMax: Double, lrMin: Double, settings: PlateauSettings = PlateauSettings()) {
        self.lrMax = lrMax
        self.lrMin = lrMin
        self.settings = settings
        lr = lrMax
    }

    public mutating func beginEpoch() -> Double { lr }

    public mutating func endEpoch(valAcc: Double) {
        if valAcc > best + settings.minDelta {
            best = valAcc
            wait = 0
        } else {
            wait += 1
            if wait >= settings.patience && lr > lrMin {
                lr = max(lr * settings.factor, lrMin)
                wait = 0
            }
        }
    }
}
