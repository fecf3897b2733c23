import Foundation

// The tests' schedule oracle: docs/SCHEDULE.md's rules computed for a whole run at once (trigger
// epoch, cycle layout, record highs, peaks cycle by cycle), a different form from the state
// machine in Sources/Schedules/SGDR.swift, written without calling it; plus a seeded random
// generator for property tests.
// Shared by SchedulesTests and CLITests (a test-support target; nothing ships it).

/// SplitMix64: small, seeded, reproducible.
public struct SplitMix64: RandomNumberGenerator {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One parameter set. `tmult` is the exact fraction `tmultNumerator / tmultDenominator` (1.5 is
/// 150/100, 2.9999999 is 29999999/10000000), so the spec's `floor(tmult * T_i)` is computed in
/// integers, free of binary rounding; only the spec's 1e-9 slack is a floating-point comparison.
public struct SpecCase: CustomStringConvertible, Sendable {
    public var lrMax: Double
    public var lrMin: Double
    public var t0: Int
    public var tmultNumerator: Int
    public var tmultDenominator: Int
    public var c: Double
    public var trigger: Double
    public var epochs: Int

    public init(lrMax: Double, lrMin: Double, t0: Int, tmultNumerator: Int, tmultDenominator: Int, c: Double,
                trigger: Double, epochs: Int) {
        self.lrMax = lrMax
        self.lrMin = lrMin
        self.t0 = t0
        self.tmultNumerator = tmultNumerator
        self.tmultDenominator = tmultDenominator
        self.c = c
        self.trigger = trigger
        self.epochs = epochs
    }

    public init(lrMax: Double, lrMin: Double, t0: Int, tmultPercent: Int, c: Double, trigger: Double, epochs: Int) {
        self.init(lrMax: lrMax, lrMin: lrMin, t0: t0, tmultNumerator: tmultPercent, tmultDenominator: 100, c: c,
                  trigger: trigger, epochs: epochs)
    }

    /// The `tmult` the code under test is given.
    public var tmult: Double { Double(tmultNumerator) / Double(tmultDenominator) }

    public var description: String {
        "lrMax=\(lrMax) lrMin=\(lrMin) t0=\(t0) tmult=\(tmultNumerator)/\(tmultDenominator) c=\(c) trigger=\(trigger) epochs=\(epochs)"
    }
}

public struct SpecEpoch: Sendable {
    public var lr: Double
    public var tCur: Int
    public var tI: Int
    /// Whether the schedule was running during this epoch.
    public var triggered: Bool
    public var peak: Double
    /// Whether this epoch's val_acc counted as an improvement (set next_peak).
    public var improved: Bool
    /// `best` and `next_peak` after this epoch's end.
    public var best: Double
    public var nextPeak: Double
}

/// docs/SCHEDULE.md's cycle growth, `T_{i+1} = floor(tmult * T_i)` "with a 1e-9 relative slack":
/// the exact integer floor of `num * T_i / den`, one more when `tmult * T_i` falls short of the
/// next whole number by at most 1e-9 of itself. Saturates at `Int.max` instead of overflowing.
public func specNextCycleLength(_ tI: Int, _ p: SpecCase) -> Int {
    let (product, overflow) = p.tmultNumerator.multipliedReportingOverflow(by: tI)
    if overflow { return Int.max }
    let whole = product / p.tmultDenominator
    let shortOfNext = p.tmultDenominator - product % p.tmultDenominator  // in units of 1 / den
    return Double(shortOfNext) <= 1e-9 * Double(product) ? whole + 1 : whole
}

/// The spec's rates for a whole run, computed from the run's shape rather than by replaying a
/// state machine (the code under test is one; an oracle of the same form shared its mistakes):
/// 1. The trigger epoch `k`: none (0) when `trigger_val_acc` is 0, else the first epoch whose
///    val_acc reaches it ("Trigger"). Epochs 1...k run at `lr_max`; no `k`: the whole run does.
/// 2. The cycles: laid out in advance from epoch k + 1, of lengths t0, g(t0), g(g(t0)), ...
///    (`specNextCycleLength`); they do not depend on the accuracies.
/// 3. The improving epochs: from epoch k on (epoch 1 when k is 0), the record highs of val_acc
///    above 0 ("Improvement": `a > best`, best from 0, the trigger epoch included).
/// 4. The peaks: cycle 0 peaks at `lr_max`; cycle i + 1 peaks at the next-peak value of the last
///    improving epoch up to the end of cycle i (`lr_max` if there is none), where an improving
///    epoch with rate `lr` in a cycle peaking at `peak` (an unscheduled epoch: peak `lr_max`) gives
///    `max(peak / c, lr)` for c > 0, else `lr`.
/// Each epoch's rate is then the cosine of its position in its cycle; `best` after an epoch is the
/// record so far, `next_peak` that of the last improving epoch so far.
public func specReference(_ p: SpecCase, valAccs: [Double]) -> [SpecEpoch] {
    let n = p.epochs
    let a = Array(valAccs.prefix(n))
    precondition(a.count == n, "one val_acc per epoch")
    // 1. The trigger epoch (1-based); nil: never.
    let triggerEpoch: Int? = p.trigger <= 0 ? 0 : a.firstIndex { $0 >= p.trigger }.map { $0 + 1 }
    guard let k = triggerEpoch else {
        return a.map { _ in SpecEpoch(lr: p.lrMax, tCur: 0, tI: p.t0, triggered: false, peak: p.lrMax,
                                      improved: false, best: 0, nextPeak: p.lrMax) }
    }
    // 2. The cycles: (first epoch, length), covering epochs k + 1 ... n.
    var cycles: [(first: Int, length: Int)] = []
    var first = k + 1, length = p.t0
    while first <= n {
        cycles.append((first, length))
        if length >= n { break }  // covers the rest of the run
        first += length
        length = specNextCycleLength(length, p)
    }
    // 3. The improving epochs (1-based).
    var improving = Set<Int>()
    var record = 0.0
    for e in max(k, 1)...max(n, 1) where e <= n && a[e - 1] > record {
        record = a[e - 1]
        improving.insert(e)
    }
    // 4. The peaks, cycle by cycle, and every epoch's rate with them.
    func cosine(_ peak: Double, _ tCur: Int, _ tI: Int) -> Double {
        p.lrMin + (peak - p.lrMin) * (1 + cos(Double.pi * Double(tCur) / Double(tI))) / 2
    }
    func nextPeak(peak: Double, lr: Double) -> Double { p.c > 0 ? max(peak / p.c, lr) : lr }
    var rate = [Double](repeating: p.lrMax, count: n + 1)     // by epoch; unscheduled: lr_max
    var peakOf = [Double](repeating: p.lrMax, count: n + 1)
    var position = [(tCur: Int, tI: Int)](repeating: (0, p.t0), count: n + 1)
    var carried = p.lrMax  // next-peak value of the last improving epoch before the current cycle
    if k >= 1, improving.contains(k) { carried = nextPeak(peak: p.lrMax, lr: p.lrMax) }
    for (i, cycle) in cycles.enumerated() {
        let peak = i == 0 ? p.lrMax : carried
        let last = min(n, cycle.first + cycle.length - 1)
        for e in cycle.first...last {
            rate[e] = cosine(peak, e - cycle.first + 1, cycle.length)
            peakOf[e] = peak
            position[e] = (e - cycle.first + 1, cycle.length)
        }
        if let lastImproving = (cycle.first...last).last(where: improving.contains) {
            carried = nextPeak(peak: peak, lr: rate[lastImproving])
        }
    }
    // best / next_peak after each epoch.
    var out: [SpecEpoch] = []
    var best = 0.0, next = p.lrMax
    for e in 1...max(n, 1) where e <= n {
        if improving.contains(e) {
            best = a[e - 1]
            next = nextPeak(peak: peakOf[e], lr: rate[e])
        }
        out.append(SpecEpoch(lr: rate[e], tCur: position[e].tCur, tI: position[e].tI, triggered: e > k,
                             peak: peakOf[e], improved: improving.contains(e), best: best, nextPeak: next))
    }
    return out
}

/// SGDR-SPEC.md, "Baselines": plateau (Keras's ReduceLROnPlateau on val_acc), transcribed from
/// the spec's text: lr = lr_max, best = -inf, wait = 0; at each epoch's end, a > best + min_delta
/// improves (best = a, wait = 0), else wait += 1 and, once wait >= patience while lr > lr_min,
/// lr = max(lr * factor, lr_min) from the next epoch and wait = 0. Returns each epoch's rate.
public func plateauReference(lrMax: Double, lrMin: Double, factor: Double, patience: Int, minDelta: Double,
                             valAccs: [Double]) -> [Double] {
    var lr = lrMax, best = -Double.infinity, wait = 0
    var rates: [Double] = []
    for a in valAccs {
        rates.append(lr)
        if a > best + minDelta {
            best = a
            wait = 0
        } else {
            wait += 1
            if wait >= patience && lr > lrMin {
                lr = max(lr * factor, lrMin)
                wait = 0
            }
        }
    }
    return rates
}

extension SplitMix64 {
    public mutating func unit() -> Double { Double.random(in: 0..<1, using: &self) }

    /// A valid parameter set (c never in (0, 1), which the parameters reject).
    public mutating func specCase(compression: Double? = nil, tmultPercent: Int? = nil,
                           trigger: Double? = nil, maxEpochs: Int = 80) -> SpecCase {
        let lrMax = pow(10, Double.random(in: -4...0, using: &self))
        let lrMin: Double
        switch Int.random(in: 0..<5, using: &self) {
        case 0: lrMin = 0
        case 1: lrMin = lrMax / 100
        case 2: lrMin = lrMax
        default: lrMin = lrMax * unit()
        }
        let t0 = Int.random(in: 1...12, using: &self)
        // Fractions of a whole tmult; the last three are near whole numbers: 2.9999999 is 3.3e-8 below 3,
        // beyond the 1e-9 slack (T_i = 1 stays 2), 2.999999999999 and 1.4999999999 are within it (they
        // count as 3 and 1.5).
        let tms: [(Int, Int)] = [(100, 100), (100, 100), (150, 100), (200, 100), (200, 100), (115, 100), (300, 100),
                                 (Int.random(in: 100...300, using: &self), 100), (29_999_999, 10_000_000),
                                 (2_999_999_999_999, 1_000_000_000_000), (14_999_999_999, 10_000_000_000)]
        let tm = tmultPercent.map { ($0, 100) } ?? tms.randomElement(using: &self)!
        let cs: [Double] = [1, 5, 10, 0, -1, Double.random(in: 1...20, using: &self)]
        let c = compression ?? cs.randomElement(using: &self)!
        let triggers: [Double] = [0, 0, 0.5, 1, Double.random(in: 0.05...0.95, using: &self)]
        let trig = trigger ?? triggers.randomElement(using: &self)!
        return SpecCase(lrMax: lrMax, lrMin: lrMin, t0: t0, tmultNumerator: tm.0, tmultDenominator: tm.1, c: c,
                        trigger: trig, epochs: Int.random(in: 1...maxEpochs, using: &self))
    }

    /// Validation accuracies in [0, 1] of several shapes: noisy rise, random, flat, monotone.
    public mutating func valAccs(_ n: Int) -> [Double] {
        switch Int.random(in: 0..<4, using: &self) {
        case 0:
            var a = 0.3 * unit()
            return (0..<n).map { _ in a = min(1, max(0, a + Double.random(in: -0.05...0.1, using: &self))); return a }
        case 1: return (0..<n).map { _ in unit() }
        case 2: let a = unit(); return Array(repeating: a, count: n)
        default: return (0..<n).map { Double($0 + 1) / Double(n + 1) }
        }
    }
}

/// |a - b| <= rel * max(|a|, |b|) (equal values, including zeros, always pass).
public func close(_ a: Double, _ b: Double, rel: Double) -> Bool {
    a == b || abs(a - b) <= rel * max(abs(a), abs(b))
}

/// SGDR-SPEC.md's golden table: lr_max 0.1, lr_min 1e-5, t0 5, tmult 2, c 1, trigger from the start.
public let goldenTable: [(epoch: Int, tCur: Int, tI: Int, lr: Double)] = [
    (1, 1, 5, 0.090451805), (2, 2, 5, 0.065454305), (3, 3, 5, 0.034555695),
    (4, 4, 5, 0.009558195), (5, 5, 5, 0.00001), (6, 1, 10, 0.097553071),
    (7, 2, 10, 0.090451805), (8, 3, 10, 0.079391324), (9, 4, 10, 0.065454305),
    (10, 5, 10, 0.050005), (11, 6, 10, 0.034555695), (12, 7, 10, 0.020618676),
    (13, 8, 10, 0.009558195), (14, 9, 10, 0.002456929), (15, 10, 10, 0.00001),
    (16, 1, 20, 0.099384479), (17, 2, 20, 0.097553071), (18, 3, 20, 0.094550871),
]

/// SGDR-SPEC.md's golden table 2 (trigger and compression driven by val_acc): lr_max 0.1,
/// lr_min 0.001, t0 3, tmult 2, c 5, trigger 0.8. `tCur` is nil where the spec shows "-".
public let goldenTable2Case = SpecCase(lrMax: 0.1, lrMin: 0.001, t0: 3, tmultPercent: 200, c: 5, trigger: 0.8, epochs: 12)
public let goldenTable2: [(epoch: Int, scheduled: Bool, tCur: Int?, tI: Int, peak: Double, lr: Double,
                           valAcc: Double, best: Double, nextPeak: Double)] = [
    (1, false, nil, 3, 0.1, 0.1, 0.70, 0, 0.1),
    (2, false, nil, 3, 0.1, 0.1, 0.82, 0.82, 0.1),
    (3, true, 1, 3, 0.1, 0.07525, 0.81, 0.82, 0.1),
    (4, true, 2, 3, 0.1, 0.02575, 0.80, 0.82, 0.1),
    (5, true, 3, 3, 0.1, 0.001, 0.815, 0.82, 0.1),
    (6, true, 1, 6, 0.1, 0.0933682575, 0.84, 0.84, 0.0933682575),
    (7, true, 2, 6, 0.1, 0.07525, 0.85, 0.85, 0.07525),
    (8, true, 3, 6, 0.1, 0.0505, 0.86, 0.86, 0.0505),
    (9, true, 4, 6, 0.1, 0.02575, 0.855, 0.86, 0.0505),
    (10, true, 5, 6, 0.1, 0.00763174251, 0.87, 0.87, 0.02),
    (11, true, 6, 6, 0.1, 0.001, 0.88, 0.88, 0.02),
    (12, true, 1, 12, 0.02, 0.0196762953, 0.89, 0.89, 0.0196762953),
]

/// SGDR-SPEC.md's plateau example: lr_max 0.1, lr_min 0.001, the default factor 0.1,
/// patience 3 and min_delta 1e-4.
public let plateauExampleValAccs: [Double] = [0.80, 0.85, 0.86, 0.86, 0.858, 0.859, 0.87, 0.87, 0.87, 0.87, 0.871, 0.871]
public let plateauExampleRates: [Double] = [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.01, 0.001, 0.001]
