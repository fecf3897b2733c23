@testable import App
import Engine
import TrainingTypes
import Foundation
import Schedules
@testable import Sweep
import XCTest

final class SpaceValidationTests: XCTestCase {
    func testTheIssueExampleIsValid() throws {
        let s = try space("""
            { "name": "fashion-quick", "strategy": "grid", "seed": 1, "repeats": 1, "concurrency": 2, "objective": "best_val_acc",
              "parameters": { "t0": {"values": [5, 10]}, "tmult": {"values": [1, 2]}, "lr_max_compression": {"values": [1, 5, 10]}, "trigger_val_acc": {"values": [0.0, 0.8]} },
              "fixed": {"lr_max": 0.1, "lr_min": 0.0001},
              "baselines": ["step", "cosine"],
              "training": { "dataset": "fashion-mnist", "train_size": 10000, "val_size": 5000, "epochs": 10, "batch_size": 128, "hidden": [256, 128], "optimizer": "sgd", "momentum": 0.9, "nesterov": false, "weight_decay": 0.0005 } }
            """)
        XCTAssertEqual(s.sweptNames, ["t0", "tmult", "lr_max_compression", "trigger_val_acc"])
        XCTAssertEqual(s.configurationCount, 2 * 2 * 3 * 2 + 2)
        XCTAssertEqual(s.data.trainSize, 10000)
        XCTAssertEqual(s.data.valSize, 5000)
        XCTAssertEqual(s.training.epochs, 10)
        XCTAssertEqual(s.training.hidden, [256, 128])
        XCTAssertEqual(s.training.weightDecay, 0.0005)
        XCTAssertEqual(s.concurrency, 2)
        XCTAssertEqual(s.baselines, [.step, .cosine])
    }

