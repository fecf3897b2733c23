import TrainingTypes
import XCTest

/// The training-option table: its rows against values written out by hand from the README's
/// key table and `best`'s documented rerun command.
final class TrainingOptionTableTests: XCTestCase {
    func testEveryOptionRoundTripsThroughItsRowAndItsDefaultIsAllowed() {
        var cnn = TrainingSettings()
        cnn.training.model = .cnn
        cnn.training.conv = [8, 16]
        cnn.data.dataDir = "/data"
        for s in [TrainingSettings(), cnn] {
            for option in TrainingOption.allCases {
                var copy = TrainingSettings(threads: 7)
                copy.training.model = s.training.model
                option.set(option.value(in: s), in: &copy)
                XCTAssertEqual(option.value(in: copy), option.value(in: s), option.name)
                XCTAssertTrue(allows(option.rule, option.value(in: s)), "\(option.name)'s default breaks its own rule")
            }
        }
    }

    func testNamesAndOptions() {
        XCTAssertEqual(TrainingOption.allCases.map(\.name), [
            "dataset", "data_dir", "train_size", "val_size", "epochs", "batch_size", "model", "conv", "hidden",
            "optimizer", "momentum", "nesterov", "weight_decay", "threads",
        ])
        XCTAssertEqual(TrainingOption.weightDecay.option, "--weight-decay")
        XCTAssertEqual(TrainingOption.dataDir.option, "--data-dir")
    }

    func testDefaultsThatFollowTheModelAndTheDataSet() {
        var s = TrainingSettings()
        s.training.model = .cnn
        s.data.dataset = .cifar10
        s.data.valSize = 5000
        TrainingOption.applyDependentDefaults(to: &s, given: [])
        XCTAssertEqual(s.training.hidden, [128])
        XCTAssertEqual(s.data.trainSize, 45000)  // CIFAR-10's 50,000 training images minus 5,000
        var given = TrainingSettings()
        given.training.hidden = [3]
        TrainingOption.applyDependentDefaults(to: &given, given: [.hidden])
        XCTAssertEqual(given.training.hidden, [3])
        XCTAssertEqual(given.data.trainSize, 50000)
    }

    func testCanonicalLinesOfAnMLPLeaveOutModelAndConv() {
        let lines = TrainingOption.allCases.compactMap { o in TrainingSettings().canonicalLine(o) }
        XCTAssertEqual(lines, [
            "dataset = fashion-mnist", "data_dir = -", "train_size = 50000", "val_size = 10000", "epochs = 10",
            "batch_size = 128", "hidden = [256, 128]", "optimizer = sgd", "momentum = 0.9", "nesterov = false",
            "weight_decay = 0.0005", "threads = 1",
        ])
    }

    func testRerunArgumentsOfACNN() {
        var s = TrainingSettings(threads: 2)
        s.training.model = .cnn
        s.training.conv = [32, 64]
        s.training.hidden = []
        s.training.nesterov = true
        s.data.dataDir = "/d"
        XCTAssertEqual(TrainingOption.argumentOrder.flatMap { $0.arguments(s) }, [
            "--epochs", "10", "--dataset", "fashion-mnist", "--data-dir", "/d", "--train-size", "50000",
            "--val-size", "10000", "--model", "cnn", "--conv", "32,64", "--hidden", "none", "--batch-size", "128",
            "--optimizer", "sgd", "--momentum", "0.9", "--nesterov", "--weight-decay", "0.0005",
        ])
        XCTAssertEqual(TrainingOption.threads.arguments(s), ["--threads", "2"])
        // An MLP's rerun names neither its model nor conv widths.
        XCTAssertEqual(TrainingOption.model.arguments(TrainingSettings()), [])
        XCTAssertEqual(TrainingOption.conv.arguments(TrainingSettings()), [])
    }

    func testConvAppliesOnlyToACNN() {
        var s = TrainingSettings()
        XCTAssertFalse(TrainingOption.conv.applies(to: s))
        XCTAssertEqual(TrainingOption.conv.notApplying(to: s), #"applies only to "model": "cnn" (the model is "mlp")"#)
        s.training.model = .cnn
        XCTAssertTrue(TrainingOption.conv.applies(to: s))
    }

    private func allows(_ rule: TrainingOption.Rule, _ v: OptionValue) -> Bool {
        switch (rule, v) {
        case (.choice(let names), .text(let x)): names.contains(x)
        case (.path, .text), (.path, .absent): true
        case (.integer(let r), .integer(let n)): r.contains(n)
        case (.number(let lo, let below), .number(let x)): x >= lo && (below.map { x < $0 } ?? true)
        case (.flag, .flag): true
        case (.widths(let count, let each), .widths(let w)): count.contains(w.count) && w.allSatisfy(each.contains)
        default: false
        }
    }
}

private extension TrainingSettings {
    func canonicalLine(_ o: TrainingOption) -> String? { o.canonicalText(self).map { "\(o.name) = \($0)" } }
}
