import App
import ArgumentParser
import Sweep

struct LeaderboardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leaderboard",
        abstract: "The configurations of a sweep, best first (repeats aggregated; diverged and failed last).")

    @OptionGroup var database: DatabaseArgument

    @Option(parsing: .unconditional, help: ArgumentHelp("Write RFC 4180 CSV to FILE instead of a table ('-': stdout).", valueName: "file"))
    var csv: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Only the first N rows (0: the header alone).", valueName: "n"))
    var top: Int?

    func run() throws {
        if let top { try checkTop(top) }
        try exitWith(SweepCommands.leaderboard(db: database.location.display, csv: csv, top: top, openStore: database.location.open,
                                               console: .standard))
    }
}
