@testable import App
import Foundation
import Schedules
@testable import Sweep
import XCTest

/// `LeaderboardTable` (the compact leaderboard of `leaderboard --csv`, the report and the
/// dashboard's pages) against the full path, `Leaderboard.rows` over every record, as oracle.
final class LeaderboardTableTests: XCTestCase {
    /// The mixed sweep of `ScaleTests` (2 baselines, 12 configurations, 3 repeats, every status),
    /// renumbered as a race numbers them: every configuration's third repeat after all the
    /// others (its configurations' trials are not contiguous), one configuration eliminated.
    func racedRecords(objective: Objective) throws -> (SearchSpace, [TrialRecord], [String: Int]) {
        let (s, records) = try ScaleTests.mixedRecords(objective: objective)
        var late = 0
        let renumbered = records.map { r -> TrialRecord in
            guard r.spec.repeatIndex == 2 else { return r }
            var r = r
            r.spec.number = 1000 + late
            late += 1
            return r
        }
        return (s, renumbered.sorted { $0.spec.number < $1.spec.number }, ["sgdr-0003": 2, "sgdr-0007": 2])
    }

    func cases() throws -> [(String, SearchSpace, [TrialRecord], [String: Int])] {
        try Objective.allCases.flatMap { objective -> [(String, SearchSpace, [TrialRecord], [String: Int])] in
            let (s, records) = try ScaleTests.mixedRecords(objective: objective)
            let (rs, raced, eliminated) = try racedRecords(objective: objective)
            return [("plain \(objective)", s, records, [:]), ("raced \(objective)", rs, raced, eliminated)]
        }
    }

    func testEveryPageIsTheFullLeaderboardsRows() throws {
        for (name, s, records, eliminated) in try cases() {
            let full = Leaderboard.rows(records, objective: s.objective, eliminated: eliminated)
            XCTAssertTrue(full.contains { $0.vsBaseline != nil }, name)
            let store = ScaleTests.ReadOnly(records)
            let table = try LeaderboardTable(store: store, objective: s.objective, sweptNames: s.sweptNames,
                                             eliminated: eliminated)
            XCTAssertEqual(table.count, 14, name)
            XCTAssertEqual(table.trialCount, records.count, name)
            for size in [1, 5, 14, 20] {
                var offset = 0, paged: [LeaderboardRow] = []
                while offset < table.count {
                    let page = try LeaderboardPage(table: table, offset: offset, limit: size, store: store)
                    XCTAssertEqual(page.offset, offset)
                    XCTAssertEqual(page.total, 14)
                    XCTAssertEqual(page.rows.count, min(size, 14 - offset), "\(name), page size \(size) at \(offset)")
                    paged += page.rows
                    offset += size
                }
                XCTAssertEqual(paged, full, "\(name), page size \(size)")
            }
            XCTAssertEqual(try LeaderboardPage(table: table, offset: 99, limit: 5, store: store).rows, [], name)
            let ranks = table.bestRanks
            XCTAssertEqual(ranks.sgdr.map { full[$0] }, Leaderboard.bestSGDR(full), name)
            XCTAssertEqual(ranks.baseline.map { full[$0] }, Leaderboard.bestBaseline(full), name)
            var counts: [TrialStatus: Int] = [:]
            for r in records { counts[r.status, default: 0] += 1 }
            XCTAssertEqual(table.statusCounts, counts, name)
        }
    }

    func testSummaryRowsAreTheFullRowsWithoutTrials() throws {
        for (name, s, records, eliminated) in try cases() {
            let full = Leaderboard.rows(records, objective: s.objective, eliminated: eliminated)
            let table = LeaderboardTable(records: records, objective: s.objective, sweptNames: s.sweptNames,
                                         eliminated: eliminated)
            for (rank, row) in full.enumerated() {
                var expected = row
                expected.trials = []
                if expected.schedule.kind == .sgdr {
                    expected.schedule = ScheduleConfig(kind: .sgdr, parameters: SGDRParameters(), epochs: 0)
                }
                XCTAssertEqual(table.summaryRow(at: rank), expected, "\(name), rank \(rank + 1)")
                XCTAssertEqual(table.configuration(at: rank), row.configuration)
                XCTAssertEqual(table.trialNumbers(at: rank), row.trials.map(\.spec.number).sorted())
            }
        }
    }

    /// `leaderboard --csv` from the table is byte for byte the CSV of the full rows.
    func testCSVFromTheTableIsTheFullPathsCSV() throws {
        for (name, s, records, eliminated) in try cases() {
            let full = Leaderboard.rows(records, objective: s.objective, eliminated: eliminated)
            let table = try LeaderboardTable(store: ScaleTests.ReadOnly(records), objective: s.objective,
                                             sweptNames: s.sweptNames, eliminated: eliminated)
            let expected = LeaderboardFormat.csv(full, swept: s.sweptNames)
            XCTAssertEqual(LeaderboardFormat.csv(table), expected, name)
            XCTAssertEqual(expected.components(separatedBy: "\r\n").count, 16, name)
            if !eliminated.isEmpty { XCTAssertTrue(expected.contains("eliminated (round 2)"), name) }
        }
    }
}
