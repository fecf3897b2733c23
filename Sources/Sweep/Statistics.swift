import Foundation

/// Student's t distribution and paired comparisons: what `best`, the leaderboard, the report
/// and racing use to compare two configurations over the repeats both finished. Repeat r of
/// every configuration has the same training seed (common random numbers), so the honest
/// comparison is of the pairs `d_r = score(A, r) - score(B, r)`.
public enum StudentT {
    /// P(T <= t) for Student's t with `df` degrees of freedom (> 0).
    public static func cdf(_ t: Double, df: Double) -> Double {
        if t.isNaN || !(df > 0) { return .nan }
        if t == .infinity { return 1 }
        if t == -.infinity { return 0 }
        let x = df / (df + t * t)
        let tail = 0.5 * regularizedIncompleteBeta(x, a: df / 2, b: 0.5)
        return t > 0 ? 1 - tail : tail
    }

    /// The `p` quantile (0 < p < 1): the t with `cdf(t, df) = p`, by bisection on the CDF
    /// (to about 1e-12 relative; a few hundred CDF evaluations, fast enough for a per-round decision).
    public static func quantile(_ p: Double, df: Double) -> Double {
        guard p > 0, p < 1, df > 0 else { return .nan }
        if p == 0.5 { return 0 }
        if p < 0.5 { return -quantile(1 - p, df: df) }
        var lo = 0.0, hi = 1.0
        while cdf(hi, df: df) < p { lo = hi; hi *= 2 }
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if cdf(mid, df: df) < p { lo = mid } else { hi = mid }
            if hi - lo <= 1e-13 * hi { break }
        }
        return (lo + hi) / 2
    }

    /// I_x(a, b), the regularized incomplete beta function, by its continued fraction
    /// (Lentz's method; Numerical Recipes' `betai`/`betacf`).
    static func regularizedIncompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let lnBeta: Double = lgamma(a + b) - lgamma(a) - lgamma(b)
        let lnFront: Double = lnBeta + a * log(x) + b * log(1 - x)
        let front = exp(lnFront)
        if x < (a + 1) / (a + b + 2) { return front * continuedFraction(x, a: a, b: b) / a }
        return 1 - front * continuedFraction(1 - x, a: b, b: a) / b
    }

    private static func continuedFraction(_ x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0
        var d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...300 {
            let m = Double(m)
            let even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 + even * d; if abs(d) < tiny { d = tiny }
            c = 1 + even / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            let odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 + odd * d; if abs(d) < tiny { d = tiny }
            c = 1 + odd / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-15 { break }
        }
        return h
    }
}

/// The paired differences of two configurations over the repeats both have, summarised.
public struct PairedDifference: Hashable, Sendable {
    /// Number of pairs.
    public var pairs: Int
    /// Mean of `a_r - b_r`.
    public var mean: Double
    /// Standard error of the mean (sample standard deviation / sqrt(pairs)); nil with one pair.
    public var standardError: Double?
    /// Half-width of the two-sided 95% confidence interval (Student t, pairs - 1 degrees of
    /// freedom); nil with one pair.
    public var halfWidth95: Double?

    /// The 95% confidence interval, when there are at least two pairs.
    public var interval95: (low: Double, high: Double)? {
        halfWidth95.map { (mean - $0, mean + $0) }
    }

    /// Pairs `a[r] - b[r]` over the repeat indices both dictionaries have; nil when none.
    public init?(_ a: [Int: Double], _ b: [Int: Double]) {
        let repeats = a.keys.filter { b[$0] != nil }.sorted()
        guard !repeats.isEmpty else { return nil }
        self.init(differences: repeats.map { a[$0]! - b[$0]! })
    }

    public init(differences d: [Double]) {
        precondition(!d.isEmpty)
        pairs = d.count
        mean = d.reduce(0, +) / Double(d.count)
        if d.count >= 2 {
            let m = mean
            let variance = d.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(d.count - 1)
            let se = (variance / Double(d.count)).squareRoot()
            standardError = se
            halfWidth95 = StudentT.quantile(0.975, df: Double(d.count - 1)) * se
        } else {
            standardError = nil
            halfWidth95 = nil
        }
    }

    /// Said instead of a verdict when a difference has no spread to judge it by (one pair).
    public static let notMeasurable = "1 repeat: the difference is not measurable; use repeats >= 3"

    /// `notMeasurable` for a sweep of `repeats` repeats: with several, the other repeats are still
    /// to run (resume the sweep), rather than a space to change.
    public static func notMeasurable(repeats: Int) -> String {
        repeats >= 2
            ? "only 1 repeat of both has finished (of \(repeats)): the difference is not measurable yet; resume the sweep to run the others"
            : notMeasurable
    }

    /// One-sided paired t-test of "a is not worse than b" (mean difference >= 0) against
    /// "a is worse": true when it is rejected at `confidence` (p = P(T <= t) < 1 - confidence).
    /// With identical differences (no spread) a negative mean is a rejection and any other is not.
    /// Never rejects with fewer than two pairs.
    public func rejectsNotWorse(confidence: Double) -> Bool {
        guard pairs >= 2, let se = standardError else { return false }
        if se == 0 { return mean < 0 }
        let t = mean / se
        return StudentT.cdf(t, df: Double(pairs - 1)) < 1 - confidence
    }
}
