import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A race through the built binary: the same leaderboard, bit for bit (timings aside), at
/// concurrency 1 and 2, with two processes on one database, and after a kill -9 mid-race.
final class RacingCLITests: XCTestCase {
    typealias Child = ChildProcess
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("race-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    func file(_ name: String, _ text: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    func db(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// The leaderboard CSV without the `seconds` column (timings differ between runs).
    func leaderboard(_ db: String) throws -> [[String]] { try BinaryRunner.leaderboardWithoutSeconds(db) }

    func raceSpace(concurrency: Int = 2) -> String {
        """
        { "name": "race", "strategy": "grid", "seed": 3, "repeats": 5, "concurrency": \(concurrency),
          "parameters": { "t0": {"values": [1, 2, 5]}, "tmult": {"values": [1, 2]}, "lr_max_compression": {"values": [1, 5]} },
          "fixed": {"lr_max": 0.05},
          "baselines": ["step", "cosine"],
          "racing": {"first_round": 2, "confidence": 0.9},
          "training": { "dataset": "synthetic", "train_size": 1200, "val_size": 300, "epochs": 4,
                        "batch_size": 50, "hidden": [32] } }
        """
    }

    func testRaceIsTheSameAtAnyConcurrencyAcrossProcessesAndAfterKill9() throws {
        let space = try file("race.json", raceSpace())
        let reference = db("reference.sqlite")
        let r = try BinaryRunner.run([space, "--db", reference])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("= at most 70 trials, racing"), r.stderr)
        let expected = try leaderboard(reference)
        let statusColumn = try XCTUnwrap(expected.first?.firstIndex(of: "status"))
        XCTAssertTrue(expected.contains { $0[statusColumn].hasPrefix("eliminated (round ") }, "\(expected)")
        let status = try BinaryRunner.run(["status", reference])
        XCTAssertTrue(status.stdout.contains("race: 5 of 5 rounds done (finished)"), status.stdout)
        // A finished race saved what it did not run of the full grid's 70 trials.
        let race = try XCTUnwrap(status.stdout.firstMatch(of: /(\d+) trials so far of the full grid's 70 \((\d+) saved\)/), status.stdout)
        XCTAssertEqual(Int(race.1)! + Int(race.2)!, 70)
        XCTAssertEqual(Int(race.1)!, expected.count - 1 + expected.dropFirst().reduce(0) { n, row in n + Int(row[statusColumn - 1].split(separator: "/").first!)! - 1 },
                       "trials so far: one row per configuration, as many trials as its repeats")

        let serial = db("serial.sqlite")
        XCTAssertEqual(try BinaryRunner.run([space, "--db", serial, "--concurrency", "1"]).status, 0)
        XCTAssertEqual(try leaderboard(serial), expected, "concurrency 1")

        let shared = db("shared.sqlite")
        let one = try file("race1.json", raceSpace(concurrency: 1))
        let a = try Child([one, "--db", shared], in: dir)
        let b = try Child([one, "--db", shared], in: dir)
        a.process.waitUntilExit()
        b.process.waitUntilExit()
        XCTAssertEqual(a.process.terminationStatus, 0, a.stderr)
        XCTAssertEqual(b.process.terminationStatus, 0, b.stderr)
        // A process may stop while the other still runs the last round's trials: finish with resume.
        XCTAssertEqual(try BinaryRunner.run(["resume", shared]).status, 0)
        XCTAssertEqual(try leaderboard(shared), expected, "two processes")

        let killed = db("killed.sqlite")
        let child = try Child([space, "--db", killed], in: dir)
        defer { if child.process.isRunning { kill(child.process.processIdentifier, SIGKILL) } }
        XCTAssertTrue(child.wait(timeout: 120) { $0.finishedIDs.count >= 20 }, child.stderr)
        // Killed while it runs trials (frozen at a moment the database shows some running).
        let running = try child.killWhileTrialsRun(database: killed)
        let midRace = try BinaryRunner.run(["status", killed])
        XCTAssertTrue(midRace.stdout.contains("still to run"), midRace.stdout)
        for id in running.ids { XCTAssertTrue(midRace.stdout.contains("\(id) (running)"), "left running: \(id): \(midRace.stdout)") }
        XCTAssertFalse(midRace.stdout.contains("(finished)"), "killed mid-race: \(midRace.stdout)")
        let resumed = try BinaryRunner.run(["resume", killed])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(try leaderboard(killed), expected, "kill -9 and resume")
    }

    func testRaisingRepeatsContinuesTheRace() throws {
        let short = try file("short.json", raceSpace().replacingOccurrences(of: "\"repeats\": 5", with: "\"repeats\": 3"))
        let grown = db("grown.sqlite")
        XCTAssertEqual(try BinaryRunner.run([short, "--db", grown]).status, 0)
        let space = try file("race.json", raceSpace())
        let more = try BinaryRunner.run([space, "--db", grown])
        XCTAssertEqual(more.status, 0, more.stderr)
        let reference = db("reference.sqlite")
        XCTAssertEqual(try BinaryRunner.run([space, "--db", reference]).status, 0)
        XCTAssertEqual(try leaderboard(grown), try leaderboard(reference))
        let fewer = try BinaryRunner.run([short, "--db", grown])
        XCTAssertEqual(fewer.status, 1)
        XCTAssertTrue(fewer.stderr.contains("repeats: 5 -> 3: a race can only grow"), fewer.stderr)
    }
}
