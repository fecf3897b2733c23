import App
import ArgumentParser
import Foundation
import Schedules
import Sweep

extension ScheduleKind: ExpressibleByArgument {}

/// A command-line input outside what its option allows: printed as one line on stderr.
struct OptionProblem: Error, CustomStringConvertible {
    /// The option as typed, e.g. `--t0`.
    var option: String
    /// What went wrong, starting after the option's name, e.g. `must be an integer >= 1 (got 0)`.
    var message: String

    var description: String { "\(option) \(message)" }

    /// `--t0 must be an integer >= 1 (got 0)` from Schedules' `ParameterProblem`.
    init(_ problem: ParameterProblem) {
        option = optionName(problem.parameter)
        message = "must be \(ScheduleOptions.cliSpelling(problem.allowed)) (got \(fmt(problem.value)))"
    }

    init(option: String, message: String) {
        self.option = option
        self.message = message
    }
}

/// Prints `Error: <problem>` as one line on stderr and returns the exit code to throw
/// (`ExitCode.validationFailure`, 64): no usage text, no stack trace.
func fail(_ problem: OptionProblem) -> ExitCode {
    Console.standard.error(problem.description)
    return .validationFailure
}

/// A number read as a Double and shown as the tables show it (`10`, not `10.0`): integer
/// parameters get their rule's message for `2.5` instead of a parser error.
struct Number: ExpressibleByArgument {
    var value: Double
    init(_ value: Double) { self.value = value }
    init?(argument: String) {
        guard let value = Double(argument) else { return nil }
        self.value = value
    }
    var defaultValueDescription: String { fmt(value) }
}

/// The options that describe a schedule, shared by every subcommand that takes one
/// (`schedule`, `train`): use with `@OptionGroup var scheduleOptions: ScheduleOptions`,
/// then `try scheduleOptions.config(epochs:)`.
struct ScheduleOptions: ParsableArguments {
    // `.unconditional` so that `--lr-max -0.1` reaches validation (and its one-line error)
    // instead of being read as an unknown option.
    @Option(parsing: .unconditional, help: "The schedule: sgdr, step, cosine, constant or plateau.")
    var schedule: ScheduleKind = .sgdr

    // The schedule parameters: names, help and defaults from `ScheduleParameter`, the one table.
    // `t0` is read as a Double so that its integer rule (and message) is the table's.
    @Option(name: .customLong(ScheduleParameter.lrMax.longName), parsing: .unconditional,
            help: ArgumentHelp(ScheduleParameter.lrMax.help, valueName: "x"))
    var lrMax: Double = ScheduleParameter.lrMax.defaultValue()

    @Option(name: .customLong(ScheduleParameter.lrMin.longName), parsing: .unconditional,
            help: ArgumentHelp(ScheduleParameter.lrMin.help, valueName: "x"))
    var lrMin: Double?

    @Option(name: .customLong(ScheduleParameter.t0.longName), parsing: .unconditional,
            help: ArgumentHelp(ScheduleParameter.t0.help, valueName: "n"))
    var t0 = Number(ScheduleParameter.t0.defaultValue())

    @Option(name: .customLong(ScheduleParameter.tmult.longName), parsing: .unconditional,
            help: ArgumentHelp(ScheduleParameter.tmult.help, valueName: "x"))
    var tmult: Double = ScheduleParameter.tmult.defaultValue()

    @Option(name: .customLong(ScheduleParameter.lrMaxCompression.longName), parsing: .unconditional,
            help: ArgumentHelp(ScheduleParameter.lrMaxCompression.help, valueName: "x"))
    var lrMaxCompression: Double = ScheduleParameter.lrMaxCompression.defaultValue()

    @Option(name: .customLong(ScheduleParameter.triggerValAcc.longName), parsing: .unconditional,
            help: ArgumentHelp(ScheduleParameter.triggerValAcc.help, valueName: "x"))
    var triggerValAcc: Double = ScheduleParameter.triggerValAcc.defaultValue()

