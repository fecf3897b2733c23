import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The sweep end to end through the built binary, on a tiny synthetic space.
final class SweepCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("sweep-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    /// 8 SGDR configurations and 2 baselines, each a few short epochs on synthetic data.
    func tinySpace(name: String = "tiny", trainSize: Int = 1500, epochs: Int = 4, concurrency: Int = 2) -> String {
        """
        { "name": "\(name)", "strategy": "grid", "seed": 3, "concurrency": \(concurrency),
          "parameters": { "t0": {"values": [1, 2]}, "tmult": {"values": [1, 2]}, "lr_max_compression": {"values": [1, 5]} },
          "fixed": {"lr_max": 0.05},
          "baselines": ["step", "cosine"],
          "training": { "dataset": "synthetic", "train_size": \(trainSize), "val_size": 300, "epochs": \(epochs),
                        "batch_size": 50, "hidden": [32] } }
        """
    }

    func file(_ name: String, _ text: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    func db(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// The leaderboard CSV without the `seconds` column (timings differ between runs).
    func leaderboard(_ db: String) throws -> [[String]] { try BinaryRunner.leaderboardWithoutSeconds(db) }

    typealias Child = ChildProcess

    /// A typo in `training.data_dir` is found before any database is created, in the space
    /// file's words; once the path is fixed, the same sweep runs (nothing to delete by hand).
    func testADataDirTypoCreatesNoDatabaseAndTheFixedSpaceRuns() throws {
        let real = "/usr/share/datasets/fashion-mnist"
        try XCTSkipUnless(FileManager.default.fileExists(atPath: real), "dataset-fashion-mnist is not installed")
        func space(_ dataDir: String) -> String {
            """
            { "name": "typo", "strategy": "list", "seed": 1, "configurations": [{"t0": 1}], "baselines": [],
              "training": { "data_dir": "\(dataDir)", "train_size": 200, "val_size": 100, "epochs": 1, "hidden": [8] } }
            """
        }
        let database = db("typo.sqlite")
        let typo = try BinaryRunner.run([try file("typo.json", space(real + "t")), "--db", database])
        XCTAssertEqual(typo.status, 1, typo.stderr)
        XCTAssertTrue(typo.stderr.contains("training.data_dir"), typo.stderr)
        XCTAssertFalse(typo.stderr.contains("--data-dir"), typo.stderr)
        XCTAssertEqual(typo.stderr.split(separator: "\n").count, 1, typo.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: database), "no database after the typo")
        let fixed = try BinaryRunner.run([try file("typo.json", space(real)), "--db", database])
        XCTAssertEqual(fixed.status, 0, fixed.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: database))
    }

    func testAnInvalidSpaceExitsNonZeroWithOneLineAndCreatesNoDatabase() throws {
        let space = try file("bad.json", #"{"name": "bad", "parameters": {"tmul": {"values": [1, 2]}}}"#)
        let database = db("bad.sqlite")
        let r = try BinaryRunner.run([space, "--db", database])
        XCTAssertEqual(r.status, 64)
        XCTAssertEqual(r.stderrLines, ["Error: \(space): parameters.tmul: unknown key \"tmul\"; did you mean \"tmult\"? allowed keys: lr_max, lr_min, t0, tmult, lr_max_compression, trigger_val_acc"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: database))
        let malformed = try file("malformed.json", "{\n \"name\": \"m\",,\n}")
        let m = try BinaryRunner.run(["run", malformed, "--db", database])
        XCTAssertEqual(m.status, 64)
        let badOption = try BinaryRunner.run([space, "--db", database, "--concurrency", "0"])
        XCTAssertEqual(badOption.stderrLines, ["Error: --concurrency must be an integer in [1, 256] (got 0)"])
        XCTAssertEqual(badOption.status, 64)
        XCTAssertEqual(m.stderrLines.count, 1)
        XCTAssertTrue(m.stderr.hasPrefix("Error: \(malformed): line 2, column 14: "), m.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: database))
        // resume/leaderboard of a database that does not exist: an error, and still no file.
        XCTAssertNotEqual(try BinaryRunner.run(["leaderboard", database]).status, 0)
        XCTAssertNotEqual(try BinaryRunner.run(["resume", database]).status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: database))
    }

    func testRunThenLeaderboardBestStatusAndAChangedSpaceIsRefused() throws {
        let space = try file("tiny.json", tinySpace(trainSize: 500, epochs: 3))
        let database = db("tiny.sqlite")
        let r = try BinaryRunner.run([space, "--db", database])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Best SGDR configuration: sgdr-"), r.stdout)
        let rows = try leaderboard(database)
        XCTAssertEqual(rows[0], ["rank", "configuration", "schedule", "t0", "tmult", "lr_max_compression", "best_val_acc",
                                 "best_val_acc_std", "final_val_acc", "best_epoch", "repeats", "status",
                                 "diff_vs_baseline", "diff_ci95"])
        XCTAssertEqual(rows.count, 11)
        XCTAssertEqual(rows.dropFirst().map { $0[0] }, (1...10).map(String.init))
        XCTAssertTrue(rows.dropFirst().allSatisfy { $0[11] == "done" && $0[10] == "1" })
        XCTAssertTrue(rows.dropFirst().allSatisfy { $0[12] == "" && $0[13] == "" }, "1 repeat: no paired difference")
        XCTAssertTrue(rows.dropFirst().allSatisfy { $0[7] == "" && !$0[6].isEmpty }, "1 repeat: a score, an empty std")
        let scores = rows.dropFirst().map { Double($0[6]) ?? -1 }
        XCTAssertEqual(scores, scores.sorted(by: >))
        let best = try BinaryRunner.run(["best", database, "--json"])
        XCTAssertEqual(best.status, 0, best.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(best.stdout.utf8)) as? [String: Any]
        XCTAssertNotNil(object?["train_args"] as? [String])
        // One repeat: no spread, so no verdict.
        XCTAssertEqual(object?["difference_note"] as? String, "1 repeat: the difference is not measurable; use repeats >= 3")
        XCTAssertTrue(r.stdout.contains("Difference (SGDR - baseline): 1 repeat: the difference is not measurable; use repeats >= 3"),
                      r.stdout)
        let status = try BinaryRunner.run(["status", database])
        XCTAssertTrue(status.stdout.contains("done 10"), status.stdout)
        let page = db("tiny.html")
        let report = try BinaryRunner.run(["report", database, "--out", page])
        XCTAssertEqual(report.status, 0, report.stderr)
        let html = (try? String(contentsOfFile: page, encoding: .utf8)) ?? ""
        XCTAssertTrue(html.contains("<title>sgdr-search report: tiny</title>"), String(html.prefix(400)))
        // The same command again: nothing to run.
        let again = try BinaryRunner.run([space, "--db", database])
        XCTAssertEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("(10 already finished)"), again.stderr)
        // A changed space is refused, and says what changed.
        let changed = try file("changed.json", tinySpace(trainSize: 500, epochs: 4))
        let refused = try BinaryRunner.run([changed, "--db", database])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("training.epochs: 3 -> 4"), refused.stderr)
    }

    func testKill9MidSweepThenResumeEqualsAnUninterruptedSweep() throws {
        let space = try file("tiny.json", tinySpace())
        let reference = db("reference.sqlite")
        XCTAssertEqual(try BinaryRunner.run([space, "--db", reference]).status, 0)

        let killed = db("killed.sqlite")
        let child = try Child([space, "--db", killed], in: dir)
        defer { if child.process.isRunning { kill(child.process.processIdentifier, SIGKILL) } }
        XCTAssertTrue(child.wait(timeout: 120) { $0.finishedIDs.count >= 3 }, child.stderr)
        // Killed while it runs trials (frozen at a moment the database shows some running).
        let running = try child.killWhileTrialsRun(database: killed)
        let status = try BinaryRunner.run(["status", killed])
        XCTAssertTrue(status.stdout.contains("still to run"), status.stdout)
        XCTAssertTrue(status.stdout.contains("running \(running.count),"), "the dead process left its trials running: \(status.stdout)")
        for id in running.ids { XCTAssertTrue(status.stdout.contains("\(id) (running)"), "\(id): \(status.stdout)") }
        XCTAssertFalse(status.stdout.contains("running in live processes"), status.stdout)

        let resumed = try BinaryRunner.run(["resume", killed])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(try leaderboard(killed), try leaderboard(reference))
    }

    func testTwoProcessesOnOneDatabaseRunEveryTrialExactlyOnce() throws {
        // Trials long enough (a few hundred ms each in a debug build) that the second process
        // starts while the first still has work: both must take some, and none may run twice.
        let space = try file("tiny.json", tinySpace(trainSize: 4000, epochs: 6, concurrency: 1))
        let shared = db("shared.sqlite")
        let a = try Child([space, "--db", shared], in: dir)
        let b = try Child([space, "--db", shared], in: dir)
        a.process.waitUntilExit()
        b.process.waitUntilExit()
        XCTAssertEqual(a.process.terminationStatus, 0, a.stderr)
        XCTAssertEqual(b.process.terminationStatus, 0, b.stderr)
        let ids = a.finishedIDs + b.finishedIDs
        XCTAssertEqual(ids.count, 10, "a: \(a.finishedIDs) b: \(b.finishedIDs)")
        XCTAssertEqual(Set(ids).count, 10)
        XCTAssertFalse(a.finishedIDs.isEmpty || b.finishedIDs.isEmpty, "both processes took work")
        // The reference runs 2 trials at a time in one process: the same values (concurrency never matters).
        let reference = db("reference.sqlite")
        XCTAssertEqual(try BinaryRunner.run([space, "--db", reference, "--concurrency", "2"]).status, 0)
        XCTAssertEqual(try leaderboard(shared), try leaderboard(reference))
    }
}
