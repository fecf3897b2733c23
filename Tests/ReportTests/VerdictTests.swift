import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Report
import Schedules
import Sweep
import TrainingTypes
import XCTest

/// The page's first lines (issue 22): the best SGDR configuration against the best baseline, their
/// paired difference with its 95% interval, and whether restarts helped — before the settings.
///
/// Expected values by hand, with t(0.975, 2 df) = 4.302653 from a t table (scipy.stats.t.ppf
/// gives 4.302652729749462):
/// - undecided: SGDR 0.90 0.91 0.92, baseline 0.88 0.90 0.89: differences 0.02 0.01 0.03, mean
///   0.02, sample sd 0.01, se 0.01/sqrt(3) = 0.005774, half-width 4.302653 * 0.005774 = 0.024841,
///   interval [-0.004841, +0.044841].
/// - SGDR ahead: SGDR 0.909 0.910 0.911, baseline 0.89 x3: differences 0.019 0.020 0.021, mean
///   0.02, sd 0.001, se 0.000577, half-width 0.002484, interval [+0.017516, +0.022484].
/// - baseline ahead: the same with the roles swapped: [-0.022484, -0.017516].
final class VerdictTests: XCTestCase {
    /// A done trial whose best val_acc is `score` (epoch 2; epoch 1 is 0.05 lower).
    func trial(_ configuration: String, _ r: Int, _ score: Double, kind: ScheduleKind = .sgdr, t0: Int = 2) -> TrialRecord {
        let schedule = ScheduleConfig(kind: kind, parameters: SGDRParameters(lrMax: 0.1, t0: t0), epochs: 2)
        let spec = TrialSpec(id: TrialSpec.id(configuration: configuration, repeatIndex: r), number: 0,
                             configuration: configuration, repeatIndex: r, seed: UInt64(r), schedule: schedule,
                             swept: kind == .sgdr ? ["t0": Double(t0)] : [:])
        let epochs = [score - 0.05, score].enumerated().map { i, v in
            EpochMetrics(epoch: i + 1, lr: 0.1, trainLoss: 0.5, trainAcc: v, valLoss: 0.5, valAcc: v, trainSeconds: 0.1)
        }
        return TrialRecord(spec: spec, status: .done, seconds: 1, epochs: epochs)
    }

    func sweep(sgdr: [Double], baseline: [Double]) -> [TrialRecord] {
        sgdr.indices.map { trial("sgdr-0000", $0, sgdr[$0]) }
            + sgdr.indices.map { trial("sgdr-0001", $0, 0.70 + 0.01 * Double($0), t0: 4) }
            + baseline.indices.map { trial("cosine", $0, baseline[$0], kind: .cosine) }
    }

    func page(_ trials: [TrialRecord]) throws -> (html: String, page: ParsedPage, verdict: XMLElement) {
        let input = ReportInput(name: "verdict", settings: [ReportSetting("dataset", "fashion-mnist"), ReportSetting("epochs", "2")],
                                parameters: [SweptParameter(name: "t0")], trials: trials)
        let html = renderReport(input)
        let page = try ParsedPage(html)
        let verdict = try XCTUnwrap(page.elements("div").first { attr($0, "class") == "verdict" })
        return (html, page, verdict)
    }

    func sentence(_ verdict: XMLElement) -> String {
        descendants(verdict, named: "p").first { attr($0, "class") == "verdict-sentence" }?.stringValue ?? ""
    }

