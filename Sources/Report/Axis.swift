import Foundation

/// How an axis maps values.
public enum AxisScale: String, Hashable, Sendable {
    case linear, log
}

/// One tick of an axis: its value, its label (empty for an unlabelled minor tick) and whether it
/// is a major tick (drawn longer, with a grid line).
public struct AxisTick: Hashable, Sendable {
    public var value: Double
    public var label: String
    public var major: Bool

    public init(value: Double, label: String, major: Bool) {
        self.value = value
        self.label = label
        self.major = major
    }
}

/// A finished axis: the domain it covers and its ticks.
public struct Axis: Hashable, Sendable {
    public var scale: AxisScale
    public var lower: Double
    public var upper: Double
    public var ticks: [AxisTick]

    /// The position of `value` in [0, 1] along the axis (0 at `lower`), clamped; nil when the
    /// value is not finite (or not positive on a log axis).
    public func fraction(_ value: Double) -> Double? {
        guard value.isFinite else { return nil }
        let f: Double
        switch scale {
        case .linear:
            f = (value - lower) / (upper - lower)
        case .log:
            guard value > 0 else { return nil }
            f = (log10(value) - log10(lower)) / (log10(upper) - log10(lower))
        }
        guard f.isFinite else { return nil }
        return min(1, max(0, f))
    }

    /// A linear axis over [min, max] rounded out to a 1-2-5 step, about `target` intervals
    /// (`integer`: the step is at least 1, for epochs).
    public static func linear(min lo: Double, max hi: Double, target: Int = 5, integer: Bool = false) -> Axis {
        var (lo, hi) = (lo, hi)
        if !lo.isFinite || !hi.isFinite { (lo, hi) = (0, 1) }
        if lo > hi { swap(&lo, &hi) }
        if hi == lo {
            let pad = lo == 0 ? 1 : abs(lo) * 0.1
            lo -= pad
            hi += pad
        }
        var step = niceStep((hi - lo) / Double(Swift.max(1, target)))
        if integer { step = Swift.max(1, step) }
        let first = (lo / step).rounded(.down)
        let last = (hi / step).rounded(.up)
        let lower = first * step
        let upper = last * step
        var ticks: [AxisTick] = []
        var i = first
        while i <= last + 0.5 {
            var v = i * step
            if abs(v) < step * 1e-9 { v = 0 }
            ticks.append(AxisTick(value: v, label: Format.tick(v, step: step), major: true))
            i += 1
        }
        return Axis(scale: .linear, lower: lower, upper: upper, ticks: ticks)
    }

    /// The 1-2-5 step nearest above `rough`.
    static func niceStep(_ rough: Double) -> Double {
        guard rough.isFinite, rough > 0 else { return 1 }
        let magnitude = pow(10, (log10(rough)).rounded(.down))
        let normalized = rough / magnitude
        let factor: Double = normalized <= 1 ? 1 : normalized <= 2 ? 2 : normalized <= 5 ? 5 : 10
        return factor * magnitude
    }

    /// A log10 axis over whole decades containing [min, max] (both > 0): a labelled major tick at
    /// every decade, minor ticks at 2 and 5 times each decade, labelled when the axis spans at
    /// most two decades. Non-positive or non-finite bounds fall back to [0.1, 1] around what is valid.
    public static func log(min lo: Double, max hi: Double) -> Axis {
        var (lo, hi) = (lo, hi)
        if !(hi.isFinite && hi > 0) { hi = lo.isFinite && lo > 0 ? lo : 1 }
        if !(lo.isFinite && lo > 0) { lo = hi / 10 }
        if lo > hi { swap(&lo, &hi) }
        var d0 = Int((log10(lo) + 1e-9).rounded(.down))
        var d1 = Int((log10(hi) - 1e-9).rounded(.up))
        if d1 <= d0 {
            // A single value on a decade (or within one): show the decade around it.
            if log10(hi) - Double(d0) < 1e-9 { d0 -= 1 } else { d1 = d0 + 1 }
            if d1 <= d0 { d1 = d0 + 1 }
        }
        let labelMinor = d1 - d0 <= 2
        let labelEvery = Swift.max(1, (d1 - d0 + 7) / 8)
        var ticks: [AxisTick] = []
        for d in d0...d1 {
            let decade = pow(10, Double(d))
            let label = (d - d0) % labelEvery == 0 || d == d1 ? Format.number(decade) : ""
            ticks.append(AxisTick(value: decade, label: label, major: true))
            if d < d1 {
                for m in [2.0, 5.0] {
                    let v = m * decade
                    ticks.append(AxisTick(value: v, label: labelMinor ? Format.number(v) : "", major: false))
                }
            }
        }
        return Axis(scale: .log, lower: pow(10, Double(d0)), upper: pow(10, Double(d1)), ticks: ticks)
    }

