import Foundation

// An independent, straightforward transcription of SGDR-SPEC.md's state machine, written
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
public struct SpecCase: CustomStringConvertible {
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
}

/// SGDR-SPEC.md, "The state machine", line by line. The epoch whose val_acc reaches the trigger
/// ran at lr_max before the schedule and is not an improvement (the project's design decision).
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
        if !triggered {
            if a >= p.trigger { triggered = true }
        } else if a > best {
            best = a
            nextPeak = p.c > 0 ? max(peak / p.c, lr) : lr
            improved = true
        }
        out.append(SpecEpoch(lr: lr, tCur: tCur, tI: tI, triggered: wasTriggered, peak: peak, improved: improved))
    }
    return out
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
        let triggers: [Double] = [0, 0, -0.5, 1, Double.random(in: 0.05...0.95, using: &self)]
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
