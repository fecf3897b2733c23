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
