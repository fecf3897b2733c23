import App
import ArgumentParser
import Engine
import Foundation
import Schedules
import Sweep
import TrainingTypes

extension DatasetKind: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}
extension ModelKind: ExpressibleByArgument {}

/// Options shared by `train` and `bench`: the network.
struct ModelArguments: ParsableArguments {
    @Option(name: .customLong(TrainingOption.model.longName), parsing: .unconditional, help: ArgumentHelp(TrainingOption.model.help))
    var model: ModelKind = .mlp
    @Option(name: .customLong(TrainingOption.conv.longName), parsing: .unconditional, help: ArgumentHelp(TrainingOption.conv.help))
    var conv: String?
    @Option(name: .customLong(TrainingOption.hidden.longName), parsing: .unconditional, help: ArgumentHelp(TrainingOption.hidden.help))
    var hidden: String?

    /// "32,64" → [32, 64]; `allowEmpty`: "" or "none" → [] ("none" is what a rerun command
    /// writes: an empty argument would vanish in a shell's word splitting).
    static func widths(_ text: String, option: String, allowEmpty: Bool) throws(OptionProblem) -> [Int] {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let allowed = "must be comma-separated positive integers like \(option == "--conv" ? "32,64" : "256,128")\(allowEmpty ? ", or none" : "") (got \"\(text)\")"
        if trimmed.isEmpty || (allowEmpty && trimmed == "none") {
            if allowEmpty { return [] }
            throw OptionProblem(option: option, message: allowed)
        }
        var sizes: [Int] = []
        for part in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            guard let n = Int(part.trimmingCharacters(in: .whitespaces)), n >= 1 else {
                throw OptionProblem(option: option, message: allowed)
            }
            sizes.append(n)
        }
        return sizes
    }

    /// The model, its conv widths and hidden widths, with the model's defaults filled in.
    func checked() throws(OptionProblem) -> (ModelKind, [Int], [Int]) {
        var defaults = TrainingSettings()
        defaults.training.model = model
        TrainingOption.applyDependentDefaults(to: &defaults, given: [])
        let hiddenSizes = try hidden.map { (h: String) throws(OptionProblem) in try Self.widths(h, option: TrainingOption.hidden.option, allowEmpty: true) }
            ?? defaults.training.hidden
        switch model {
        case .mlp:
            if conv != nil { throw OptionProblem(option: TrainingOption.conv.option, message: "applies only to --model cnn") }
            return (.mlp, TrainingOptions.defaultConv, hiddenSizes)
        case .cnn:
            let widths = try conv.map { (c: String) throws(OptionProblem) in try Self.widths(c, option: TrainingOption.conv.option, allowEmpty: false) }
                ?? TrainingOptions.defaultConv
            return (.cnn, widths, hiddenSizes)
        }
    }
}

/// Options shared by `train` and `bench`: the data and the run.
struct DataArguments: ParsableArguments {
    @Option(name: .customLong(TrainingOption.dataset.longName), parsing: .unconditional, help: ArgumentHelp(TrainingOption.dataset.help))
    var dataset: DatasetKind = .fashionMNIST
    @Option(name: .customLong(TrainingOption.dataDir.longName), parsing: .unconditional, help: ArgumentHelp(TrainingOption.dataDir.help))
    var dataDir: String?
    @Option(name: .customLong(TrainingOption.trainSize.longName), parsing: .unconditional, help: ArgumentHelp(TrainingOption.trainSize.help))
    var trainSize: Int?
    @Option(name: .customLong(TrainingOption.valSize.longName), parsing: .unconditional, help: ArgumentHelp(TrainingOption.valSize.help))
    var valSize: Int = DataOptions().valSize

    var options: DataOptions {
        var s = TrainingSettings(data: DataOptions(dataset: dataset, dataDir: dataDir, valSize: valSize))
        if let trainSize { s.data.trainSize = trainSize }
        TrainingOption.applyDependentDefaults(to: &s, given: trainSize == nil ? [] : [.trainSize])
        return s.data
    }

