import Engine
import Foundation
import Report
import Schedules
import Sweep

/// The command-line option of an engine field: `train_size` -> `--train-size`.
public func optionName(_ field: EngineField) -> String {
    "--" + field.rawValue.replacingOccurrences(of: "_", with: "-")
}

/// The commands that run one thing without a sweep database: `schedule` and `train`.
/// Their options arrive validated; each returns the process's exit status (0; 1 for a runtime
/// failure such as missing data, too little memory or a diverged run; 141 or 1 after a failed
/// write, as `Console.exitStatus(after:)` says).
public enum RunCommands {
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
        let dataSet: DataSet
        do {
            dataSet = try DataSet.load(data, includeTest: true)
        } catch {
            console.error("\(error)")
            return 1
        }
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

    /// `x` with `digits` decimals: `0.8766`.
    static func fixed(_ x: Double, _ digits: Int = 4) -> String { String(format: "%.\(digits)f", x) }
}
