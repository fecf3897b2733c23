import App
import ArgumentParser
import Sweep

struct Best: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The best SGDR configuration of a sweep, beside the best baseline.",
        discussion: "With --json: an object with every schedule parameter, the scores, and \"train_args\" for sgdr-search train.")

    @OptionGroup var database: DatabaseArgument

    @Flag(help: "Print a JSON object.")
    var json = false

    func run() throws {
        try exitWith(SweepCommands.best(db: database.location.display, json: json, openStore: database.location.open, console: .standard))
    }
}
