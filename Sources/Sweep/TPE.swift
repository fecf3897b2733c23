import Foundation
import Schedules
import TrainingTypes

/// The settings of a tpe search (`"tpe": {...}` in the space; README, "TPE").
public struct TPEOptions: Hashable, Sendable {
    /// Configurations 0 ..< startup are random search's draws (no model yet).
    public var startup = 10
    /// Candidates drawn from the good configurations' estimator per parameter; the one with the
    /// highest l(x) / g(x) is proposed.
    public var candidates = 24
    /// The share of the configurations a proposal sees that count as good (at least one).
    public var gamma = 0.25
    /// How many configurations may train at once: proposal k is made from configurations
    /// 0 ..< k - parallel + 1 (all finished: it waits for them), and the parallel - 1 just before
    /// it count as bad whether they finished or not (constant liar). So the proposals are a
    /// function of the sweep seed and the results, never of the order in which trials finished.
    public var parallel = 4

    public static let maxCandidates = 10_000

    public init() {}
}

/// What one configuration a proposal sees contributes: its parameters in [0, 1] coordinates (an
/// item's index for a `values` list), and whether it is good or bad.
public struct TPEObservation: Hashable, Sendable {
    /// The configuration's swept values by parameter name.
    public var swept: [String: Double]
    /// The mean objective over its repeats when every repeat is done; nil when one diverged or
    /// failed, or when it is a liar (still counted: as bad).
    public var score: Double?

    public init(swept: [String: Double], score: Double?) {
        self.swept = swept
        self.score = score
    }
}

/// Univariate tree-structured Parzen estimator (Bergstra et al. 2011, in Optuna's form): one
/// estimator per parameter, of the good configurations (l) and of the bad ones (g); a proposal
/// draws `candidates` values from l and takes the one with the highest l / g.
public enum TPE {
    /// A mixture of Gaussians truncated to [0, 1]: the prior (mean 0.5, sd 1) and one kernel per
    /// observation, all of equal weight. A kernel's sd is the larger distance to its neighbours
    /// among the sorted means (the prior's 0.5 included, 0 and 1 the outer neighbours), clipped
    /// to [1 / min(100, n + 2), 1] for n observations (Optuna's "magic clip").
    public struct Parzen: Hashable, Sendable {
        public var means: [Double]
        public var sds: [Double]

        public init(observations: [Double]) {
            let n = observations.count
            let minSD = 1 / Double(min(100, n + 2))
            // Sorted positions of the observations and the prior (index n), ties by index.
            let all = observations + [0.5]
            let order = all.indices.sorted { all[$0] != all[$1] ? all[$0] < all[$1] : $0 < $1 }
            var sds = [Double](repeating: 1, count: n + 1)
            for (position, i) in order.enumerated() where i < n {
                let left = position == 0 ? 0 : all[order[position - 1]]
                let right = position == order.count - 1 ? 1 : all[order[position + 1]]
                sds[i] = min(1, max(minSD, max(all[i] - left, right - all[i])))
            }
            // The prior first, then the observations in their given order.
            means = [0.5] + observations
            self.sds = [sds[n]] + sds[0..<n]
        }

        /// The log of the mixture's density at `x` in [0, 1].
        public func logDensity(_ x: Double) -> Double {
            var total = 0.0
            for (m, s) in zip(means, sds) {
                let mass = TPE.normalCDF((1 - m) / s) - TPE.normalCDF((0 - m) / s)
                let z = (x - m) / s
                total += Foundation.exp(-0.5 * z * z) / (s * (2 * Double.pi).squareRoot()) / mass
            }
            return Foundation.log(total / Double(means.count))
        }

        /// One draw: a kernel chosen uniformly, then its truncated Gaussian by rejection.
        public func sample(_ rng: inout Xoshiro256) -> Double {
            let k = rng.nextInt(in: 0...(means.count - 1))
            let m = means[k], s = sds[k]
            // Every kernel has its mean in [0, 1] and sd <= 1: a draw lands inside with
            // probability > 0.34, so 10,000 tries fail with probability < 1e-1800.
            for _ in 0..<10_000 {
                let x = m + s * TPE.normal(&rng)
                if x >= 0 && x <= 1 { return x }
            }
            return m
        }
    }

    /// A categorical estimator over `count` items: p(c) = (n_c + 1 / count) / (n + 1) for n
    /// observations of which n_c are item c (the prior: one observation spread evenly).
    public struct Categorical: Hashable, Sendable {
        public var probabilities: [Double]

        public init(observations: [Int], count: Int) {
            var p = [Double](repeating: 1 / Double(count), count: count)
            for c in observations { p[c] += 1 }
            let n = Double(observations.count + 1)
            probabilities = p.map { $0 / n }
        }

        public func sample(_ rng: inout Xoshiro256) -> Int {
            let u = rng.nextDouble()
            var acc = 0.0
            for (c, p) in probabilities.enumerated() {
                acc += p
                if u < acc { return c }
            }
            return probabilities.count - 1
        }
    }

