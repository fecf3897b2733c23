import TrainingTypes
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Report
import Schedules
import Sweep
import XCTest

final class ReportPageTests: XCTestCase {
    func testFullSweepHasOneChartPerSectionAndOnePolylinePerRun() throws {
        let trials = Fixture.fullSweep()
        let page = try ParsedPage(renderReport(Fixture.input(trials), top: 5))

        XCTAssertEqual(Self.name(page.document.rootElement()!), "html")
        XCTAssertEqual(page.charts("schedules").count, 1)
        XCTAssertEqual(page.charts("errors").count, 1)
        XCTAssertEqual(page.charts("parameters").count, Fixture.parameters.count)
        for section in ReportSection.allCases {
            XCTAssertEqual(page.all.filter { Self.name($0) == "section" && attr($0, "data-section") == section.rawValue }.count, 1,
                           "section \(section)")
        }

        // Top 5 SGDR configurations + 3 baselines.
        let runs = 8
        let lr = page.charts("schedules")[0]
        XCTAssertEqual(descendants(lr, named: "polyline").count, runs)
        let errors = page.charts("errors")[0]
        XCTAssertEqual(descendants(errors, named: "polyline").count, 2 * runs, "validation and training per run")
        XCTAssertEqual(descendants(errors, named: "circle").filter { attr($0, "class") == "best-marker" }.count, runs)
        // Training error is dotted, validation solid (for the first colours).
        let dashes = descendants(errors, named: "polyline").map { attr($0, "stroke-dasharray") }
        XCTAssertEqual(dashes.filter { $0 == "1.5 3.5" }.count, runs)

        // The legend names each plotted configuration, the baselines as such.
        let legendText = descendants(lr, named: "g").filter { attr($0, "class") == "legend" }.first?.stringValue ?? ""
        for name in ["sgdr-0004", "sgdr-0000", "step (baseline)", "cosine (baseline)", "constant (baseline)"] {
            XCTAssertTrue(legendText.contains(name), "legend lacks \(name): \(legendText)")
        }
        XCTAssertFalse(legendText.contains("sgdr-0005"), "diverged configuration is not in the top 5")

        // Every chart has a title element and visible title text.
        for svg in page.elements("svg") {
            XCTAssertFalse((descendants(svg, named: "title").first?.stringValue ?? "").isEmpty)
            XCTAssertTrue(descendants(svg, named: "text").contains { attr($0, "class") == "chart-title" })
            assertInsidePlot(svg)
        }

        // Leaderboard: same rows as Leaderboard.rows, one column per swept parameter.
        let rows = Leaderboard.rows(trials, objective: .bestValAcc)
        let table = try XCTUnwrap(page.elements("table").first { attr($0, "data-section") == "leaderboard" })
        let bodyRows = descendants(table, named: "tbody").flatMap { descendants($0, named: "tr") }
        XCTAssertEqual(bodyRows.count, rows.count)
        let header = descendants(table, named: "th").map { $0.stringValue ?? "" }
        XCTAssertEqual(header, ["rank", "configuration", "schedule", "t0", "tmult", "lr_max_compression", "trigger_val_acc",
                                "best_val_acc", "final_val_acc", "best_epoch", "repeats", "status", "vs_baseline",
                                "seconds"])
        for (tr, row) in zip(bodyRows, rows) {
            let cells = descendants(tr, named: "td").map { $0.stringValue ?? "" }
            XCTAssertEqual(cells.count, header.count)
            XCTAssertEqual(cells[0], String(row.rank))
            XCTAssertEqual(cells[1], row.configuration)
            XCTAssertEqual(cells[2], row.schedule.kind.rawValue)
            XCTAssertEqual(cells[7], (row.bestValAcc.map { String(format: "%.4f", $0) } ?? "\u{2013}")
                           + (row.bestValAccStd.map { String(format: " \u{00B1} %.4f", $0) } ?? ""))
            XCTAssertEqual(cells[11], row.statusText)
        }

        // Summary: settings, statuses, the best SGDR against the best baseline, the failures.
        let text = page.text
        XCTAssertTrue(text.contains("fashion-mnist"))
        XCTAssertTrue(text.contains("Best SGDR configuration: sgdr-0004"), text)
        XCTAssertTrue(text.contains("Best baseline: constant"), text)
        XCTAssertTrue(text.contains("\u{00B1}"), "spread over repeats is shown")
        XCTAssertTrue(text.contains("out of memory <heap> & \"stack\""), "failure message shown verbatim")
        XCTAssertTrue(text.contains("loss is NaN at epoch 3"))
        XCTAssertFalse(text.contains("still running"))
    }

