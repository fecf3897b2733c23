import Schedules
import TrainingTypes

/// Where a trial is in its life. `done`, `diverged` and `failed` are final: a finished trial
/// is never run again and its record never changes.
public enum TrialStatus: String, Codable, Sendable, CaseIterable {
    case pending, running, done, diverged, failed, interrupted

    public var isFinished: Bool { self == .done || self == .diverged || self == .failed }
}

/// What one trial runs: a schedule, a repeat index and the training seed that follows from them.
/// Immutable once stored.
public struct TrialSpec: Hashable, Sendable {
    /// Unique within a sweep and stable across runs of it: `"<configuration>.r<repeat>"`,
    /// e.g. `"sgdr-0007.r1"` or `"step.r0"`.
    public var id: String
    /// Position in the sweep's dispatch order (configurations in expansion order — the baselines,
    /// then `sgdr-0000`, ... — repeats inside). A function of the space alone: see `SearchSpace.trialSpecs()`.
    public var number: Int
    /// The configuration this trial repeats: `"sgdr-0007"`, or a baseline's name.
    public var configuration: String
    public var repeatIndex: Int
    /// The training seed (init and shuffles). It depends only on the sweep seed and the repeat
    /// index, so every configuration sees the same initial weights and batch orders for a
    /// given repeat (common random numbers: differences come from the schedule, not the draw).
    public var seed: UInt64
    public var schedule: ScheduleConfig
    /// The swept parameters' values, by their names in the space file (`t0`, `tmult`, ...).
    /// Empty for baselines.
    public var swept: [String: Double]

    public init(id: String, number: Int, configuration: String, repeatIndex: Int, seed: UInt64,
                schedule: ScheduleConfig, swept: [String: Double]) {
        self.id = id
        self.number = number
        self.configuration = configuration
        self.repeatIndex = repeatIndex
        self.seed = seed
        self.schedule = schedule
        self.swept = swept
    }

    public static func id(configuration: String, repeatIndex: Int) -> String {
        "\(configuration).r\(repeatIndex)"
    }
}

/// A trial's final state as the runner reports it.
public struct TrialFinish: Hashable, Sendable {
    /// `.done`, `.diverged` or `.failed`.
    public var status: TrialStatus
    /// Wall-clock seconds of the whole run (training and evaluation).
    public var seconds: Double
    public var error: String?

    public init(status: TrialStatus, seconds: Double, error: String? = nil) {
        precondition(status.isFinished, "a finish must be done, diverged or failed")
        self.status = status
        self.seconds = seconds
        self.error = error
    }
}

/// A trial as stored: its spec, status and, once finished, its summary.
public struct TrialRecord: Hashable, Sendable {
    public var spec: TrialSpec
    public var status: TrialStatus
    /// The process that claimed it last (see `Owner`), nil while it was never claimed.
    public var owner: String?
    /// How many times it was claimed.
    public var attempts: Int
    /// Unix times of the last claim and of the finish.
    public var startedAt: Double?
    public var finishedAt: Double?
    /// Wall-clock seconds of the finished run.
    public var seconds: Double?
    public var error: String?
    /// The epochs of the current (or finished) attempt, in order. Empty in a record read without
    /// its epochs (`TrialStore.trials(withEpochs: false)`): `summary` then holds what they gave.
    public var epochs: [EpochMetrics]
    /// A finished trial's summary as stored, for records read without their epochs (nil
    /// otherwise; the summary properties below then follow `epochs`).
    public var summary: EpochSummary?

    public init(spec: TrialSpec, status: TrialStatus, owner: String? = nil, attempts: Int = 0,
                startedAt: Double? = nil, finishedAt: Double? = nil, seconds: Double? = nil,
                error: String? = nil, epochs: [EpochMetrics] = [], summary: EpochSummary? = nil) {
        self.spec = spec
        self.status = status
        self.owner = owner
        self.attempts = attempts
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.seconds = seconds
        self.error = error
        self.epochs = epochs
        self.summary = summary
    }

    /// Best validation accuracy over the epochs (nil without epochs).
    public var bestValAcc: Double? { epochs.isEmpty ? summary?.bestValAcc : epochs.bestValAcc }
    /// 1-based epoch of the best validation accuracy (the first one on ties).
    public var bestEpoch: Int? { epochs.isEmpty ? summary?.bestEpoch : epochs.bestEpoch }
    public var finalValAcc: Double? { epochs.isEmpty ? summary?.finalValAcc : epochs.finalValAcc }

    /// The record without its epochs, its summary kept (what `trials(withEpochs: false)` reads).
    public var withoutEpochs: TrialRecord {
        var r = self
        r.summary = status.isFinished ? EpochSummary(bestValAcc: bestValAcc, bestEpoch: bestEpoch, finalValAcc: finalValAcc) : nil
        r.epochs = []
        return r
    }

