#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The engine's speed with one BLAS thread count, on one configuration.
public struct BenchmarkRow: Sendable, Hashable {
    public var threads: Int
    /// Best (least disturbed) wall time of one epoch's training pass.
    public var secondsPerEpoch: Double
    /// Best wall time of the same epoch's sgemm calls alone, on the same shapes: the floor.
    public var gemmSecondsPerEpoch: Double
    /// Floating-point operations of one epoch's sgemm calls (2·m·n·k each).
    public var flopsPerEpoch: Double

    public var ratio: Double { secondsPerEpoch / gemmSecondsPerEpoch }
    public var gigaflops: Double { flopsPerEpoch / secondsPerEpoch / 1e9 }
    public var floorGigaflops: Double { flopsPerEpoch / gemmSecondsPerEpoch / 1e9 }
}

/// Peak resident set size of this process so far, in bytes (getrusage's ru_maxrss).
public func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    #if os(Linux)
    return Int(usage.ru_maxrss) * 1024
    #else
    return Int(usage.ru_maxrss)
    #endif
}

/// The sgemm floating-point operations of one training epoch of `options` on `trainCount` images.
public func trainingFlopsPerEpoch(options: TrainingOptions, trainCount: Int) -> Double {
    let sizes = [DataSet.pixels] + options.hidden + [DataSet.classes]
    var perImage = 0.0
    for l in 0..<(sizes.count - 1) {
        let macs = Double(sizes[l] * sizes[l + 1])
        perImage += macs * (l == 0 ? 2 : 3)  // forward, weight gradient, input gradient (not for layer 1)
    }
    return 2 * perImage * Double(trainCount)
}

/// Measures training epochs (at a constant rate `lr`) against the same sgemm calls alone, for
/// each thread count, alternating the two so that outside load disturbs both alike. Sets the
/// BLAS thread count (process-wide) and leaves it at the last value.
public func benchmark(data: DataSet, options: TrainingOptions, threadCounts: [Int], repeats: Int = 3,
                      lr: Double = 0.01) -> [BenchmarkRow] {
    var rows: [BenchmarkRow] = []
    let flops = trainingFlopsPerEpoch(options: options, trainCount: data.trainCount)
    for threads in threadCounts {
        BLAS.setThreads(threads)
        let trainer = Trainer(data: data, options: options)
        var best = Double.infinity, bestGemm = Double.infinity
        // A warm-up epoch of each, then alternate.
        _ = trainer.trainEpoch(lr: lr, isCancelled: { false })
        _ = trainer.gemmEpoch()
        for _ in 0..<max(1, repeats) {
            if case let .done(_, _, seconds) = trainer.trainEpoch(lr: lr, isCancelled: { false }) {
                best = min(best, seconds)
            }
            bestGemm = min(bestGemm, trainer.gemmEpoch())
        }
        rows.append(BenchmarkRow(threads: threads, secondsPerEpoch: best, gemmSecondsPerEpoch: bestGemm,
                                 flopsPerEpoch: flops))
    }
    return rows
}

extension Trainer {
    /// The sgemm calls of one training epoch alone (same batch shapes, same buffers); seconds.
    func gemmEpoch() -> Double {
        let n = data.trainCount, batchSize = options.batchSize
        let started = monotonicSeconds()
        var start = 0
        while start < n {
            let batch = min(batchSize, n - start)
            model.gemmsOnly(batch: batch)
            start += batch
        }
        return monotonicSeconds() - started
    }
}
