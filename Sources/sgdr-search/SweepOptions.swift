import ArgumentParser
import Foundation
import SQLiteStore
import Sweep

/// The database argument shared by `resume`, `leaderboard`, `best`, `status` and `report`.
struct DatabaseArgument: ParsableArguments {
    @Argument(help: ArgumentHelp("The sweep's database (runs/<name>.sqlite by default).", valueName: "db"))
    var db: String
}

/// `--concurrency N`, shared by `run` and `resume`.
struct ConcurrencyOption: ParsableArguments {
    @Option(help: ArgumentHelp("Trials at once (overrides the space's \"concurrency\"; default: the number of cores).",
                               valueName: "n"))
    var concurrency: Int?

    /// The run options; a --concurrency out of range is one `Error:` line and exit 64, like every option.
    func runOptions() throws -> SweepCommands.RunOptions {
        if let c = concurrency, c < 1 || c > 256 {
            throw fail(OptionProblem(option: "--concurrency", message: "must be an integer in [1, 256] (got \(c))"))
        }
        var o = SweepCommands.RunOptions(concurrency: concurrency)
        o.handleSignals = true
        return o
    }
}

/// Opens a sweep database (SQLite); `create` false fails, creating nothing, when it is missing.
func openStore(path: String, create: Bool) throws -> any TrialStore {
    try SQLiteTrialStore(path: path, create: create)
}

/// Exits with `code` unless it is 0.
func exitWith(_ code: Int32) throws {
    if code != 0 { throw ExitCode(code) }
}
