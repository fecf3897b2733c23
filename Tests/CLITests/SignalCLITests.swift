import Foundation
import SQLiteStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The sweep's signals through the built binary, as the README promises them ("Running,
/// resuming, sharing" and "Exit codes") and `run --help` says: Ctrl-C, SIGTERM and SIGHUP (the
/// terminal was closed) stop the sweep within a batch, record the running trials `interrupted`,
/// close the database (no `-wal`/`-shm` left), name `sgdr-search resume DB` and exit 130; the
/// resumed sweep ends as an uninterrupted one. A second signal while the first is handled
/// exits at once with 130 (`InterruptHandler`), leaving a database the next run resumes.
///
/// No assertion depends on the clock: the signal is sent at a moment the database shows trials
/// `running` (the process frozen with SIGSTOP meanwhile), and what is checked is the state the
/// process leaves. The timeouts are only bounds against a hang.
final class SignalCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("signal-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    /// 8 SGDR configurations and 2 baselines on synthetic data, 2 at a time, each trial several
    /// epochs of a few thousand images: long enough that trials are running when the signal comes.
    static let smallSpace = """
        { "name": "signals", "strategy": "grid", "seed": 3, "concurrency": 2,
          "parameters": { "t0": {"values": [1, 2]}, "tmult": {"values": [1, 2]}, "lr_max_compression": {"values": [1, 5]} },
          "fixed": {"lr_max": 0.05},
          "baselines": ["step", "cosine"],
          "training": { "dataset": "synthetic", "train_size": 3000, "val_size": 300, "epochs": 6,
                        "batch_size": 50, "hidden": [32] } }
        """

    func file(_ name: String, _ text: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    /// A database in a folder of its own (so that what lies beside it can be listed).
    func database(_ name: String) throws -> String {
        let folder = dir.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appendingPathComponent("\(name).sqlite").path
    }

    /// The files in the database's folder.
    func besideDatabase(_ path: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent).sorted()
    }

    /// `status DB`: its stdout, after checking it succeeded.
    func status(_ db: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try BinaryRunner.run(["status", db])
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        return r.stdout
    }

    /// The count `status` gives for `word` (`running 2`, `interrupted 1`).
    func count(_ word: String, in status: String) -> Int? {
        guard let pattern = try? Regex<(Substring, Substring)>("\\b\(word) (\\d+)") else { return nil }
        return status.firstMatch(of: pattern).flatMap { Int($0.1) }
    }

    /// The leaderboard of the same space run without interruption.
    func uninterruptedLeaderboard(_ space: String) throws -> [[String]] {
        let reference = try database("reference")
        let r = try BinaryRunner.run([space, "--db", reference])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try BinaryRunner.leaderboardWithoutSeconds(reference)
    }

    enum Resume { case resumeCommand, sameCommandAgain }

    /// Runs the small sweep, sends `sig` at a moment the database shows trials running, and
    /// checks what the README promises for it; then resumes (`resume DB`, or the same command
    /// again) and compares with an uninterrupted sweep.
    func checkInterruption(by sig: Int32, resume: Resume, file: StaticString = #filePath, line: UInt = #line) throws {
        let space = try self.file("space.json", Self.smallSpace)
        let db = try database("interrupted")
        let child = try ChildProcess([space, "--db", db], in: dir)
        defer { if child.process.isRunning { kill(child.process.processIdentifier, SIGKILL) } }
        let running = try child.stopWhileTrialsRun(database: db)
        XCTAssertGreaterThan(running.count, 0, "no trial was running at the signal: \(child.stderr)", file: file, line: line)
        XCTAssertFalse(running.ids.isEmpty, file: file, line: line)
        kill(child.process.processIdentifier, sig)
        kill(child.process.processIdentifier, SIGCONT)
        XCTAssertTrue(child.waitForExit(timeout: 120), "still running 120 s after signal \(sig)", file: file, line: line)
        if child.process.isRunning { return }

        // Exit status 130, not death by the signal.
        XCTAssertEqual(child.process.terminationReason, .exit, child.stderr, file: file, line: line)
        XCTAssertEqual(child.process.terminationStatus, 130, child.stderr, file: file, line: line)
        let stderr = child.stderr
        XCTAssertTrue(stderr.contains("Interrupted: stopping the running trials (they will run again on resume)..."), stderr,
                      file: file, line: line)
        XCTAssertTrue(stderr.hasSuffix("Interrupted: the unfinished trials will run again with: sgdr-search resume \(db)\n"),
                      stderr, file: file, line: line)
        // The database was closed: one file, no -wal or -shm beside it.
        XCTAssertEqual(try besideDatabase(db), ["interrupted.sqlite"], file: file, line: line)

        // No trial left running; those running at the signal are recorded interrupted (one
        // whose last batch was already through when the signal came may have finished: it is
        // done, never running).
        let stopped = try status(db, file: file, line: line)
        XCTAssertEqual(count("running", in: stopped), 0, stopped, file: file, line: line)
        let interrupted = try XCTUnwrap(count("interrupted", in: stopped), stopped, file: file, line: line)
        XCTAssertGreaterThan(interrupted, 0, stopped, file: file, line: line)
        XCTAssertLessThanOrEqual(interrupted, 2, "at most concurrency 2 trials were running: \(stopped)", file: file, line: line)
        let listed = stopped.matches(of: /([\w.-]+) \(interrupted\)/).map { String($0.1) }
        XCTAssertEqual(listed.count, interrupted, stopped, file: file, line: line)
        for id in running.ids where !listed.contains(id) {
            // Not among the unfinished trials `status` lists (the lowest-numbered ones, which
            // those claimed first are): finished.
            XCTAssertFalse(stopped.contains("\(id) ("), "\(id) was running at the signal: \(stopped)", file: file, line: line)
        }
        XCTAssertTrue(stopped.contains("resume with: sgdr-search resume \(db)"), stopped, file: file, line: line)

        // Resumed, it finishes as the uninterrupted sweep does, and leaves one file again.
        let resumed = try BinaryRunner.run(resume == .resumeCommand ? ["resume", db] : [space, "--db", db])
        XCTAssertEqual(resumed.status, 0, resumed.stderr, file: file, line: line)
        let finished = try status(db, file: file, line: line)
        XCTAssertEqual(count("done", in: finished), 10, finished, file: file, line: line)
        XCTAssertEqual(count("interrupted", in: finished), 0, finished, file: file, line: line)
        XCTAssertEqual(try besideDatabase(db), ["interrupted.sqlite"], file: file, line: line)
        XCTAssertEqual(try BinaryRunner.leaderboardWithoutSeconds(db), try uninterruptedLeaderboard(space), file: file, line: line)
    }

    func testSIGTERMRecordsInterruptedExits130AndResumeFinishesTheSweep() throws {
        try checkInterruption(by: SIGTERM, resume: .resumeCommand)
    }

    /// (This replaces SweepCLITests' former SIGINT test: it resumes as that one did, by running
    /// the same command again.)
    func testSIGINTRecordsInterruptedExits130AndTheNextRunResumes() throws {
        try checkInterruption(by: SIGINT, resume: .sameCommandAgain)
    }

    /// Closing the terminal (SIGHUP) is handled as Ctrl-C (issue 22).
    func testSIGHUPRecordsInterruptedExits130AndResumeFinishesTheSweep() throws {
        try checkInterruption(by: SIGHUP, resume: .resumeCommand)
    }

    /// A second Ctrl-C while the first is being handled exits at once with status 130. Made
    /// deterministic: stdout is a pipe filled to the brim that nobody reads, so after the first
    /// Ctrl-C the sweep stops its trials, records them, and then blocks writing its final table
    /// — it cannot end by itself. The second Ctrl-C must end it (else the hang bound fails):
    /// status 130, without the table's closing line; the database is consistent and the next
    /// run resumes it (folding in its `-wal`) to the uninterrupted sweep's leaderboard.
    func testASecondCtrlCWhileTheFirstIsHandledExitsAtOnceWith130() throws {
        let space = try file("space.json", Self.smallSpace)
        let db = try database("twice")
        let pipe = Pipe()
        defer {
            try? pipe.fileHandleForReading.close()
            try? pipe.fileHandleForWriting.close()
        }
        let writeEnd = pipe.fileHandleForWriting.fileDescriptor
        // Fill the pipe (non-blocking, to know when it is full), then make it blocking again,
        // as the sweep's stdout normally is.
        let flags = fcntl(writeEnd, F_GETFL)
        XCTAssertEqual(fcntl(writeEnd, F_SETFL, flags | O_NONBLOCK), 0)
        let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 4096)
        var filled = 0
        while true {
            let n = chunk.withUnsafeBytes { write(writeEnd, $0.baseAddress, $0.count) }
            if n > 0 { filled += n; continue }
            XCTAssertEqual(errno, EAGAIN)
            break
        }
        XCTAssertGreaterThan(filled, 0)
        XCTAssertEqual(fcntl(writeEnd, F_SETFL, flags), 0)

        let child = try ChildProcess([space, "--db", db], in: dir, stdout: pipe.fileHandleForWriting)
        defer { if child.process.isRunning { kill(child.process.processIdentifier, SIGKILL) } }
        let pid = child.process.processIdentifier
        let running = try child.stopWhileTrialsRun(database: db)
        XCTAssertGreaterThan(running.count, 0, "no trial was running at Ctrl-C: \(child.stderr)")
        kill(pid, SIGINT)
        kill(pid, SIGCONT)
        // The first Ctrl-C is handled: the workers have stopped and reported (the last lines on
        // stderr before the final table), and the process is blocked on the full stdout.
        XCTAssertTrue(child.wait(timeout: 120) { $0.stderr.contains("Peak memory (RSS) so far") }, child.stderr)
        XCTAssertTrue(child.process.isRunning, "the sweep ended with its stdout full: \(child.stderr)")
        XCTAssertTrue(child.stderr.contains("Interrupted: stopping the running trials"), child.stderr)

        kill(pid, SIGINT)
        XCTAssertTrue(child.waitForExit(timeout: 60), "a second Ctrl-C did not end the sweep: \(child.stderr)")
        if child.process.isRunning { return }
        XCTAssertEqual(child.process.terminationReason, .exit, child.stderr)
        XCTAssertEqual(child.process.terminationStatus, 130, child.stderr)
        // It did not go on with the first Ctrl-C's ending (the table, then the resume line).
        XCTAssertFalse(child.stderr.contains("Interrupted: the unfinished trials will run again with"), child.stderr)

        // Consistent: readable, nothing left running (the trials were recorded before the
        // table), and the next run resumes it and folds the -wal in.
        let stopped = try status(db)
        XCTAssertEqual(count("running", in: stopped), 0, stopped)
        XCTAssertGreaterThan(count("interrupted", in: stopped) ?? 0, 0, stopped)
        let resumed = try BinaryRunner.run(["resume", db])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(count("done", in: try status(db)), 10)
        XCTAssertEqual(try besideDatabase(db), ["twice.sqlite"])
        XCTAssertEqual(try BinaryRunner.leaderboardWithoutSeconds(db), try uninterruptedLeaderboard(space))
    }

    /// The epochs `database` holds for `trial` (read-only, as a reader beside the sweep), or nil
    /// while it cannot be read yet.
    func storedEpochs(_ database: String, trial: String) -> Int? {
        guard FileManager.default.fileExists(atPath: database),
              let store = try? SQLiteTrialStore(path: database, create: false, readOnly: true) else { return nil }
        defer { try? store.close() }
        return (try? store.epochs(ofTrials: [trial]))?[trial]?.count ?? 0
    }

    /// "Stops within two seconds": the stop waits neither for the end of the trial nor for the
    /// end of its epoch — the engine asks before every batch. One trial of 3 epochs, each long
    /// (a wide network on 6,000 images, several seconds in a debug build); the process is frozen
    /// once its first epoch is stored, the stored epochs counted, then Ctrl-C. The trial must end
    /// `interrupted` with exactly those epochs: were the stop only between epochs, the epoch under
    /// way would be finished and stored first (and between trials, the trial would end `done`).
    /// (Only the hang bounds are times.)
    func testTheStopComesWithinTheEpochUnderWay() throws {
        let space = try file("long.json", """
            { "name": "long-epochs", "strategy": "list", "seed": 1, "concurrency": 1,
              "configurations": [{"t0": 1}], "baselines": [], "fixed": {"lr_max": 0.05},
              "training": { "dataset": "synthetic", "train_size": 6000, "val_size": 100, "epochs": 3,
                            "batch_size": 100, "hidden": [2048, 2048] } }
            """)
        let db = try database("long")
        let trial = "sgdr-0000.r0"
        let child = try ChildProcess([space, "--db", db], in: dir)
        defer { if child.process.isRunning { kill(child.process.processIdentifier, SIGKILL) } }
        let pid = child.process.processIdentifier
        XCTAssertTrue(child.wait(timeout: 300) { _ in (self.storedEpochs(db, trial: trial) ?? 0) >= 1 },
                      "the first epoch was never stored: \(child.stderr)")
        kill(pid, SIGSTOP)
        let atSignal = try XCTUnwrap(storedEpochs(db, trial: trial))
        XCTAssertTrue(child.process.isRunning, child.stderr)
        XCTAssertGreaterThanOrEqual(atSignal, 1)
        XCTAssertLessThan(atSignal, 3, "the trial ended before Ctrl-C; make its epochs longer")
        kill(pid, SIGINT)
        kill(pid, SIGCONT)
        XCTAssertTrue(child.waitForExit(timeout: 300), "still running 300 s after Ctrl-C")
        if child.process.isRunning { return }
        XCTAssertEqual(child.process.terminationReason, .exit, child.stderr)
        XCTAssertEqual(child.process.terminationStatus, 130, child.stderr)
        let stopped = try status(db)
        XCTAssertEqual(count("done", in: stopped), 0, stopped)
        XCTAssertEqual(count("running", in: stopped), 0, stopped)
        XCTAssertEqual(count("interrupted", in: stopped), 1, stopped)
        XCTAssertTrue(stopped.contains("\(trial) (interrupted)"), stopped)
        XCTAssertEqual(storedEpochs(db, trial: trial), atSignal, "the epoch under way at Ctrl-C was finished")
        XCTAssertEqual(try besideDatabase(db), ["long.sqlite"])
    }
}
