import Foundation
import ProcessTestSupport
import SQLiteStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Sweeps whose trials run in the user's own training script (`trainer`), through the binary:
/// the rates the script is told are `sgdr-search schedule`'s for its val_acc path, faults are
/// failed trials the sweep gets past, kill -9 leaves no trainer behind, and resume gives the
/// uninterrupted leaderboard.
final class TrainerCLITests: XCTestCase {
    static let trainers = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/trainers")

    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("trainer-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: dir)
    }

    /// A grid over t0 and c with the trigger on, and both rate-only baselines.
    func toySpace(name: String = "toy", epochs: Int = 8, repeats: Int = 2, extra: String = "") throws -> URL {
        let toy = Self.trainers.appendingPathComponent("toy_trainer.py").path
        let text = """
            {
              "name": "\(name)", "strategy": "grid", "seed": 5, "repeats": \(repeats), "concurrency": 2,
              "parameters": {"t0": {"values": [2, 3]}, "lr_max_compression": {"values": [0, 2]}},
              "fixed": {"lr_max": 0.5, "lr_min": 0.005, "tmult": 1.5, "trigger_val_acc": 0.888},
              "baselines": ["cosine", "step"],
              "trainer": {"command": ["python3", "\(toy)"], "epochs": \(epochs)\(extra)}
            }
            """
        let url = dir.appendingPathComponent("\(name).json")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func runBinary(_ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult {
        let child = try ChildProcess(arguments, in: dir, environment: environment)
        child.process.waitUntilExit()
        return CommandResult(status: child.process.terminationStatus, stdout: "", stderr: child.stderr)
    }

    struct Logged: Decodable {
        var trial: String
        var epoch: Int
        var lr: Double
        var val_acc: Double
        var schedule: [String: JSONNumberOrString]
    }

    enum JSONNumberOrString: Decodable {
        case number(Double), text(String), list([Double])
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let x = try? c.decode(Double.self) { self = .number(x) } else if let xs = try? c.decode([Double].self) { self = .list(xs) } else { self = .text(try c.decode(String.self)) }
        }
        var number: Double? { if case .number(let x) = self { x } else { nil } }
        var text: String? { if case .text(let s) = self { s } else { nil } }
    }

    func testTheTrainerIsToldTheRatesOfSgdrSearchScheduleForItsValAccPath() throws {
        let space = try toySpace()
        let log = dir.appendingPathComponent("epochs.jsonl")
        let db = dir.appendingPathComponent("toy.sqlite").path
        let r = try runBinary([space.path, "--db", db], environment: ["TOY_LOG": log.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
        let logged = try lines.map { try JSONDecoder().decode(Logged.self, from: Data($0.utf8)) }
        let byTrial = Dictionary(grouping: logged, by: \.trial)
        XCTAssertEqual(byTrial.count, 6 * 2, "every trial ran once")
        var checked = 0
        for (trial, epochs) in byTrial {
            let sorted = epochs.sorted { $0.epoch < $1.epoch }
            XCTAssertEqual(sorted.map(\.epoch), Array(1...8), trial)
            let s = sorted[0].schedule
            let kind = try XCTUnwrap(s["kind"]?.text)
            let accs = dir.appendingPathComponent("\(trial).acc")
            try sorted.map { "\($0.val_acc)" }.joined(separator: "\n").write(to: accs, atomically: true, encoding: .utf8)
            var args = ["schedule", "--schedule", kind, "--epochs", "8", "--val-acc", accs.path]
            for (key, option) in [("lr_max", "--lr-max"), ("lr_min", "--lr-min"), ("t0", "--t0"), ("tmult", "--tmult"),
                                  ("lr_max_compression", "--lr-max-compression"), ("trigger_val_acc", "--trigger-val-acc")] {
                if let x = s[key]?.number { args += [option, x == x.rounded() ? String(Int(x)) : "\(x)"] }
            }
            let table = try BinaryRunner.run(args)
            XCTAssertEqual(table.status, 0, table.stderr)
            let expected = try XCTUnwrap(SimpleCSV(table.stdout).doubles("lr"))
            XCTAssertEqual(sorted.map(\.lr), expected, "\(trial): the rates the trainer was told vs sgdr-search schedule")
            checked += 1
        }
        XCTAssertEqual(checked, 12)
        // The toy's extra metric (weight_norm) is kept with every epoch.
        let records = try SQLiteTrialStore(path: db, create: false, readOnly: true).trials()
        XCTAssertEqual(records.flatMap(\.epochs).count, 12 * 8)
        XCTAssertTrue(records.flatMap(\.epochs).allSatisfy { ($0.extra["weight_norm"] ?? 0) > 0 && $0.extra.count == 1 })
        // The trigger (0.888) and compression rules acted: some SGDR trial ran epochs at lr_max
        // before the trigger, and some trial's rates differ between c = 0 and c = 2.
        XCTAssertTrue(logged.contains { $0.trial.hasPrefix("sgdr") && $0.epoch > 1 && $0.lr == 0.5 }, "the trigger held lr_max")
        XCTAssertTrue(logged.contains { $0.trial.hasPrefix("sgdr") && $0.lr < 0.5 }, "the schedule started")
        func rates(_ trial: String) -> [Double] {
            logged.filter { $0.trial == trial }.sorted { $0.epoch < $1.epoch }.map(\.lr)
        }
        // sgdr-0000 is t0 = 2, c = 0 and sgdr-0001 is t0 = 2, c = 2 (grid order, the last
        // parameter fastest): in a repeat that triggered, compression changed a restart's peak.
        XCTAssertTrue((0..<2).contains { rates("sgdr-0000.r\($0)") != rates("sgdr-0001.r\($0)") })
        // The sweep ranks like a built-in one: every configuration with 2 repeats and a paired
        // interval against the best baseline.
        let board = try BinaryRunner.run(["leaderboard", db, "--csv", "-"])
        XCTAssertEqual(board.status, 0, board.stderr)
        let csv = SimpleCSV(board.stdout.replacingOccurrences(of: "\r\n", with: "\n"))
        XCTAssertEqual(csv.rows.count, 6)
        XCTAssertEqual(Set(try XCTUnwrap(csv.column("repeats"))), ["2"])
        let best = try BinaryRunner.run(["best", db])
        XCTAssertTrue(best.stdout.contains("paired over 2 repeats"), best.stdout)
        XCTAssertTrue(best.stdout.contains("Rerun it: sgdr-search trial \(db) sgdr-"), best.stdout)
    }

    func testAFailingConfigurationIsAFailedTrialAndTheSweepGoesOn() throws {
        let faulty = Self.trainers.appendingPathComponent("faulty_trainer.py").path
        let text = """
            {"name": "faults", "strategy": "grid", "seed": 1, "repeats": 2, "concurrency": 2,
             "parameters": {"t0": {"values": [1, 2]}}, "baselines": ["cosine"],
             "trainer": {"command": ["python3", "\(faulty)", "failone", "sgdr-0001"], "epochs": 3}}
            """
        let space = dir.appendingPathComponent("faults.json")
        try text.write(to: space, atomically: true, encoding: .utf8)
        let db = dir.appendingPathComponent("faults.sqlite").path
        let r = try runBinary([space.path, "--db", db])
        XCTAssertEqual(r.status, 0, "failed trials do not fail the sweep: \(r.stderr)")
        let status = try BinaryRunner.run(["status", db])
        XCTAssertTrue(status.stdout.contains("failed 2"), status.stdout)
        XCTAssertTrue(status.stdout.contains("done 4"), status.stdout)
        let board = try BinaryRunner.run(["leaderboard", db])
        XCTAssertTrue(board.stdout.contains("failed"), board.stdout)
        // The reason is stored, one line, with the script's last stderr line.
        let sqlite = try BinaryRunner.runExecutable(URL(fileURLWithPath: "/usr/bin/env"),
                                                    ["sqlite3", db, "SELECT error FROM trials WHERE status = 'failed' ORDER BY id"])
        if sqlite.status == 0 {
            XCTAssertEqual(sqlite.stdout, String(repeating: "the trainer exited before answering epoch 1 of 3 (exit status 1); its stderr ended with: this configuration fails on purpose\n", count: 2))
        }
        // A rerun keeps them (finished trials are final) and has nothing left to do.
        let again = try runBinary([space.path, "--db", db])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("(6 already finished"), again.stderr)
    }

    func testSpaceErrorsAboutTheTrainerAreOneLineAndCreateNothing() throws {
        let cases: [(String, String)] = [
            (#""trainer": {"command": ["python3"]}, "training": {"epochs": 3}"#, #"trainer: a space has either "training" (the built-in model) or "trainer" (your own training script), not both"#),
            (#""trainer": {"command": []}"#, "trainer.command: the list is empty; command must be a non-empty list of strings"),
            (#""trainer": {"command": "python3 train.py"}"#, "trainer.command: expected a list, got a string"),
            (#""trainer": {"epochs": 3}"#, #"trainer: missing "command""#),
            (#""trainer": {"command": ["python3"], "epoch": 3}"#, #"trainer.epoch: unknown key "epoch"; did you mean "epochs"?"#),
            (#""trainer": {"command": ["python3"], "timeout_s": 0}"#, "trainer.timeout_s: 0 is out of range"),
            (#""trainer": {"command": ["python3"], "env": {"A": 1}}"#, "trainer.env.A: expected a string, got a number"),
        ]
        for (trainer, message) in cases {
            let space = dir.appendingPathComponent("bad.json")
            try #"{"name": "bad", "parameters": {"t0": {"values": [1]}}, \#(trainer)}"#.write(to: space, atomically: true, encoding: .utf8)
            let r = try BinaryRunner.run([space.path], in: dir)
            XCTAssertEqual(r.status, 64, "\(trainer): \(r.stderr)")
            XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains(message), "\(trainer): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("runs").path), "nothing created")
        }
        // A program that is not there: one line, exit 1, no database.
        let space = dir.appendingPathComponent("missing.json")
        try #"{"name": "missing", "parameters": {"t0": {"values": [1]}}, "trainer": {"command": ["no-such-trainer-x", "train.py"]}}"#
            .write(to: space, atomically: true, encoding: .utf8)
        let r = try BinaryRunner.run([space.path], in: dir)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertEqual(r.stderrLines, ["Error: \(space.path): trainer.command[0]: no-such-trainer-x was not found on PATH"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("runs").path))
    }

    func testTheTrainersCommandAndSettingsAreTheSweepsIdentityButItsTimeoutsAreNot() throws {
        let db = dir.appendingPathComponent("identity.sqlite").path
        let first = try runBinary([try toySpace(name: "identity", epochs: 2, repeats: 1).path, "--db", db])
        XCTAssertEqual(first.status, 0, first.stderr)
        // Another time-out: the same sweep (nothing left to run).
        let longer = try runBinary([try toySpace(name: "identity", epochs: 2, repeats: 1, extra: #", "epoch_timeout_s": 99"#).path, "--db", db])
        XCTAssertEqual(longer.status, 0, longer.stderr)
        // Another environment or epoch count: refused, naming the change.
        let env = try runBinary([try toySpace(name: "identity", epochs: 2, repeats: 1, extra: #", "env": {"X": "1"}"#).path, "--db", db])
        XCTAssertNotEqual(env.status, 0)
        XCTAssertTrue(env.stderr.contains(#"trainer.env.X: (absent) -> "1""#), env.stderr)
        let epochs = try runBinary([try toySpace(name: "identity", epochs: 3, repeats: 1).path, "--db", db])
        XCTAssertTrue(epochs.stderr.contains("trainer.epochs: 2 -> 3"), epochs.stderr)
    }

    func testTheKerasStyleCallbackExampleRunsASweep() throws {
        let example = Self.trainers.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples/keras_callback_example.py").path
        let space = dir.appendingPathComponent("keras.json")
        try """
            {"name": "keras", "strategy": "grid", "seed": 1, "repeats": 1, "parameters": {"t0": {"values": [1, 3]}},
             "baselines": ["step"], "trainer": {"command": ["python3", "\(example)"], "epochs": 4}}
            """.write(to: space, atomically: true, encoding: .utf8)
        let db = dir.appendingPathComponent("keras.sqlite").path
        let r = try runBinary([space.path, "--db", db])
        XCTAssertEqual(r.status, 0, r.stderr)
        let status = try BinaryRunner.run(["status", db])
        XCTAssertTrue(status.stdout.contains("done 3"), status.stdout)
        // The stand-in's val_accuracy is 0.88 - 0.4 exp(-10 sum(lr)): the rates reached it.
        let trial = try BinaryRunner.run(["trial", db, "sgdr-0000"])
        let rows = SimpleCSV(trial.stdout)
        let lrs = try XCTUnwrap(rows.doubles("lr")), accs = try XCTUnwrap(rows.doubles("val_acc"))
        var sum = 0.0
        for (lr, acc) in zip(lrs, accs) {
            sum += lr
            XCTAssertEqual(acc, 0.88 - 0.4 * exp(-sum * 10), accuracy: 1e-12)
        }
    }

    func testTrialOfABuiltInSweepGivesTheEpochsItsTrialHad() throws {
        let space = dir.appendingPathComponent("builtin.json")
        try """
            {"name": "builtin", "strategy": "grid", "seed": 2, "repeats": 2, "parameters": {"t0": {"values": [1, 2]}},
             "baselines": ["cosine"], "training": {"dataset": "synthetic", "train_size": 300, "val_size": 200, "epochs": 3, "hidden": [16]}}
            """.write(to: space, atomically: true, encoding: .utf8)
        let db = dir.appendingPathComponent("builtin.sqlite").path
        XCTAssertEqual(try runBinary([space.path, "--db", db]).status, 0)
        let json = try BinaryRunner.run(["best", db, "--json"])
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let best = try XCTUnwrap(object["best"] as? [String: Any])
        let configuration = try XCTUnwrap(best["configuration"] as? String)
        let accs = try (0..<2).map { r in
            let trial = try BinaryRunner.run(["trial", db, configuration, "--repeat", String(r)])
            XCTAssertEqual(trial.status, 0, trial.stderr)
            return try XCTUnwrap(SimpleCSV(trial.stdout).doubles("val_acc")?.max())
        }
        XCTAssertEqual((accs[0] + accs[1]) / 2, try XCTUnwrap(best["best_val_acc"] as? Double), accuracy: 1e-12)
        let bad = try BinaryRunner.run(["trial", db, "sgdr-0099"])
        XCTAssertEqual(bad.status, 64)
        XCTAssertEqual(bad.stderrLines, ["Error: \(db) has no configuration \"sgdr-0099\"; its configurations are the baselines (cosine) and sgdr-0000 to sgdr-0001"])
        XCTAssertEqual(try BinaryRunner.run(["trial", db, configuration, "--repeat", "2"]).status, 64)
    }

    /// A python3 that can import torch (Debian's python3-torch is under /usr/bin), or nil.
    static let torchPython: String? = {
        for python in ["/usr/bin/python3", "/usr/local/bin/python3", "python3"] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = [python, "-c", "import torch"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            guard (try? p.run()) != nil else { continue }
            p.waitUntilExit()
            if p.terminationStatus == 0 { return python }
        }
        return nil
    }()

    func testThePyTorchExampleRunsASweepOnFashionMNIST() throws {
        guard let python = Self.torchPython else {
            throw XCTSkip("torch is not importable by any python3 here (apt-get install python3-torch): the PyTorch example is not run")
        }
        let example = Self.trainers.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples/pytorch_fashion_mnist.py").path
        let space = dir.appendingPathComponent("torch.json")
        try """
            {"name": "torch", "strategy": "grid", "seed": 1, "repeats": 1, "concurrency": 2,
             "parameters": {"t0": {"values": [3]}}, "fixed": {"lr_max": 0.1}, "baselines": ["cosine"],
             "trainer": {"command": ["\(python)", "\(example)", "--train-size", "3000", "--val-size", "500"], "epochs": 3}}
            """.write(to: space, atomically: true, encoding: .utf8)
        let db = dir.appendingPathComponent("torch.sqlite").path
        let r = try runBinary([space.path, "--db", db])
        XCTAssertEqual(r.status, 0, r.stderr)
        let board = SimpleCSV(try BinaryRunner.run(["leaderboard", db, "--csv", "-"]).stdout.replacingOccurrences(of: "\r\n", with: "\n"))
        XCTAssertEqual(board.column("status"), ["done", "done"], board.rows.description)
        // Ten classes: chance is 0.1; three epochs on 3000 images learn far more than that.
        for acc in try XCTUnwrap(board.doubles("best_val_acc")) { XCTAssertGreaterThan(acc, 0.4) }
        // The PyTorch script ran at sgdr-search schedule's rates for its own val_acc path.
        let trial = try BinaryRunner.run(["trial", db, "sgdr-0000"])
        XCTAssertEqual(trial.status, 0, trial.stderr)
        let rows = SimpleCSV(trial.stdout)
        let accs = dir.appendingPathComponent("torch.acc")
        try XCTUnwrap(rows.column("val_acc")).joined(separator: "\n").write(to: accs, atomically: true, encoding: .utf8)
        let table = try BinaryRunner.run(["schedule", "--schedule", "sgdr", "--t0", "3", "--lr-max", "0.1", "--epochs", "3", "--val-acc", accs.path])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertEqual(rows.doubles("lr"), SimpleCSV(table.stdout).doubles("lr"))
    }

    func testSIGTERMStopsTheTrainersAndRecordsTheirTrialsInterrupted() throws {
        let space = try toySpace(name: "term", epochs: 6)
        let pids = dir.appendingPathComponent("pids")
        try FileManager.default.createDirectory(at: pids, withIntermediateDirectories: true)
        let db = dir.appendingPathComponent("term.sqlite").path
        let child = try ChildProcess([space.path, "--db", db], in: dir, environment: ["TOY_SLEEP": "0.3", "TOY_PID_DIR": pids.path])
        XCTAssertTrue(child.wait(timeout: 120) { _ in
            ((try? FileManager.default.contentsOfDirectory(atPath: pids.path).count) ?? 0) >= 2
        }, child.stderr)
        kill(child.process.processIdentifier, SIGTERM)
        XCTAssertTrue(child.waitForExit(timeout: 60), "the tool stops (a bound against a hang)")
        XCTAssertEqual(child.process.terminationStatus, 130, child.stderr)
        for pid in try FileManager.default.contentsOfDirectory(atPath: pids.path).compactMap({ Int32($0) }) {
            XCTAssertTrue(processIsGone(pid), "trainer \(pid) outlived the tool's SIGTERM")
        }
        let status = try BinaryRunner.run(["status", db])
        XCTAssertTrue(status.stdout.contains("interrupted"), status.stdout)
        XCTAssertTrue(status.stdout.contains("running 0,"), status.stdout)
    }

    func testARaceOfTrainerTrialsEliminatesLikeABuiltInOne() throws {
        let space = try toySpace(name: "race", epochs: 4, repeats: 4, extra: "")
        var text = try String(contentsOf: space, encoding: .utf8)
        text = text.replacingOccurrences(of: #""baselines": ["cosine", "step"],"#,
                                          with: #""baselines": ["cosine", "step"], "racing": {"first_round": 2, "confidence": 0.9},"#)
        try text.write(to: space, atomically: true, encoding: .utf8)
        let db = dir.appendingPathComponent("race.sqlite").path
        let r = try runBinary([space.path, "--db", db])
        XCTAssertEqual(r.status, 0, r.stderr)
        let status = try BinaryRunner.run(["status", db])
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertTrue(status.stdout.contains("round"), status.stdout)
        let board = SimpleCSV(try BinaryRunner.run(["leaderboard", db, "--csv", "-"]).stdout.replacingOccurrences(of: "\r\n", with: "\n"))
        XCTAssertEqual(board.rows.count, 6)
        XCTAssertTrue(try XCTUnwrap(board.column("status")).allSatisfy { $0 == "done" || $0.hasPrefix("eliminated (round ") }, board.rows.description)
    }

    func testKill9LeavesNoTrainerAndResumeGivesTheUninterruptedLeaderboard() throws {
        let space = try toySpace(name: "kill", epochs: 6)
        let whole = dir.appendingPathComponent("whole.sqlite").path
        let r = try runBinary([space.path, "--db", whole])
        XCTAssertEqual(r.status, 0, r.stderr)

        let pids = dir.appendingPathComponent("pids")
        try FileManager.default.createDirectory(at: pids, withIntermediateDirectories: true)
        let killed = dir.appendingPathComponent("killed.sqlite").path
        let child = try ChildProcess([space.path, "--db", killed], in: dir,
                                     environment: ["TOY_SLEEP": "0.2", "TOY_PID_DIR": pids.path])
        // Two trainers started, and at least one trial finished (a bound against a hang only).
        XCTAssertTrue(child.wait(timeout: 120) { c in
            c.finishedIDs.count >= 1 && ((try? FileManager.default.contentsOfDirectory(atPath: pids.path).count) ?? 0) >= 3
        }, child.stderr)
        kill(child.process.processIdentifier, SIGKILL)
        child.process.waitUntilExit()
        let started = try FileManager.default.contentsOfDirectory(atPath: pids.path).compactMap { Int32($0) }
        XCTAssertGreaterThanOrEqual(started.count, 3)
        for pid in started {
            XCTAssertTrue(processIsGone(pid), "trainer \(pid) outlived the tool's kill -9")
        }
        // Resume (without the pause): the interrupted trials run again from epoch 1.
        let resumed = try runBinary(["resume", killed])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(try BinaryRunner.leaderboardWithoutSeconds(killed), try BinaryRunner.leaderboardWithoutSeconds(whole))
    }

    func testTwoProcessesShareATrainerSweepAndRankItAsOneWould() throws {
        let space = try toySpace(name: "two", epochs: 4)
        let one = dir.appendingPathComponent("one.sqlite").path
        XCTAssertEqual(try runBinary([space.path, "--db", one]).status, 0)
        let shared = dir.appendingPathComponent("shared.sqlite").path
        // The first creates the sweep; then a second process joins it.
        let a = try ChildProcess([space.path, "--db", shared, "--concurrency", "1"], in: dir, environment: ["TOY_SLEEP": "0.05"])
        XCTAssertTrue(a.wait(timeout: 120) { $0.finishedIDs.count >= 1 }, a.stderr)
        let b = try ChildProcess(["resume", shared, "--concurrency", "1"], in: dir, environment: ["TOY_SLEEP": "0.05"])
        a.process.waitUntilExit()
        b.process.waitUntilExit()
        XCTAssertEqual(a.process.terminationStatus, 0, a.stderr)
        XCTAssertEqual(b.process.terminationStatus, 0, b.stderr)
        XCTAssertEqual(Set(a.finishedIDs).intersection(b.finishedIDs), [], "no trial ran twice")
        XCTAssertEqual(a.finishedIDs.count + b.finishedIDs.count, 12)
        XCTAssertGreaterThan(b.finishedIDs.count, 0, "the second process took part: \(b.stderr)")
        XCTAssertEqual(try BinaryRunner.leaderboardWithoutSeconds(shared), try BinaryRunner.leaderboardWithoutSeconds(one))
    }

    func testTheRerunOfTheBestRunsTheTrainerAgainWithTheSameEpochs() throws {
        let space = try toySpace(name: "rerun", epochs: 5, repeats: 1)
        let db = dir.appendingPathComponent("rerun.sqlite").path
        XCTAssertEqual(try runBinary([space.path, "--db", db]).status, 0)
        let json = try BinaryRunner.run(["best", db, "--json"])
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let rerun = try XCTUnwrap(object["rerun_args"] as? [String])
        XCTAssertNil(object["train_args"], "a trainer sweep has no built-in training to rerun")
        let trial = try BinaryRunner.run(rerun)
        XCTAssertEqual(trial.status, 0, trial.stderr)
        let rows = SimpleCSV(trial.stdout)
        let best = try XCTUnwrap(object["best"] as? [String: Any])
        XCTAssertEqual(rows.doubles("val_acc")?.max(), best["best_val_acc"] as? Double, "the same trial, the same epochs")
    }
}
