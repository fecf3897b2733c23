import Foundation
import SQLiteStore
import Sweep
import XCTest

/// What the README promises and no other test checked, through the built binary: exact exit
/// codes of `schedule` and `train`, every field of `best --json`, `train_args` rerunning the best
/// trial exactly, `"objective": "final_val_acc"`, `--cache-mb 0`, the leaderboard's `done/all`,
/// `partial` and empty std, and the sweep's closing lines.
final class DocumentedContractsCLITests: XCTestCase {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/golden")

    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("contracts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    /// A copy of a golden fixture's database (see GoldenOutputCLITests).
    func fixture(_ name: String) throws -> String {
        let path = dir.appendingPathComponent("\(name).sqlite").path
        try FileManager.default.copyItem(atPath: Self.golden.appendingPathComponent("\(name).sqlite").path, toPath: path)
        return path
    }

    func json(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text, file: file, line: line)
    }

    /// A JSON number exactly as written. (Foundation's JSONSerialization on Linux gives an
    /// NSDecimalNumber whose `as? Double` can land on a neighbouring double: 0.023237900077244522
    /// became 0.02323790007724452; its decimal text parses exactly.)
    func number(_ value: Any?) -> Double? {
        guard let n = value as? NSNumber else { return nil }
        return Double(n.description) ?? n.doubleValue
    }

    /// `leaderboard DB --csv -` as rows keyed by column name (no cell of these sweeps is quoted).
    func leaderboard(_ db: String) throws -> [[String: String]] {
        let r = try BinaryRunner.run(["leaderboard", db, "--csv", "-"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.components(separatedBy: "\r\n").filter { !$0.isEmpty }.map { $0.components(separatedBy: ",") }
        return lines.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(lines[0], $0)) }
    }

    // MARK: - Exit codes

