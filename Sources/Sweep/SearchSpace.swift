import Foundation
import Schedules
import TrainingTypes

/// How configurations are produced from a space.
public enum SearchStrategy: String, Hashable, Sendable, CaseIterable {
    /// Every combination of the `values` lists, in parameter order, the last parameter fastest.
    case grid
    /// `trials` configurations drawn from the ranges and lists.
    case random
    /// The hand-picked `configurations`, as given.
    case list
    /// `trials` points of a scrambled Sobol' sequence mapped onto the ranges and lists.
    case sobol
    /// `trials` configurations: a start-up batch drawn as random search draws them, then each
    /// proposed by a tree-structured Parzen estimator from the finished ones (`TPE.swift`).
    case tpe

    /// Whether the space gives `trials` (required then), which may grow between runs.
    public var takesTrials: Bool { self == .random || self == .sobol || self == .tpe }
}

extension ScheduleParameter {
    /// What values are allowed, for a space file's messages: `t0 must be an integer in [1, 999999999]`.
    public var allowed: String { "\(name) must be \(rule.allowed)" }

    public func isAllowed(_ v: Double) -> Bool { rule.isAllowed(v) }
}

/// The values one swept parameter may take.
public struct ParameterDomain: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        /// Any of these (grid: each in turn; random: one drawn uniformly).
        case values([Double])
        /// Random and sobol only: uniform (or log-uniform) in [min, max]; `integer` rounds to whole numbers.
        case range(min: Double, max: Double, log: Bool, integer: Bool)
    }
    public var parameter: ScheduleParameter
    public var kind: Kind

    public init(parameter: ScheduleParameter, kind: Kind) {
        self.parameter = parameter
        self.kind = kind
    }

    /// The smallest and largest value a configuration can get.
    var bounds: (min: Double, max: Double) {
        switch kind {
        case .values(let vs): (vs.min()!, vs.max()!)
        case .range(let lo, let hi, _, let integer): integer ? (lo.rounded(.up), hi.rounded(.down)) : (lo, hi)
        }
    }
}

/// One configuration of a sweep: a schedule, and the values of the swept parameters.
public struct Configuration: Hashable, Sendable {
    /// `"sgdr-0007"`, or a baseline's name.
    public var id: String
    public var schedule: ScheduleConfig
    /// Swept parameter values by their space names (empty for baselines).
    public var swept: [String: Double]
}

/// A search space, decoded and validated from a space file (see README, "The search space file").
public struct SearchSpace: Hashable, Sendable {
    public var name: String
    public var strategy: SearchStrategy
    public var seed: UInt64
    /// Training seeds per configuration.
    public var repeats: Int
    /// Workers at once; nil: the number of cores. May change between runs of a sweep.
    public var concurrency: Int?
    public var objective: Objective
    /// Random and sobol search only: how many configurations. May grow between runs of a sweep.
    public var trials: Int?
    /// Grid, random and sobol: the swept parameters in file order.
    public var parameters: [ParameterDomain]
    /// List: the configurations as given, each its parameters in file order.
    public var configurations: [[(ScheduleParameter, Double)]]
    /// Schedule parameters that are not swept.
    public var fixed: [ScheduleParameter: Double]
    public var stepMilestones: [Double]
    public var stepFactor: Double
    /// The plateau baseline's settings (`fixed.plateau_factor`, `plateau_patience`, `plateau_min_delta`).
    public var plateau: PlateauSettings
    public var baselines: [ScheduleKind]
    /// Racing (`"racing"`): nil runs every repeat of every configuration.
    public var racing: RacingOptions?
    public var data: DataOptions
    /// The training settings; `seed` is set per trial.
    public var training: TrainingOptions
    /// BLAS threads per trial.
    public var trainingThreads: Int
    /// The file's text, as given.
    public var source: String
    /// The user's own training script (`trainer`), instead of the built-in engine (`training`):
    /// then `training` holds only the epochs, and `trainingThreads` the trainer's threads.
    public var trainer: TrainerOptions? = nil
    /// The TPE settings (`"tpe"`), with `"strategy": "tpe"` only (defaults filled in).
    public var tpe: TPEOptions? = nil

    /// The data, the training options and the threads, as one value (what `TrainingOption`'s
    /// table reads).
    public var trainingSettings: TrainingSettings {
        TrainingSettings(data: data, training: training, threads: trainingThreads)
    }

    public static func == (a: SearchSpace, b: SearchSpace) -> Bool {
        a.canonicalEntries(includingMutable: true) == b.canonicalEntries(includingMutable: true)
    }

    public func hash(into h: inout Hasher) { h.combine(canonicalHash) }

    /// The names of the swept parameters as in the space, in space order (the leaderboard's columns).
    public var sweptNames: [String] {
        switch strategy {
        case .grid, .random, .sobol, .tpe: return parameters.map(\.parameter.rawValue)
        case .list:
            var names: [String] = []
            for c in configurations { for (p, _) in c where !names.contains(p.rawValue) { names.append(p.rawValue) } }
            return names
        }
    }

