import Schedules
import Foundation
import TrainingTypes

/// Produces a space's SGDR configurations, by index (like Optuna's samplers, small). Each
/// configuration is a list of (parameter, value) in the space's parameter order. Samplers are
/// pure: the same space gives the same configurations, in any process, in any order of asking.
public protocol Sampler: Sendable {
    /// How many configurations the space has.
    var count: Int { get }
    /// Configuration `index` (0 ..< count).
    func configuration(at index: Int) -> [(ScheduleParameter, Double)]
}

/// Every combination of the `values` lists, in parameter order, the last parameter fastest.
public struct GridSampler: Sampler {
    public var parameters: [ParameterDomain] { didSet { lists = Self.lists(parameters) } }
    private var lists: [[Double]]

    public init(parameters: [ParameterDomain]) {
        self.parameters = parameters
        lists = Self.lists(parameters)
    }

    static func lists(_ parameters: [ParameterDomain]) -> [[Double]] {
        parameters.map { d in
            if case .values(let vs) = d.kind { return vs }
            preconditionFailure("a grid takes values lists only")
        }
    }

    /// The product of the list lengths (`Int.max` when it would overflow: far past any cap).
    public var count: Int {
        var n = 1
        for l in lists {
            let (product, overflow) = n.multipliedReportingOverflow(by: l.count)
            if overflow { return Int.max }
            n = product
        }
        return n
    }

    public func configuration(at index: Int) -> [(ScheduleParameter, Double)] {
        var rest = index
        var out = [(ScheduleParameter, Double)](repeating: (.t0, 0), count: lists.count)
        for k in lists.indices.reversed() {
            out[k] = (parameters[k].parameter, lists[k][rest % lists[k].count])
            rest /= lists[k].count
        }
        return out
    }
}

/// `count` configurations; configuration `i` is drawn from an xoshiro256** generator seeded by
/// mixing the sweep seed and `i`, so it does not depend on the others and raising `count`
/// extends the same sequence. Parameters are drawn in space order: a `values` list uniformly;
/// a range uniformly, or log-uniformly with `log`; `int` (and `t0`, always) rounds to a whole
/// number, drawn so that every whole number in the range is reachable.
public struct RandomSampler: Sampler {
    public var parameters: [ParameterDomain]
    public var seed: UInt64
    public var count: Int

    public init(parameters: [ParameterDomain], seed: UInt64, count: Int) {
        self.parameters = parameters
        self.seed = seed
        self.count = count
    }

    public func configuration(at index: Int) -> [(ScheduleParameter, Double)] {
        var rng = Xoshiro256(seed: Seeds.configuration(sweepSeed: seed, index: index))
        return parameters.map { d in (d.parameter, Self.draw(d.kind, &rng)) }
    }

    static func draw(_ kind: ParameterDomain.Kind, _ rng: inout Xoshiro256) -> Double {
        switch kind {
        case .values(let vs):
            return vs[rng.nextInt(in: 0...(vs.count - 1))]
        case .range(let lo, let hi, let log, let integer):
            if integer && !log {
                return Double(rng.nextInt(in: Int(lo.rounded(.up))...Int(hi.rounded(.down))))
            }
            return continuous(lo: lo, hi: hi, log: log, integer: integer, u: rng.nextDouble())
        }
    }

    /// A range's value at `u` in [0, 1): uniform, or log-uniform with `log`; a log-uniform
    /// integer is rounded, then kept inside the whole numbers of the range. (Sobol maps its
    /// coordinates with it too.)
    static func continuous(lo: Double, hi: Double, log: Bool, integer: Bool, u: Double) -> Double {
        let x = log ? Foundation.exp(Foundation.log(lo) + u * (Foundation.log(hi) - Foundation.log(lo)))
                    : lo + u * (hi - lo)
        guard integer else { return Swift.min(Swift.max(x, lo), hi) }
        return Swift.min(Swift.max(x.rounded(), lo.rounded(.up)), hi.rounded(.down))
    }
}

/// The hand-picked configurations of a `list` space, as given.
public struct ListSampler: Sampler {
    public var configurations: [[(ScheduleParameter, Double)]]

    public init(configurations: [[(ScheduleParameter, Double)]]) { self.configurations = configurations }

    public var count: Int { configurations.count }
    public func configuration(at index: Int) -> [(ScheduleParameter, Double)] { configurations[index] }
}