    func testModelChoice() throws {
        let base = #"{"name": "x", "parameters": {"t0": {"values": [1]}}, "training": "#
        let cnn = try space(base + #"{"model": "cnn"}}"#)
        XCTAssertEqual(cnn.training.model, .cnn)
        XCTAssertEqual(cnn.training.conv, [32, 64])
        XCTAssertEqual(cnn.training.hidden, [128], "a CNN's default fully connected part")
        let wide = try space(base + #"{"model": "cnn", "conv": [16, 32, 64], "hidden": [], "epochs": 3}}"#)
        XCTAssertEqual(wide.training.conv, [16, 32, 64])
        XCTAssertEqual(wide.training.hidden, [])
        let mlp = try space(base + #"{"model": "mlp"}}"#)
        XCTAssertEqual(mlp.training.model, .mlp)
        XCTAssertEqual(mlp.training.hidden, [256, 128])
        // An MLP's canonical form (and hash) is what it was before models existed; a CNN's names it.
        XCTAssertEqual(mlp.canonicalHash, try space(base + "{}}").canonicalHash)
        XCTAssertFalse(mlp.canonicalEntries().contains { $0.path == "training.model" || $0.path == "training.conv" })
        XCTAssertTrue(cnn.canonicalEntries().contains(CanonicalEntry(path: "training.conv", value: "[32, 64]")))
        XCTAssertNotEqual(cnn.canonicalHash, try space(base + #"{"model": "cnn", "conv": [32, 48]}}"#).canonicalHash)
        XCTAssertTrue(wide.changes(from: cnn).contains("training.conv: [32, 64] -> [16, 32, 64]"), "\(wide.changes(from: cnn))")

        // CIFAR-10: training images default to all of its 50,000 but the validation ones.
        let cifar = try space(base + #"{"dataset": "cifar10", "data_dir": "/data/cifar", "val_size": 5000, "model": "cnn"}}"#)
        XCTAssertEqual(cifar.data.trainSize, 45000)
        XCTAssertEqual(try space(base + #"{"val_size": 5000}}"#).data.trainSize, 50000, "Fashion-MNIST's default is unchanged")
        assertError(base + #"{"dataset": "cifar10"}}"#, path: "training", contains: ["data_dir is needed for cifar10"])
        assertError(base + #"{"model": "resnet"}}"#, path: "training.model", contains: ["\"resnet\"", "mlp", "cnn"])
        assertError(base + #"{"conv": [32, 64]}}"#, path: "training.conv",
                    contains: ["applies only to \"model\": \"cnn\"", "the model is \"mlp\""])
        assertError(base + #"{"model": "cnn", "conv": []}}"#, path: "training.conv", contains: ["has 0 widths", "1 to 3 convolution widths"])
        assertError(base + #"{"model": "cnn", "conv": [8, 8, 8, 8]}}"#, path: "training.conv", contains: ["has 4 widths"])
        assertError(base + #"{"model": "cnn", "conv": [32, 0]}}"#, path: "training.conv[1]", contains: ["0 is out of range", "[1, 4096]"])
        assertError(base + #"{"model": "cnn", "conv": [32, 2.5]}}"#, path: "training.conv[1]", contains: ["expected an integer, got 2.5"])
        assertError(base + #"{"model": "cnn", "conv": 32}}"#, path: "training.conv", contains: ["expected a list"])
        assertError(base + #"{"modle": "cnn"}}"#, path: "training.modle", contains: ["did you mean \"model\"?"])
    }

    func testUnknownKeysSuggestTheClosest() {
        assertError(#"{"name": "x", "parameters": {"tmul": {"values": [1]}}}"#,
                    path: "parameters.tmul", contains: ["did you mean \"tmult\"?", "t0, tmult"])
        assertError(#"{"name": "x", "stratgy": "grid", "parameters": {"t0": {"values": [1]}}}"#,
                    path: "stratgy", contains: ["did you mean \"strategy\"?"])
        assertError(#"{"name": "x", "parameters": {"t0": {"values": [1]}}, "training": {"epoch": 3}}"#,
                    path: "training.epoch", contains: ["did you mean \"epochs\"?"])
        assertError(#"{"name": "x", "parameters": {"t0": {"value": [1]}}}"#,
                    path: "parameters.t0.value", contains: ["did you mean \"values\"?"])
        assertError(#"{"name": "x", "parameters": {"t0": {"values": [1]}}, "zzzzzzzz": 1}"#,
                    path: "zzzzzzzz", contains: ["unknown key", "allowed keys: name"])
        XCTAssertFalse(spaceError(#"{"name": "x", "parameters": {"t0": {"values": [1]}}, "zzzzzzzz": 1}"#)!.description.contains("did you mean"))
    }

    func testWrongTypes() {
        assertError(#"{"name": "x", "parameters": {"t0": {"values": [1]}}, "training": {"epochs": "ten"}}"#,
                    path: "training.epochs", contains: ["expected a number", "\"ten\"", "epochs must be an integer"])
        assertError(#"{"name": "x", "parameters": {"t0": {"values": [1, "2"]}}}"#,
                    path: "parameters.t0.values[1]", contains: ["expected a number", "t0 must be an integer in [1, 999999999]"])
        assertError(#"{"name": 3, "parameters": {"t0": {"values": [1]}}}"#, path: "name", contains: ["expected a string"])
        assertError(#"{"name": "x", "parameters": {"t0": {"values": 1}}}"#, path: "parameters.t0.values", contains: ["expected a list"])
        assertError(#"{"name": "x", "parameters": {"t0": {"values": [1]}}, "training": {"nesterov": 1}}"#,
                    path: "training.nesterov", contains: ["expected true or false"])
        assertError(#"{"name": "x", "parameters": {"t0": {"values": [1]}}, "repeats": 1.5}"#,
                    path: "repeats", contains: ["expected an integer"])
        assertError(#"{"name": "x", "parameters": {"t0": {"values": [1]}}, "objective": "best_acc"}"#,
                    path: "objective", contains: ["did you mean \"best_val_acc\"?"])
        assertError(#"[1, 2]"#, path: "", contains: ["expected an object"])
    }

    func testEmptyValuesAndRanges() {
        assertError(#"{"name": "x", "parameters": {"t0": {"values": []}}}"#,
                    path: "parameters.t0.values", contains: ["the list is empty", "at least one value"])
        assertError(#"{"name": "x", "strategy": "random", "trials": 4, "parameters": {"lr_max": {"min": 0.5, "max": 0.1}}}"#,
                    path: "parameters.lr_max.min", contains: ["0.5 is greater than max (0.1)", "min must be <= max"])
        assertError(#"{"name": "x", "parameters": {}}"#, path: "parameters", contains: ["at least one"])
    }

    func testAnIntegerRangePast2To53IsRefusedNotATrap() throws {
        // It used to pass validation and trap in the draw (Int(1e300)).
        assertError(#"{"name": "x", "strategy": "random", "trials": 4, "parameters": {"tmult": {"min": 1, "max": 1e300, "int": true}}}"#,
                    path: "parameters.tmult.max", contains: ["1e300 is out of range for an integer range", "[-2^53, 2^53] (9007199254740992)"])
        let ok = try SearchSpace.parse(data: Data(#"{"name": "x", "strategy": "random", "trials": 4, "parameters": {"tmult": {"min": 1, "max": 9007199254740992, "int": true}}}"#.utf8), file: "test.json")
        for c in ok.expandConfigurations() {
            let v = try XCTUnwrap(c.swept["tmult"])
            XCTAssertTrue(v >= 1 && v <= 9007199254740992 && v == v.rounded())
        }
        // Without int, a huge continuous range is fine.
        XCTAssertNoThrow(try SearchSpace.parse(data: Data(#"{"name": "x", "strategy": "random", "trials": 4, "parameters": {"tmult": {"min": 1, "max": 1e300}}}"#.utf8), file: "test.json"))
    }

    func testOutOfRangeValues() {
        assertError(#"{"name": "x", "parameters": {"tmult": {"values": [1, 0.5]}}}"#,
                    path: "parameters.tmult.values[1]", contains: ["0.5 is out of range; tmult must be a finite number >= 1"])
        assertError(#"{"name": "x", "parameters": {"t0": {"values": [0]}}}"#,
                    path: "parameters.t0.values[0]", contains: ["0 is out of range", "integer in [1, 999999999]"])
        assertError(#"{"name": "x", "parameters": {"t0": {"values": [2.5]}}}"#,
                    path: "parameters.t0.values[0]", contains: ["2.5 is not an integer"])
        assertError(#"{"name": "x", "parameters": {"lr_max": {"values": [0.1, -0.1]}}}"#,
                    path: "parameters.lr_max.values[1]", contains: ["-0.1 is out of range; lr_max must be a finite number > 0"])
        assertError(#"{"name": "x", "parameters": {"trigger_val_acc": {"values": [1.2]}}}"#,
                    path: "parameters.trigger_val_acc.values[0]", contains: ["1.2 is out of range", "[0, 1]"])
        // lr_min 0 is allowed, as on the command line (one rule for both).
        assertError(#"{"name": "x", "parameters": {"t0": {"values": [1]}}, "fixed": {"lr_min": -0.001}}"#,
                    path: "fixed.lr_min", contains: ["lr_min must be a finite number >= 0, no larger than lr_max"])
        XCTAssertNil(spaceError(#"{"name": "x", "parameters": {"t0": {"values": [1]}}, "fixed": {"lr_min": 0}}"#))
        assertError(#"{"name": "x", "parameters": {"t0": {"values": [1]}}, "fixed": {"lr_min": 0.5}}"#,
                    path: "fixed.lr_min", contains: ["above lr_max 0.1", "lr_min must be <= lr_max"])
        assertError(#"{"name": "x", "parameters": {"lr_max": {"values": [0.1, 0.01]}, "lr_min": {"values": [0.001, 0.05]}}}"#,
                    path: "parameters.lr_min", contains: ["0.05", "above lr_max 0.01"])
        assertError(#"{"name": "x", "parameters": {"t0": {"values": [1]}}, "training": {"momentum": 1}}"#,
                    path: "training.momentum", contains: ["[0, 1)"])
        assertError(#"{"name": "bad name", "parameters": {"t0": {"values": [1]}}}"#, path: "name", contains: ["letters, digits"])
        assertError(#"{"name": "x", "parameters": {"t0": {"values": [1]}}, "training": {"train_size": 55000}}"#,
                    path: "training", contains: ["train_size + val_size must be <= 60000", "55000 + 10000"])
    }

    /// Every range message states the real limit, for a value past it.
    func testRangeMessagesStateTheRealLimit() {
        let base = #""name": "x", "parameters": {"t0": {"values": [1]}}"#
        assertError(#"{"name": "x", "parameters": {"t0": {"values": [1e12]}}}"#,
                    path: "parameters.t0.values[0]", contains: ["1e12 is out of range; t0 must be an integer in [1, 999999999]"])
        for (key, value, limit) in [("train_size", "1e12", "[1, 59999]"), ("val_size", "60000", "[1, 59999]"),
                                    ("epochs", "100001", "[1, 100000]"), ("batch_size", "2000000", "[1, 1000000]"),
                                    ("threads", "257", "[1, 256]")] {
            assertError("{\(base), \"training\": {\"\(key)\": \(value)}}", path: "training.\(key)",
                        contains: ["\(value) is out of range", "\(key)", limit])
        }
        assertError("{\(base), \"training\": {\"hidden\": [256, 70000]}}", path: "training.hidden[1]",
                    contains: ["70000 is out of range", "[1, 65536]"])
        assertError("{\(base), \"repeats\": 1001}", path: "repeats", contains: ["[1, 1000]"])
        assertError("{\(base), \"concurrency\": 0}", path: "concurrency", contains: ["[1, 256]"])
        assertError(#"{"name": "x", "strategy": "random", "trials": 1000001, "parameters": {"t0": {"min": 1, "max": 9}}}"#,
                    path: "trials", contains: ["[1, 1000000]"])
    }

    /// `"hidden": []` (no hidden layer) is accepted, and the rerun command says it as
    /// `--hidden none`, which survives a shell's word splitting (an empty argument would not).
    func testAnEmptyHiddenListRerunsAsHiddenNone() throws {
        let s = try space(#"{"name": "x", "parameters": {"t0": {"values": [1]}}, "training": {"hidden": []}}"#)
        XCTAssertEqual(s.training.hidden, [])
        let summary = BestSummary(rows: [], space: s)
        XCTAssertEqual(summary.trainArguments, [], "no best configuration, no arguments")
        var record = TrialRecord(spec: s.trialSpecs()[0], status: .done,
                                 summary: EpochSummary(bestValAcc: 0.5, bestEpoch: 1, finalValAcc: 0.5))
        record.seconds = 1
        let args = BestSummary(rows: Leaderboard.rows([record], objective: .bestValAcc), space: s).trainArguments
        let i = try XCTUnwrap(args.firstIndex(of: "--hidden"))
        XCTAssertEqual(args[i + 1], "none")
        XCTAssertFalse(args.contains(""), "no empty argument: \(args)")
    }

    /// One rule for every integer of a space file, the seed included: a whole number in any JSON
    /// spelling; a fraction is refused with "expected an integer".
    func testIntegersAreWholeNumbersInAnySpelling() throws {
        let s = try space(#"{"name": "x", "seed": 7.0, "repeats": 2.0, "parameters": {"t0": {"values": [1.0, 2e1]}}, "training": {"epochs": 3.0}}"#)
        XCTAssertEqual(s.seed, 7)
        XCTAssertEqual(s.repeats, 2)
        XCTAssertEqual(s.training.epochs, 3)
        XCTAssertEqual(s.expandConfigurations().map(\.schedule.parameters.t0), [1, 20])
        XCTAssertEqual(try space(#"{"name": "x", "seed": 1e3, "parameters": {"t0": {"values": [1]}}}"#).seed, 1000)
        XCTAssertEqual(try space(#"{"name": "x", "seed": 18446744073709551615, "parameters": {"t0": {"values": [1]}}}"#).seed, UInt64.max)
        for (key, value) in [("seed", "1.5"), ("repeats", "1.5")] {
            assertError("{\"name\": \"x\", \"\(key)\": \(value), \"parameters\": {\"t0\": {\"values\": [1]}}}",
                        path: key, contains: ["expected an integer, got 1.5"])
        }
        assertError(#"{"name": "x", "parameters": {"t0": {"values": [1.5]}}}"#, path: "parameters.t0.values[0]",
                    contains: ["1.5 is not an integer"])
        assertError(#"{"name": "x", "seed": -1, "parameters": {"t0": {"values": [1]}}}"#, path: "seed", contains: ["out of range"])
        assertError(#"{"name": "x", "seed": 1e300, "parameters": {"t0": {"values": [1]}}}"#, path: "seed", contains: ["out of range"])
    }

    /// The cap on trials counts configurations x repeats (baselines included), not configurations.
    func testTheTrialCapAppliesToConfigurationsTimesRepeats() throws {
        let values = (1...2000).map(String.init).joined(separator: ", ")
        assertError("{\"name\": \"x\", \"repeats\": 1000, \"parameters\": {\"t0\": {\"values\": [\(values)]}}}",
                    path: "repeats", contains: ["2000 configurations x 1000 repeats = 2000000 trials", "at most 1000000 trials"])
        assertError(#"{"name": "x", "strategy": "random", "trials": 1000000, "baselines": ["step"], "parameters": {"t0": {"min": 1, "max": 9}}}"#,
                    path: "trials", contains: ["1000001 configurations x 1 repeat = 1000001 trials"])
        let atTheCap = try space("{\"name\": \"x\", \"repeats\": 500, \"parameters\": {\"t0\": {\"values\": [\(values)]}}}")
        XCTAssertEqual(atTheCap.trialCount, 1_000_000)
        // A grid far past the cap (64^5 configurations) is refused before anything is expanded.
        let big = (1...64).map(String.init).joined(separator: ", ")
        let lists = ["t0", "tmult", "lr_max_compression", "lr_max", "trigger_val_acc"].map { p -> String in
            let vs = p == "trigger_val_acc" ? (0..<64).map { "\(Double($0) / 64)" }.joined(separator: ", ")
                : p == "lr_max" ? (1...64).map { "\(Double($0) / 10)" }.joined(separator: ", ") : big
            return "\"\(p)\": {\"values\": [\(vs)]}"
        }.joined(separator: ", ")
        assertError("{\"name\": \"x\", \"parameters\": {\(lists)}}", path: "parameters", contains: ["at most 1000000"])
    }

    /// A long values list is checked for duplicates in one pass: a million values parse, and a
    /// duplicate at the very end is found at its index.
    func testAMillionValuesParseAndTheirDuplicateIsFound() throws {
        let values = (1...1_000_000).map(String.init).joined(separator: ",")
        let s = try space("{\"name\": \"x\", \"parameters\": {\"t0\": {\"values\": [\(values)]}}}")
        XCTAssertEqual(s.trialCount, 1_000_000)
        XCTAssertEqual(s.trialSpecs(999_999..<1_000_000).map(\.schedule.parameters.t0), [1_000_000])
        assertError("{\"name\": \"x\", \"parameters\": {\"t0\": {\"values\": [\(values),17.0]}}}",
                    path: "parameters.t0.values[1000000]", contains: ["17.0 is listed twice"])
        assertError(#"{"name": "x", "parameters": {"trigger_val_acc": {"values": [0.0, 0.5, -0.0]}}}"#,
                    path: "parameters.trigger_val_acc.values[2]", contains: ["listed twice"])
    }

    func testStrategyRules() {
        assertError(#"{"name": "x", "parameters": {"t0": {"min": 1, "max": 5}}}"#,
                    path: "parameters.t0", contains: ["only allowed with \"strategy\": \"random\""])
        assertError(#"{"name": "x", "strategy": "random", "parameters": {"t0": {"min": 1, "max": 5}}}"#,
                    path: "trials", contains: ["missing", "needs \"trials\""])
        assertError(#"{"name": "x", "trials": 3, "parameters": {"t0": {"values": [1]}}}"#,
                    path: "trials", contains: ["only allowed with \"strategy\": \"random\""])
        assertError(#"{"name": "x", "strategy": "list", "parameters": {"t0": {"values": [1]}}, "configurations": [{"t0": 1}]}"#,
                    path: "parameters", contains: ["not allowed with \"strategy\": \"list\""])
        assertError(#"{"name": "x", "strategy": "list", "configurations": [{"t0": 1}, {"tmul": 2}]}"#,
                    path: "configurations[1].tmul", contains: ["did you mean \"tmult\"?"])
        assertError(#"{"name": "x", "strategy": "random", "trials": 2, "parameters": {"lr_max_compression": {"min": 0, "max": 5, "log": true}}}"#,
                    path: "parameters.lr_max_compression.min", contains: ["log scale"])
        assertError(#"{"name": "x", "strategy": "random", "trials": 2, "parameters": {"lr_max_compression": {"min": -1, "max": 5}}}"#,
                    path: "parameters.lr_max_compression", contains: ["includes values in (0, 1)"])
        XCTAssertNil(spaceError(#"{"name": "x", "strategy": "random", "trials": 2, "parameters": {"lr_max_compression": {"min": -1, "max": 5, "int": true}}}"#))
        assertError(#"{"name": "x", "parameters": {"t0": {"values": [1]}}, "fixed": {"t0": 3}}"#,
                    path: "fixed.t0", contains: ["also swept"])
        assertError(#"{"name": "x", "parameters": {"t0": {"values": [1]}}, "baselines": ["step", "sgdr"]}"#,
                    path: "baselines[1]", contains: ["\"step\", \"cosine\", \"constant\""])
        assertError(#"{"strategy": "grid", "parameters": {"t0": {"values": [1]}}}"#, path: "name", contains: ["missing"])
    }

    func testMalformedJSONGivesLineAndColumn() {
        let e = spaceError("{\n  \"name\": \"x\",\n  \"parameters\": {\"t0\": {\"values\": [1 2]}}\n}")!
        XCTAssertEqual(e.line, 3)
        XCTAssertEqual(e.column, 38)  // the "2"
        XCTAssertTrue(e.description.hasPrefix("test.json: line 3, column 38: "), e.description)
        XCTAssertTrue(e.description.contains("expected ',' or ']'"), e.description)
        let dup = spaceError("{\"name\": \"x\",\n \"name\": \"y\"}")!
        XCTAssertEqual(dup.line, 2)
        XCTAssertEqual(dup.column, 2)
        XCTAssertTrue(dup.description.contains("duplicate key \"name\""))
        let eof = spaceError("{\"name\": ")!
        XCTAssertTrue(eof.description.contains("end of file"), eof.description)
        XCTAssertNotNil(spaceError("{\"name\": \"x\", }"))
        XCTAssertNotNil(spaceError("{\"name\": 01}"))
    }

    func testJSONReaderValues() throws {
        let v = try JSONReader.parse(Array(#"{"a": [1, -2.5e1, true, null, "\u00e9\n"], "b": {}}"#.utf8))
        guard case .object(let ms) = v.kind else { return XCTFail() }
        XCTAssertEqual(ms.map(\.key), ["a", "b"])
        guard case .array(let items) = ms[0].value.kind else { return XCTFail() }
        XCTAssertEqual(items.map(\.kind), [.number(1, text: "1"), .number(-25, text: "-2.5e1"), .bool(true), .null, .string("é\n")])
    }

    func testDefaults() throws {
        let s = try space(#"{"name": "x", "parameters": {"t0": {"values": [3]}}}"#)
        XCTAssertEqual(s.strategy, .grid)
        XCTAssertEqual(s.seed, 0)
        XCTAssertEqual(s.repeats, 1)
        XCTAssertNil(s.concurrency)
        XCTAssertEqual(s.objective, .bestValAcc)
        XCTAssertEqual(s.trainingThreads, 1)
        let c = s.expandConfigurations()[0]
        XCTAssertEqual(c.schedule.parameters, SGDRParameters(t0: 3))
        XCTAssertEqual(c.schedule.parameters.lrMin, 0.001)
        XCTAssertEqual(s.defaultDatabasePath, "runs/x.sqlite")
    }
}

final class ShippedSpacesTests: XCTestCase {
    func testTheExampleSpacesAreValid() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let expected = ["quick.json": 33, "racing.json": 234, "random.json": 34, "seed-experiment.json": 20, "anchor.json": 24, "sobol.json": 57,
                        "pytorch-mlp.json": 18, "seed-experiment-cnn.json": 12]
        let shipped = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("search-spaces").path)
        XCTAssertEqual(Set(shipped.filter { $0.hasSuffix(".json") }), Set(expected.keys), "every shipped space is checked")
        for (name, trials) in expected {
            let path = root.appendingPathComponent("search-spaces/\(name)").path
            let s = try SearchSpace.load(path: path)
            XCTAssertEqual(s.trialCount, trials, name)
        }
        let seedExperiment = try SearchSpace.load(path: root.appendingPathComponent("search-spaces/seed-experiment.json").path)
        XCTAssertEqual(seedExperiment.strategy, .list)
        XCTAssertEqual(seedExperiment.repeats, 5)
        XCTAssertEqual(seedExperiment.expandConfigurations().map { $0.schedule.parameters.triggerValAcc }, [0.85, 0.85, 0.85, 0.85])
        let pytorch = try SearchSpace.load(path: root.appendingPathComponent("search-spaces/pytorch-mlp.json").path)
        XCTAssertEqual(pytorch.trainer?.command.prefix(2), ["python3", "examples/pytorch_fashion_mnist.py"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: root.appendingPathComponent("examples/pytorch_fashion_mnist.py").path))
    }
}

/// The plateau baseline and `trigger_val_acc`'s one rule in space files.
final class PlateauSpaceTests: XCTestCase {
    func testPlateauBaselineWithItsSettingsInFixed() throws {
        let s = try space("""
            { "name": "p", "parameters": {"t0": {"values": [2, 4]}},
              "fixed": {"lr_max": 0.05, "lr_min": 0.0005, "plateau_factor": 0.5, "plateau_patience": 2, "plateau_min_delta": 0.001},
              "baselines": ["plateau", "cosine"], "training": {"dataset": "synthetic", "epochs": 6} }
            """)
        XCTAssertEqual(s.baselines, [.plateau, .cosine])
        let plateau = try XCTUnwrap(s.expandConfigurations().first)
        XCTAssertEqual(plateau.id, "plateau")
        XCTAssertEqual(plateau.schedule.kind, .plateau)
        XCTAssertEqual(plateau.schedule.plateau, PlateauSettings(factor: 0.5, patience: 2, minDelta: 0.001))
        XCTAssertEqual(plateau.schedule.parameters.lrMax, 0.05)
        XCTAssertEqual(plateau.schedule.parameters.lrMin, 0.0005)
        XCTAssertTrue(s.canonicalEntries().contains(CanonicalEntry(path: "fixed.plateau_patience", value: "2")))
        // A different setting is a different sweep.
        let other = try space(s.source.replacingOccurrences(of: "\"plateau_patience\": 2", with: "\"plateau_patience\": 3"))
        XCTAssertEqual(other.changes(from: s), ["fixed.plateau_patience: 2 -> 3"])
    }

    func testPlateauDefaults() throws {
        let s = try space(#"{"name": "p", "parameters": {"t0": {"values": [2]}}, "baselines": ["plateau"]}"#)
        XCTAssertEqual(s.plateau, PlateauSettings(factor: 0.1, patience: 3, minDelta: 1e-4))
    }

    func testBadPlateauSettings() {
        func check(_ fixed: String, _ path: String, _ allowed: String) {
            guard let e = spaceError(#"{"name": "p", "parameters": {"t0": {"values": [2]}}, "fixed": {\#(fixed)}}"#) else {
                return XCTFail("no error for \(fixed)")
            }
            XCTAssertEqual(e.path, path, "\(e)")
            XCTAssertTrue(e.description.contains(allowed), "\(e)")
        }
        check(#""plateau_factor": 1"#, "fixed.plateau_factor", "plateau_factor must be a number in (0, 1)")
        check(#""plateau_factor": 0"#, "fixed.plateau_factor", "plateau_factor must be a number in (0, 1)")
        check(#""plateau_patience": 0"#, "fixed.plateau_patience", "plateau_patience must be an integer in [1, 1000000]")
        check(#""plateau_patience": 1.5"#, "fixed.plateau_patience", "plateau_patience must be an integer in [1, 1000000]")
        check(#""plateau_min_delta": -0.01"#, "fixed.plateau_min_delta", "plateau_min_delta must be a number in [0, 1]")
        check(#""plateau_factor": "x""#, "fixed.plateau_factor", "expected a number")
    }

    func testTriggerValAccHasTheScheduleOptionsRule() {
        for bad in ["-0.5", "1.5"] {
            guard let e = spaceError(#"{"name": "p", "parameters": {"trigger_val_acc": {"values": [0, \#(bad)]}}}"#) else {
                return XCTFail("no error for \(bad)")
            }
            XCTAssertEqual(e.path, "parameters.trigger_val_acc.values[1]")
            XCTAssertTrue(e.description.contains("trigger_val_acc must be a number in [0, 1] (0: the schedule runs from epoch 1)"), "\(e)")
        }
    }
}
