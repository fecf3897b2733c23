import Foundation
import SpecReference
import XCTest

private func arguments(_ p: SpecCase) -> [String] {
    ["schedule", "--lr-max", "\(p.lrMax)", "--lr-min", "\(p.lrMin)", "--t0", "\(p.t0)", "--tmult", "\(p.tmult)",
     "--lr-max-compression", "\(p.c)", "--trigger-val-acc", "\(p.trigger)", "--epochs", "\(p.epochs)"]
}

final class ScheduleCLITests: XCTestCase {
    /// Runs the command and checks it succeeded quietly; returns its CSV.
    private func csv(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> SimpleCSV {
        let result = try BinaryRunner.run(args)
        XCTAssertEqual(result.status, 0, "stderr: \(result.stderr)", file: file, line: line)
        XCTAssertEqual(result.stderr, "", file: file, line: line)
        return SimpleCSV(result.stdout)
    }

    /// Checks an SGDR CSV against the spec reference, to 1e-9 relative.
    private func check(_ table: SimpleCSV, against want: [SpecEpoch], _ p: SpecCase,
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(table.rows.count, want.count, "\(p)", file: file, line: line)
        XCTAssertEqual(table.ints("epoch"), Array(1...want.count).map { $0 }, file: file, line: line)
        XCTAssertEqual(table.ints("t_cur"), want.map(\.tCur), "\(p)", file: file, line: line)
        XCTAssertEqual(table.ints("t_i"), want.map(\.tI), "\(p)", file: file, line: line)
        XCTAssertEqual(table.column("triggered"), want.map { String($0.triggered) }, "\(p)", file: file, line: line)
        let lrs = table.doubles("lr") ?? []
        let peaks = table.doubles("peak") ?? []
        for (e, w) in want.enumerated() where e < lrs.count && e < peaks.count {
            if !close(lrs[e], w.lr, rel: 1e-9) || !close(peaks[e], w.peak, rel: 1e-9) {
                XCTFail("\(p) epoch \(e + 1): lr \(lrs[e]) peak \(peaks[e]), want \(w.lr) \(w.peak)", file: file, line: line)
                return
            }
        }
    }

    // MARK: - The golden table

    func testGoldenCommandPrintsTheGoldenTable() throws {
        let result = try BinaryRunner.run(["schedule", "--lr-max", "0.1", "--lr-min", "0.00001", "--t0", "5", "--tmult", "2",
                                           "--lr-max-compression", "1", "--epochs", "18"])
        XCTAssertEqual(result.status, 0)
        XCTAssertEqual(result.stderr, "")
        XCTAssertTrue(result.stdout.hasSuffix("\n"))
        let table = SimpleCSV(result.stdout)
        XCTAssertEqual(table.header, ["epoch", "lr", "t_cur", "t_i", "triggered", "peak"])
        XCTAssertEqual(table.rows.count, 18)
        XCTAssertEqual(table.ints("epoch"), goldenTable.map(\.epoch))
        XCTAssertEqual(table.ints("t_cur"), goldenTable.map(\.tCur))
        XCTAssertEqual(table.ints("t_i"), goldenTable.map(\.tI))
        XCTAssertEqual(table.column("triggered"), Array(repeating: "true", count: 18))
        XCTAssertEqual(table.doubles("peak"), Array(repeating: 0.1, count: 18))
        for (lr, golden) in zip(table.doubles("lr") ?? [], goldenTable) {
            XCTAssertEqual(lr, golden.lr, accuracy: 1e-8, "epoch \(golden.epoch)")
        }
        XCTAssertEqual(table.column("lr")?[4], "1e-05", "the last epoch of a cycle is exactly lr_min")
    }

    func testDefaults() throws {
        // --schedule sgdr, --lr-max 0.1, --lr-min lr_max / 100, --t0 10, --tmult 1, c 5.
        let table = try csv(["schedule", "--epochs", "35"])
        let p = SpecCase(lrMax: 0.1, lrMin: 0.001, t0: 10, tmultPercent: 100, c: 5, trigger: 0, epochs: 35)
        check(table, against: specReference(p, valAccs: (1...35).map { Double($0) / 36 }), p)
        XCTAssertNil(table.column("val_acc"))
    }

    // MARK: - Random cases against the spec

    func testRandomCasesWithoutValAccMatchTheSpec() throws {
        var rng = SplitMix64(seed: 0xC11_0001)
        for _ in 0..<30 {
            var p = rng.specCase(maxEpochs: 60)
            let table = try csv(arguments(p))
            // Without --val-acc: trigger reached before epoch 1, every epoch improves.
            p.trigger = 0
            check(table, against: specReference(p, valAccs: (1...p.epochs).map { Double($0) / Double(p.epochs + 1) }), p)
        }
    }

    func testRandomCasesWithValAccMatchTheSpec() throws {
        var rng = SplitMix64(seed: 0xC11_0002)
        for _ in 0..<30 {
            let p = rng.specCase(maxEpochs: 60)
            let accs = rng.valAccs(p.epochs + Int.random(in: 0...3, using: &rng))
            let file = try BinaryRunner.temporaryFile(accs.map { "\($0)" }.joined(separator: "\n") + "\n",
                                                      removedAfter: self)
            let table = try csv(arguments(p) + ["--val-acc", file.path])
            XCTAssertEqual(table.header.last, "val_acc")
            XCTAssertEqual(table.doubles("val_acc"), Array(accs.prefix(p.epochs)))
            check(table, against: specReference(p, valAccs: accs), p)
        }
    }

    func testTriggerWithValAcc() throws {
        let file = try BinaryRunner.temporaryFile("0.5\n0.9\n0.95\n0.96\n", removedAfter: self)
        let table = try csv(["schedule", "--t0", "2", "--trigger-val-acc", "0.85", "--epochs", "4", "--val-acc", file.path])
        XCTAssertEqual(table.column("triggered"), ["false", "false", "true", "true"])
        XCTAssertEqual(table.ints("t_cur"), [0, 0, 1, 2])
        XCTAssertEqual(table.column("lr")?.prefix(2), ["0.1", "0.1"])
        XCTAssertEqual(table.column("lr")?.last, "0.001")
    }

    // MARK: - Baselines

    func testStepCosineConstant() throws {
        let step = try csv(["schedule", "--schedule", "step", "--epochs", "10"])
        XCTAssertEqual(step.header, ["epoch", "lr"])
        let want = [0.1, 0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001, 0.001]
        for (g, w) in zip(step.doubles("lr") ?? [], want) { XCTAssertEqual(g, w, accuracy: 1e-15) }

        let custom = try csv(["schedule", "--schedule", "step", "--step-milestones", "0.25", "--step-factor", "0.5",
                              "--lr-max", "1", "--epochs", "8"])
        XCTAssertEqual(custom.doubles("lr"), [1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5])

        let cosine = try csv(["schedule", "--schedule", "cosine", "--lr-max", "0.2", "--lr-min", "0.002", "--epochs", "7"])
        XCTAssertEqual(cosine.header, ["epoch", "lr"])
        XCTAssertEqual(cosine.doubles("lr")?.last, 0.002)
        XCTAssertEqual(cosine.doubles("lr")?.first ?? 0, 0.002 + 0.198 * (1 + cos(Double.pi / 7)) / 2, accuracy: 1e-15)

        let constant = try csv(["schedule", "--schedule", "constant", "--lr-max", "0.05", "--epochs", "3"])
        XCTAssertEqual(constant.rows, [["1", "0.05"], ["2", "0.05"], ["3", "0.05"]])
    }

    // MARK: - Bad input

    /// Each bad input: exit 64 (invalid input), nothing on stdout, and one line on stderr naming the option.
    func testBadInputsGiveOneLineNamingTheOption() throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("no-such-\(UUID().uuidString).txt").path
        let short = try BinaryRunner.temporaryFile("0.1\n0.2\n", removedAfter: self).path
        let word = try BinaryRunner.temporaryFile("0.1\nabc\n0.3\n0.4\n0.5\n", removedAfter: self).path
        let high = try BinaryRunner.temporaryFile("0.1\n0.2\n1.5\n0.4\n0.5\n", removedAfter: self).path
        let negative = try BinaryRunner.temporaryFile("0.1\n-0.2\n0.3\n0.4\n0.5\n", removedAfter: self).path
        let blank = try BinaryRunner.temporaryFile("0.1\n\n0.3\n0.4\n0.5\n", removedAfter: self).path
        let nan = try BinaryRunner.temporaryFile("0.1\nnan\n0.3\n0.4\n0.5\n", removedAfter: self).path

        let cases: [(args: [String], option: String, mentions: String)] = [
            (["--t0", "0"], "--t0", "an integer in [1, 999999999] (got 0)"),
            (["--t0", "-3"], "--t0", "an integer in [1, 999999999] (got -3)"),
            (["--t0", "2.5"], "--t0", "an integer in [1, 999999999] (got 2.5)"),
            (["--tmult", "0.5"], "--tmult", ">= 1"),
            (["--tmult", "nan"], "--tmult", ">= 1"),
            (["--tmult", "inf"], "--tmult", ">= 1"),
            (["--lr-max", "-0.1"], "--lr-max", "> 0"),
            (["--lr-max", "nan"], "--lr-max", "finite"),
            (["--lr-max", "inf"], "--lr-max", "finite"),
            (["--lr-min", "-0.001"], "--lr-min", ">= 0"),
            (["--lr-min", "inf"], "--lr-min", "finite"),
            (["--lr-min", "nan"], "--lr-min", "finite"),
            (["--lr-max", "0.01", "--lr-min", "0.1"], "--lr-min", "--lr-max"),
            (["--lr-max-compression", "0.5"], "--lr-max-compression", ">= 1"),
            (["--lr-max-compression", "inf"], "--lr-max-compression", "finite"),
            (["--trigger-val-acc", "1.5"], "--trigger-val-acc", "in [0, 1]"),
            (["--step-factor", "0"], "--step-factor", "> 0"),
            (["--step-milestones", "0.5,x"], "--step-milestones", "[0, 1]"),
            (["--val-acc", missing], "--val-acc", "does not exist"),
            (["--val-acc", short], "--val-acc", "at least 5"),
            (["--val-acc", word], "--val-acc", "line 2"),
            (["--val-acc", high], "--val-acc", "line 3"),
            (["--val-acc", negative], "--val-acc", "line 2"),
            (["--val-acc", blank], "--val-acc", "line 2"),
            (["--val-acc", nan], "--val-acc", "line 2"),
        ]
        for c in cases {
            try checkBadInput(["schedule"] + c.args + ["--epochs", "5"], option: c.option, mentions: c.mentions)
        }
        try checkBadInput(["schedule", "--epochs", "0"], option: "--epochs", mentions: ">= 1")
        try checkBadInput(["schedule", "--epochs", "-2"], option: "--epochs", mentions: ">= 1")
    }

