import App
import ArgumentParser
import Sweep

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Resume a sweep from its database alone.",
        discussion: "Runs the unfinished trials of the space stored in DB; trials left running by a dead process on this machine are taken back.")

    @OptionGroup var database: DatabaseArgument
    @OptionGroup var concurrency: ConcurrencyOption

    func run() throws {
        var location = database.location
        location.lease = concurrency.lease
        try exitWith(SweepCommands.resume(db: location.display, options: try concurrency.runOptions(),
                                          openStore: location.open, console: .standard))
    }
}
