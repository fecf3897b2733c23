import App
import ArgumentParser
import Foundation
import Sweep

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "A self-contained HTML report of a sweep (charts of schedules, errors and parameters, leaderboard).")

    @OptionGroup var database: DatabaseArgument

    @Option(parsing: .unconditional, help: ArgumentHelp("Where to write the page ('-': stdout; default: runs/<name>.html, like the sweep's default database; runs/<name>.postgres-<dbname>.html for a PostgreSQL sweep).", valueName: "file"))
    var out: String?

    @Option(parsing: .unconditional,
            help: ArgumentHelp("SGDR configurations plotted beside the baselines (0: the baselines alone).", valueName: "k"))
    var top = 5

    func run() throws {
        try checkTop(top)
        try exitWith(SweepCommands.reportPage(db: database.location.display, dbFile: database.db, out: out, top: top,
                                              openStore: database.location.open, console: .standard))
    }
}