    /// The x axis of a swept parameter's chart: the values' range widened by `padding` of its
    /// span on each side (in log10 on a log axis; a single value gets ±1 for an integer
    /// parameter, else ±10%), so that no point sits on the frame. A few distinct values (at most
    /// `maxValueTicks`, none closer than a twelfth of the axis to the next: a grid's or a list's)
    /// get one tick each, at those values; otherwise 1-2-5 ticks inside the range (per decade on
    /// a log axis). An integer parameter (`t0`) gets whole-number ticks only.
    public static func parameter(_ values: [Double], scale: AxisScale, integer: Bool,
                                 padding: Double = 0.08, maxValueTicks: Int = 6) -> Axis {
        let log = scale == .log
        let valid = values.filter { $0.isFinite && (!log || $0 > 0) }
        guard let lo = valid.min(), let hi = valid.max() else { return covering([], scale: scale) }
        // Positions in "axis units": the value, or its log10.
        func u(_ v: Double) -> Double { log ? log10(v) : v }
        func v(_ u: Double) -> Double { log ? pow(10, u) : u }
        var (a, b) = (u(lo), u(hi))
        if b - a > 0 {
            let pad = (b - a) * padding
            (a, b) = (a - pad, b + pad)
        } else if log {
            (a, b) = (a - (integer ? log10(2) : log10(1.1)) / 2, b + (integer ? log10(2) : log10(1.1)) / 2)
        } else {
            let pad = integer ? 1 : (lo == 0 ? 0.1 : abs(lo) * 0.1)
            (a, b) = (a - pad, b + pad)
        }
        let lower = v(a), upper = v(b)
        // The distinct values, up to one more than can be ticked (a random range of a million
        // trials stops here after a few).
        var seen = Set<Double>()
        for x in valid where seen.insert(x).inserted && seen.count > maxValueTicks { break }
        let distinct = seen.sorted()
        let gaps = zip(distinct, distinct.dropFirst()).map { (u($1) - u($0)) / (b - a) }
        var ticks: [AxisTick] = []
        if distinct.count <= maxValueTicks && gaps.allSatisfy({ $0 >= 1.0 / 12 }) {
            ticks = distinct.map { AxisTick(value: $0, label: Format.number($0), major: true) }
        } else if log {
            let candidates = Axis.log(min: lower, max: upper).ticks
            ticks = candidates.filter { $0.value >= lower * (1 - 1e-12) && $0.value <= upper * (1 + 1e-12) }
                .filter { !integer || $0.value == $0.value.rounded() }
                .map { AxisTick(value: $0.value, label: Format.number($0.value), major: true) }
            // Many decades: only the decades are labelled (as `log` does).
            if ticks.count > 8 { ticks = ticks.map { t in
                let decade = abs(log10(t.value) - log10(t.value).rounded()) < 1e-9
                return AxisTick(value: t.value, label: decade ? t.label : "", major: decade)
            } }
        } else {
            var step = niceStep((upper - lower) / 5)
            if integer { step = Swift.max(1, step) }
            var i = (lower / step).rounded(.up)
            while i * step <= upper + step * 1e-9 {
                var t = i * step
                if abs(t) < step * 1e-9 { t = 0 }
                ticks.append(AxisTick(value: t, label: Format.tick(t, step: step), major: true))
                i += 1
            }
        }
        return Axis(scale: scale, lower: lower, upper: upper, ticks: ticks)
    }

    /// An axis of `scale` that covers `values` (non-finite values, and non-positive ones on a log
    /// axis, are ignored; with none left: [0, 1] or [0.1, 1]).
    public static func covering(_ values: [Double], scale: AxisScale) -> Axis {
        let valid = values.filter { $0.isFinite && (scale == .linear || $0 > 0) }
        switch scale {
        case .linear:
            guard let lo = valid.min(), let hi = valid.max() else { return linear(min: 0, max: 1) }
            return linear(min: lo, max: hi)
        case .log:
            guard let lo = valid.min(), let hi = valid.max() else { return log(min: 0.1, max: 1) }
            return log(min: lo, max: hi)
        }
    }
}
