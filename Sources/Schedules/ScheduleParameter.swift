/// The schedule parameters, declared once.
///
/// Each case is one row of the table: its name (the space file's key, the store's column, the
/// JSON key and the leaderboard's column), its command-line option, its type, what it allows,
/// its default, how it is shown, and where it lives in `SGDRParameters`. The space parser, the
/// `schedule`/`train` options, the leaderboard, the report's labels, `best`'s text, JSON and
/// rerun command, and both stores' columns all derive from it.
///
/// To add a parameter: add a case here and fill in each property's switch (the compiler lists
/// the ones missing), add the field to `SGDRParameters` and use it in `SGDRSchedule`; then write
/// a store migration that adds its column with the default (see README, "Adding a schedule
/// parameter"). Add the case at the end of `canonicalOrder` too: a sweep's hash covers fixed
/// values in that frozen order.
public enum ScheduleParameter: String, Hashable, Sendable, CaseIterable {
    // The order of the cases is the order of columns, options and printed parameters.
    case lrMax = "lr_max"
    case lrMin = "lr_min"
    case t0
    case tmult
    case lrMaxCompression = "lr_max_compression"
    case triggerValAcc = "trigger_val_acc"

    /// The name in space files, store columns and JSON: `lr_max_compression`.
    public var name: String { rawValue }

    /// The command-line option: `--lr-max-compression`.
    public var option: String { "--" + longName }
    /// The option without its dashes: `lr-max-compression`.
    public var longName: String { String(rawValue.map { $0 == "_" ? "-" : $0 }) }

    /// Integer-valued: stored as an integer, random draws are rounded, list values must be whole.
    public var isInteger: Bool { self == .t0 }

    /// The largest `t0` (a cycle far longer than any run; keeps the value an exact integer).
    public static let maxT0 = 999_999_999

    /// What values are allowed, with the name's spelling left to the caller.
    public var rule: ParameterRule {
        switch self {
        case .lrMax: ParameterRule(name: name, allowed: "a finite number > 0") { $0.isFinite && $0 > 0 }
        case .lrMin: ParameterRule(name: name, allowed: "a finite number >= 0, no larger than lr_max") {
            $0.isFinite && $0 >= 0
        }
        case .t0: ParameterRule(name: name, allowed: "an integer in [1, \(Self.maxT0)]") {
            $0 >= 1 && $0 <= Double(Self.maxT0) && $0 == $0.rounded()
        }
        case .tmult: ParameterRule(name: name, allowed: "a finite number >= 1") { $0.isFinite && $0 >= 1 }
        // 0 < c < 1 would raise the next peak to peak / c > lr_max, above the global peak.
        case .lrMaxCompression: ParameterRule(
            name: name, allowed: "a finite number >= 1, or <= 0 (next peak = the improving epoch's rate)"
        ) { $0.isFinite && ($0 <= 0 || $0 >= 1) }
        case .triggerValAcc: ParameterRule(
            name: name, allowed: "a number in [0, 1] (0: the schedule runs from epoch 1)"
        ) { $0.isFinite && $0 >= 0 && $0 <= 1 }
        }
    }

    /// Values inside this open interval are not allowed although both ends are: a continuous
    /// random range across it would draw them.
    public var gap: (low: Double, high: Double)? { self == .lrMaxCompression ? (0, 1) : nil }

    /// The default value; `lr_min`'s follows `lr_max` (`lr_max / 100`).
    public func defaultValue(lrMax: Double? = nil) -> Double {
        switch self {
        case .lrMax: 0.1
        case .lrMin: (lrMax ?? Self.lrMax.defaultValue()) / 100
        case .t0: 10
        case .tmult: 1
        case .lrMaxCompression: 5
        case .triggerValAcc: 0
        }
    }

    /// Short name for chart labels: `c` for `lr_max_compression`.
    public var label: String {
        switch self {
        case .lrMaxCompression: "c"
        case .triggerValAcc: "trigger"
        default: name
        }
    }

