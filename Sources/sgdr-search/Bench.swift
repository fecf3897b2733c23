import App
import ArgumentParser
import Engine
import Foundation
import Sweep
import TrainingTypes

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
        let code = StandaloneCommands.bench(options: options, data: dataOptions, threadCounts: counts, repeats: repeats,
                                     console: .standard)
        if code != 0 { throw ExitCode(code) }
    }
}
