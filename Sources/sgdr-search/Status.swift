import App
import ArgumentParser
import Sweep

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A sweep's trials by status, its elapsed time, and what is still to run.")

    @OptionGroup var database: DatabaseArgument

    func run() throws {
        try exitWith(SweepCommands.status(db: database.location.display, openStore: database.location.open, console: .standard))
    }
}