    /// README: 64 for invalid input (a bad value, a missing or unknown option), 1 for a runtime
    /// error (the data set, memory, an output file, a diverged `train`); never another non-zero.
    func testScheduleAndTrainExitWith64ForInvalidOptionsAnd1ForRuntimeErrors() throws {
        let short = try BinaryRunner.temporaryFile("0.1\n0.2\n", removedAfter: self).path
        let small = ["--dataset", "synthetic", "--train-size", "200", "--val-size", "50", "--epochs", "1", "--hidden", "8"]
        let cases: [(arguments: [String], status: Int32)] = [
            (["schedule"], 64),  // --epochs missing
            (["schedule", "--epochs", "abc"], 64),
            (["schedule", "--epochs", "3", "--bogus"], 64),
            (["schedule", "--schedule", "linear", "--epochs", "3"], 64),
            (["schedule", "--t0", "0", "--epochs", "3"], 64),
            (["schedule", "--tmult", "0.5", "--epochs", "3"], 64),
            (["schedule", "--lr-max", "nan", "--epochs", "3"], 64),
            (["schedule", "--lr-max", "0.01", "--lr-min", "0.1", "--epochs", "3"], 64),
            (["schedule", "--lr-max-compression", "0.5", "--epochs", "3"], 64),
            (["schedule", "--trigger-val-acc", "1.5", "--epochs", "3"], 64),
            (["schedule", "--step-milestones", "0.5,x", "--epochs", "3"], 64),
            (["schedule", "--plateau-factor", "1", "--epochs", "3"], 64),
            (["schedule", "--schedule", "plateau", "--epochs", "3"], 64),  // needs --val-acc
            (["schedule", "--val-acc", "/nonexistent-sgdr-file.txt", "--epochs", "3"], 64),
            (["schedule", "--val-acc", short, "--epochs", "3"], 64),
            (["schedule", "--epochs", "3", "--svg", "/nonexistent-dir/s.svg"], 1),  // an output file
            (["train", "--bogus"], 64),
            (["train", "--epochs", "0"], 64),
            (["train", "--batch-size", "0"], 64),
            (["train", "--lr-min", "1"], 64),
            (["train", "--t0", "0"], 64),
            (["train", "--trigger-val-acc", "2"], 64),
            (["train", "--dataset", "mnist"], 64),
            (["train", "--model", "rnn"], 64),
            (["train", "--optimizer", "rmsprop"], 64),
            (["train", "--momentum", "1"], 64),
            (["train", "--weight-decay", "-1"], 64),
            (["train", "--threads", "0"], 64),
            (["train", "--seed", "-1"], 64),
            (["train", "--train-size", "55000"], 64),  // with the default 10000 validation images
            (["train", "--conv", "8"], 64),
            (["train", "--hidden", "0"], 64),
            (["train", "--dataset", "cifar10"], 64),  // --data-dir missing
            (["train", "--data-dir", "/nonexistent-dir"], 1),  // the data set
            (["train", "--dataset", "cifar10", "--data-dir", "/nonexistent-dir", "--val-size", "5000"], 1),
            (small + ["--hidden", "65536,65536,65536,65536,65536,65536,65536,65536"], 1),  // memory
            (["train", "--dataset", "synthetic", "--train-size", "1000", "--val-size", "300", "--hidden", "32", "--epochs", "2",
              "--schedule", "constant", "--lr-max", "1000000"], 1),  // diverged
        ]
        for (arguments, status) in cases {
            let args = arguments.first == "--dataset" ? ["train"] + arguments : arguments
            let r = try BinaryRunner.run(args)
            XCTAssertEqual(r.status, status, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("Error: ") || r.stderr.contains("\nError: ") || r.stderr.contains("diverged"),
                          "\(args): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("Fatal error"), "\(args)")
        }
    }

    // MARK: - best --json

    /// README's list: `{"objective", "best": {...15 keys}, "best_baseline": {...}, "difference",
    /// "difference_standard_error", "difference_ci95": [low, high], "difference_pairs",
    /// "difference_note" (only with one pair), "training": {...}, "train_args": [...]}` and
    /// "strategy"; each
    /// value checked against the leaderboard of the same database and the space file.
    func testBestJSONHasEveryDocumentedFieldWithTheLeaderboardsValues() throws {
        let db = try fixture("race")
        let r = try BinaryRunner.run(["best", db, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try json(r.stdout)
        XCTAssertEqual(Set(object.keys), ["objective", "strategy", "best", "best_baseline", "difference", "difference_standard_error",
                                          "difference_ci95", "difference_pairs", "training", "train_args"])
        XCTAssertEqual(object["objective"] as? String, "best_val_acc")
        XCTAssertEqual(object["strategy"] as? String, "grid", "race.json's strategy")
        let best = try XCTUnwrap(object["best"] as? [String: Any])
        XCTAssertEqual(Set(best.keys), ["configuration", "schedule", "score", "score_std", "best_val_acc", "final_val_acc",
                                        "repeats", "lr_max", "lr_min", "t0", "tmult", "lr_max_compression", "trigger_val_acc",
                                        "swept", "epochs"])
        let rows = try leaderboard(db)
        let bestRow = try XCTUnwrap(rows.first { $0["schedule"] == "sgdr" })
        XCTAssertEqual(best["configuration"] as? String, bestRow["configuration"])
        XCTAssertEqual(best["schedule"] as? String, "sgdr")
        XCTAssertEqual(number(best["score"]), Double(bestRow["best_val_acc"]!))
        XCTAssertEqual(number(best["best_val_acc"]), Double(bestRow["best_val_acc"]!))
        XCTAssertEqual(number(best["final_val_acc"]), Double(bestRow["final_val_acc"]!))
        XCTAssertEqual(number(best["score_std"]), Double(bestRow["best_val_acc_std"]!))
        XCTAssertEqual(best["repeats"] as? Int, Int(bestRow["repeats"]!))
        // The six schedule parameters, swept (from the row) and fixed (from race.json).
        XCTAssertEqual(number(best["t0"]), Double(bestRow["t0"]!))
        XCTAssertEqual(number(best["tmult"]), Double(bestRow["tmult"]!))
        XCTAssertEqual(number(best["lr_max_compression"]), Double(bestRow["lr_max_compression"]!))
        XCTAssertEqual(number(best["lr_max"]), 0.1)
        XCTAssertEqual(number(best["lr_min"]), 0.001)
        XCTAssertEqual(number(best["trigger_val_acc"]), 0.5)
        XCTAssertEqual(best["epochs"] as? Int, 4)
        let swept = try XCTUnwrap((best["swept"] as? [String: Any])?.compactMapValues { number($0) })
        XCTAssertEqual(swept, ["t0": Double(bestRow["t0"]!)!, "tmult": Double(bestRow["tmult"]!)!,
                               "lr_max_compression": Double(bestRow["lr_max_compression"]!)!])
        // The best baseline: the first baseline row; rates, no SGDR parameters.
        let baselineRow = try XCTUnwrap(rows.first { $0["schedule"] != "sgdr" })
        let baseline = try XCTUnwrap(object["best_baseline"] as? [String: Any])
        XCTAssertEqual(Set(baseline.keys), ["configuration", "schedule", "score", "score_std", "best_val_acc", "final_val_acc",
                                            "repeats", "lr_max", "lr_min", "epochs"])
        XCTAssertEqual(baseline["configuration"] as? String, baselineRow["configuration"])
        XCTAssertEqual(baseline["schedule"] as? String, baselineRow["schedule"])
        XCTAssertEqual(number(baseline["score"]), Double(baselineRow["best_val_acc"]!))
        XCTAssertEqual(number(baseline["lr_max"]), 0.1)
        // The paired difference: the leaderboard's diff_vs_baseline and the half-width of its interval.
        let difference = try XCTUnwrap(number(object["difference"]))
        XCTAssertEqual(difference, Double(bestRow["diff_vs_baseline"]!))
        let ci = try XCTUnwrap((object["difference_ci95"] as? [Any])?.compactMap { number($0) })
        XCTAssertEqual(ci.count, 2)
        XCTAssertEqual((ci[1] - ci[0]) / 2, Double(bestRow["diff_ci95"]!)!, accuracy: 1e-12)
        XCTAssertEqual((ci[0] + ci[1]) / 2, difference, accuracy: 1e-12)
        let se = try XCTUnwrap(number(object["difference_standard_error"]))
        XCTAssertGreaterThan(se, 0)
        XCTAssertEqual(object["difference_pairs"] as? Int, Int(bestRow["repeats"]!), "every repeat of the best has a baseline pair")
        // The training settings: race.json's, with the defaults it leaves out.
        let training = try XCTUnwrap(object["training"] as? [String: Any])
        XCTAssertEqual(training["dataset"] as? String, "fashion-mnist")
        XCTAssertEqual(training["train_size"] as? Int, 1000)
        XCTAssertEqual(training["val_size"] as? Int, 500)
        XCTAssertEqual(training["epochs"] as? Int, 4)
        XCTAssertEqual(training["batch_size"] as? Int, 50)
        XCTAssertEqual(training["hidden"] as? [Int], [32])
        XCTAssertEqual(training["model"] as? String, "mlp")
        XCTAssertEqual(training["optimizer"] as? String, "sgd")
        XCTAssertEqual(number(training["momentum"]), 0.9)
        XCTAssertEqual(training["nesterov"] as? Bool, false)
        XCTAssertEqual(number(training["weight_decay"]), 0.0005)
        // train_args: the text output's rerun command, word for word.
        let args = try XCTUnwrap(object["train_args"] as? [String])
        let text = try BinaryRunner.run(["best", db])
        XCTAssertTrue(text.stdout.contains("sgdr-search train " + args.joined(separator: " ") + "\n"), text.stdout)
    }

    /// `"objective": "final_val_acc"` ranks by the mean final val_acc and scores `best` by it;
    /// the leaderboard shows `done/all` and `partial` for unfinished configurations, an empty
    /// std with one finished repeat, and one pair gives a difference without spread.
    func testFinalValAccObjectivePartialRowsAndOneRepeat() throws {
        let db = try fixture("partial")
        let rows = try leaderboard(db)
        let done = rows.filter { !$0["final_val_acc"]!.isEmpty }
        let finals = done.map { Double($0["final_val_acc"]!)! }
        XCTAssertEqual(finals, finals.sorted(by: >), "ranked by final_val_acc")
        // The paired difference is of the objective: here the final val_accs, whose means differ
        // from the best val_accs' (every repeat of these rows has its baseline pair).
        let baselineRow = try XCTUnwrap(rows.first)
        XCTAssertEqual(baselineRow["schedule"], "cosine")
        for row in done.dropFirst() where row["status"] == "done" {
            let expected = (Double(row["final_val_acc"] ?? "") ?? .nan) - (Double(baselineRow["final_val_acc"] ?? "") ?? .nan)
            XCTAssertEqual(Double(row["diff_vs_baseline"] ?? "") ?? .nan, expected, accuracy: 1e-12, row["configuration"] ?? "?")
        }
        let partial = try XCTUnwrap(rows.first { $0["status"] == "partial" })
        XCTAssertEqual(partial["repeats"], "1/2", "done/all while some repeats are unfinished")
        XCTAssertEqual(partial["best_val_acc_std"], "", "one finished repeat: no std")
        XCTAssertEqual(partial["diff_vs_baseline"], "", "one pair: no paired difference")
        XCTAssertEqual(partial["diff_ci95"], "")
        XCTAssertFalse(partial["final_val_acc"]!.isEmpty)
        XCTAssertEqual(rows.first { $0["status"] == "pending" }?["repeats"], "0/2")
        XCTAssertEqual(rows.first { $0["status"] == "diverged" }?["repeats"], "0/2")
        XCTAssertTrue(rows.suffix(2).allSatisfy { $0["status"] == "diverged" }, "diverged rows last")
        XCTAssertTrue(rows.filter { $0["status"] == "done" }.allSatisfy { $0["repeats"] == "2" }, "all done: the count alone")

        let best = try json(try BinaryRunner.run(["best", db, "--json"]).stdout)
        XCTAssertEqual(best["objective"] as? String, "final_val_acc")
        let b = try XCTUnwrap(best["best"] as? [String: Any])
        let bestRow = try XCTUnwrap(rows.first { $0["schedule"] == "sgdr" })
        XCTAssertEqual(b["configuration"] as? String, bestRow["configuration"])
        XCTAssertEqual(number(b["score"]), Double(bestRow["final_val_acc"]!), "scored by the objective")
        XCTAssertEqual(number(b["final_val_acc"]), Double(bestRow["final_val_acc"]!))
        XCTAssertEqual(number(b["best_val_acc"]), Double(bestRow["best_val_acc"]!))
        XCTAssertNotEqual(number(b["score_std"]), Double(bestRow["best_val_acc_std"]!), "the std of the final val_accs")
        XCTAssertEqual(number((best["best_baseline"] as? [String: Any])?["score"]),
                       Double(rows.first { $0["schedule"] != "sgdr" }!["final_val_acc"]!))
    }

    // MARK: - A fresh sweep: train_args, --cache-mb 0, the closing lines

    /// `race.json` run again into a new database (same machine, so the same BLAS kernels as the
    /// rerun): `best --json`'s `train_args` through `train` give the best configuration's repeat 0
    /// epoch for epoch, bit for bit; `--cache-mb 0` gives the same leaderboard with no epoch
    /// reused; the sweep ends with the documented lines.
    func testTrainArgsRerunTheBestTrialExactlyAndCacheOffChangesNothing() throws {
        let space = Self.golden.appendingPathComponent("race.json").path
        let db = dir.appendingPathComponent("race.sqlite").path
        let sweep = try BinaryRunner.run([space, "--db", db])
        XCTAssertEqual(sweep.status, 0, sweep.stderr)
        let best = try json(try BinaryRunner.run(["best", db, "--json"]).stdout)
        let args = try XCTUnwrap(best["train_args"] as? [String])
        let configuration = try XCTUnwrap((best["best"] as? [String: Any])?["configuration"] as? String)

        let rerun = try BinaryRunner.run(["train"] + args)
        XCTAssertEqual(rerun.status, 0, rerun.stderr)
        let csv = SimpleCSV(rerun.stdout)
        XCTAssertEqual(csv.header, ["epoch", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "train_seconds"])
        let store = try SQLiteTrialStore(path: db, create: false, readOnly: true)
        defer { try? store.close() }
        let stored = try XCTUnwrap(try store.trials().first { $0.spec.id == "\(configuration).r0" }, "\(configuration).r0")
        XCTAssertEqual(stored.epochs.count, 4)
        XCTAssertEqual(csv.ints("epoch"), stored.epochs.map(\.epoch))
        for name in ["lr", "train_loss", "train_acc", "val_loss", "val_acc"] {
            let want: [Double] = stored.epochs.map {
                switch name {
                case "lr": $0.lr
                case "train_loss": $0.trainLoss
                case "train_acc": $0.trainAcc
                case "val_loss": $0.valLoss
                default: $0.valAcc
                }
            }
            XCTAssertEqual(csv.doubles(name), want, "\(name): train with train_args against the stored \(configuration).r0")
        }

        // The sweep's closing lines. stdout: the leaderboard's top 10 in at most 120 columns, the
        // configurations in the order `leaderboard --top 10` ranks them, and how to see the rest
        // and every column; then the best configuration beside the best baseline (as `best`
        // prints it).
        let top = try BinaryRunner.run(["leaderboard", db, "--top", "10"])
        let summary = try BinaryRunner.run(["best", db])
        XCTAssertTrue(sweep.stdout.hasSuffix("(5 more, and every column: sgdr-search leaderboard \(db))\n\n" + summary.stdout),
                      "the sweep's stdout: \(sweep.stdout)")
        func ids(_ table: String) -> [String] {
            table.split(separator: "\n").dropFirst().compactMap { line in
                let cells = line.split(separator: " ")
                return cells.count > 1 && Int(cells[0]) != nil ? String(cells[1]) : nil
            }
        }
        guard let cut = sweep.stdout.range(of: "(5 more") else { return XCTFail("no '(5 more' line: \(sweep.stdout)") }
        let endTable = String(sweep.stdout[..<cut.lowerBound])
        XCTAssertEqual(ids(endTable), ids(top.stdout), "the end table ranks as leaderboard --top 10")
        XCTAssertEqual(ids(endTable).count, 10)
        for line in endTable.split(separator: "\n") { XCTAssertLessThanOrEqual(line.count, 120, String(line)) }
        XCTAssertTrue(summary.stdout.hasPrefix("Best SGDR configuration: \(configuration): best_val_acc "), summary.stdout)
        XCTAssertTrue(summary.stdout.contains("\nBest baseline: "), summary.stdout)
        XCTAssertTrue(summary.stdout.contains("\nDifference (SGDR - baseline), paired over "), summary.stdout)
        XCTAssertTrue(summary.stdout.hasSuffix("\nRerun it: sgdr-search train " + args.joined(separator: " ") + "\n"), summary.stdout)
        XCTAssertEqual(top.stdout.split(separator: "\n").count, 11, "header + 10 rows")
        // stderr: storage and dispatch, epochs computed and reused, memory, the race's decisions.
        let lines = sweep.stderrLines
        let storage = try XCTUnwrap(lines.first { $0.hasPrefix("Storage and dispatch: ") }, sweep.stderr)
        XCTAssertNotNil(storage.firstMatch(of: /^Storage and dispatch: \d+\.\d{3} s of \d+\.\d{2} s of worker time \(\d+\.\d{2}%\)$/), storage)
        let epochs = try XCTUnwrap(lines.compactMap { $0.firstMatch(of: /^Epochs computed: (\d+) of (\d+) \((\d+) reused\)$/) }.first,
                                   sweep.stderr)
        let status = try BinaryRunner.run(["status", db]).stdout
        let trials = try XCTUnwrap(status.firstMatch(of: /done (\d+)/).flatMap { Int($0.1) })
        XCTAssertEqual(Int(epochs.2), trials * 4, "every epoch of every trial walked")
        XCTAssertEqual(Int(epochs.1)! + Int(epochs.3)!, Int(epochs.2)!)
        XCTAssertGreaterThan(Int(epochs.3)!, 0, "this grid shares epochs (t0 4 never restarts in 4 epochs)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("Peak memory (RSS) so far: ") }, sweep.stderr)
        XCTAssertTrue(lines.contains { $0.hasPrefix("Race decisions: ") }, sweep.stderr)

        // --cache-mb 0: nothing shared, the same leaderboard (timings aside).
        let off = dir.appendingPathComponent("off.sqlite").path
        let uncached = try BinaryRunner.run([space, "--db", off, "--cache-mb", "0"])
        XCTAssertEqual(uncached.status, 0, uncached.stderr)
        XCTAssertTrue(uncached.stderrLines.contains("Epochs computed: \(epochs.2) of \(epochs.2) (0 reused)"), uncached.stderr)
        XCTAssertEqual(try BinaryRunner.leaderboardWithoutSeconds(off), try BinaryRunner.leaderboardWithoutSeconds(db))
    }
}
