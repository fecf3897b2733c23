import App
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

    @Option(parsing: .unconditional, help: ArgumentHelp(
        "The database: an SQLite file (default: runs/<name>.sqlite) or postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME, which holds many sweeps by name (run the same command on several hosts to share the sweep).",
        valueName: "path|url"))
    var db: String?

    var location: StoreLocation { StoreLocation(db: db ?? "", lease: concurrency.lease) }

    @OptionGroup var concurrency: ConcurrencyOption

    func run() throws {
        try exitWith(SweepCommands.run(spaceFile: space, db: db.map { _ in location.display }, options: try concurrency.runOptions(),
                                       openStore: location.open, console: .standard))
    }
}