    func testTheVerdictComesBeforeTheSettingsAndGivesThePairedInterval() throws {
        let (html, page, verdict) = try page(sweep(sgdr: [0.90, 0.91, 0.92], baseline: [0.88, 0.90, 0.89]))
        // Before the settings table, in the page's text and in its element order, and before any chart.
        let settings = try XCTUnwrap(page.elements("table").first { attr($0, "class") == "settings" })
        let order = { (e: XMLElement) in page.all.firstIndex { $0 === e } ?? .max }
        XCTAssertLessThan(order(verdict), order(settings))
        let verdictAt = try XCTUnwrap(html.range(of: "class=\"verdict\""))
        XCTAssertLessThan(verdictAt.lowerBound, try XCTUnwrap(html.range(of: "class=\"settings\"")).lowerBound)
        XCTAssertLessThan(verdictAt.lowerBound, try XCTUnwrap(html.range(of: "<svg")).lowerBound)
        // Nothing but the title (and notices) above it.
        let h1 = try XCTUnwrap(page.elements("h1").first)
        XCTAssertTrue(page.all[order(h1)..<order(verdict)].allSatisfy { ["h1", "header", "section", "h2"].contains(ParsedPage.name($0)) },
                      page.all[order(h1)..<order(verdict)].map { ParsedPage.name($0) }.description)

        XCTAssertEqual(attr(verdict, "data-verdict"), "undecided")
        let text = verdict.stringValue ?? ""
        XCTAssertTrue(text.contains("Best SGDR configuration: sgdr-0000: t0=2, best_val_acc 0.9100 \u{00B1} 0.0100 (3 repeats"), text)
        XCTAssertTrue(text.contains("Best baseline: cosine, best_val_acc 0.8900 \u{00B1} 0.0100 (3 repeats"), text)
        XCTAssertTrue(text.contains("Paired difference, SGDR minus baseline, over the 3 repeats both finished: +0.0200, "
                                    + "95% interval [\u{2212}0.0048, +0.0448] (standard error 0.0058)"), text)
        XCTAssertEqual(sentence(verdict), "Undecided: the 95% interval contains 0, so this sweep does not say whether restarts helped; more repeats narrow it.")
    }

    func testAnIntervalAboveZeroSaysRestartsHelped() throws {
        let (_, _, verdict) = try page(sweep(sgdr: [0.909, 0.910, 0.911], baseline: [0.89, 0.89, 0.89]))
        XCTAssertEqual(attr(verdict, "data-verdict"), "sgdr")
        XCTAssertTrue((verdict.stringValue ?? "").contains("+0.0200, 95% interval [+0.0175, +0.0225] (standard error 0.0006)"), verdict.stringValue ?? "")
        XCTAssertEqual(sentence(verdict), "Restarts helped: the 95% interval lies above 0, in favour of SGDR "
                       + "(the best of 2 SGDR configurations, picked on these same repeats: another seed confirms it).")
    }

    func testAnIntervalBelowZeroSaysTheBaselineWon() throws {
        let (_, _, verdict) = try page(sweep(sgdr: [0.89, 0.89, 0.89], baseline: [0.909, 0.910, 0.911]))
        XCTAssertEqual(attr(verdict, "data-verdict"), "baseline")
        XCTAssertTrue((verdict.stringValue ?? "").contains("\u{2212}0.0200, 95% interval [\u{2212}0.0225, \u{2212}0.0175]"), verdict.stringValue ?? "")
        XCTAssertEqual(sentence(verdict), "Restarts did not help: the 95% interval lies below 0, in favour of the baseline cosine.")
    }

    func testOneRepeatIsNotAResult() throws {
        let (_, _, verdict) = try page(sweep(sgdr: [0.90], baseline: [0.88]))
        XCTAssertEqual(attr(verdict, "data-verdict"), "one-repeat")
        XCTAssertTrue((verdict.stringValue ?? "").contains("over the 1 repeat both finished: +0.0200 (one pair: no interval)"), verdict.stringValue ?? "")
        XCTAssertFalse((verdict.stringValue ?? "").contains("95% interval"))
        XCTAssertTrue(sentence(verdict).hasPrefix("One repeat is not a result:"), sentence(verdict))
    }

    func testNoBaselineAndNothingFinishedSaySo() throws {
        let (_, _, alone) = try page([trial("sgdr-0000", 0, 0.9), trial("sgdr-0000", 1, 0.91)])
        XCTAssertEqual(attr(alone, "data-verdict"), "no-baseline")
        XCTAssertEqual(sentence(alone), "No verdict: this sweep has no baseline to compare restarts with.")

        var running = trial("cosine", 0, 0.88, kind: .cosine)
        running.status = .running
        let (_, _, pending) = try page([trial("sgdr-0000", 0, 0.9), running])
        XCTAssertEqual(attr(pending, "data-verdict"), "pending")
        XCTAssertTrue(sentence(pending).hasPrefix("No verdict yet: no baseline trial has finished."), sentence(pending))
    }
}
