import App
import ArgumentParser
import Foundation
import PostgresStore
import SQLiteStore
import EngineAdapter
import Sweep

/// The database argument shared by `resume`, `leaderboard`, `best`, `status` and `report`.
struct DatabaseArgument: ParsableArguments {
    @Argument(help: ArgumentHelp(
        "The sweep's database: an SQLite file (runs/<name>.sqlite by default) or postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME (libpq's PG* variables and ~/.pgpass fill in what it leaves out).",
        valueName: "db"))
    var db: String

    @Option(help: ArgumentHelp("The sweep to read in a database that holds several (its space's \"name\"; optional when it holds one).",
                               valueName: "name"))
    var sweep: String?

    var location: StoreLocation { StoreLocation(db: db, sweep: sweep) }
}

/// Where a sweep is stored: an SQLite file, or a sweep in a PostgreSQL database (a
/// `postgresql://` or `postgres://` URL). `display` is what messages show: the path, or the URL
/// with its password masked; the commands get it, never the URL itself.
struct StoreLocation {
    var db: String
    var sweep: String?
    /// For `run` and `resume`: the lease their claims honour.
    var lease: Double?

    var isPostgres: Bool { PostgresTrialStore.isURL(db) }
    var display: String { isPostgres ? PostgresTrialStore.display(db) : db }

    /// A `StoreOpener` for the commands (which pass `display` back as the path): only `.create`
    /// creates a sweep, and `.read` opens an SQLite file read-only.
    /// `reconnectSeconds`: how long a PostgreSQL store tries to make a dropped connection again
    /// (a sweep's workers: a minute; the dashboard, which reopens on its next poll: seconds).
    func open(path: String, access: StoreAccess) throws -> any TrialStore {
        try open(path: path, access: access, reconnectSeconds: 60)
    }

    func open(path: String, access: StoreAccess, reconnectSeconds: Double) throws -> any TrialStore {
        if isPostgres {
            return try PostgresTrialStore(url: db, sweep: sweep, create: access == .create, lease: lease,
                                          reconnectSeconds: reconnectSeconds)
        }
        let store = try SQLiteTrialStore(path: path, create: access == .create, readOnly: access == .read, lease: lease)
        if let sweep, let info = try store.info(), info.name != sweep {
            try? store.close()
            throw SweepError("\(path) holds the sweep \"\(info.name)\", not \"\(sweep)\"")
        }
        return store
    }
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

    @Option(help: ArgumentHelp(
        "A running trial whose owner has not renewed its lease for this long (it renews every lease/4) is run again by any worker, on any host.",
        valueName: "seconds"))
    var lease: Double = 60

    @Option(name: .customLong("host-id"),
            help: ArgumentHelp("The host part of this worker's owner name (default: the host name; for containers with non-unique host names).",
                               valueName: "id"))
    var hostID: String?

    /// The run options; a --concurrency out of range is one `Error:` line and exit 64, like every option.
    func runOptions() throws -> SweepCommands.RunOptions {
        if let c = concurrency, c < 1 || c > 256 {
            throw fail(OptionProblem(option: "--concurrency", message: "must be an integer in [1, 256] (got \(c))"))
        }
        if cacheMB < 0 || cacheMB > 1 << 20 {
            throw fail(OptionProblem(option: "--cache-mb", message: "must be an integer in [0, 1048576] (got \(cacheMB))"))
        }
        if !(lease >= 0.5 && lease <= 86400) {
            throw fail(OptionProblem(option: "--lease", message: "must be a number of seconds in [0.5, 86400] (got \(lease))"))
        }
        if let hostID, hostID.isEmpty || hostID.count > 100
            || !hostID.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0) }) {
            throw fail(OptionProblem(option: "--host-id",
                                     message: "must be 1 to 100 letters, digits, '.', '_' or '-' (got \"\(hostID)\")"))
        }
        var o = SweepCommands.RunOptions(concurrency: concurrency)
        o.cacheBytes = cacheMB << 20
        o.lease = lease
        if let hostID {
            o.owner = Owner.current(host: hostID)
            o.isAbandoned = { Owner.isAbandoned($0, host: hostID) }
        }
        o.handleSignals = true
        return o
    }
}

/// Exits with `code` unless it is 0.
func exitWith(_ code: Int32) throws {
    if code != 0 { throw ExitCode(code) }
}