    /// The baselines use it too (as their peak and floor), so their rows show it.
    public var usedByBaselines: Bool { self == .lrMax || self == .lrMin }

    /// Left out of one-line descriptions while at its default (`trigger_val_acc` 0: no trigger).
    public var omittedAtDefault: Bool { self == .triggerValAcc }

    /// The option's help text.
    public var help: String {
        switch self {
        case .lrMax: "Peak rate, and sgdr's rate before the trigger (> 0)."
        case .lrMin: "Floor of every cosine cycle, 0 <= lr-min <= lr-max (default: lr-max / 100)."
        case .t0: "sgdr: length in epochs of the first cycle (integer >= 1)."
        case .tmult: "sgdr: cycle growth, T_i+1 = floor(tmult * T_i) (>= 1, e.g. 1.5)."
        case .lrMaxCompression: """
            sgdr: c; after an improvement the next peak is max(peak / c, lr). 1: plain SGDR; \
            <= 0: the improving epoch's rate; 0 < c < 1 is not allowed.
            """
        case .triggerValAcc: """
            sgdr: the schedule starts after an epoch ends with val_acc >= this (in [0, 1]); \
            0: from epoch 1.
            """
        }
    }

    /// This parameter's value in `p`.
    public func value(in p: SGDRParameters) -> Double {
        switch self {
        case .lrMax: p.lrMax
        case .lrMin: p.lrMin
        case .t0: Double(p.t0)
        case .tmult: p.tmult
        case .lrMaxCompression: p.lrMaxCompression
        case .triggerValAcc: p.triggerValAcc
        }
    }

    /// Sets this parameter in `p` (an integer parameter takes `v` rounded toward zero; a value
    /// beyond any integer's range becomes 0, which its rule refuses).
    public func set(_ v: Double, in p: inout SGDRParameters) {
        switch self {
        case .lrMax: p.lrMax = v
        case .lrMin: p.lrMin = v
        case .t0: p.t0 = v.isFinite && abs(v) < 1e15 ? Int(v) : 0  // out of range: 0, which is invalid
        case .tmult: p.tmult = v
        case .lrMaxCompression: p.lrMaxCompression = v
        case .triggerValAcc: p.triggerValAcc = v
        }
    }

    /// The value as written in text, JSON numbers aside: `3`, `0.1`, `1e-05`.
    public func text(in p: SGDRParameters) -> String { fmt(value(in: p)) }

    /// The order of fixed values in a sweep's canonical form (and so its hash): frozen, a new
    /// parameter is appended.
    public static let canonicalOrder: [ScheduleParameter] = [.t0, .tmult, .lrMaxCompression, .triggerValAcc, .lrMax, .lrMin]
}

extension SGDRParameters {
    /// Parameters from one value per table row (`value(p)`), e.g. a store's columns.
    public init(_ value: (ScheduleParameter) throws -> Double) rethrows {
        self.init()
        for p in ScheduleParameter.allCases { p.set(try value(p), in: &self) }
    }

    /// `lr_max=0.1 lr_min=0.001 t0=10 tmult=2 lr_max_compression=5 trigger_val_acc=0.8`; with
    /// `omittingDefaults`, the parameters that say so are left out at their default.
    public func assignments(omittingDefaults: Bool = false, format: (Double) -> String = fmt) -> String {
        ScheduleParameter.allCases.compactMap { p in
            let v = p.value(in: self)
            if omittingDefaults && p.omittedAtDefault && v == p.defaultValue(lrMax: lrMax) { return nil }
            return "\(p.name)=\(p.isInteger ? fmt(v) : format(v))"
        }.joined(separator: " ")
    }
}

/// A number as the tables, messages and rerun commands write it: `3` rather than `3.0` for whole
/// numbers, otherwise Swift's shortest round-trip form (`0.1`, `1e-05`).
public func fmt(_ x: Double) -> String {
    if x == x.rounded(), abs(x) < 1e15 { return String(Int(x)) }
    return "\(x)"
}
