import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A tpe sweep (issue 20) survives kill -9 and runs on two processes: its proposals are a
/// function of the seed and the finished results they condition on (`tpe.parallel`), stored as
/// trials, so a resumed or shared sweep proposes the same ones, each once.
/// Trials run in the small toy trainer (Tests/Fixtures/trainers), which is fast and real.
final class TPECLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tpe-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func space() throws -> String {
        let toy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/trainers/toy_trainer.py").path
        let url = dir.appendingPathComponent("tpe.json")
        try """
            {"name": "tpe-cli", "strategy": "tpe", "trials": 8, "seed": 9, "repeats": 1, "concurrency": 2,
             "tpe": {"startup": 3, "parallel": 2},
             "parameters": {"t0": {"min": 1, "max": 4}, "lr_max": {"min": 0.05, "max": 0.5, "log": true},
                            "lr_max_compression": {"values": [1, 5]}},
             "baselines": ["cosine"],
             "trainer": {"command": ["python3", "\(toy)"], "epochs": 4}}
            """.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func testKill9ThenResumeAndTwoProcessesGiveTheLeaderboardOfOneRun() throws {
        let space = try space()
        let one = dir.appendingPathComponent("one.sqlite").path
        let whole = try ChildProcess([space, "--db", one], in: dir)
        whole.process.waitUntilExit()
        XCTAssertEqual(whole.process.terminationStatus, 0, whole.stderr)
        let reference = try BinaryRunner.leaderboardWithoutSeconds(one)
        XCTAssertEqual(reference.count, 1 + 9, "header, the baseline and 8 configurations")

        // kill -9 after a finished trial, then resume.
        let killed = dir.appendingPathComponent("killed.sqlite").path
        let victim = try ChildProcess([space, "--db", killed], in: dir, environment: ["TOY_SLEEP": "0.1"])
        XCTAssertTrue(victim.wait(timeout: 120) { $0.finishedIDs.count >= 2 }, victim.stderr)
        kill(victim.process.processIdentifier, SIGKILL)
        victim.process.waitUntilExit()
        let resumed = try ChildProcess(["resume", killed], in: dir)
        resumed.process.waitUntilExit()
        XCTAssertEqual(resumed.process.terminationStatus, 0, resumed.stderr)
        XCTAssertEqual(try BinaryRunner.leaderboardWithoutSeconds(killed), reference)

        // Two processes on one database.
        let shared = dir.appendingPathComponent("shared.sqlite").path
        let a = try ChildProcess([space, "--db", shared], in: dir, environment: ["TOY_SLEEP": "0.05"])
        XCTAssertTrue(a.wait(timeout: 120) { $0.finishedIDs.count >= 1 }, a.stderr)
        let b = try ChildProcess(["resume", shared], in: dir, environment: ["TOY_SLEEP": "0.05"])
        a.process.waitUntilExit()
        b.process.waitUntilExit()
        XCTAssertEqual(a.process.terminationStatus, 0, a.stderr)
        XCTAssertEqual(b.process.terminationStatus, 0, b.stderr)
        XCTAssertEqual(Set(a.finishedIDs).intersection(b.finishedIDs), [], "no configuration ran twice")
        XCTAssertEqual(try BinaryRunner.leaderboardWithoutSeconds(shared), reference)
    }
}
