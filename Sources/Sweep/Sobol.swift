import Foundation
import Schedules
import TrainingTypes

/// `count` points of a scrambled Sobol' sequence, one dimension per swept parameter (space order),
/// mapped onto the parameters like `RandomSampler` maps a uniform draw. Point `i` is computed
/// alone from the bits of `i` (Gray-code order, as Joe & Kuo's and SciPy's generators), so it does
/// not depend on the others and raising `count` extends the same sequence. The first 2^k points
/// put exactly one point in each interval [j / 2^k, (j + 1) / 2^k) of every axis.
///
/// Direction numbers: S. Joe and F. Y. Kuo, "Constructing Sobol sequences with better
/// two-dimensional projections", SIAM J. Sci. Comput. 30 (2008) 2635-2654, table
/// `new-joe-kuo-6.21201` (https://web.maths.unsw.edu.au/~fkuo/sobol/), its first five lines
/// (dimensions 2 to 6); dimension 1 is the van der Corput sequence (every m_k = 1). SciPy's
/// `scipy.stats.qmc.Sobol` uses the same table.
///
/// Scrambling: linear matrix scrambling (Matoušek 1998) plus a random digital shift, seeded by the
/// sweep seed: each dimension gets a random lower-triangular binary matrix with a unit diagonal
/// and a random 64-bit shift, applied to its direction numbers once, so a scrambled point costs
/// no more than a plain one (one XOR per set bit of the index). Chosen over Owen's nested
/// scrambling because (1) it keeps the sequence's net property exactly (the first k digits of a
/// scrambled coordinate are an invertible function of the first k digits of the plain one, so the
/// balance above survives), (2) a point stays a function of its index alone without hashing a
/// tree of permutations, and (3) it is what SciPy's `Sobol(scramble=True)`, and so Optuna's
/// `QMCSampler`, does by default. Owen's scrambling gives a lower variance for smooth integrands,
/// which a few dozen trials in at most six dimensions do not need.
public struct SobolSampler: Sampler {
    /// The dimensions the embedded table covers: one per schedule parameter.
    public static let maxDimensions = 6

    /// `(s, a, m_1 ... m_s)` of dimensions 2 to 6 of `new-joe-kuo-6.21201`: the degree of the
    /// primitive polynomial, its inner coefficients as bits, and the initial direction integers.
    static let joeKuo: [(s: Int, a: UInt64, m: [UInt64])] = [
        (1, 0, [1]),
        (2, 1, [1, 3]),
        (3, 1, [1, 3, 1]),
        (3, 2, [1, 1, 1]),
        (4, 1, [1, 1, 3, 3]),
    ]

    /// Direction numbers per index bit: enough for any non-negative `Int` index.
    static let bits = 63

    public var parameters: [ParameterDomain]
    public var seed: UInt64
    public var count: Int
    public let scrambled: Bool
    /// Per dimension, direction numbers v_1 ... v_63 as 64-bit binary fractions (bit 63 is 1/2),
    /// scrambled when `scrambled`.
    private let directions: [[UInt64]]
    /// Per dimension, the digital shift (0 unscrambled).
    private let shifts: [UInt64]

    /// `parameters.count` must be at most `maxDimensions` (the space parser refuses more).
    public init(parameters: [ParameterDomain], seed: UInt64, count: Int, scrambled: Bool = true) {
        precondition(parameters.count <= Self.maxDimensions, "Sobol: at most \(Self.maxDimensions) dimensions")
        self.parameters = parameters
        self.seed = seed
        self.count = count
        self.scrambled = scrambled
        var directions: [[UInt64]] = []
        var shifts: [UInt64] = []
        for d in parameters.indices {
            var v = Self.directionNumbers(dimension: d)
            var shift: UInt64 = 0
            if scrambled {
                // Dimension d's scramble depends on the seed and d only.
                var rng = Xoshiro256(seed: Seeds.sobolScramble(sweepSeed: seed), stream: UInt64(d))
                // Column p of the matrix (p: the bit position, 63 the most significant digit):
                // its diagonal bit, and random bits below it (the less significant digits).
                var columns = [UInt64](repeating: 0, count: 64)
                for p in (0..<64).reversed() {
                    let below: UInt64 = p == 0 ? 0 : (UInt64(1) << p) - 1
                    columns[p] = UInt64(1) << p | (rng.next() & below)
                }
                for k in v.indices {
                    var x = v[k], y: UInt64 = 0
                    while x != 0 {
                        y ^= columns[x.trailingZeroBitCount]
                        x &= x - 1
                    }
                    v[k] = y
                }
                shift = rng.next()
            }
            directions.append(v)
            shifts.append(shift)
        }
        self.directions = directions
        self.shifts = shifts
    }

    /// The unscrambled direction numbers v_1 ... v_63 of dimension `dimension` (0-based), as
    /// 64-bit fractions: v_k = m_k / 2^k, with Joe & Kuo's recurrence
    /// m_k = 2 a_1 m_{k-1} ^ 4 a_2 m_{k-2} ^ ... ^ 2^(s-1) a_(s-1) m_(k-s+1) ^ 2^s m_(k-s) ^ m_(k-s).
    static func directionNumbers(dimension: Int) -> [UInt64] {
        var v = [UInt64](repeating: 0, count: bits)
        guard dimension > 0 else {
            for k in 1...bits { v[k - 1] = UInt64(1) << (64 - k) }
            return v
        }
        let (s, a, m) = joeKuo[dimension - 1]
        for k in 1...bits {
            if k <= s {
                v[k - 1] = m[k - 1] << (64 - k)
                continue
            }
            let back = v[k - s - 1]
            var x = back ^ (back >> s)
            for j in 1..<s where (a >> (s - 1 - j)) & 1 == 1 { x ^= v[k - j - 1] }
            v[k - 1] = x
        }
        return v
    }

    /// Point `index` (>= 0) as 64-bit binary fractions, one per dimension.
    public func bitsOfPoint(at index: Int) -> [UInt64] {
        let gray = UInt64(index ^ (index >> 1))
        return directions.indices.map { d in
            var x = shifts[d], g = gray
            while g != 0 {
                x ^= directions[d][g.trailingZeroBitCount]
                g &= g - 1
            }
            return x
        }
    }

    /// Point `index` in [0, 1)^dimensions (the top 53 bits of each coordinate).
    public func point(at index: Int) -> [Double] {
        bitsOfPoint(at: index).map { Double($0 >> 11) * 0x1.0p-53 }
    }

    public func configuration(at index: Int) -> [(ScheduleParameter, Double)] {
        zip(parameters, point(at: index)).map { d, u in (d.parameter, Self.value(d.kind, at: u)) }
    }

    /// Where coordinate `u` in [0, 1) lands: a `values` list on item floor(u * count); an integer
    /// range (not log) on whole number floor(u * n) of its n; otherwise as random search maps
    /// its uniform draw (`RandomSampler.continuous`).
    static func value(_ kind: ParameterDomain.Kind, at u: Double) -> Double {
        switch kind {
        case .values(let vs):
            return vs[Swift.min(Int(u * Double(vs.count)), vs.count - 1)]
        case .range(let lo, let hi, let log, let integer):
            if integer && !log {
                // In Double, so that no range traps: whole numbers lo' ... hi', n of them.
                let first = lo.rounded(.up), last = hi.rounded(.down)
                let n = last - first + 1
                return Swift.min(first + (u * n).rounded(.down), last)
            }
            return RandomSampler.continuous(lo: lo, hi: hi, log: log, integer: integer, u: u)
        }
    }
}
