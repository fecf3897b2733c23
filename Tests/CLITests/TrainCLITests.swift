import Foundation
import XCTest

/// `train` through the built binary (found by BinaryRunner, the one way CLI tests find it).
final class TrainCLITests: XCTestCase {
    func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let r = try BinaryRunner.run(arguments)
        return (r.status, r.stdout, r.stderr)
    }

    let small = ["train", "--dataset", "synthetic", "--train-size", "1000", "--val-size", "300", "--hidden", "32"]

    /// Rows of the CSV on stdout, by column name.
    func rows(_ csv: String) -> [[String: Double]] {
        let lines = csv.split(separator: "\n").map(String.init)
        guard let header = lines.first?.split(separator: ",").map(String.init) else { return [] }
        return lines.dropFirst().map { line in
            Dictionary(uniqueKeysWithValues: zip(header, line.split(separator: ",").map { Double($0) ?? .nan }))
        }
    }

    func testTrainPrintsOneRowPerEpochAndASummary() throws {
        let r = try run(small + ["--epochs", "3", "--schedule", "cosine", "--lr-max", "0.05"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("epoch,lr,train_loss,train_acc,val_loss,val_acc,train_seconds\n"))
        let table = rows(r.stdout)
        XCTAssertEqual(table.map { $0["epoch"] }, [1, 2, 3])
        XCTAssertTrue(table.allSatisfy { ($0["train_seconds"] ?? -1) > 0 })
        XCTAssertTrue(r.stderr.contains("best val_acc"))
        XCTAssertTrue(r.stderr.contains("test accuracy"))
    }

    /// With a trigger, every epoch runs at lr_max until one ends at or above the threshold; the
    /// schedule moves from the next epoch on.
    func testTriggerHoldsLrMaxUntilTheThresholdIsCrossed() throws {
        let threshold = 0.9, lrMax = 0.05
        let r = try run(small + ["--epochs", "6", "--lr-max", "\(lrMax)", "--t0", "2",
                                 "--trigger-val-acc", "\(threshold)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let table = rows(r.stdout)
        XCTAssertEqual(table.count, 6)
        guard let crossed = table.firstIndex(where: { ($0["val_acc"] ?? 0) >= threshold }) else {
            return XCTFail("the run never reached val_acc \(threshold): \(r.stdout)")
        }
        XCTAssertGreaterThan(crossed, 0, "crossed in the first epoch: the test shows nothing")
        XCTAssertLessThan(crossed, 5)
        for i in 0...crossed { XCTAssertEqual(table[i]["lr"], lrMax, "epoch \(i + 1)") }
        XCTAssertLessThan(table[crossed + 1]["lr"] ?? lrMax, lrMax)

        let never = try run(small + ["--epochs", "3", "--lr-max", "\(lrMax)", "--trigger-val-acc", "1"])
        XCTAssertEqual(rows(never.stdout).map { $0["lr"] }, [lrMax, lrMax, lrMax])
    }

    func testCNNTrainsFromTheCommandLine() throws {
        let r = try run(["train", "--dataset", "synthetic", "--train-size", "200", "--val-size", "100", "--model", "cnn",
                         "--conv", "8", "--hidden", "", "--batch-size", "16", "--epochs", "2", "--lr-max", "0.1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(rows(r.stdout).map { $0["epoch"] }, [1, 2])
        XCTAssertTrue(r.stderr.contains("test accuracy"), r.stderr)
    }

    func testBadModelOptionsGiveOneLine() throws {
        for (args, message) in [(["--model", "cnn", "--conv", "32,x"], "Error: --conv must be comma-separated positive integers like 32,64 (got \"32,x\")"),
                                (["--model", "cnn", "--conv", ""], "Error: --conv must be comma-separated positive integers like 32,64 (got \"\")"),
                                (["--model", "cnn", "--conv", "8,8,8,8"], "Error: --conv must list 1 to 3 convolution widths (got 4)"),
                                (["--conv", "32,64"], "Error: --conv applies only to --model cnn"),
                                (["--model", "cnn", "--hidden", "0"], "Error: --hidden must be comma-separated positive integers like 256,128, or none (got \"0\")")] {
            for command in ["train", "bench"] {
                let r = try run([command] + args)
                XCTAssertEqual(r.status, 64, "\(command) \(args): \(r.stderr)")
                XCTAssertEqual(r.stderr, message + "\n", "\(command) \(args)")
            }
        }
        let r = try run(["train", "--model", "rnn"])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("mlp") && r.stderr.contains("cnn"), r.stderr)
    }

    func testBadOptionsGiveOneLineAndNonZeroExit() throws {
        // 64: an invalid option; 1: a runtime error (here the data set).
        for (args, fragment, status) in [(["--batch-size", "0"], "--batch-size must be an integer in [1, 1000000] (got 0)", 64),
                                         (["--epochs", "100001"], "--epochs must be an integer in [1, 100000] (got 100001)", 64),
                                         (["--train-size", "55000"], "--train-size + --val-size", 64),
                                         (["--lr-min", "1"], "--lr-min", 64),
                                         (["--dataset", "mnist"], "fashion-mnist", 64),
                                         (["--data-dir", "/nonexistent-dir"], "dataset-fashion-mnist", 1),
                                         (["--dataset", "cifar10"], "Error: --data-dir is needed for cifar10: a folder holding data_batch_1.bin", 64),
                                         (["--dataset", "cifar10", "--data-dir", "/nonexistent-dir", "--val-size", "5000"], "data directory /nonexistent-dir not found: point --data-dir at a folder holding CIFAR-10's", 1)] as [([String], String, Int32)] {
            let r = try run(["train"] + args)
            XCTAssertEqual(r.status, status, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(fragment), "\(args): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("Fatal error"), "\(args)")
        }
    }

    func testDivergedRunExitsNonZero() throws {
        let r = try run(small + ["--epochs", "2", "--schedule", "constant", "--lr-max", "1000000"])
        XCTAssertEqual(r.status, 1, "a diverged train is a runtime error")
        XCTAssertTrue(r.stderr.contains("diverged"), r.stderr)
    }
}