    /// The settings in three columns, filled top to bottom: 3 given settings + sweep, objective
    /// and swept are 6 pairs, so 2 rows (issue 22: the one-column table filled the first screen).
    func testSettingsTableHasThreeColumnsOfPairs() throws {
        let page = try ParsedPage(renderReport(Fixture.input(Fixture.fullSweep())))
        let table = try XCTUnwrap(page.elements("table").first { attr($0, "class") == "settings" })
        let rows = descendants(table, named: "tr")
        XCTAssertEqual(rows.count, 2)
        func cells(_ tr: XMLElement) -> [String] {
            (tr.children ?? []).compactMap { $0 as? XMLElement }.map { $0.stringValue ?? "" }
        }
        XCTAssertEqual(cells(rows[0]), ["sweep", "fashion-sgdr", "epochs", "20", "objective", "best_val_acc"])
        XCTAssertEqual(cells(rows[1]), ["dataset", "fashion-mnist", "batch_size", "128", "swept",
                                        "t0 (log), tmult, lr_max_compression (log), trigger_val_acc"])
        XCTAssertEqual(descendants(rows[0], named: "th").map { attr($0, "scope") }, ["row", "row", "row"])
    }

    func testDivergedRunsWithNonFiniteMetricsNeverReachCoordinates() throws {
        let html = renderReport(Fixture.input(Fixture.fullSweep()), top: 10)
        XCTAssertFalse(html.lowercased().contains("nan,") || html.contains(",nan") || html.contains("inf,"))
        let page = try ParsedPage(html)
        // All 7 SGDR configurations (diverged and failed included) + 3 baselines.
        XCTAssertEqual(descendants(page.charts("schedules")[0], named: "polyline").count, 10)
        XCTAssertEqual(descendants(page.charts("errors")[0], named: "polyline").count, 20)
        // More series than colours: the 8th onwards gets a dash pattern as the second cue.
        let lrDashes = descendants(page.charts("schedules")[0], named: "polyline").map { attr($0, "stroke-dasharray") }
        XCTAssertEqual(lrDashes.prefix(7).compactMap { $0 }.count, 0)
        XCTAssertEqual(lrDashes.suffix(3).compactMap { $0 }.count, 3)
        for svg in page.elements("svg") { assertInsidePlot(svg) }
        // Scatter: the diverged and the failed trial are crosses on the bottom edge.
        for svg in page.charts("parameters") {
            XCTAssertEqual(descendants(svg, named: "path").filter { attr($0, "class") == "failed-point" }.count, 2)
            XCTAssertEqual(descendants(svg, named: "circle").filter { attr($0, "class") == "point" }.count, 12)
            XCTAssertEqual(descendants(svg, named: "line").filter { attr($0, "class") == "reference" }.count, 1,
                           "best baseline as a reference line")
        }
    }

    func testSingleTrialGivesValidPage() throws {
        let schedule = Fixture.sgdrSchedule(t0: 3, tmult: 2, c: 5, trigger: 0, epochs: 12)
        let t = Fixture.trial("sgdr-0000", number: 0, schedule: schedule,
                              swept: ["t0": 3, "tmult": 2, "lr_max_compression": 5, "trigger_val_acc": 0])
        let page = try ParsedPage(renderReport(Fixture.input([t])))
        XCTAssertEqual(descendants(page.charts("schedules")[0], named: "polyline").count, 1)
        XCTAssertEqual(descendants(page.charts("errors")[0], named: "polyline").count, 2)
        XCTAssertEqual(page.charts("parameters").count, 4)
        for svg in page.elements("svg") { assertInsidePlot(svg) }
        XCTAssertTrue(page.text.contains("This sweep has no baseline."))
    }

