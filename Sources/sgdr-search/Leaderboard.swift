import ArgumentParser
import Sweep

struct LeaderboardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leaderboard",
        abstract: "The configurations of a sweep, best first (repeats aggregated; diverged and failed last).")

    @OptionGroup var database: DatabaseArgument

    @Option(help: ArgumentHelp("Write RFC 4180 CSV to FILE instead of a table ('-': stdout).", valueName: "file"))
    var csv: String?

    @Option(help: ArgumentHelp("Only the first N rows.", valueName: "n"))
    var top: Int?

    func run() throws {
        if let top, top < 1 { throw fail(OptionProblem(option: "--top", message: "must be an integer >= 1 (got \(top))")) }
        try exitWith(SweepCommands.leaderboard(db: database.location.display, csv: csv, top: top, openStore: database.location.open,
                                               console: .standard))
    }
}
