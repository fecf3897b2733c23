import TrainingTypes

/// Derived seeds. Each use has its own domain constant so that, e.g., configuration 3's sampler
/// and repeat 3's training seed are unrelated.
public enum Seeds {
    static let trainingDomain: UInt64 = 0x7261_696E_696E_6721  // "training!"
    static let samplerDomain: UInt64 = 0x7361_6D70_6C65_7221   // "sampler!"
    static let sobolDomain: UInt64 = 0x736F_626F_6C21_2121     // "sobol!!!"
    static let tpeDomain: UInt64 = 0x7470_6570_726F_706F       // "tpepropo"

    /// The training seed of repeat `repeatIndex`: a function of the sweep seed and the repeat index
    /// only (common random numbers across configurations).
    public static func training(sweepSeed: UInt64, repeatIndex: Int) -> UInt64 {
        mix(sweepSeed ^ trainingDomain, UInt64(repeatIndex))
    }

    /// The seed of random search's configuration `index`.
    public static func configuration(sweepSeed: UInt64, index: Int) -> UInt64 {
        mix(sweepSeed ^ samplerDomain, UInt64(index))
    }

    /// The seed of the Sobol sampler's scrambling (one generator stream per dimension).
    public static func sobolScramble(sweepSeed: UInt64) -> UInt64 {
        mix(sweepSeed ^ sobolDomain, 0)
    }

    /// The seed of TPE's proposal of configuration `index` (its candidates' draws).
    public static func tpeProposal(sweepSeed: UInt64, index: Int) -> UInt64 {
        mix(sweepSeed ^ tpeDomain, UInt64(index))
    }

    /// Mixes two 64-bit values into one; not symmetric.
    public static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        splitMix64(splitMix64(a) ^ (b &* 0xD1B5_4A32_D192_ED03))
    }
}
