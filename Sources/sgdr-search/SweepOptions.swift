import ArgumentParser
import Foundation
import SQLiteStore
import Sweep

/// The database argument shared by `resume`, `leaderboard`, `best`, `status` and `report`.
struct DatabaseArgument: ParsableArguments {
    @Argument(help: ArgumentHelp("The sweep's database (runs/<name>.sqlite by default).", valueName: "db"))
    var db: String
}

/// `--top N` of `leaderboard` and `report`: one rule for both, any integer >= 0 (0: no rows,
/// only the baselines in the report's charts).
func checkTop(_ top: Int) throws {
    if top < 0 { throw fail(OptionProblem(option: "--top", message: "must be an integer >= 0 (got \(top))")) }
}

/// `--concurrency N`, shared by `run` and `resume`.
struct ConcurrencyOption: ParsableArguments {
    // `.unconditional` (here and on every numeric option) so that `--concurrency -1` reaches
    // the range check and its one-line error instead of being read as an unknown option.
    @Option(parsing: .unconditional, help: ArgumentHelp("Trials at once (overrides the space's \"concurrency\"; default: the number of cores).",
                               valueName: "n"))
    var concurrency: Int?

    @Option(name: .customLong("cache-mb"), parsing: .unconditional,
            help: ArgumentHelp("Memory for training states shared between trials, in MiB (0: no sharing; the results are the same).",
                               valueName: "mib"))
    var cacheMB: Int = TrajectoryCache.defaultBudgetBytes >> 20

    /// The run options; a --concurrency out of range is one `Error:` line and exit 64, like every option.
    func runOptions() throws -> SweepCommands.RunOptions {
        if let c = concurrency, c < 1 || c > 256 {
            throw fail(OptionProblem(option: "--concurrency", message: "must be an integer in [1, 256] (got \(c))"))
        }
        if cacheMB < 0 || cacheMB > 1 << 20 {
            throw fail(OptionProblem(option: "--cache-mb", message: "must be an integer in [0, 1048576] (got \(cacheMB))"))
        }
        var o = SweepCommands.RunOptions(concurrency: concurrency)
        o.cacheBytes = cacheMB << 20
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