    private func checkBadInput(_ args: [String], option: String, mentions: String,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try BinaryRunner.run(args)
        let label = args.joined(separator: " ")
        XCTAssertEqual(result.status, 64, label, file: file, line: line)
        XCTAssertEqual(result.stdout, "", label, file: file, line: line)
        XCTAssertEqual(result.stderrLines.count, 1, "\(label): \(result.stderr)", file: file, line: line)
        let message = result.stderrLines.first ?? ""
        XCTAssertTrue(message.hasPrefix("Error: \(option) "), "\(label): \(message)", file: file, line: line)
        XCTAssertTrue(message.contains(mentions), "\(label): \(message) should mention \(mentions)", file: file, line: line)
        XCTAssertFalse(result.stderr.contains("Fatal error"), label, file: file, line: line)
    }

    func testMalformedArgumentsFailWithoutOutput() throws {
        // ArgumentParser's own errors: exit 64 like every invalid option, nothing on stdout.
        for args in [["schedule"], ["schedule", "--epochs", "abc"], ["schedule", "--schedule", "linear", "--epochs", "3"],
                     ["schedule", "--t0", "1.5", "--epochs", "3"], ["schedule", "--epochs", "3", "--bogus"]] {
            let result = try BinaryRunner.run(args)
            XCTAssertEqual(result.status, 64, "\(args)")
            XCTAssertEqual(result.stdout, "", "\(args)")
            XCTAssertTrue(result.stderr.hasPrefix("Error: "), "\(args): \(result.stderr)")
        }
    }

    func testHugeTmultDoesNotCrash() throws {
        let table = try csv(["schedule", "--t0", "1", "--tmult", "1e300", "--epochs", "4"])
        XCTAssertEqual(table.rows.count, 4)
        XCTAssertEqual(table.ints("t_cur"), [1, 1, 2, 3])
    }

    // MARK: - Help

    func testHelpListsEveryOption() throws {
        let result = try BinaryRunner.run(["schedule", "--help"])
        XCTAssertEqual(result.status, 0)
        for option in ["--schedule", "--lr-max", "--lr-min", "--t0", "--tmult", "--lr-max-compression",
                       "--trigger-val-acc", "--epochs", "--val-acc", "--step-milestones", "--step-factor", "val_acc"] {
            XCTAssertTrue(result.stdout.contains(option), option)
        }
        let root = try BinaryRunner.run(["--help"])
        XCTAssertEqual(root.status, 0)
        XCTAssertTrue(root.stdout.contains("schedule"))
    }
}
