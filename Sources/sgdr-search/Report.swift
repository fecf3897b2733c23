import App
import ArgumentParser
import Foundation
import Report
import Sweep

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "A self-contained HTML report of a sweep (charts of schedules, errors and parameters, leaderboard).")

    @OptionGroup var database: DatabaseArgument

    @Option(parsing: .unconditional, help: ArgumentHelp("Where to write the page ('-': stdout; default: runs/<name>.html, like the sweep's default database).", valueName: "file"))
    var out: String?

    @Option(parsing: .unconditional,
            help: ArgumentHelp("SGDR configurations plotted beside the baselines (0: the baselines alone).", valueName: "k"))
    var top = 5

    func run() throws {
        try checkTop(top)
        let console = Console.standard
        if let out, out != "-" {
            do throws(SweepError) { try SweepCommands.checkOutput(out, option: "--out", database: database.db) } catch {
                console.error(error.description)
                throw ExitCode(error.exitCode)
            }
        }
        let sweep: StoredSweep
        do { sweep = try StoredSweep.load(db: database.location.display, openStore: database.location.open, plotting: top) } catch {
            console.error("\(error)")
            throw ExitCode(1)
        }
        let input = ReportInput(
            name: sweep.space.name, settings: sweep.space.settingsSummary.map { ReportSetting($0.key, $0.value) },
            objective: sweep.space.objective,
            parameters: sweep.space.sweptLogScales.map { Report.SweptParameter(name: $0.name, logScale: $0.log) },
            trials: sweep.trials, generatedAt: Date(), note: sweep.earlierRulesNote(path: database.location.display),
            race: sweep.space.raceState(sweep.trials))
        if let note = input.note { try console.err(note + "\n") }
        let html = renderReport(input, top: top)
        let path = out ?? "runs/\(sweep.space.name).html"
        if out == nil { try? FileManager.default.createDirectory(atPath: "runs", withIntermediateDirectories: true) }
        if path == "-" {
            try console.data(html)
            return
        }
        do { try SweepCommands.writeOutput(html, to: path, option: "--out", database: database.db) } catch let error as SweepError {
            console.error(error.description)
            throw ExitCode(error.exitCode)
        }
        try console.err("Wrote \(path)\n")
    }
}
