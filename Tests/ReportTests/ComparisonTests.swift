import TrainingTypes
import Foundation
import Report
import Schedules
import Sweep
import XCTest

/// The forest plot (paired differences to the best baseline) and the race, on planted trials.
final class ComparisonTests: XCTestCase {
    static let json = """
        { "name": "race", "strategy": "grid", "seed": 5, "repeats": 4, "racing": {},
          "parameters": { "t0": {"values": [1, 2, 3]} },
          "baselines": ["cosine"], "training": {"dataset": "synthetic", "epochs": 2} }
        """

    /// Levels: t0 3 best, 2 close, 1 clearly worse; the baseline in between. Noise shared per repeat.
    func trials(_ space: SearchSpace, rounds: [String: Int],
                level: [String: Double] = ["sgdr-0000": 0.70, "sgdr-0001": 0.899, "sgdr-0002": 0.90, "cosine": 0.85],
                noise: [String: [Double]] = ["sgdr-0001": [0.001, 0.0, 0.002, -0.001]]) -> [TrialRecord] {
        return space.trialSpecs { rounds[$0.id] ?? space.repeats }.map { spec in
            let shared = [0.01, -0.004, 0.006, 0.0][spec.repeatIndex]
            let own = noise[spec.configuration]?[spec.repeatIndex] ?? 0
            let acc = level[spec.configuration]! + shared + own
            let epochs = (1...2).map { e in
                EpochMetrics(epoch: e, lr: 0.1, trainLoss: 0.5, trainAcc: acc, valLoss: 0.5, valAcc: acc - 0.01 * Double(2 - e), trainSeconds: 0.1)
            }
            return TrialRecord(spec: spec, status: .done, seconds: 1, epochs: epochs)
        }
    }

