import Engine
import EngineAdapter
import Foundation
import Report
import Schedules
import Sweep
import TrainingTypes

/// The command-line option of a space-file key: `train_size` -> `--train-size`.
public func optionName(_ key: String) -> String {
    "--" + key.replacingOccurrences(of: "_", with: "-")
}

/// The command-line option of an engine field: `train_size` -> `--train-size`.
public func optionName(_ field: TrainingOption) -> String { field.option }

/// The commands that run one thing without a sweep database: `schedule`, `train` and `bench`.
/// Their options arrive validated; each returns the process's exit status (0; 1 for a runtime
/// failure such as missing data, too little memory or a diverged run; 141 or 1 after a failed
/// write, as `Console.exitStatus(after:)` says).
public enum StandaloneCommands {
    /// `sgdr-search schedule`: the rate of each epoch as CSV on stdout (with `valAccs`, driven by
    /// them), and with `svg` the chart as a standalone SVG file.
    public static func schedule(_ config: ScheduleConfig, valAccs: [Double]?, svg: String?, console: Console) -> Int32 {
        let rows = scheduleTable(config: config, valAccs: valAccs)
        if let svg {
            let series = ChartSeries(label: scheduleDescription(config),
                                     points: rows.map { ChartPoint(x: Double($0.epoch), y: $0.lr) })
            let document = scheduleChartSVG([series], title: "Learning rate: \(scheduleDescription(config))")
            do throws(OutputFileError) {
                try OutputFile.write(document, to: svg)
            } catch {
                if error.isBrokenPipe { return console.exitStatus(after: OutputError(stream: .stdout, code: error.code)) }
                console.error("--svg \(error)")
                return error.exitCode
            }
        }
        do throws(OutputError) {
            try console.data(scheduleCSV(rows, kind: config.kind, includeValAcc: valAccs != nil))
        } catch {
            return console.exitStatus(after: error)
        }
        return 0
    }

    /// `sgdr-search train`: one run; one CSV row per epoch on stdout, a summary on stderr. A
    /// failed write stops the training after that epoch.
    public static func train(_ config: ScheduleConfig, options: TrainingOptions, data: DataOptions, threads: Int,
                             console: Console) -> Int32 {
        if let problem = options.memoryProblem(data: data) {
            console.error(problem.spelled(optionName))
            return 1
        }
        guard let dataSet = load(data, includeTest: true, console: console) else { return 1 }
        BLAS.setThreads(threads)
        var schedule = config.makeSchedule()
        do {
            try console.data("epoch,lr,train_loss,train_acc,val_loss,val_acc,train_seconds\n")
            var outputFailure: OutputError?
            let result = try Engine.train(
                data: dataSet, options: options,
                learningRate: { _ in schedule.beginEpoch() },
                onEpoch: { m in
                    schedule.endEpoch(valAcc: m.valAcc)
                    do throws(OutputError) {
                        try console.data("\(m.epoch),\(m.lr),\(m.trainLoss),\(m.trainAcc),\(m.valLoss),\(m.valAcc),\(m.trainSeconds)\n")
                    } catch {
                        outputFailure = error
                        return .stop
                    }
                    return .proceed
                },
                evaluateTest: true)
            if let outputFailure { throw outputFailure }
            let trainSeconds = result.epochs.reduce(0) { $0 + $1.trainSeconds }
            if let best = result.best { try console.err("best val_acc \(fixed(best.valAcc)) at epoch \(best.epoch)\n") }
            if let test = result.testAccuracy { try console.err("test accuracy \(fixed(test))\n") }
            let perEpoch = trainSeconds / Double(max(1, result.epochs.count))
            try console.err("time \(fixed(result.seconds, 2)) s (training \(fixed(trainSeconds, 2)) s, \(fixed(perEpoch, 3)) s/epoch, "
                + "\(threads) BLAS thread\(threads == 1 ? "" : "s"), peak RSS \(peakResidentBytes() / 1_048_576) MB)\n")
            if case let .diverged(epoch) = result.outcome {
                console.error("the run diverged (non-finite loss) in epoch \(epoch); try a smaller --lr-max")
                return 1
            }
            return 0
        } catch let failure as OutputError {
            return console.exitStatus(after: failure)
        } catch {
            console.error("\(error)")
            return 1
        }
    }