    func testSingleEpochTrialGivesValidPage() throws {
        let schedule = Fixture.sgdrSchedule(t0: 3, tmult: 2, c: 5, trigger: 0, epochs: 1)
        let t = Fixture.trial("sgdr-0000", number: 0, schedule: schedule, swept: ["t0": 3])
        let page = try ParsedPage(renderReport(Fixture.input([t])))
        XCTAssertEqual(descendants(page.charts("schedules")[0], named: "polyline").count, 1)
        for svg in page.elements("svg") { assertInsidePlot(svg) }
    }

    func testNoFinishedTrialStillGivesValidPage() throws {
        let schedule = Fixture.sgdrSchedule(t0: 2, tmult: 1, c: 5, trigger: 0, epochs: 10)
        let running = Fixture.trial("sgdr-0000", number: 0, schedule: schedule, swept: ["t0": 2],
                                    status: .running, epochCount: 3)
        let pending = Fixture.trial("sgdr-0001", number: 1, schedule: schedule, swept: ["t0": 2], status: .pending)
        let page = try ParsedPage(renderReport(Fixture.input([running, pending])))
        let text = page.text
        XCTAssertTrue(text.contains("still running"), text)
        XCTAssertTrue(text.contains("No finished trial yet"), text)
        XCTAssertTrue(text.contains("no finished SGDR trial yet"), text)
        // The running trial's epochs so far are plotted; the pending one is named as not plotted.
        XCTAssertEqual(descendants(page.charts("schedules")[0], named: "polyline").count, 1)
        XCTAssertTrue(text.contains("Not plotted, no epoch yet: sgdr-0001"), text)
        XCTAssertEqual(page.charts("parameters").count, 0)
        for svg in page.elements("svg") { assertInsidePlot(svg) }
        XCTAssertEqual(page.elements("section").count, ReportSection.allCases.count)
        for section in page.elements("section") where attr(section, "id") != "summary" {
            XCTAssertTrue((section.stringValue ?? "").contains("No finished trial yet"), attr(section, "id") ?? "")
        }
    }

    func testNothingStartedSaysSoInEverySection() throws {
        let schedule = Fixture.sgdrSchedule(t0: 2, tmult: 1, c: 5, trigger: 0, epochs: 10)
        let pending = Fixture.trial("sgdr-0000", number: 0, schedule: schedule, swept: ["t0": 2], status: .pending)
        let page = try ParsedPage(renderReport(Fixture.input([pending])))
        XCTAssertEqual(page.elements("svg").count, 0)
        for id in ["schedules", "errors", "parameters"] {
            let section = try XCTUnwrap(page.elements("section").first { attr($0, "id") == id })
            XCTAssertTrue((section.stringValue ?? "").contains("No finished trial yet"), id)
        }
    }

    func testNoTrialsGivesValidPage() throws {
        let page = try ParsedPage(renderReport(Fixture.input([])))
        XCTAssertTrue(page.text.contains("This sweep has no trials yet."))
        XCTAssertEqual(page.elements("svg").count, 0)
        XCTAssertEqual(page.elements("section").count, ReportSection.allCases.count)
    }

    func testOnlyFailedTrialsShowTheirErrors() throws {
        let schedule = Fixture.sgdrSchedule(t0: 2, tmult: 1, c: 5, trigger: 0, epochs: 10)
        let a = Fixture.trial("sgdr-0000", number: 0, schedule: schedule, swept: ["t0": 2], status: .failed,
                              epochCount: 0, error: "dataset not found: <data-dir> & co")
        let b = Fixture.trial("sgdr-0001", number: 1, schedule: schedule, swept: ["t0": 4], status: .failed,
                              epochCount: 0, error: "killed")
        let html = renderReport(Fixture.input([a, b]))
        XCTAssertTrue(html.contains("dataset not found: &lt;data-dir&gt; &amp; co"))
        let page = try ParsedPage(html)
        XCTAssertTrue(page.text.contains("every finished trial diverged or failed"), page.text)
        XCTAssertTrue(page.text.contains("killed"))
        XCTAssertEqual(page.elements("svg").count, 0)
    }