    func testForestAndRace() throws {
        let space = try SearchSpace.parse(data: Data(Self.json.utf8), file: "race.json")
        let records = trials(space, rounds: ["sgdr-0000": 2])
        let race = try XCTUnwrap(space.raceState(records))
        XCTAssertEqual(race.eliminated, ["sgdr-0000": 2])
        XCTAssertTrue(race.isFinished)
        let input = ReportInput(name: "race", objective: .bestValAcc,
                                parameters: [Report.SweptParameter(name: "t0", logScale: false)],
                                trials: records, race: race)
        let page = try ParsedPage(renderReport(input))
        for svg in page.elements("svg") { assertInsidePlot(svg) }

        // Forest plot: the three SGDR configurations against cosine, sorted by mean, with a zero line.
        let forest = try XCTUnwrap(page.charts("comparison").first)
        let rows = descendants(forest, named: "g").filter { attr($0, "class") == "forest-row" }
        XCTAssertEqual(rows.map { attr($0, "data-configuration") ?? "" }, ["sgdr-0002", "sgdr-0001", "sgdr-0000"])
        XCTAssertEqual(descendants(forest, named: "line").filter { attr($0, "class") == "zero" }.count, 1)
        // Its points: right of zero for t0 3 (+0.05 every repeat), left for t0 1.
        let zero = try XCTUnwrap(descendants(forest, named: "line").first { attr($0, "class") == "zero" }.flatMap { attr($0, "x1") }.flatMap(Double.init))
        let xs = rows.map { descendants($0, named: "circle").first.flatMap { attr($0, "cx") }.flatMap(Double.init) ?? .nan }
        XCTAssertGreaterThan(xs[0], zero)
        XCTAssertLessThan(xs[2], zero)

        // The race: rounds run per configuration.
        let raceChart = try XCTUnwrap(page.charts("race").first)
        let raceRows = descendants(raceChart, named: "g").filter { attr($0, "class") == "race-row" }
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: raceRows.map { (attr($0, "data-configuration") ?? "", attr($0, "data-rounds") ?? "") }),
                       ["sgdr-0000": "2", "sgdr-0001": "4", "sgdr-0002": "4"])
        let text = page.text
        // 3 configurations x 4 rounds = 12 trials; sgdr-0000 ran 2: 2 saved. Survived, as status says.
        XCTAssertTrue(text.contains("4 of 4 rounds done (finished); 2 configurations survived, 1 eliminated; "
                                    + "2 of the full grid's 12 SGDR trials not run."), text)
        XCTAssertFalse(text.contains("still racing"), text)
        XCTAssertTrue(text.contains("eliminated (round 2)"), text)
        // The summary compares in pairs: t0 3 beats cosine by 0.05 in every repeat.
        XCTAssertTrue(text.contains("Paired difference, SGDR minus baseline, over the 4 repeats both finished: +0.0500"), text)
        XCTAssertTrue(text.contains("Restarts helped: the 95% interval lies above 0"), text)
    }

    /// A race where nothing was eliminated says so in words, not with a chart of equal bars
    /// (issue 22); the forest plot is still drawn.
    func testARaceWithoutEliminationSaysSoInsteadOfEqualBars() throws {
        let space = try SearchSpace.parse(data: Data(Self.json.utf8), file: "race.json")
        // Three SGDR configurations at one level, each ahead in some repeats: none is beaten.
        let records = trials(space, rounds: [:], level: ["sgdr-0000": 0.9, "sgdr-0001": 0.9, "sgdr-0002": 0.9, "cosine": 0.85],
                             noise: ["sgdr-0000": [0.004, -0.004, 0.002, -0.002], "sgdr-0001": [-0.004, 0.004, -0.002, 0.002],
                                     "sgdr-0002": [0.002, -0.002, -0.004, 0.004]])
        let race = try XCTUnwrap(space.raceState(records))
        XCTAssertEqual(race.eliminated, [:], "precondition: nothing eliminated")
        XCTAssertTrue(race.isFinished, "precondition: 4 of 4 rounds")
        let page = try ParsedPage(renderReport(ReportInput(
            name: "race", parameters: [Report.SweptParameter(name: "t0")], trials: records, race: race)))
        XCTAssertEqual(page.charts("race").count, 0, "no chart of equal bars")
        XCTAssertEqual(page.charts("comparison").count, 1, "the forest plot stays")
        let note = try XCTUnwrap(page.elements("p").first { attr($0, "data-race") == "none-eliminated" })
        XCTAssertEqual(note.stringValue, "Nothing was eliminated: all 3 SGDR configurations ran all 4 rounds, so racing saved no trial. "
                       + "No race chart is drawn: its bars would all be the same length.")
        XCTAssertTrue(page.text.contains("0 eliminated; 0 of the full grid's 12 SGDR trials not run."), page.text)

        // After round 1 of 4, before any decision: "yet", and still no chart.
        let first = records.filter { $0.spec.repeatIndex == 0 }
        let early = try XCTUnwrap(space.raceState(first))
        XCTAssertEqual(early.eliminated, [:], "precondition")
        let earlyPage = try ParsedPage(renderReport(ReportInput(
            name: "race", parameters: [Report.SweptParameter(name: "t0")], trials: first, race: early)))
        XCTAssertEqual(earlyPage.charts("race").count, 0)
        let earlyNote = try XCTUnwrap(earlyPage.elements("p").first { attr($0, "data-race") == "none-eliminated" })
        XCTAssertEqual(earlyNote.stringValue, "Nothing eliminated yet, after 1 of 4 rounds: the race chart is drawn once a configuration is eliminated.")
        XCTAssertTrue(earlyPage.text.contains("1 of 4 rounds done; 3 configurations still racing, 0 eliminated"), earlyPage.text)
    }

    func testOneRepeatSaysTheDifferenceIsNotMeasurable() throws {
        let space = try SearchSpace.parse(data: Data(Self.json.replacingOccurrences(of: "\"repeats\": 4, \"racing\": {}", with: "\"repeats\": 1").utf8), file: "one.json")
        let records = trials(space, rounds: [:])
        let page = try ParsedPage(renderReport(ReportInput(name: "one", trials: records)))
        let text = page.text
        XCTAssertTrue(text.contains("1 repeat: the difference is not measurable; use repeats >= 3"), text)
        XCTAssertEqual(page.charts("comparison").count, 0)
        XCTAssertFalse(text.contains("Restarts helped"))
        XCTAssertTrue(text.contains("One repeat is not a result"), text)
    }
}
