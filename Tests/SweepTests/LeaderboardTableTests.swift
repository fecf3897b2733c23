@testable import App
import Foundation
import Report
import TrainingTypes
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
            // In blocks of any size, and with a last column (a tpe sweep's proposed_by) as the
            // text path adds it.
            for rowsPerBlock in [1, 2, 7, 100] {
                var chunks: [[UInt8]] = []
                LeaderboardFormat.csvChunks(table, rowsPerBlock: rowsPerBlock) { chunks.append(Array($0)) }
                XCTAssertEqual(String(decoding: chunks.joined(), as: UTF8.self), expected, "\(name), \(rowsPerBlock) a block")
                let proposer: @Sendable (String) -> String = { $0.hasPrefix("sgdr-") ? "tpe" : "baseline, \"named\"" }
                let withColumn = LeaderboardFormat.withProposers(expected, full.map { proposer($0.configuration) })
                chunks = []
                LeaderboardFormat.csvChunks(table, proposer: proposer, rowsPerBlock: rowsPerBlock) { chunks.append(Array($0)) }
                XCTAssertEqual(String(decoding: chunks.joined(), as: UTF8.self), withColumn, "\(name), \(rowsPerBlock) a block")
            }
            XCTAssertEqual(expected.components(separatedBy: "\r\n").count, 16, name)
            if !eliminated.isEmpty { XCTAssertTrue(expected.contains("eliminated (round 2)"), name) }
        }
    }

    /// The CSV's byte writer field by field against the text path (`cells`' formatting, then
    /// `csvField`), on awkward values: quotes, commas, CR/LF, negative and extreme numbers.
    func testCSVBytesFieldsAreTheTextFields() {
        func bytes(_ write: (inout LeaderboardFormat.CSVBytes) -> Void) -> String {
            var out = LeaderboardFormat.CSVBytes()
            write(&out)
            return String(decoding: out.bytes, as: UTF8.self)
        }
        for s in ["plain", "a,b", "say \"hi\"", "\"", "line\r\nbreak", "lf\n", "", "é,ü", "eliminated (round 2)"] {
            XCTAssertEqual(bytes { $0.field(s) }, LeaderboardFormat.csvField(s), s)
        }
        for x in [0, 7, -7, 10, 999_999, Int.max, Int.min, -1_000_000] {
            XCTAssertEqual(bytes { $0.int(x) }, String(x), "\(x)")
        }
        let doubles: [Double] = [0, -0.0, 0.1, 1e-05, 5e-324, -2.5, 3, 1e15, 1e16, -1e15 + 1, 0.8734523452345234,
                                 .nan, .infinity, -.infinity, 123456.789, 1e300, 0.005, -0.004, 0.995, 12.345, 1e13, -1e13]
        for x in doubles {
            XCTAssertEqual(bytes { $0.fmt(x) }, fmt(x), "fmt \(x)")
            XCTAssertEqual(bytes { $0.double(x) }, "\(x)", "double \(x)")
            XCTAssertEqual(bytes { $0.twoDecimals(x) }, LeaderboardFormat.twoDecimals(x), "twoDecimals \(x)")
        }
        XCTAssertEqual(bytes { $0.double(nil) }, "")
    }
}

/// The report from a `ReportSummary` (what `report` reads of a sweep without racing) is the page
/// the records give.
final class ReportSummaryTests: XCTestCase {
    var lastPage = ""

    /// `records` with epochs for every claimed trial (1 to 3, from a seeded generator), their
    /// summaries what the epochs give.
    static func withEpochs(_ records: [TrialRecord], seed: UInt64) -> [TrialRecord] {
        var rng = Xoshiro256(seed: seed)
        return records.map { r in
            guard r.attempts > 0 else { return r }
            var r = r
            let n = r.status == .failed ? 0 : 1 + rng.nextInt(in: 0...2)
            r.epochs = (0..<n).map { e in
                EpochMetrics(epoch: e + 1, lr: 0.1 / Double(e + 1), trainLoss: 1, trainAcc: 0.5 + Double(rng.nextInt(in: 0...40)) / 100,
                             valLoss: 1, valAcc: 0.3 + Double(rng.nextInt(in: 0...60)) / 100, trainSeconds: 0.5)
            }
            r.summary = nil
            return r
        }
    }

    func assertSamePage(_ s: SearchSpace, _ records: [TrialRecord], top: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let store = ScaleTests.ReadOnly(records)
        let parameters = s.sweptLogScales.map { Report.SweptParameter(name: $0.name, logScale: $0.log) }
        var loaded = try store.trials(withEpochs: false)
        try StoredSweep.attachPlottedEpochs(&loaded, top: top, objective: s.objective, store: store)
        let expected = renderReport(ReportInput(name: s.name, objective: s.objective, parameters: parameters, trials: loaded), top: top)
        let table = try s.ranking.leaderboardTable(store)
        let summary = try StoredSweep.reportSummary(table, top: top, store: store)
        let page = renderReport(ReportInput(name: s.name, objective: s.objective, parameters: parameters, trials: [],
                                            summary: summary), top: top)
        XCTAssertEqual(page, expected, file: file, line: line)
        lastPage = page
        XCTAssertLessThanOrEqual(summary.rows.count, ReportSummary.maxTableRows + 100, file: file, line: line)
    }

    func testSmallSweepWithEveryStatus() throws {
        for objective in Objective.allCases {
            let (s, records) = try ScaleTests.mixedRecords(objective: objective)
            for top in [0, 1, 5, 20] { try assertSamePage(s, Self.withEpochs(records, seed: 3), top: top) }
        }
    }

    /// More rows than the table shows, more points than a chart draws, ties in scores.
    func testLargeSweepIsSummarisedAsTheRecordsWouldBe() throws {
        let s = try space("""
            { "name": "big", "strategy": "random", "trials": 2000, "repeats": 2, "seed": 4, "baselines": ["cosine", "step"],
              "parameters": { "t0": {"min": 1, "max": 50}, "lr_max": {"min": 0.01, "max": 1, "log": true} } }
            """)
        var rng = Xoshiro256(seed: 5)
        let statuses: [TrialStatus] = [.done, .done, .done, .done, .done, .done, .diverged, .failed, .pending, .running]
        let records = s.trialSpecs().map { spec -> TrialRecord in
            let status = spec.number < 4 ? .done : statuses[rng.nextInt(in: 0...(statuses.count - 1))]
            return TrialRecord(spec: spec, status: status, attempts: status == .pending ? 0 : 1,
                               seconds: status.isFinished ? 0.25 * Double(spec.number % 7) : nil,
                               error: status == .failed ? "boom \(spec.number)" : nil)
        }
        let full = Self.withEpochs(records, seed: 6)
        XCTAssertGreaterThan(Leaderboard.rows(full, objective: s.objective).count, ReportSummary.maxTableRows)
        for top in [0, 5] { try assertSamePage(s, full, top: top) }
        XCTAssertTrue(lastPage.contains("the best 500 and an even sample of the rest"))
        XCTAssertTrue(lastPage.contains("of 2002 configurations"))
        XCTAssertTrue(lastPage.contains("The 60 highest of"))
        XCTAssertTrue(lastPage.contains(" shown), on the bottom edge"))
    }
}
