/// The parameters of SGDR with trigger and peak compression (see README, "The schedule").
public struct SGDRParameters: Hashable, Sendable {
    /// Global peak rate, and the rate before the trigger fires.
    public var lrMax: Double
    /// Floor of every cosine cycle.
    public var lrMin: Double
    /// Length in epochs of the first cycle (>= 1).
    public var t0: Int
    /// Cycle growth: `T_{i+1} = floor(tmult * T_i)` (>= 1, fractional allowed).
    public var tmult: Double
    /// `c`: after an improvement the next peak is `max(peak / c, lr)`; `c <= 0`: `lr`; `c = 1`: plain SGDR.
    /// `0 < c < 1` is invalid: it would lift peaks above `lrMax`.
    public var lrMaxCompression: Double
    /// The schedule starts after an epoch ends with `val_acc >= triggerValAcc`; `<= 0`: from epoch 1.
    public var triggerValAcc: Double

    /// The defaults are `ScheduleParameter`'s.
    public init(lrMax: Double = ScheduleParameter.lrMax.defaultValue(), lrMin: Double? = nil,
                t0: Int = Int(ScheduleParameter.t0.defaultValue()), tmult: Double = ScheduleParameter.tmult.defaultValue(),
                lrMaxCompression: Double = ScheduleParameter.lrMaxCompression.defaultValue(),
                triggerValAcc: Double = ScheduleParameter.triggerValAcc.defaultValue()) {
        self.lrMax = lrMax
        self.lrMin = lrMin ?? ScheduleParameter.lrMin.defaultValue(lrMax: lrMax)
        self.t0 = t0
        self.tmult = tmult
        self.lrMaxCompression = lrMaxCompression
        self.triggerValAcc = triggerValAcc
    }

    /// The first parameter that is out of its range (`ScheduleParameter.rule`), or `lr_min`
    /// above `lr_max`; nil when all are valid.
    public func firstInvalid() -> ParameterProblem? {
        for p in ScheduleParameter.allCases {
            if let problem = p.rule.problem(p.value(in: self)) { return problem }
        }
        if lrMin > lrMax {
            return ParameterProblem(parameter: ScheduleParameter.lrMin.name,
                                    allowed: "a rate no larger than lr_max (\(fmt(lrMax)))", value: lrMin)
        }
        return nil
    }
}

/// What values one parameter allows, written once and used by every validator of it.
public struct ParameterRule: Sendable {
    /// The space-file spelling, e.g. `trigger_val_acc`.
    public let name: String
    /// What is allowed, for messages: `a number in [0, 1] (...)`.
    public let allowed: String
    public let isAllowed: @Sendable (Double) -> Bool

    public init(name: String, allowed: String, isAllowed: @escaping @Sendable (Double) -> Bool) {
        self.name = name
        self.allowed = allowed
        self.isAllowed = isAllowed
    }

    /// A problem for `value`, or nil when it is allowed.
    public func problem(_ value: Double) -> ParameterProblem? {
        isAllowed(value) ? nil : ParameterProblem(parameter: name, allowed: allowed, value: value)
    }
}

/// A schedule parameter outside its allowed range; `parameter` uses the space-file spelling.
public struct ParameterProblem: Error, Hashable, Sendable {
    public var parameter: String
    public var allowed: String
    public var value: Double

    public init(parameter: String, allowed: String, value: Double) {
        self.parameter = parameter
        self.allowed = allowed
        self.value = value
    }

}

/// SGDR with trigger and peak compression, exactly as docs/SCHEDULE.md's state machine.
public struct SGDRSchedule: LearningRateSchedule {
    public let parameters: SGDRParameters
    /// The last epoch started (0 before the first `beginEpoch()`).
    public private(set) var epoch = 0
    public private(set) var triggered: Bool
    /// Best validation accuracy since the trigger, the trigger epoch's included.
    public private(set) var best = 0.0
    /// Peak of the current cycle.
    public private(set) var peak: Double
    /// Peak the next restart takes.
    public private(set) var nextPeak: Double
    /// Length of the current cycle.
    public private(set) var tI: Int
    /// Position in the current cycle (1...tI once triggered; 0 before).
    public private(set) var tCur = 0
    /// Rate answered by the last `beginEpoch()`.
    public private(set) var lr: Double

    public init(_ parameters: SGDRParameters) {
        self.parameters = parameters
        triggered = parameters.triggerValAcc <= 0
        peak = parameters.lrMax
        nextPeak = parameters.lrMax
        tI = parameters.t0
        lr = parameters.lrMax
    }

    /// `floor(tmult * tI)`, with a relative tolerance of 1e-9 so that products that are whole
    /// numbers in decimal (1.15 * 20 = 23) are not floored one below by binary rounding.
    public static func nextCycleLength(_ tI: Int, tmult: Double) -> Int {
        let length = (tmult * Double(tI) * (1 + 1e-9)).rounded(.down)
        // A length past Int's range (or NaN) is a restart no run reaches: saturate, don't trap.
        guard length < Double(Int.max) else { return Int.max }
        return max(1, Int(length))
    }

    public mutating func beginEpoch() -> Double {
        epoch += 1
        if !triggered {
            lr = parameters.lrMax
            return lr
        }
        tCur += 1
        if tCur > tI {
            tI = Self.nextCycleLength(tI, tmult: parameters.tmult)
            tCur = 1
            peak = nextPeak
        }
        lr = cosineAnnealing(peak: peak, lrMin: parameters.lrMin, tCur: tCur, tI: tI)
        return lr
    }

    /// docs/SCHEDULE.md's end-of-epoch step: the trigger rule, then the improvement rule, in the
    /// same step (as the seed's `on_epoch_end`). The epoch that fires the trigger is therefore
    /// also the schedule's first improvement: `best` becomes its accuracy and `nextPeak` stays
    /// `lr_max` (it ran at `lr_max`).
    public mutating func endEpoch(valAcc: Double) {
        if !triggered && valAcc >= parameters.triggerValAcc { triggered = true }
        if triggered && valAcc > best {
            best = valAcc
            let c = parameters.lrMaxCompression
            nextPeak = c > 0 ? max(peak / c, lr) : lr
        }
    }
}