    /// Φ(x), from erfc (accurate in the tails).
    static func normalCDF(_ x: Double) -> Double { 0.5 * Foundation.erfc(-x / 2.0.squareRoot()) }

    /// A standard normal draw (Box–Muller, one of the pair).
    static func normal(_ rng: inout Xoshiro256) -> Double {
        let u1 = 1 - rng.nextDouble()  // (0, 1]
        let u2 = rng.nextDouble()
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }

    /// Where a range's value lies in [0, 1]: the inverse of the map that proposals go through
    /// (`value(_:at:)`): an integer range (not log) at the middle of its whole number's cell,
    /// otherwise linearly, or in log with `log`.
    static func coordinate(_ x: Double, lo: Double, hi: Double, log: Bool, integer: Bool) -> Double {
        if integer && !log {
            let first = lo.rounded(.up), last = hi.rounded(.down)
            return min(1, max(0, (x - first + 0.5) / (last - first + 1)))
        }
        guard hi > lo else { return 0.5 }
        let u = log ? (Foundation.log(x) - Foundation.log(lo)) / (Foundation.log(hi) - Foundation.log(lo)) : (x - lo) / (hi - lo)
        return min(1, max(0, u))
    }

    /// The good and the bad observations of a proposal: the scored ones by score, best first
    /// (ties: in the given order), the first max(1, ceil(gamma n)) of them good, n the number
    /// of observations (liars and failed ones included); everything else bad.
    public static func split(_ observations: [TPEObservation], gamma: Double) -> (good: [TPEObservation], bad: [TPEObservation]) {
        let scored = observations.indices.filter { observations[$0].score != nil }
            .sorted { a, b in
                let x = observations[a].score!, y = observations[b].score!
                return x != y ? x > y : a < b
            }
        let goodCount = min(scored.count, max(1, Int((gamma * Double(observations.count)).rounded(.up))))
        let good = Set(scored.prefix(goodCount))
        return (scored.prefix(goodCount).map { observations[$0] },
                observations.indices.filter { !good.contains($0) }.map { observations[$0] })
    }

    /// The proposal for `parameters` from these observations, drawing from `rng`: per parameter
    /// in space order, `candidates` draws from l and the first with the highest log l - log g.
    public static func propose(parameters: [ParameterDomain], observations: [TPEObservation],
                               options: TPEOptions, rng: inout Xoshiro256) -> [(ScheduleParameter, Double)] {
        let (good, bad) = split(observations, gamma: options.gamma)
        return parameters.map { d in
            let name = d.parameter.rawValue
            switch d.kind {
            case .values(let vs):
                func index(_ o: TPEObservation) -> Int? { o.swept[name].flatMap { v in vs.firstIndex(of: v) } }
                let l = Categorical(observations: good.compactMap(index), count: vs.count)
                let g = Categorical(observations: bad.compactMap(index), count: vs.count)
                var best = (ratio: -Double.infinity, item: 0)
                for _ in 0..<options.candidates {
                    let c = l.sample(&rng)
                    let ratio = Foundation.log(l.probabilities[c]) - Foundation.log(g.probabilities[c])
                    if ratio > best.ratio { best = (ratio, c) }
                }
                return (d.parameter, vs[best.item])
            case .range(let lo, let hi, let log, let integer):
                func u(_ o: TPEObservation) -> Double? {
                    o.swept[name].map { coordinate($0, lo: lo, hi: hi, log: log, integer: integer) }
                }
                let l = Parzen(observations: good.compactMap(u)), g = Parzen(observations: bad.compactMap(u))
                var best = (ratio: -Double.infinity, u: 0.5)
                for _ in 0..<options.candidates {
                    let x = l.sample(&rng)
                    let ratio = l.logDensity(x) - g.logDensity(x)
                    if ratio > best.ratio { best = (ratio, x) }
                }
                return (d.parameter, SobolSampler.value(d.kind, at: best.u))
            }
        }
    }
}

extension SearchSpace {
    /// The configurations of a tpe search that are its start-up draws (random search's first).
    public var tpeStartup: Int { min(tpe?.startup ?? 0, trials ?? 0) }

    /// Who proposed SGDR configuration `index` (0-based) of this space: "random" (a grid,
    /// random or start-up draw), "sobol", "list" or "tpe".
    public func proposer(ofConfiguration index: Int) -> String {
        if strategy == .tpe { return index < (tpe?.startup ?? 0) ? "startup" : "tpe" }
        return strategy.rawValue
    }

