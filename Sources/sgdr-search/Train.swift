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
    @Option(parsing: .unconditional, help: "The network: mlp or cnn.")
    var model: ModelKind = .mlp
    @Option(parsing: .unconditional, help: "CNN only: widths of the 3x3 conv + ReLU + 2x2 max-pool blocks, comma-separated (default 32,64).")
    var conv: String?
    @Option(parsing: .unconditional, help: "Hidden (fully connected) layer widths, comma-separated, or 'none' (or empty) for none (default 256,128 for mlp, 128 for cnn).")
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
        let hiddenSizes = try hidden.map { (h: String) throws(OptionProblem) in try Self.widths(h, option: "--hidden", allowEmpty: true) }
            ?? (model == .cnn ? [128] : [256, 128])
        switch model {
        case .mlp:
            if conv != nil { throw OptionProblem(option: "--conv", message: "applies only to --model cnn") }
            return (.mlp, TrainingOptions.defaultConv, hiddenSizes)
        case .cnn:
            let widths = try conv.map { (c: String) throws(OptionProblem) in try Self.widths(c, option: "--conv", allowEmpty: false) }
                ?? TrainingOptions.defaultConv
            return (.cnn, widths, hiddenSizes)
        }
    }
}

/// Options shared by `train` and `bench`: the data and the run.
struct DataArguments: ParsableArguments {
    @Option(parsing: .unconditional, help: "The data set: fashion-mnist, synthetic or cifar10 (needs --data-dir).")
    var dataset: DatasetKind = .fashionMNIST
    @Option(name: .customLong("data-dir"), parsing: .unconditional, help: "Folder of the Fashion-MNIST IDX files (default /usr/share/datasets/fashion-mnist), or of CIFAR-10's data_batch_1..5.bin and test_batch.bin.")
    var dataDir: String?
    @Option(name: .customLong("train-size"), parsing: .unconditional, help: "Training images: the first N of the training file (default 50000; cifar10: 50000 - --val-size).")
    var trainSize: Int?
    @Option(name: .customLong("val-size"), parsing: .unconditional, help: "Validation images: the last N of the training file.")
    var valSize: Int = 10000

    var options: DataOptions {
        DataOptions(dataset: dataset, dataDir: dataDir, trainSize: trainSize ?? (dataset == .cifar10 ? max(1, dataset.trainFileCount - valSize) : 50000),
                    valSize: valSize)
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
    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "Mini-batch size.")
    var batchSize: Int = 128
    @Option(parsing: .unconditional, help: "Epochs.")
    var epochs: Int = 10
    @Option(parsing: .unconditional, help: "The optimizer: sgd or adam.")
    var optimizer: OptimizerKind = .sgd
    @Option(parsing: .unconditional, help: "SGD momentum.")
    var momentum: Double = 0.9
    @Flag(help: "Nesterov momentum.")
    var nesterov = false
    @Option(name: .customLong("weight-decay"), parsing: .unconditional, help: "L2 weight decay.")
    var weightDecay: Double = 5e-4
    @Option(parsing: .unconditional, help: "Seed of the initialisation and shuffles.")
    var seed: String = "0"
    @Option(parsing: .unconditional, help: "OpenBLAS threads.")
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
        if threads < 1 || threads > 256 {
            throw OptionProblem(option: "--threads", message: "must be an integer in 1...256 (got \(threads))")
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
        let code = RunCommands.train(config, options: options, data: dataOptions, threads: threads, console: .standard)
        if code != 0 { throw ExitCode(code) }
    }
}