    /// The configuration sampler of this space's strategy.
    public var sampler: any Sampler {
        switch strategy {
        case .grid: GridSampler(parameters: parameters)
        case .random: RandomSampler(parameters: parameters, seed: seed, count: trials ?? 0)
        case .list: ListSampler(configurations: configurations)
        case .sobol: SobolSampler(parameters: parameters, seed: seed, count: trials ?? 0)
        // TPE: only its start-up configurations (`TPEOptions.startup`, random search's first
        // draws) are a function of the space; the others are stored proposals (`TPERanking`).
        case .tpe: RandomSampler(parameters: parameters, seed: seed, count: trials ?? 0)
        }
    }

    /// The schedule parameters of a configuration: defaults (those of `sgdr-search schedule`),
    /// then `fixed`, then the swept values. `lr_min` defaults to `lr_max / 100`.
    public func parameters(with swept: [(ScheduleParameter, Double)]) -> SGDRParameters {
        var p = SGDRParameters()
        var lrMinSet = false
        for q in ScheduleParameter.allCases {
            if let v = fixed[q] { q.set(v, in: &p); lrMinSet = lrMinSet || q == .lrMin }
        }
        for (q, v) in swept { q.set(v, in: &p); lrMinSet = lrMinSet || q == .lrMin }
        if !lrMinSet { p.lrMin = ScheduleParameter.lrMin.defaultValue(lrMax: p.lrMax) }
        return p
    }

    func scheduleConfig(kind: ScheduleKind, _ p: SGDRParameters) -> ScheduleConfig {
        ScheduleConfig(kind: kind, parameters: p, epochs: training.epochs,
                       stepMilestones: stepMilestones, stepFactor: stepFactor, plateau: plateau)
    }

    /// The baselines, then the SGDR configurations `sgdr-0000`, ... in the sampler's order.
    public func expandConfigurations() -> [Configuration] {
        let s = sampler
        return (0..<(baselines.count + s.count)).map { configuration(at: $0, sampler: s) }
    }

    /// Configuration `index` of `expandConfigurations()`, computed alone.
    public func configuration(at index: Int) -> Configuration { configuration(at: index, sampler: sampler) }

    func configuration(at index: Int, sampler s: any Sampler) -> Configuration {
        if index < baselines.count {
            let kind = baselines[index]
            return Configuration(id: kind.rawValue, schedule: scheduleConfig(kind: kind, parameters(with: [])), swept: [:])
        }
        let i = index - baselines.count
        let values = s.configuration(at: i)
        return Configuration(
            id: Self.configurationID(i), schedule: scheduleConfig(kind: .sgdr, parameters(with: values)),
            swept: Dictionary(values.map { ($0.0.rawValue, $0.1) }, uniquingKeysWith: { $1 }))
    }

    public static func configurationID(_ index: Int) -> String {
        let digits = String(index)
        return "sgdr-" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// Every trial of the sweep, in dispatch order: each configuration's repeats in turn, the
    /// baselines first. A trial's `number` is its position in this list, so it depends only on the
    /// space: when random search's `trials` grows, the new configurations come after the existing
    /// ones and no existing number changes.
    ///
    /// With racing, numbers are round-major (`repeat << 32 | configuration index`), so that rounds
    /// are claimed in order and a race can grow in `repeats` (and random search in `trials`)
    /// without renumbering; `repeatsOf` then says how many repeats of a configuration to list.
    public func trialSpecs(repeatsOf: ((Configuration) -> Int)? = nil) -> [TrialSpec] {
        if racing == nil && repeatsOf == nil { return trialSpecs(0..<trialCount) }
        var specs: [TrialSpec] = []
        for (index, c) in expandConfigurations().enumerated() {
            for r in 0..<(repeatsOf?(c) ?? repeats) {
                specs.append(TrialSpec(
                    id: TrialSpec.id(configuration: c.id, repeatIndex: r),
                    number: racing == nil ? specs.count : r << 32 | index,
                    configuration: c.id, repeatIndex: r,
                    seed: Seeds.training(sweepSeed: seed, repeatIndex: r),
                    schedule: c.schedule, swept: c.swept))
            }
        }
        return specs
    }

    /// Without racing: the trials numbered `numbers` (within `0..<trialCount`), computed without
    /// the others (trial n is repeat `n % repeats` of configuration `n / repeats`), so that a
    /// sweep of a million trials is stored a batch at a time, never expanded at once.
    public func trialSpecs(_ numbers: Range<Int>) -> [TrialSpec] {
        precondition(racing == nil, "a race's trials are numbered round-major: use trialSpecs(repeatsOf:)")
        let s = sampler
        var specs: [TrialSpec] = []
        specs.reserveCapacity(numbers.count)
        var current: (index: Int, configuration: Configuration)?
        for n in numbers {
            let index = n / repeats, r = n % repeats
            if current?.index != index { current = (index, configuration(at: index, sampler: s)) }
            let c = current!.configuration
            specs.append(TrialSpec(
                id: TrialSpec.id(configuration: c.id, repeatIndex: r), number: n,
                configuration: c.id, repeatIndex: r,
                seed: Seeds.training(sweepSeed: seed, repeatIndex: r),
                schedule: c.schedule, swept: c.swept))
        }
        return specs
    }

    /// The number of configurations (baselines included) and of trials.
    public var configurationCount: Int { baselines.count + sampler.count }
    public var trialCount: Int { configurationCount * repeats }

    /// The default database of the sweep: `runs/<name>.sqlite`.
    public var defaultDatabasePath: String { "runs/\(name).sqlite" }
}
