@testable import App
import Engine
import TrainingTypes
import Foundation
import Schedules
@testable import Sweep
import XCTest

final class CommandsTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("sweep-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func write(_ text: String, _ name: String = "space.json") throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    /// Runs repeat 0 of every trial, then stops the sweep as Ctrl-C does at the first repeat 1.
    struct StopsAtRepeatOne: TrialExecutor {
        let flag: CancellationFlag
        func execute(_ spec: TrialSpec, onEpoch: (EpochMetrics) throws -> Void, isCancelled: () -> Bool) throws -> ExecutionOutcome {
            if spec.repeatIndex >= 1 { flag.cancel(); return .cancelled }
            return try FakeExecutor().execute(spec, onEpoch: onEpoch, isCancelled: isCancelled)
        }
    }

    func testAfterCtrlCWithOneRepeatDoneTheVerdictSaysResumeNotMoreRepeats() throws {
        // A race numbers its trials round-major: repeat 0 of every configuration comes first.
        let path = try write("""
            {"name": "one", "repeats": 3, "parameters": {"t0": {"values": [2, 3]}}, "baselines": ["cosine"],
             "racing": {"first_round": 2}, "training": {"epochs": 3}}
            """)
        let stores = Stores()
        var o = options()
        o.concurrency = 1
        let flag = o.cancellation
        o.makeExecutor = { _ in StopsAtRepeatOne(flag: flag) }
        let (console, output) = Console.capturing()
        XCTAssertEqual(SweepCommands.run(spaceFile: path, db: dir.appendingPathComponent("one.sqlite").path, options: o,
                                         openStore: stores.open, console: console), 130)
        // Issue 22: it said "1 repeat: ...; use repeats >= 3" of a space that has 3.
        XCTAssertTrue(output().out.contains("Difference (SGDR - baseline): only 1 repeat of both has finished (of 3): the difference is not measurable yet; resume the sweep to run the others"), output().out)
        XCTAssertFalse(output().out.contains("use repeats >= 3"), output().out)
    }

    func testInvalidSpaceOpensNoDatabase() throws {
        let stores = Stores()
        let path = try write(#"{"name": "x", "parameters": {"tmult": {"values": [1, 0.5]}}}"#)
        let (console, output) = Console.capturing()
        let code = SweepCommands.run(spaceFile: path, db: nil, options: options(), openStore: stores.open, console: console)
        XCTAssertEqual(code, 64)
        XCTAssertEqual(stores.opened, [])
        XCTAssertEqual(output().err, "Error: \(path): parameters.tmult.values[1]: 0.5 is out of range; tmult must be a finite number >= 1\n")
        let missing = SweepCommands.run(spaceFile: dir.appendingPathComponent("nope.json").path, db: nil, options: options(),
                                        openStore: stores.open, console: console)
        XCTAssertEqual(missing, 64)
        XCTAssertEqual(stores.opened, [])
    }

    func testRunPrintsLeaderboardAndBestThenResumesWithNothingToDo() throws {
        let stores = Stores()
        let db = dir.appendingPathComponent("g.sqlite").path
        let path = try write(gridJSON)
        let (console, output) = Console.capturing()
        XCTAssertEqual(SweepCommands.run(spaceFile: path, db: db, options: options(), openStore: stores.open, console: console), 0)
        let (out, err) = output()
        XCTAssertTrue(out.hasPrefix("rank  configuration  t0  tmult  lr_max_compression  best_val_acc  repeats  status"), out)
        XCTAssertTrue(out.contains("Best SGDR configuration: sgdr-"), out)
        XCTAssertTrue(out.contains("Best baseline: "), out)
        XCTAssertTrue(out.contains("Difference (SGDR - baseline): "), out)
        XCTAssertEqual(err.components(separatedBy: "\n").filter { $0.hasPrefix("[") }.count, 10, err)
        XCTAssertTrue(err.contains("[10/10]"), err)
        // Again: nothing left to run.
        let counter = FakeExecutor.Counter()
        let (c2, o2) = Console.capturing()
        XCTAssertEqual(SweepCommands.run(spaceFile: path, db: db, options: options(FakeExecutor(calls: counter)), openStore: stores.open, console: c2), 0)
        XCTAssertEqual(counter.ids, [])
        XCTAssertTrue(o2().err.contains("(10 already finished)"), o2().err)
        // resume from the database alone, too.
        XCTAssertEqual(SweepCommands.resume(db: db, options: options(FakeExecutor(calls: counter)), openStore: stores.open, console: c2), 0)
        XCTAssertEqual(counter.ids, [])
    }

    func testAChangedSpaceIsRefusedWithWhatChanged() throws {
        let stores = Stores()
        let db = dir.appendingPathComponent("g.sqlite").path
        let (console, output) = Console.capturing()
        XCTAssertEqual(SweepCommands.run(spaceFile: try write(gridJSON), db: db, options: options(), openStore: stores.open, console: console), 0)
        let changed = try write(gridJSON.replacingOccurrences(of: "\"epochs\": 6", with: "\"epochs\": 8"), "changed.json")
        let (c2, o2) = Console.capturing()
        XCTAssertEqual(SweepCommands.run(spaceFile: changed, db: db, options: options(), openStore: stores.open, console: c2), 1)
        let err = o2().err
        XCTAssertTrue(err.hasPrefix("Error: \(db) holds the sweep \"g\" with a different space; changed: training.epochs: 6 -> 8."), err)
        XCTAssertTrue(err.contains("use a new \"name\" or --db PATH"), err)
        _ = output
        // concurrency may change.
        let conc = try write(gridJSON.replacingOccurrences(of: "\"seed\": 7", with: "\"seed\": 7, \"concurrency\": 1"), "conc.json")
        XCTAssertEqual(SweepCommands.run(spaceFile: conc, db: db, options: options(), openStore: stores.open, console: c2), 0)
    }

    func testRandomTrialsMayGrowButNotShrink() throws {
        let stores = Stores()
        let db = dir.appendingPathComponent("r.sqlite").path
        func json(_ n: Int) -> String {
            """
            {"name": "r", "strategy": "random", "trials": \(n), "seed": 5, "baselines": ["constant"],
             "parameters": {"t0": {"min": 1, "max": 6}, "lr_max_compression": {"min": 1, "max": 10, "log": true}},
             "training": {"epochs": 4}}
            """
        }
        let (console, _) = Console.capturing()
        XCTAssertEqual(SweepCommands.run(spaceFile: try write(json(4)), db: db, options: options(), openStore: stores.open, console: console), 0)
        let first = try stores.stores[db]!.trials()
        XCTAssertEqual(first.count, 5)
        let counter = FakeExecutor.Counter()
        XCTAssertEqual(SweepCommands.run(spaceFile: try write(json(7)), db: db, options: options(FakeExecutor(calls: counter)), openStore: stores.open, console: console), 0)
        XCTAssertEqual(Set(counter.ids), ["sgdr-0004.r0", "sgdr-0005.r0", "sgdr-0006.r0"])
        let grown = try stores.stores[db]!.trials()
        XCTAssertEqual(Array(grown.prefix(5)), first, "existing trials untouched")
        XCTAssertEqual(grown.map(\.spec.number), Array(0..<8))
        // The same trials as a fresh sweep with 7 trials.
        let fresh = Stores()
        XCTAssertEqual(SweepCommands.run(spaceFile: try write(json(7)), db: db, options: options(), openStore: fresh.open, console: console), 0)
        XCTAssertEqual(comparable(grown), comparable(try fresh.stores[db]!.trials()))
        // Shrinking is refused.
        let (c2, o2) = Console.capturing()
        XCTAssertEqual(SweepCommands.run(spaceFile: try write(json(3)), db: db, options: options(), openStore: stores.open, console: c2), 1)
        XCTAssertTrue(o2().err.contains("trials: 7 -> 3: a random search can only grow"), o2().err)
    }

    func testLeaderboardCSVColumnsOrderAndBestJSON() throws {
        let stores = Stores()
        let db = dir.appendingPathComponent("g.sqlite").path
        let json = gridJSON.replacingOccurrences(of: "\"seed\": 7", with: "\"seed\": 7, \"repeats\": 2")
        let (console, _) = Console.capturing()
        XCTAssertEqual(SweepCommands.run(spaceFile: try write(json), db: db, options: options(), openStore: stores.open, console: console), 0)
        let csvPath = dir.appendingPathComponent("lb.csv").path
        XCTAssertEqual(SweepCommands.leaderboard(db: db, csv: csvPath, top: nil, openStore: stores.open, console: console), 0)
        let csv = try String(contentsOfFile: csvPath, encoding: .utf8)
        let lines = csv.components(separatedBy: "\r\n")
        XCTAssertEqual(lines.last, "")
        XCTAssertEqual(lines[0], "rank,configuration,schedule,t0,tmult,lr_max_compression,best_val_acc,best_val_acc_std,"
                       + "final_val_acc,best_epoch,repeats,status,diff_vs_baseline,diff_ci95,seconds")
        let rows = lines.dropFirst().dropLast().map { $0.components(separatedBy: ",") }
        XCTAssertEqual(rows.count, 10)
        XCTAssertEqual(rows.map { $0[0] }, (1...10).map(String.init))
        let scores = rows.map { Double($0[6])! }
        XCTAssertEqual(scores, scores.sorted(by: >), "best first")
        XCTAssertTrue(rows.allSatisfy { !$0[7].isEmpty && $0[10] == "2" && $0[11] == "done" })
        let baseline = rows.first { $0[2] == "cosine" }!
        XCTAssertEqual(baseline[1], "cosine")
        XCTAssertEqual(baseline[3...5], ["", "", ""])
        // Values match the trials, at full precision; the configuration id traces a row to its
        // trials. The expected values are computed here from the stored epochs (highest val_acc
        // per trial, mean over the 2 repeats), not by Leaderboard, the code under test.
        let trials = try stores.stores[db]!.trials()
        XCTAssertEqual(trials.count, 20)
        var perRepeat: [String: [Double]] = [:]  // configuration -> best val_acc of repeat 0, 1
        var kinds: [String: ScheduleKind] = [:], t0s: [String: Int] = [:], firstNumber: [String: Int] = [:]
        for t in trials.sorted(by: { $0.spec.repeatIndex < $1.spec.repeatIndex }) {
            perRepeat[t.spec.configuration, default: []].append(t.epochs.map(\.valAcc).max()!)
            kinds[t.spec.configuration] = t.spec.schedule.kind
            t0s[t.spec.configuration] = t.spec.schedule.parameters.t0
            firstNumber[t.spec.configuration] = min(firstNumber[t.spec.configuration] ?? .max, t.spec.number)
        }
        let means = perRepeat.mapValues { ($0[0] + $0[1]) / 2 }
        // Best mean first; equal means (configurations whose schedules agree over 6 epochs) in
        // dispatch order.
        let order = means.keys.sorted { a, b in
            means[a]! != means[b]! ? means[a]! > means[b]! : firstNumber[a]! < firstNumber[b]!
        }
        XCTAssertEqual(rows.map { $0[1] }, order, "best first, by the mean of the repeats")
        for cells in rows { XCTAssertEqual(Double(cells[6])!, means[cells[1]]!, accuracy: 1e-15, cells[1]) }
        // The paired difference to the best baseline, over the 2 repeats, for every other row.
        let bestBaseline = order.first { kinds[$0] != .sgdr }!
        for cells in rows {
            if cells[1] == bestBaseline {
                XCTAssertEqual(cells[12...13], ["", ""], "the best baseline itself")
                continue
            }
            let d = (0..<2).map { r in perRepeat[cells[1]]![r] - perRepeat[bestBaseline]![r] }
            let mean = (d[0] + d[1]) / 2
            XCTAssertEqual(Double(cells[12])!, mean, accuracy: 1e-12, cells[1])
            // Two pairs: the half-width is t(0.975, 1) * |d0 - d1| / 2.
            XCTAssertEqual(Double(cells[13])!, 12.706204736174694 * abs(d[0] - d[1]) / 2, accuracy: 1e-9, cells[1])
        }
        // --top and stdout.
        let (c2, o2) = Console.capturing()
        XCTAssertEqual(SweepCommands.leaderboard(db: db, csv: "-", top: 3, openStore: stores.open, console: c2), 0)
        XCTAssertEqual(o2().out.components(separatedBy: "\r\n").count, 5)
        // best --json
        let (c3, o3) = Console.capturing()
        XCTAssertEqual(SweepCommands.best(db: db, json: true, openStore: stores.open, console: c3), 0)
        let object = try JSONSerialization.jsonObject(with: Data(o3().out.utf8)) as! [String: Any]
        let best = object["best"] as! [String: Any]
        let bestSGDR = order.first { kinds[$0] == .sgdr }!
        XCTAssertEqual(best["configuration"] as? String, bestSGDR)
        XCTAssertEqual(best["t0"] as? Double, Double(t0s[bestSGDR]!))
        XCTAssertEqual(best["score"] as? Double ?? .nan, means[bestSGDR]!, accuracy: 1e-15)
        XCTAssertEqual(best["lr_min"] as? Double, 0.001)
        XCTAssertEqual((object["best_baseline"] as? [String: Any])?["configuration"] as? String, bestBaseline)
        // The paired difference over the 2 repeats both finished.
        let d = (0..<2).map { perRepeat[bestSGDR]![$0] - perRepeat[bestBaseline]![$0] }
        let difference = try XCTUnwrap(object["difference"] as? Double)
        XCTAssertEqual(difference, (d[0] + d[1]) / 2, accuracy: 1e-12)
        XCTAssertEqual(difference, means[bestSGDR]! - means[bestBaseline]!, accuracy: 1e-12, "equal means, paired or not")
        let se = try XCTUnwrap(object["difference_standard_error"] as? Double)
        XCTAssertEqual(se, abs(d[0] - d[1]) / 2, accuracy: 1e-12, "sd of two differences / sqrt(2)")
        let interval = try XCTUnwrap(object["difference_ci95"] as? [Double])
        XCTAssertEqual(interval[0], difference - 12.706204736174694 * se, accuracy: 1e-9)
        XCTAssertEqual(interval[1], difference + 12.706204736174694 * se, accuracy: 1e-9)
        XCTAssertEqual(object["difference_pairs"] as? Double, 2)
        XCTAssertNil(object["difference_note"])
        let args = object["train_args"] as! [String]
        XCTAssertEqual(Array(args.prefix(4)), ["--schedule", "sgdr", "--lr-max", "0.1"])
        XCTAssertTrue(args.contains("--trigger-val-acc"))
        // status
        let (c4, o4) = Console.capturing()
        XCTAssertEqual(SweepCommands.status(db: db, openStore: stores.open, console: c4), 0)
        XCTAssertTrue(o4().out.contains("done 20"), o4().out)
        XCTAssertTrue(o4().out.contains("nothing left to run"), o4().out)
        // A missing database.
        let (c5, o5) = Console.capturing()
        XCTAssertEqual(SweepCommands.leaderboard(db: "/nonexistent.sqlite", csv: nil, top: nil, openStore: stores.open, console: c5), 1)
        XCTAssertTrue(o5().err.hasPrefix("Error: /nonexistent.sqlite: no such sweep database"), o5().err)
    }

    func testCSVEscapingAndRanking() {
        XCTAssertEqual(LeaderboardFormat.csvField("plain"), "plain")
        XCTAssertEqual(LeaderboardFormat.csvField("a,b"), "\"a,b\"")
        XCTAssertEqual(LeaderboardFormat.csvField("say \"hi\""), "\"say \"\"hi\"\"\"")
        XCTAssertEqual(LeaderboardFormat.csvField("two\nlines"), "\"two\nlines\"")
        XCTAssertEqual(LeaderboardFormat.header(swept: ["tmult"]),
                       ["rank", "configuration", "schedule", "tmult", "best_val_acc", "best_val_acc_std", "final_val_acc",
                        "best_epoch", "repeats", "status", "diff_vs_baseline", "diff_ci95", "seconds"])
    }

    /// A trial running on another host cannot be checked from here: status says so instead of
    /// calling its process live; a live process of this host is listed as live; a dead one is not.
    func testStatusTellsRunningTrialsOfThisHostFromOtherHosts() throws {
        let s = try space(gridJSON)
        let store = MemoryTrialStore()
        let info = try store.create(SweepInfo(name: "g", spaceJSON: s.source, spaceHash: s.canonicalHash, createdAt: 100))
        try store.addTrials(s.trialSpecs())
        let here = try store.claim(owner: "hostA:11:1", isAbandoned: { _ in false })!
        let there = try store.claim(owner: "hostB:22:2", isAbandoned: { _ in false })!
        let dead = try store.claim(owner: "hostA:33:3", isAbandoned: { _ in false })!
        let text = try SweepCommands.statusText(space: s, info: info, trials: try store.trials(), path: "db", now: 160,
                                            isAbandoned: { $0 == "hostA:33:3" }, localHost: "hostA")
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.filter { $0.contains("running in live processes") }, ["  running in live processes: \(here.id) (hostA:11:1)"], text)
        let remote = lines.filter { $0.contains("running on other hosts") }
        XCTAssertEqual(remote.count, 1, text)
        XCTAssertTrue(remote.first?.hasSuffix(": \(there.id) (hostB:22:2)") ?? false, text)
        XCTAssertFalse(text.contains(dead.id + " (hostA:33:3)"), text)
    }

    func testStatusCountsAndWhatIsLeft() throws {
        let s = try space(gridJSON)
        let store = MemoryTrialStore()
        let info = try store.create(SweepInfo(name: "g", spaceJSON: s.source, spaceHash: s.canonicalHash, createdAt: 100))
        try store.addTrials(s.trialSpecs())
        let a = try store.claim(owner: "o", isAbandoned: { _ in false })!
        try store.finish(trial: a.id, owner: "o", TrialFinish(status: .failed, seconds: 2, error: "oops"))
        _ = try store.claim(owner: "o", isAbandoned: { _ in false })!
        let text = try SweepCommands.statusText(space: s, info: info, trials: try store.trials(), path: "db", now: 160, isAbandoned: { _ in false })
        XCTAssertTrue(text.contains("pending 8, running 1, done 0, diverged 0, failed 1, interrupted 0"), text)
        XCTAssertTrue(text.contains("  created 1970-01-01 00:01:40 UTC; running now, 1 min 00 s after its creation; training time"), text)
        XCTAssertTrue(text.contains("still to run: 9 trials"), text)
        XCTAssertTrue(text.contains("failed step.r0: oops"), text)
    }
}