    func testHostileNamesAreEscaped() throws {
        let schedule = Fixture.sgdrSchedule(t0: 2, tmult: 1, c: 5, trigger: 0, epochs: 5)
        let t = Fixture.trial("sgdr-0000", number: 0, schedule: schedule, swept: ["t0": 2])
        var input = Fixture.input([t], name: "<script>alert(\"x\")</script> & 'co'")
        input.settings.append(ReportSetting("data_dir", "/tmp/a&b<c>"))
        input.parameters = [SweptParameter(name: "t0<&>", logScale: false)]
        let html = renderReport(input)
        XCTAssertFalse(html.contains("<script>"))
        let page = try ParsedPage(html)
        XCTAssertEqual(page.elements("script").count, 0)
        XCTAssertEqual(page.elements("title").first?.stringValue, "sgdr-search report: <script>alert(\"x\")</script> & 'co'")
        XCTAssertTrue(page.text.contains("/tmp/a&b<c>"))
    }

    func testPageIsSelfContained() throws {
        let html = renderReport(Fixture.input(Fixture.fullSweep()))
        for forbidden in ["<script", "http://", "https://", "<link", "@import", "url(", "&nbsp;"] {
            let withoutNamespaces = html.replacingOccurrences(of: "http://www.w3.org/1999/xhtml", with: "")
                .replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "")
            XCTAssertFalse(withoutNamespaces.contains(forbidden), forbidden)
        }
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        XCTAssertTrue(html.contains("@media print"))
    }

    /// Leaderboard cells do not wrap, the status cell (`eliminated (round 3)`) included (issue 22:
    /// it wrapped at 1280 px); only headings may, at their underscores.
    func testLeaderboardCellsDoNotWrap() throws {
        let css = ReportPage.css
        XCTAssertTrue(css.contains("table.leaderboard td { white-space: nowrap; }"), css)
        XCTAssertTrue(css.contains("table.leaderboard td.status { white-space: nowrap; }"), css)
        XCTAssertFalse(css.contains("white-space: normal"), css)
        let html = renderReport(Fixture.input(Fixture.fullSweep()))
        XCTAssertTrue(html.contains("<td class=\"status\">"), "the status cells carry the class the rule names")
    }

    func testRepeatsAreAveragedPerEpoch() throws {
        let schedule = Fixture.sgdrSchedule(t0: 2, tmult: 1, c: 5, trigger: 0, epochs: 2)
        func metrics(_ val: Double, _ lr: Double) -> [EpochMetrics] {
            [1, 2].map { EpochMetrics(epoch: $0, lr: lr * Double($0), trainLoss: 1, trainAcc: val + 0.1,
                                      valLoss: 1, valAcc: val, trainSeconds: 1) }
        }
        var r0 = Fixture.trial("sgdr-0000", number: 0, repeatIndex: 0, schedule: schedule, swept: ["t0": 2])
        var r1 = Fixture.trial("sgdr-0000", number: 1, repeatIndex: 1, schedule: schedule, swept: ["t0": 2])
        var r2 = Fixture.trial("sgdr-0000", number: 2, repeatIndex: 2, schedule: schedule, swept: ["t0": 2], status: .running)
        r0.epochs = metrics(0.8, 0.01)
        r1.epochs = metrics(0.6, 0.02)
        r2.epochs = metrics(0.0, 0.03)
        let row = Leaderboard.rows([r1, r0, r2], objective: .bestValAcc)[0]
        let run = ReportPage.plottedRun(row, colorIndex: 0, parameters: Fixture.parameters)
        XCTAssertEqual(run.curveRepeats, 2, "only done repeats")
        XCTAssertEqual(run.valError.map(\.y)[0], 0.3, accuracy: 1e-12)
        XCTAssertEqual(run.trainError.map(\.y)[1], 0.2, accuracy: 1e-12)
        XCTAssertEqual(run.lr.map(\.y), [0.01, 0.02], "repeat 0's rates")
    }

    static func name(_ e: XMLElement) -> String { ParsedPage.name(e) }
}
