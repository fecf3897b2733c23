import ArgumentParser
import Foundation
import Report
import Sweep

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "A self-contained HTML report of a sweep (charts of schedules, errors and parameters, leaderboard).")

    @OptionGroup var database: DatabaseArgument

    @Option(help: ArgumentHelp("Where to write the page ('-': stdout; default: runs/<name>.html, like the sweep's default database).", valueName: "file"))
    var out: String?

    @Option(help: ArgumentHelp("SGDR configurations plotted beside the baselines.", valueName: "k"))
    var top = 5

    func run() throws {
        if top < 0 { throw fail(OptionProblem(option: "--top", message: "must be an integer >= 0 (got \(top))")) }
        let sweep: StoredSweep
        do { sweep = try StoredSweep.load(db: database.location.display, openStore: database.location.open) } catch {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let input = ReportInput(
            name: sweep.space.name, settings: sweep.space.settingsSummary.map { ReportSetting($0.key, $0.value) },
            objective: sweep.space.objective,
            parameters: sweep.space.sweptLogScales.map { Report.SweptParameter(name: $0.name, logScale: $0.log) },
            trials: sweep.trials, generatedAt: Date(), note: sweep.earlierRulesNote(path: database.location.display))
        if let note = input.note { FileHandle.standardError.write(Data((note + "\n").utf8)) }
        let html = renderReport(input, top: top)
        let path = out ?? "runs/\(sweep.space.name).html"
        if out == nil { try? FileManager.default.createDirectory(atPath: "runs", withIntermediateDirectories: true) }
        if path == "-" {
            FileHandle.standardOutput.write(Data(html.utf8))
            return
        }
        do { try Data(html.utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            FileHandle.standardError.write(Data("Error: cannot write \(path): \(error.localizedDescription)\n".utf8))
            throw ExitCode(1)
        }
        FileHandle.standardError.write(Data("Wrote \(path)\n".utf8))
    }
}