    @Option(name: .customLong("step-milestones"), parsing: .unconditional,
            help: ArgumentHelp("step: fractions of the epochs after which the rate is multiplied by the factor.",
                               valueName: "list"))
    var stepMilestones: String = "0.5,0.75"

    @Option(name: .customLong("step-factor"), parsing: .unconditional,
            help: ArgumentHelp("step: the factor applied at each milestone (finite, > 0).", valueName: "x"))
    var stepFactor: Double = 0.1

    @Option(name: .customLong("plateau-factor"), parsing: .unconditional,
            help: ArgumentHelp("plateau: the rate is multiplied by this after --plateau-patience epochs without improvement (in (0, 1)).",
                               valueName: "x"))
    var plateauFactor: Double = 0.1

    @Option(name: .customLong("plateau-patience"), parsing: .unconditional,
            help: ArgumentHelp("plateau: epochs without improvement before the rate falls (integer >= 1).", valueName: "n"))
    var plateauPatience: Int = 3

    @Option(name: .customLong("plateau-min-delta"), parsing: .unconditional,
            help: ArgumentHelp("plateau: an epoch improves when val_acc > best + this (in [0, 1]).", valueName: "x"))
    var plateauMinDelta: Double = 1e-4

    /// The validated schedule for a run of `epochs` epochs (`epochsOption` names the option that
    /// gave them, for the error). Every option is checked whatever the schedule kind.
    func config(epochs: Int, epochsOption: String = "--epochs") throws(OptionProblem) -> ScheduleConfig {
        var given: [ScheduleParameter: Double] = [.lrMax: lrMax, .t0: t0.value, .tmult: tmult,
                                                  .lrMaxCompression: lrMaxCompression, .triggerValAcc: triggerValAcc]
        given[.lrMin] = lrMin
        // In table order: lr_min's default follows lr_max, so a bad lr_max is the one named.
        for p in ScheduleParameter.allCases {
            if let v = given[p], let problem = p.rule.problem(v) { throw OptionProblem(problem) }
        }
        let parameters = SGDRParameters { p in given[p] ?? p.defaultValue(lrMax: lrMax) }
        if let problem = parameters.firstInvalid() { throw OptionProblem(problem) }
        if epochs < 1 {
            throw OptionProblem(option: epochsOption, message: "must be an integer >= 1 (got \(epochs))")
        }
        let milestones = try Self.parseMilestones(stepMilestones)
        guard stepFactor.isFinite, stepFactor > 0 else {
            throw OptionProblem(option: "--step-factor", message: "must be a finite number > 0 (got \(fmt(stepFactor)))")
        }
        let plateau = PlateauSettings(factor: plateauFactor, patience: plateauPatience, minDelta: plateauMinDelta)
        if let problem = plateau.firstInvalid() { throw OptionProblem(problem) }
        return ScheduleConfig(kind: schedule, parameters: parameters, epochs: epochs,
                              stepMilestones: milestones, stepFactor: stepFactor, plateau: plateau)
    }

    /// `0.5,0.75` -> [0.5, 0.75]; an empty list is allowed (no decay).
    static func parseMilestones(_ text: String) throws(OptionProblem) -> [Double] {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { return [] }
        var milestones: [Double] = []
        for item in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let field = item.trimmingCharacters(in: .whitespaces)
            guard let value = Double(field), value.isFinite, value >= 0, value <= 1 else {
                throw OptionProblem(option: "--step-milestones",
                                    message: "must be comma-separated fractions in [0, 1] (got \"\(text)\")")
            }
            milestones.append(value)
        }
        return milestones
    }

    /// Rewrites parameter names inside an `allowed` text into option names (longest first, so
    /// that `lr_max_compression` is not read as `lr_max`).
    static func cliSpelling(_ text: String) -> String {
        var result = text
        let names = ScheduleParameter.allCases.map(\.name) + PlateauSettings.rules.map(\.name)
        for name in names.sorted(by: { $0.count > $1.count }) where name.contains("_") {
            result = result.replacingOccurrences(of: name, with: optionName(name))
        }
        return result
    }
}
