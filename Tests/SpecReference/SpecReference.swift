import Foundation

// An independent, straightforward transcription of docs/SCHEDULE.md (SGDR-SPEC.md) state machine, written
// without calling the code under test, plus a seeded random generator for property tests.
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

/// One parameter set. `tmult` is `tmultPercent / 100`, so the spec's `floor(tmult * T_i)` can be
/// computed exactly in integers (`tmultPercent * T_i / 100`), free of binary rounding.
public struct SpecCase: CustomStringConvertible, Sendable {
    public var lrMax: Double
    public var lrMin: Double
    public var t0: Int
    public var tmultPercent: Int
    public var c: Double
    public var trigger: Double
    public var epochs: Int

    public init(lrMax: Double, lrMin: Double, t0: Int, tmultPercent: Int, c: Double, trigger: Double, epochs: Int) {
        self.lrMax = lrMax
        self.lrMin = lrMin
        self.t0 = t0
        self.tmultPercent = tmultPercent
        self.c = c
        self.trigger = trigger
        self.epochs = epochs
    }

    public var tmult: Double { Double(tmultPercent) / 100 }

    public var description: String {
        "lrMax=\(lrMax) lrMin=\(lrMin) t0=\(t0) tmult=\(tmult) c=\(c) trigger=\(trigger) epochs=\(epochs)"
    }
}

public struct SpecEpoch {
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

/// SGDR-SPEC.md, "The state machine", transcribed from the spec's text, line by line:
/// - state (spec: "State: ..."): triggered from the start when trigger <= 0, best 0, peak and
///   next_peak lr_max, T_i = t0, T_cur = 0;
/// - start of epoch (spec: "At the start of epoch e"): lr_max before the trigger; after it
///   T_cur += 1, a restart when T_cur > T_i (T_i = floor(tmult * T_i), T_cur = 1, peak = next_peak),
///   then the cosine;
/// - end of epoch (spec: "these two rules run in this order, in the same step"): rule 1 fires
///   the trigger, then rule 2 runs for every triggered epoch, the one that just fired it included.
public func specReference(_ p: SpecCase, valAccs: [Double]) -> [SpecEpoch] {
    var triggered = p.trigger <= 0
    var best = 0.0
    var peak = p.lrMax
    var nextPeak = p.lrMax
    var tI = p.t0
    var tCur = 0
    var out: [SpecEpoch] = []
    for e in 0..<p.epochs {
        let wasTriggered = triggered
        var lr: Double
        if !triggered {
            lr = p.lrMax
        } else {
            tCur += 1
            if tCur > tI {
                tI = p.tmultPercent * tI / 100
                tCur = 1
                peak = nextPeak
            }
            lr = p.lrMin + (peak - p.lrMin) * (1 + cos(Double.pi * Double(tCur) / Double(tI))) / 2
        }
        let a = valAccs[e]
        var improved = false
        // Rule 1.
        if !triggered && a >= p.trigger { triggered = true }
        // Rule 2, in the same step.
        if triggered && a > best {
            best = a
            nextPeak = p.c > 0 ? max(peak / p.c, lr) : lr
            improved = true
        }
        out.append(SpecEpoch(lr: lr, tCur: tCur, tI: tI, triggered: wasTriggered, peak: peak, improved: improved,
                             best: best, nextPeak: nextPeak))
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
        let tms: [Int] = [100, 100, 150, 200, 200, 115, 300, Int.random(in: 100...300, using: &self)]
        let tm = tmultPercent ?? tms.randomElement(using: &self)!
        let cs: [Double] = [1, 5, 10, 0, -1, Double.random(in: 1...20, using: &self)]
        let c = compression ?? cs.randomElement(using: &self)!
        let triggers: [Double] = [0, 0, 0.5, 1, Double.random(in: 0.05...0.95, using: &self)]
        let trig = trigger ?? triggers.randomElement(using: &self)!
        return SpecCase(lrMax: lrMax, lrMin: lrMin, t0: t0, tmultPercent: tm, c: c, trigger: trig,
                        epochs: Int.random(in: 1...maxEpochs, using: &self))
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
