import Foundation
import Report
import Sweep

extension SweepCommands {
    /// `sgdr-search report DB [--out FILE] [--top K]`: renders the sweep's page and writes it to
    /// `out` ("-": stdout; nil: `runs/<name>.html`). `db` is the database as messages show it,
    /// `dbFile` the path an output must not be (the database or its companions).
    public static func reportPage(db: String, dbFile: String, out: String?, top: Int, openStore: StoreOpener,
                                  console: Console) -> Int32 {
        report(console) {
            if let out, out != "-" { try checkOutput(out, option: "--out", database: dbFile) }
            let sweep = try StoredSweep.load(db: db, openStore: openStore, plotting: top)
            let input = ReportInput(
                name: sweep.space.name, settings: sweep.space.settingsSummary.map { ReportSetting($0.key, $0.value) },
                objective: sweep.space.objective,
                parameters: sweep.space.sweptLogScales.map { Report.SweptParameter(name: $0.name, logScale: $0.log) },
                trials: sweep.trials, generatedAt: Date(), note: sweep.earlierRulesNote(path: db),
                race: sweep.space.raceState(sweep.trials))
            if let note = input.note { try console.err(note + "\n") }
            let html = renderReport(input, top: top)
            let path = out ?? "runs/\(sweep.space.name).html"
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
}
