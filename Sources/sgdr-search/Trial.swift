import App
import ArgumentParser
import Sweep

struct Trial: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one trial of a sweep again, outside the sweep.",
        discussion: "Runs configuration CONFIGURATION's repeat R of the space stored in DB as the sweep ran it (its trainer, or the built-in engine), and prints one CSV row per epoch; the database is not changed. `best` names this command for a sweep with a trainer.")

    @OptionGroup var database: DatabaseArgument

    @Argument(help: ArgumentHelp("The configuration: sgdr-0007, or a baseline's name (step, cosine, ...).", valueName: "configuration"))
    var configuration: String

    @Option(name: .customLong("repeat"), help: ArgumentHelp("The repeat (its training seed), from 0.", valueName: "r"))
    var repeatIndex: Int = 0

    func run() throws {
        try exitWith(SweepCommands.trial(db: database.location.display, configuration: configuration, repeatIndex: repeatIndex,
                                         openStore: database.location.open, console: .standard))
    }
}
