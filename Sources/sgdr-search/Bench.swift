import App
import ArgumentParser
import Engine
import Foundation
import Sweep

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the engine on this machine: a network (default the reference MLP 784-256-128-10; --model cnn: conv32-pool-conv64-pool-fc128), batch 128, SGD momentum, against its sgemm-only floor, with 1 and 2 BLAS threads.")

    @OptionGroup var data: DataArguments
    @OptionGroup var model: ModelArguments
    @Option(parsing: .unconditional, help: "Timed repeats of every part of an epoch (the best time of each part counts).")
    var repeats: Int = 3
    @Option(parsing: .unconditional, help: "BLAS thread counts to measure, comma-separated.")
    var threads: String = "1,2"

    func threadCounts() throws(OptionProblem) -> [Int] {
        var counts: [Int] = []
        for part in threads.split(separator: ",", omittingEmptySubsequences: false) {
            guard let n = Int(part.trimmingCharacters(in: .whitespaces)), (1...256).contains(n) else {
                throw OptionProblem(option: "--threads", message: "must be comma-separated counts in 1...256 (got \"\(threads)\")")
            }
            counts.append(n)
        }
        return counts
    }

    func run() throws {
        let counts: [Int], dataOptions: DataOptions, options: TrainingOptions
        do throws(OptionProblem) {
            let (kind, conv, hidden) = try model.checked()
            options = TrainingOptions(model: kind, conv: conv, hidden: hidden)
            if let problem = options.firstInvalid() { throw OptionProblem(problem) }
            if repeats < 1 { throw OptionProblem(option: "--repeats", message: "must be an integer >= 1 (got \(repeats))") }
            counts = try threadCounts()
            dataOptions = try data.checked()
        } catch {
            throw fail(error)
        }
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let dataSet = try loadData(dataOptions, includeTest: false)
        let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e9
        let rows = Engine.benchmark(data: dataSet, options: options, threadCounts: counts, repeats: repeats)
        let sizes = options.model == .mlp
            ? ([784] + options.hidden + [10]).map(String.init).joined(separator: "-")
            : (options.conv.map { "conv\($0)-pool" } + options.hidden.map { "fc\($0)" } + ["10"]).joined(separator: "-")
        try printOut("bench: \(sizes), batch \(options.batchSize), \(dataSet.trainCount) \(dataSet.kind.rawValue) training images, SGD momentum \(options.momentum); best of \(repeats) alternating repeats of each 20-batch chunk")
        let im2col = rows.contains { $0.im2colGemmSecondsPerEpoch != nil }
        try printOut("threads  s/epoch  sgemm-floor s  ratio  GFLOP/s  floor GFLOP/s" + (im2col ? "  im2col-floor s" : ""))
        for r in rows {
            try printOut(String(format: "%7d  %7.3f  %13.3f  %5.2f  %7.1f  %13.1f", r.threads, r.secondsPerEpoch,
                         r.gemmSecondsPerEpoch, r.ratio, r.gigaflops, r.floorGigaflops)
                + (r.im2colGemmSecondsPerEpoch.map { String(format: "  %14.3f", $0) } ?? ""))
        }
        if im2col {
            try printOut("sgemm-floor: the sgemm calls the engine makes (Winograd F(4x4,3x3) for 3x3 convolutions with >= 4 input channels, im2col for the others); im2col-floor: the same epoch's sgemm calls with every convolution on im2col; GFLOP/s counts the network's work as im2col FLOPs, floor GFLOP/s the engine's own sgemm FLOPs")
        }
        if options.model == .cnn && options.conv == [32, 64] && options.hidden == [128] && options.batchSize == 128
            && dataSet.kind == .fashionMNIST && dataSet.trainCount == 50000 {
            try printOut("reference (issue 13): PyTorch 2.15 (MKL/oneDNN), 1 thread, this 2-core machine: 24 s/epoch; target <= 12 s/epoch")
        }
        for threads in counts {
            BLAS.setThreads(threads)
            let profile = Engine.profileEpoch(data: dataSet, options: options)
            try printOut("one epoch, \(threads) thread\(threads == 1 ? "" : "s"), by phase: "
                + profile.phases.map { String(format: "%@ %.3f s", $0.0, $0.1) }.joined(separator: ", ")
                + String(format: " (total %.3f s)", profile.total))
        }
        try printOut(String(format: "data load: %.3f s (training and validation images, as a sweep loads them)", loadSeconds))
        let work = rows.first.map { r in
            r.engineFlopsPerEpoch == r.flopsPerEpoch
                ? String(format: "%.2f GFLOP", r.flopsPerEpoch / 1e9)
                : String(format: "%.2f GFLOP as im2col, %.2f GFLOP in the engine's sgemm calls", r.flopsPerEpoch / 1e9,
                         r.engineFlopsPerEpoch / 1e9)
        } ?? "0 GFLOP"
        try printOut("sgemm work per epoch: \(work); peak RSS: " + String(format: "%.0f MB", Double(peakResidentBytes()) / 1_048_576))
    }
}