    /// `sgdr-search bench`: the engine against its sgemm floor at each thread count (and, for a
    /// CNN with Winograd layers, the im2col floor it replaced), one epoch by phase, the data load
    /// and the peak RSS, on stdout.
    public static func bench(options: TrainingOptions, data: DataOptions, threadCounts: [Int], repeats: Int,
                             console: Console) -> Int32 {
        let loadStart = DispatchTime.now().uptimeNanoseconds
        guard let dataSet = load(data, includeTest: false, console: console) else { return 1 }
        let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e9
        let rows = Engine.benchmark(data: dataSet, options: options, threadCounts: threadCounts, repeats: repeats)
        let sizes = options.modelDescription(data: data)
        do throws(OutputError) {
            func line(_ text: String) throws(OutputError) { try console.data(text + "\n") }
            try line("bench: \(sizes), batch \(options.batchSize), \(dataSet.trainCount) \(dataSet.kind.rawValue) training images, SGD momentum \(options.momentum); best of \(repeats) alternating repeats of each 20-batch chunk")
            let im2col = rows.contains { $0.im2colGemmSecondsPerEpoch != nil }
            try line("threads  s/epoch  sgemm-floor s  ratio  GFLOP/s  floor GFLOP/s" + (im2col ? "  im2col-floor s" : ""))
            for r in rows {
                try line(String(format: "%7d  %7.3f  %13.3f  %5.2f  %7.1f  %13.1f", r.threads, r.secondsPerEpoch,
                                r.gemmSecondsPerEpoch, r.ratio, r.gigaflops, r.floorGigaflops)
                    + (r.im2colGemmSecondsPerEpoch.map { String(format: "  %14.3f", $0) } ?? ""))
            }
            if im2col {
                try line("sgemm-floor: the sgemm calls the engine makes (Winograd F(4x4,3x3) for 3x3 convolutions with >= 4 input channels, im2col for the others); im2col-floor: the same epoch's sgemm calls with every convolution on im2col; GFLOP/s counts the network's work as im2col FLOPs, floor GFLOP/s the engine's own sgemm FLOPs")
            }
            if options.model == .cnn && options.conv == [32, 64] && options.hidden == [128] && options.batchSize == 128
                && dataSet.kind == .fashionMNIST && dataSet.trainCount == 50000 {
                try line("reference (issue 13): PyTorch 2.15 (MKL/oneDNN), 1 thread, this 2-core machine: 24 s/epoch; target <= 12 s/epoch")
            }
            for threads in threadCounts {
                BLAS.setThreads(threads)
                let profile = Engine.profileEpoch(data: dataSet, options: options)
                try line("one epoch, \(threads) thread\(threads == 1 ? "" : "s"), by phase: "
                    + profile.phases.map { String(format: "%@ %.3f s", $0.0, $0.1) }.joined(separator: ", ")
                    + String(format: " (total %.3f s)", profile.total))
            }
            try line(String(format: "data load: %.3f s (training and validation images, as a sweep loads them)", loadSeconds))
            let work = rows.first.map { r in
                r.engineFlopsPerEpoch == r.flopsPerEpoch
                    ? String(format: "%.2f GFLOP", r.flopsPerEpoch / 1e9)
                    : String(format: "%.2f GFLOP as im2col, %.2f GFLOP in the engine's sgemm calls", r.flopsPerEpoch / 1e9,
                             r.engineFlopsPerEpoch / 1e9)
            } ?? "0 GFLOP"
            try line("sgemm work per epoch: \(work); peak RSS: " + String(format: "%.0f MB", Double(peakResidentBytes()) / 1_048_576))
        } catch {
            return console.exitStatus(after: error)
        }
        return 0
    }

    /// The data set, or nil after its error went to stderr as one line.
    static func load(_ data: DataOptions, includeTest: Bool, console: Console) -> DataSet? {
        do {
            return try DataSet.load(data, includeTest: includeTest)
        } catch {
            console.error("\(error)")
            return nil
        }
    }

    /// `x` with `digits` decimals: `0.8766`.
    static func fixed(_ x: Double, _ digits: Int = 4) -> String { String(format: "%.\(digits)f", x) }
}
