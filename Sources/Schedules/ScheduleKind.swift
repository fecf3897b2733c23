/// The schedules the tool knows, by the names users type.
public enum ScheduleKind: String, CaseIterable, Codable, Sendable {
    case sgdr, step, cosine, constant, plateau

    /// Whether the rates depend on the validation accuracies fed back (`endEpoch(valAcc:)`).
    public var reactsToValAcc: Bool { self == .sgdr || self == .plateau }
}

/// A complete description of one schedule for a run of `epochs` epochs: what a trial stores
/// and what `makeSchedule()` turns into a fresh schedule.
public struct ScheduleConfig: Hashable, Sendable {
    public var kind: ScheduleKind
    /// The schedule parameters (`ScheduleParameter`; the baselines use those with `usedByBaselines`).
    public var parameters: SGDRParameters
    public var epochs: Int
    /// Step decay's milestones (fractions of `epochs`) and factor.
    public var stepMilestones: [Double]
    public var stepFactor: Double
    /// The plateau baseline's factor, patience and min_delta.
    public var plateau: PlateauSettings

    public init(kind: ScheduleKind, parameters: SGDRParameters, epochs: Int,
                stepMilestones: [Double] = [0.5, 0.75], stepFactor: Double = 0.1,
                plateau: PlateauSettings = PlateauSettings()) {
        self.kind = kind
        self.parameters = parameters
        self.epochs = epochs
        self.stepMilestones = stepMilestones
        self.stepFactor = stepFactor
        self.plateau = plateau
    }

    public func makeSchedule() -> any LearningRateSchedule {
        switch kind {
        case .sgdr: SGDRSchedule(parameters)
        case .step: StepSchedule(lrMax: parameters.lrMax, epochs: epochs, milestones: stepMilestones, factor: stepFactor)
        case .cosine: CosineSchedule(lrMax: parameters.lrMax, lrMin: parameters.lrMin, epochs: epochs)
        case .constant: ConstantSchedule(lrMax: parameters.lrMax)
        case .plateau: PlateauSchedule(lrMax: parameters.lrMax, lrMin: parameters.lrMin, settings: plateau)
        }
    }
}
