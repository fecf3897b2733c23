import App
import ArgumentParser
import Foundation
import Schedules
import Sweep

struct Schedule: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a schedule's learning rate per epoch as CSV, to see or plot it before spending compute.",
        discussion: """
            Prints a header line, then one row per epoch: epoch (1-based) and lr (shortest \
            round-trip form); for sgdr also t_cur, t_i, triggered (whether the schedule was \
            running during that epoch; before it, the rate is lr-max) and peak (the current \
            cycle's peak); with --val-acc also val_acc.

            Without --val-acc, sgdr's trigger counts as reached before epoch 1 (--trigger-val-acc \
            is checked but has no effect) and every epoch improves on the last. With it, each \
            epoch's accuracy drives the trigger and the peak compression. The plateau schedule \
            follows val_acc alone, so it needs --val-acc.

            Example: sgdr-search schedule --lr-max 0.1 --lr-min 0.00001 --t0 5 --tmult 2 \
            --lr-max-compression 1 --epochs 18
            """)

    @OptionGroup var scheduleOptions: ScheduleOptions

    @Option(parsing: .unconditional, help: ArgumentHelp("Number of epochs to print (integer >= 1).", valueName: "n"))
    var epochs: Int

    @Option(name: .customLong("val-acc"), parsing: .unconditional,
            help: ArgumentHelp("""
                A file with one validation accuracy in [0, 1] per line, in epoch order, at least \
                --epochs lines; adds a val_acc column.
                """, valueName: "file"))
    var valAcc: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Also write the lr chart (log scale) as a standalone SVG file.", valueName: "file"))
    var svg: String?

    func run() throws {
        let config: ScheduleConfig, valAccs: [Double]?
        do throws(OptionProblem) {
            config = try scheduleOptions.config(epochs: epochs)
            if config.kind == .plateau && valAcc == nil {
                throw OptionProblem(option: "--schedule plateau", message: "needs --val-acc FILE: its rate follows the validation accuracy")
            }
            valAccs = try valAcc.map { path throws(OptionProblem) in try readValAccs(path: path, needed: epochs) }
        } catch {
            throw fail(error)
        }
        let code = StandaloneCommands.schedule(config, valAccs: valAccs, svg: svg, console: .standard)
        if code != 0 { throw ExitCode(code) }
    }
}

/// Reads and checks a `--val-acc` file.
func readValAccs(path: String, needed: Int, option: String = "--val-acc") throws(OptionProblem) -> [Double] {
    let text: String
    do {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let decoded = String(data: data, encoding: .utf8) else {
            throw OptionProblem(option: option, message: "must be a UTF-8 text file of numbers in [0, 1], one per line (\"\(path)\" is not)")
        }
        text = decoded
    } catch let problem as OptionProblem {
        throw problem
    } catch {
        let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist"
        throw OptionProblem(option: option, message: "must be a readable file of numbers in [0, 1], one per line (\"\(path)\" \(reason))")
    }
    do {
        return try parseValAccs(text, needed: needed)
    } catch {
        let separator = if case .badLine = error { ": " } else { " " }
        throw OptionProblem(option: option, message: "file \"\(path)\"\(separator)\(error)")
    }
}