    /// The trial's value of `objective` (nil without epochs).
    public func score(_ objective: Objective) -> Double? {
        objective == .bestValAcc ? bestValAcc : finalValAcc
    }
}

/// What a finished trial's epochs gave, as stored beside it (see `[EpochMetrics].bestEpoch`).
public struct EpochSummary: Hashable, Sendable {
    public var bestValAcc: Double?
    public var bestEpoch: Int?
    public var finalValAcc: Double?

    public init(bestValAcc: Double?, bestEpoch: Int?, finalValAcc: Double?) {
        self.bestValAcc = bestValAcc
        self.bestEpoch = bestEpoch
        self.finalValAcc = finalValAcc
    }
}

/// What ranking needs of one trial, and no more (`TrialStore.briefs(_:)`): a million of them
/// are read in a fraction of a second.
public struct TrialBrief: Hashable, Sendable {
    public var number: Int
    public var status: TrialStatus
    /// The objective's value (finished trials with epochs).
    public var score: Double?
    public var seconds: Double?
    public var finishedAt: Double?
    /// Whether the trial was ever claimed (only those can have epochs).
    public var claimed: Bool

    public init(number: Int, status: TrialStatus, score: Double? = nil, seconds: Double? = nil,
                finishedAt: Double? = nil, claimed: Bool = false) {
        self.number = number
        self.status = status
        self.score = score
        self.seconds = seconds
        self.finishedAt = finishedAt
        self.claimed = claimed
    }

    /// The brief of a record.
    public init(_ r: TrialRecord, objective: Objective) {
        self.init(number: r.spec.number, status: r.status, score: r.status.isFinished ? r.score(objective) : nil,
                  seconds: r.seconds, finishedAt: r.finishedAt, claimed: r.attempts > 0)
    }
}

/// How many trials a store holds, by status (`TrialStore.counts()`).
public struct TrialCounts: Hashable, Sendable {
    public var byStatus: [TrialStatus: Int]
    /// One more than the largest trial number stored (0 when there is none): with `total`, tells
    /// whether the stored trials are the first `total` of the sweep.
    public var nextNumber: Int

    public init(byStatus: [TrialStatus: Int] = [:], nextNumber: Int = 0) {
        self.byStatus = byStatus
        self.nextNumber = nextNumber
    }

    public var total: Int { byStatus.values.reduce(0, +) }
    public var finished: Int { byStatus.filter { $0.key.isFinished }.values.reduce(0, +) }
    public subscript(_ status: TrialStatus) -> Int { byStatus[status] ?? 0 }
}

/// The sweep a store holds: the space file as given and its canonical hash.
public struct SweepInfo: Hashable, Sendable {
    public var name: String
    /// The space file's text, as given when the sweep was created (or last updated).
    public var spaceJSON: String
    /// Hash of the canonical form of the space, without the keys that may change between runs.
    public var spaceHash: String
    /// Unix time of creation.
    public var createdAt: Double
    /// The schedule semantics the sweep's trials were run with.
    public var scheduleRules: ScheduleRules

    public init(name: String, spaceJSON: String, spaceHash: String, createdAt: Double,
                scheduleRules: ScheduleRules = .current) {
        self.name = name
        self.spaceJSON = spaceJSON
        self.spaceHash = spaceHash
        self.createdAt = createdAt
        self.scheduleRules = scheduleRules
    }
}

/// The schedule semantics a sweep was made with. Results made under other rules cannot be
/// reproduced by this build, so such a sweep is read but never resumed or grown.
public enum ScheduleRules: Int, Hashable, Sendable, CaseIterable {
    /// Before docs/SCHEDULE.md fixed the order of the end-of-epoch rules: the epoch that fired the
    /// trigger did not count as an improvement (databases of schema version 1).
    case triggerEpochNotAnImprovement = 1
    /// docs/SCHEDULE.md: the epoch that fires the trigger is also the schedule's first improvement.
    case triggerEpochImproves = 2

    public static let current = ScheduleRules.triggerEpochImproves

    /// For a sweep made under other rules than this build's: what they were, in a sentence.
    public var earlierRuleNote: String? {
        switch self {
        case .triggerEpochImproves: nil
        case .triggerEpochNotAnImprovement:
            "it was made with the earlier trigger rule (the epoch that fired the trigger did not count "
                + "as an improvement), so its SGDR rates can differ from this version's"
        }
    }
}

/// A run's summary, as trials store and rank it.
extension Array where Element == EpochMetrics {
    /// 1-based epoch of the best epoch (`best`: the highest val_acc, the first on ties); nil when empty.
    public var bestEpoch: Int? { best?.epoch }

    /// The validation accuracy of the best epoch; nil when empty.
    public var bestValAcc: Double? { best?.valAcc }

    public var finalValAcc: Double? { last?.valAcc }
}
