import Foundation
import XCTest

/// Byte identity of the reading commands on two fixed sweeps: what `leaderboard --csv`,
/// `leaderboard`, `best --json`, `best`, `status` and `report --out` print for the databases in
/// `Tests/Fixtures/golden/` must stay exactly the committed files beside them (made by
/// `Tests/Fixtures/golden/regenerate.sh` with the code of the commit that added this test).
/// A refactoring that changes one byte of them fails here; a change of output that is meant
/// regenerates them in the same commit.
///
/// The fixtures: `race.sqlite` (`race.json`: a finished race of 12 SGDR configurations with the
/// step, cosine and plateau baselines, up to 4 repeats, some eliminated in rounds 2 and 3) and
/// `partial.sqlite` (`partial.json`: objective `final_val_acc`, stopped with Ctrl-C: done,
/// partial `1/2`, pending, interrupted and diverged trials). Reading them needs no data set.
///
/// Nothing is normalised except the one value that depends on the clock: the report's footer
/// says when the page was made ("Made by sgdr-search report on 2026-12-01T06:09:31Z"); that
/// timestamp is replaced by `DATE` in both texts before comparing (the test checks that exactly
/// one such footer exists). `status` reads the clock too, but only while a trial is running in a
/// live process; neither fixture has one, so its "elapsed" comes from the stored times.
final class GoldenOutputCLITests: XCTestCase {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/golden")

    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("golden-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    /// A copy of fixture `name`'s database in the test's folder; the commands run in that folder
    /// with the relative path `NAME.sqlite`, so the paths they print are the golden files' own.
    func copy(_ name: String) throws -> String {
        let file = "\(name).sqlite"
        try FileManager.default.copyItem(at: Self.golden.appendingPathComponent(file), to: dir.appendingPathComponent(file))
        return file
    }

    func expected(_ file: String) throws -> Data { try Data(contentsOf: Self.golden.appendingPathComponent(file)) }

    /// Byte equality, and on a difference the first line that differs (both sides shown).
    func assertSameBytes(_ got: Data, _ want: Data, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        guard got != want else { return }
        let g = String(decoding: got, as: UTF8.self).components(separatedBy: "\n")
        let w = String(decoding: want, as: UTF8.self).components(separatedBy: "\n")
        let i = Array(zip(g, w)).firstIndex { $0.0 != $0.1 } ?? min(g.count, w.count)
        XCTFail("\(label): differs from the golden file at line \(i + 1) (\(got.count) bytes, golden \(want.count)):\n"
                + "got:    \((i < g.count ? g[i] : "<end>").debugDescription)\n"
                + "golden: \((i < w.count ? w[i] : "<end>").debugDescription)", file: file, line: line)
    }

    /// The report's generation time ("report on <ISO 8601 date>." in its footer) as `DATE`.
    func withoutGenerationTime(_ page: Data, file: StaticString = #filePath, line: UInt = #line) -> Data {
        let text = String(decoding: page, as: UTF8.self)
        let footer = /<footer><p>Made by sgdr-search report on (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\./
        XCTAssertEqual(text.matches(of: footer).count, 1, "one dated footer", file: file, line: line)
        return Data(text.replacing(footer) { _ in "<footer><p>Made by sgdr-search report on DATE." }.utf8)
    }

    func checkEveryReadingCommand(_ name: String) throws {
        let db = try copy(name)
        let before = try Data(contentsOf: dir.appendingPathComponent(db))
        let outputs: [(arguments: [String], golden: String)] = [
            (["leaderboard", db, "--csv", "-"], "\(name).leaderboard.csv"),
            (["leaderboard", db], "\(name).leaderboard.txt"),
            (["best", db, "--json"], "\(name).best.json"),
            (["best", db], "\(name).best.txt"),
            (["status", db], "\(name).status.txt"),
        ]
        for (arguments, golden) in outputs {
            let r = try BinaryRunner.run(arguments, in: dir)
            XCTAssertEqual(r.status, 0, "\(arguments): \(r.stderr)")
            XCTAssertEqual(r.stderr, "", "\(arguments)")
            assertSameBytes(Data(r.stdout.utf8), try expected(golden), arguments.joined(separator: " "))
        }
        // The same CSV written to a file.
        let csv = try BinaryRunner.run(["leaderboard", db, "--csv", "\(name).csv"], in: dir)
        XCTAssertEqual(csv.status, 0, csv.stderr)
        XCTAssertEqual(csv.stdout, "")
        assertSameBytes(try Data(contentsOf: dir.appendingPathComponent("\(name).csv")), try expected("\(name).leaderboard.csv"),
                        "leaderboard --csv FILE")
        // The report.
        let report = try BinaryRunner.run(["report", db, "--out", "\(name).html"], in: dir)
        XCTAssertEqual(report.status, 0, report.stderr)
        XCTAssertEqual(report.stderr, "Wrote \(name).html\n")
        XCTAssertEqual(report.stdout, "")
        assertSameBytes(withoutGenerationTime(try Data(contentsOf: dir.appendingPathComponent("\(name).html"))),
                        withoutGenerationTime(try expected("\(name).report.html")), "report --out")
        XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent(db)), before, "reading changes nothing")
    }

    func testAFinishedRaceReadsExactlyAsCommitted() throws {
        try checkEveryReadingCommand("race")
    }

    func testAnInterruptedSweepReadsExactlyAsCommitted() throws {
        try checkEveryReadingCommand("partial")
    }
}
