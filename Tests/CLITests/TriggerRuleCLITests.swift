import Foundation
import SpecReference
import XCTest

/// SGDR-SPEC.md's golden table 2 and the plateau baseline through `schedule --val-acc`, and a
/// version-1 sweep (made with the earlier trigger rule) through every command.
final class TriggerRuleCLITests: XCTestCase {
    func valAccFile(_ values: [Double]) throws -> String {
        try BinaryRunner.temporaryFile(values.map { "\($0)" }.joined(separator: "\n") + "\n", removedAfter: self).path
    }

    func testGoldenTable2EveryColumn() throws {
        let file = try valAccFile(goldenTable2.map(\.valAcc))
        let result = try BinaryRunner.run([
            "schedule", "--lr-max", "0.1", "--lr-min", "0.001", "--t0", "3", "--tmult", "2",
            "--lr-max-compression", "5", "--trigger-val-acc", "0.8", "--epochs", "12", "--val-acc", file,
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stderr, "")
        let table = SimpleCSV(result.stdout)
        XCTAssertEqual(table.header, ["epoch", "lr", "t_cur", "t_i", "triggered", "peak", "val_acc"])
        XCTAssertEqual(table.ints("epoch"), goldenTable2.map(\.epoch))
        XCTAssertEqual(table.ints("t_cur"), goldenTable2.map { $0.tCur ?? 0 }, "before the trigger t_cur is 0")
        XCTAssertEqual(table.ints("t_i"), goldenTable2.map(\.tI))
        XCTAssertEqual(table.column("triggered"), goldenTable2.map { String($0.scheduled) })
        XCTAssertEqual(table.doubles("val_acc"), goldenTable2.map(\.valAcc))
        for (row, g) in zip(0..<12, goldenTable2) {
            XCTAssertEqual(table.doubles("lr")?[row] ?? .nan, g.lr, accuracy: 1e-10, "epoch \(g.epoch)")
            XCTAssertEqual(table.doubles("peak")?[row] ?? .nan, g.peak, accuracy: 1e-10, "epoch \(g.epoch)")
        }
        // The case: epoch 6 restarts at peak 0.1 (lr 0.0934), not 0.02 (lr 0.0187).
        XCTAssertEqual(table.doubles("lr")?[5] ?? .nan, 0.0933682575, accuracy: 1e-10)
    }

    func testPlateauFollowsTheSpecExample() throws {
        let file = try valAccFile(plateauExampleValAccs)
        let result = try BinaryRunner.run(["schedule", "--schedule", "plateau", "--lr-max", "0.1", "--lr-min", "0.001",
                                           "--epochs", "12", "--val-acc", file])
        XCTAssertEqual(result.status, 0, result.stderr)
        let table = SimpleCSV(result.stdout)
        XCTAssertEqual(table.header, ["epoch", "lr", "val_acc"])
        for (lr, want) in zip(table.doubles("lr") ?? [], plateauExampleRates) { XCTAssertEqual(lr, want, accuracy: 1e-15) }
        XCTAssertEqual(table.rows.count, 12)

        // Its settings: patience 1 and factor 0.5 halve the rate after every epoch without improvement.
        let halved = try BinaryRunner.run(["schedule", "--schedule", "plateau", "--lr-max", "0.1", "--lr-min", "0.001",
                                           "--plateau-patience", "1", "--plateau-factor", "0.5", "--epochs", "5",
                                           "--val-acc", try valAccFile([0.5, 0.5, 0.5, 0.6, 0.6])])
        XCTAssertEqual(SimpleCSV(halved.stdout).doubles("lr"), [0.1, 0.1, 0.05, 0.025, 0.025])
    }

    func testBadPlateauAndTriggerOptionsAreOneLineAndExit64() throws {
        let cases: [([String], String)] = [
            (["schedule", "--schedule", "plateau", "--epochs", "3"], "--schedule plateau needs --val-acc FILE"),
            (["schedule", "--trigger-val-acc", "-0.5", "--epochs", "3"], "--trigger-val-acc must be a number in [0, 1]"),
            (["schedule", "--trigger-val-acc", "1.5", "--epochs", "3"], "--trigger-val-acc must be a number in [0, 1]"),
            (["schedule", "--plateau-factor", "1", "--epochs", "3"], "--plateau-factor must be a number in (0, 1)"),
            (["schedule", "--plateau-patience", "0", "--epochs", "3"], "--plateau-patience must be an integer in [1, 1000000]"),
            (["schedule", "--plateau-min-delta", "-1", "--epochs", "3"], "--plateau-min-delta must be a number in [0, 1]"),
            (["train", "--trigger-val-acc", "-0.1", "--dataset", "synthetic", "--epochs", "1"], "--trigger-val-acc must be a number in [0, 1]"),
        ]
        for (arguments, message) in cases {
            let result = try BinaryRunner.run(arguments)
            XCTAssertEqual(result.status, 64, "\(arguments): \(result.stderr)")
            XCTAssertEqual(result.stderrLines.count, 1, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.hasPrefix("Error: \(message)"), "\(arguments): \(result.stderr)")
            XCTAssertEqual(result.stdout, "")
        }
    }

    // MARK: - A version-1 sweep

    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("trigger-rule-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// A copy of `Tests/Fixtures/v1-sweep.sqlite` (12 trials made by the code before the fix).
    func v1Database() throws -> String {
        let path = dir.appendingPathComponent("v1.sqlite").path
        try FileManager.default.copyItem(atPath: Self.fixtures.appendingPathComponent("v1-sweep.sqlite").path, toPath: path)
        return path
    }

    func testVersion1SweepIsReadableByEveryReadCommandWithOneNote() throws {
        let db = try v1Database()
        let before = try Data(contentsOf: URL(fileURLWithPath: db))
        let page = dir.appendingPathComponent("page.html").path
        for arguments in [["leaderboard", db], ["leaderboard", db, "--csv", "-"], ["best", db], ["best", db, "--json"],
                          ["status", db], ["report", db, "--out", page]] {
            let result = try BinaryRunner.run(arguments)
            XCTAssertEqual(result.status, 0, "\(arguments): \(result.stderr)")
            let notes = result.stderrLines.filter { $0.contains("earlier trigger rule") }
            XCTAssertEqual(notes.count, 1, "\(arguments): said once: \(result.stderr)")
            XCTAssertTrue(notes.first?.hasPrefix("Note: \(db): ") ?? false, "\(arguments): \(result.stderr)")
            XCTAssertFalse(result.stdout.contains("earlier trigger rule"), "the note is on stderr, not in the output")
        }
        let leaderboard = try BinaryRunner.run(["leaderboard", db, "--csv", "-"])
        XCTAssertEqual(leaderboard.stdout.components(separatedBy: "\r\n").filter { !$0.isEmpty }.count, 7, "header + 6 configurations")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        XCTAssertTrue(html.contains("data-note=\"rules\""), "the page carries the note")
        XCTAssertTrue(html.contains("earlier trigger rule"))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: db)), before, "reading changes nothing")
    }

    func testVersion1SweepIsNeverResumedOrGrown() throws {
        let db = try v1Database()
        let before = try Data(contentsOf: URL(fileURLWithPath: db))
        let space = Self.fixtures.appendingPathComponent("v1-sweep.json").path
        for arguments in [["resume", db], [space, "--db", db], ["run", space, "--db", db]] {
            let result = try BinaryRunner.run(arguments)
            XCTAssertEqual(result.status, 1, "\(arguments): \(result.stderr)")
            XCTAssertEqual(result.stderrLines.count, 1, "\(arguments): \(result.stderr)")
            let line = result.stderr
            XCTAssertTrue(line.hasPrefix("Error: \(db) cannot be resumed or grown: "), line)
            XCTAssertTrue(line.contains("earlier trigger rule"), line)
            XCTAssertTrue(line.contains("use a new \"name\" or --db PATH"), line)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: db)), before, "\(arguments): the database is untouched")
        }
        // The same space into a new database runs under the current rule.
        let fresh = dir.appendingPathComponent("v2.sqlite").path
        let run = try BinaryRunner.run([space, "--db", fresh])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertFalse(run.stderr.contains("earlier trigger rule"))
        XCTAssertEqual(try BinaryRunner.run(["status", fresh]).stderr, "")
    }
}
