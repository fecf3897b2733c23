import ArgumentParser
import Sweep

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run (or resume) the sweep of a search-space file.",
        discussion: """
            Validates SPACE first: on any problem it prints one line and creates nothing. The sweep's \
            database is runs/<name>.sqlite unless --db is given. Running the same command again resumes: \
            finished trials are kept, unfinished ones run again from their start. Only "trials" (random \
            search; it may only grow) and "concurrency" may change between runs. Ctrl-C stops within \
            two seconds, records the running trials as interrupted, and exits with status 130.
            """)

    @Argument(help: ArgumentHelp("The search-space JSON file (see search-spaces/).", valueName: "space.json"))
    var space: String

    @Option(parsing: .unconditional, help: ArgumentHelp("The database (default: runs/<name>.sqlite).", valueName: "path"))
    var db: String?

    @OptionGroup var concurrency: ConcurrencyOption

    func run() throws {
        try exitWith(SweepCommands.run(spaceFile: space, db: db, options: try concurrency.runOptions(),
                                       openStore: openStore, console: .standard))
    }
}