    /// The data options, validated.
    func checked() throws(OptionProblem) -> DataOptions {
        if let problem = options.firstInvalid() { throw OptionProblem(problem) }
        return options
    }
}

extension OptionProblem {
    /// An engine option's problem, its fields spelled as options: `--train-size + --val-size must be ...`.
    init(_ problem: EngineOptionProblem) {
        self.init(option: optionName(problem.field), message: String(problem.detail.spelled(optionName).dropFirst()))
    }
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train once and print one CSV row per epoch.",
        discussion: "stdout: epoch,lr,train_loss,train_acc,val_loss,val_acc,train_seconds. stderr: a summary.")

    @OptionGroup var scheduleOptions: ScheduleOptions
    @OptionGroup var data: DataArguments

    // `.unconditional` on every option with a value, so that a negative number reaches the
    // range check and its one-line error instead of being read as an unknown option.
    @OptionGroup var model: ModelArguments
    @Option(name: .customLong(TrainingOption.batchSize.longName), parsing: .unconditional, help: ArgumentHelp(TrainingOption.batchSize.help))
    var batchSize: Int = TrainingOptions().batchSize
    @Option(name: .customLong(TrainingOption.epochs.longName), parsing: .unconditional, help: ArgumentHelp(TrainingOption.epochs.help))
    var epochs: Int = TrainingOptions().epochs
    @Option(name: .customLong(TrainingOption.optimizer.longName), parsing: .unconditional, help: ArgumentHelp(TrainingOption.optimizer.help))
    var optimizer: OptimizerKind = TrainingOptions().optimizer
    @Option(name: .customLong(TrainingOption.momentum.longName), parsing: .unconditional, help: ArgumentHelp(TrainingOption.momentum.help))
    var momentum: Double = TrainingOptions().momentum
    @Flag(name: .customLong(TrainingOption.nesterov.longName), help: ArgumentHelp(TrainingOption.nesterov.help))
    var nesterov = false
    @Option(name: .customLong(TrainingOption.weightDecay.longName), parsing: .unconditional, help: ArgumentHelp(TrainingOption.weightDecay.help))
    var weightDecay: Double = TrainingOptions().weightDecay
    @Option(parsing: .unconditional, help: "Seed of the initialisation and shuffles.")
    var seed: String = "0"
    @Option(name: .customLong(TrainingOption.threads.longName), parsing: .unconditional, help: ArgumentHelp(TrainingOption.threads.help))
    var threads: Int = 1

    /// Every option, validated: the schedule, the run and the data.
    func checked() throws(OptionProblem) -> (ScheduleConfig, TrainingOptions, DataOptions) {
        // A string, so that a negative or too large seed gets the range in its message.
        guard let seedValue = UInt64(seed.trimmingCharacters(in: .whitespaces)) else {
            throw OptionProblem(option: "--seed", message: "must be an integer in [0, \(UInt64.max)] (got \"\(seed)\")")
        }
        let (kind, conv, hidden) = try model.checked()
        let options = TrainingOptions(model: kind, conv: conv, hidden: hidden, batchSize: batchSize, epochs: epochs,
                                      optimizer: optimizer, momentum: momentum, nesterov: nesterov,
                                      weightDecay: weightDecay, seed: seedValue)
        if let problem = options.firstInvalid() { throw OptionProblem(problem) }
        let config = try scheduleOptions.config(epochs: epochs)
        if threads < 1 || threads > TrainingOption.maxThreads {
            throw OptionProblem(option: TrainingOption.threads.option, message: "must be an integer in 1...\(TrainingOption.maxThreads) (got \(threads))")
        }
        return (config, options, try data.checked())
    }

    func run() throws {
        let (config, options, dataOptions): (ScheduleConfig, TrainingOptions, DataOptions)
        do throws(OptionProblem) {
            (config, options, dataOptions) = try checked()
        } catch {
            throw fail(error)
        }
        let code = StandaloneCommands.train(config, options: options, data: dataOptions, threads: threads, console: .standard)
        if code != 0 { throw ExitCode(code) }
    }
}