    /// The trials of SGDR configuration `index` of a tpe search, with these swept values
    /// (numbered as without racing: configuration-major, the baselines first).
    func tpeTrialSpecs(index: Int, values: [(ScheduleParameter, Double)]) -> [TrialSpec] {
        let c = Configuration(
            id: Self.configurationID(index), schedule: scheduleConfig(kind: .sgdr, parameters(with: values)),
            swept: Dictionary(values.map { ($0.0.rawValue, $0.1) }, uniquingKeysWith: { $1 }))
        let configurationNumber = baselines.count + index
        return (0..<repeats).map { r in
            TrialSpec(id: TrialSpec.id(configuration: c.id, repeatIndex: r), number: configurationNumber * repeats + r,
                      configuration: c.id, repeatIndex: r,
                      seed: Seeds.training(sweepSeed: seed, repeatIndex: r),
                      schedule: c.schedule, swept: c.swept)
        }
    }

    /// The proposals a tpe search can make now, given its stored trials (any order): the next
    /// configurations, in order, for which every configuration they condition on is finished
    /// (start-up ones need none), until `trials` are proposed. A pure function of the space and
    /// the stored trials' results: every process and host that reads the same results proposes
    /// the same trials, so adding them (idempotent by id) stores each once.
    public func tpeProposals(_ stored: [TrialRecord]) -> [TrialSpec] {
        guard strategy == .tpe, let options = tpe, let budget = trials else { return [] }
        // The SGDR configurations stored, by index: their swept values and trials' statuses.
        var byIndex: [Int: (swept: [String: Double], records: [TrialRecord])] = [:]
        let firstSGDR = baselines.count * repeats
        for r in stored where r.spec.number >= firstSGDR {
            let index = r.spec.number / repeats - baselines.count
            byIndex[index, default: (r.spec.swept, [])].records.append(r)
        }
        var next = 0
        while byIndex[next] != nil { next += 1 }
        var out: [TrialSpec] = []
        let startup = RandomSampler(parameters: parameters, seed: seed, count: budget)
        while next < budget {
            let values: [(ScheduleParameter, Double)]
            if next < options.startup {
                values = startup.configuration(at: next)
            } else {
                // Configurations 0 ..< seen must be finished; the parallel - 1 after them lie.
                let seen = next - options.parallel + 1
                var observations: [TPEObservation] = []
                for j in 0..<next {
                    guard let c = byIndex[j] else { return out }
                    if j < seen {
                        guard c.records.count == repeats, c.records.allSatisfy({ $0.status.isFinished }) else { return out }
                        let scores = c.records.map { $0.status == .done ? $0.score(objective) : nil }
                        let score: Double? = scores.contains { $0 == nil } ? nil
                            : scores.reduce(0) { $0 + $1! } / Double(repeats)
                        observations.append(TPEObservation(swept: c.swept, score: score))
                    } else {
                        observations.append(TPEObservation(swept: c.swept, score: nil))
                    }
                }
                var rng = Xoshiro256(seed: Seeds.tpeProposal(sweepSeed: seed, index: next))
                values = TPE.propose(parameters: parameters, observations: observations, options: options, rng: &rng)
            }
            let specs = tpeTrialSpecs(index: next, values: values)
            out += specs
            byIndex[next] = (specs[0].swept, specs.map { TrialRecord(spec: $0, status: .pending) })
            next += 1
        }
        return out
    }
}

/// A tpe search: the baselines and the start-up configurations are stored at the start, the
/// rest one proposal at a time as the runner finds nothing to claim (`replenish`); ranked as a
/// plain sweep (its trials are numbered the same way).
public struct TPERanking: Ranking {
    public let space: SearchSpace
    private var plain: PlainRanking { PlainRanking(space: space) }

    public init(space: SearchSpace) { self.space = space }

    public func storeTrials(in store: any TrialStore, firstBatch: Int, batch: Int) throws -> (TrialCounts, TrialFeeder?) {
        var specs = space.trialSpecs(0..<(space.baselines.count * space.repeats))
        specs += space.tpeProposals(try store.trials(withEpochs: false))
        if !specs.isEmpty { try store.addTrials(specs) }
        return (try store.counts(), nil)
    }

    public func currentTotal(stored: Int) -> Int { max(space.trialCount, stored) }
    public var progressTotal: Int { space.trialCount }
    public func trialsPhrase(total: Int) -> String { "\(total) trials" }

    /// Any process may propose: adding is idempotent and a proposal a function of the stored trials.
    public func replenish(_ store: any TrialStore) -> (@Sendable () throws -> Bool)? {
        { [space] in
            let new = space.tpeProposals(try store.trials(withEpochs: false))
            if !new.isEmpty { try store.addTrials(new) }
            return !new.isEmpty
        }
    }

    public func growthProblem(from stored: SearchSpace, path: String) -> String? { nil }
    public func ranked(_ store: any TrialStore, top: Int) throws -> RankedSweep { try plain.ranked(store, top: top) }
    public func statusInput(_ store: any TrialStore) throws -> StatusInput { try plain.statusInput(store) }
    public func raceSummary(_ trials: [TrialRecord]) -> RaceSummary? { nil }
}
