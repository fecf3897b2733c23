import Foundation
import Report
import Sweep

extension SweepCommands {
    /// `sgdr-search report DB [--out FILE] [--top K]`: renders the sweep's page and writes it to
    /// `out` ("-": stdout; nil: `defaultReportPath(sweep:database:)`). `db` is the database as messages show it,
    /// `dbFile` the path an output must not be (the database or its companions).
    public static func reportPage(db: String, dbFile: String, out: String?, top: Int, openStore: StoreOpener,
                                  console: Console) -> Int32 {
        report(console) {
            if let out, out != "-" { try checkOutput(out, option: "--out", database: dbFile) }
            // The sweep's leaderboard table and the rows the page shows (a race: every record).
            let (sweep, summary) = try StoredSweep.loadForReport(db: db, openStore: openStore, plotting: max(0, top))
            let input = sweep.reportInput(db: db, generatedAt: Date(), summary: summary)
            if let note = input.note { try console.err(note + "\n") }
            let html = renderReport(input, top: top)
            let path = out ?? defaultReportPath(sweep: sweep.space.name, database: db)
            if out == nil { try? FileManager.default.createDirectory(atPath: "runs", withIntermediateDirectories: true) }
            if path == "-" {
                try console.data(html)
                return 0
            }
            try writeOutput(html, to: path, option: "--out", database: dbFile)
            try console.err("Wrote \(path)\n")
            return 0
        }
    }

    /// The page `report` writes without `--out`: `runs/<name>.html` for an SQLite sweep (beside
    /// the sweep's default database `runs/<name>.sqlite`), `runs/<name>.postgres-<dbname>.html`
    /// for a sweep in a PostgreSQL database (`runs/<name>.postgres.html` when the URL names no
    /// database), so that the same sweep name in SQLite and in PostgreSQL, or in two PostgreSQL
    /// databases, gives two pages rather than one overwriting the other. `database` is the
    /// database as given (a path or a URL, its password masked or not).
    public static func defaultReportPath(sweep name: String, database: String) -> String {
        guard database.hasPrefix("postgresql://") || database.hasPrefix("postgres://") else { return "runs/\(name).html" }
        guard let dbname = postgresDatabaseName(database) else { return "runs/\(name).postgres.html" }
        // A file name of letters, digits, '.', '_' and '-' (a database name may hold anything).
        let safe = String(dbname.unicodeScalars.map { scalar -> Character in
            let c = Character(scalar)
            return c.isASCII && (c.isLetter || c.isNumber || c == "." || c == "_" || c == "-") ? c : "_"
        })
        return "runs/\(name).postgres-\(safe).html"
    }

    /// The database a PostgreSQL URL names, as libpq reads it: a `dbname=` query parameter, else
    /// the path after the host (`postgresql://user@host:5432/DBNAME?...`), percent-decoded; nil
    /// when it names none (libpq then takes PGDATABASE or the user's name).
    static func postgresDatabaseName(_ url: String) -> String? {
        guard let scheme = url.range(of: "://") else { return nil }
        let rest = url[scheme.upperBound...]
        let query = rest.firstIndex(of: "?")
        let beforeQuery = rest[..<(query ?? rest.endIndex)]
        var name: String?
        if let slash = beforeQuery.firstIndex(of: "/") {
            name = String(beforeQuery[beforeQuery.index(after: slash)...])
        }
        if let query {
            for pair in rest[rest.index(after: query)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                if parts.count == 2, parts[0] == "dbname" { name = String(parts[1]) }
            }
        }
        guard let raw = name, !raw.isEmpty else { return nil }
        let decoded = raw.removingPercentEncoding ?? raw
        return decoded.isEmpty ? nil : decoded
    }
}

extension StoredSweep {
    /// What the report (and the live dashboard of `serve`) shows of this sweep, read from `db`.
    /// `summary`: the rows the page shows, read from the compact table (nil: from `trials`).
    public func reportInput(db: String, generatedAt: Date?, summary: ReportSummary? = nil) -> ReportInput {
        ReportInput(
            name: space.name, settings: space.reportSettings.map { ReportSetting($0.key, $0.value) },
            objective: space.objective,
            parameters: space.sweptLogScales.map { Report.SweptParameter(name: $0.name, logScale: $0.log) },
            trials: trials, generatedAt: generatedAt, note: earlierRulesNote(path: db),
            race: space.raceState(trials), summary: summary)
    }
}
