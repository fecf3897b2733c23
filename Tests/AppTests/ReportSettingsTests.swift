import App
import Foundation
import Sweep
import XCTest

/// The report's settings table (issue 22: it left out `model`, the fixed rates and racing). The
/// expected rows are read off the space files below and the README's table of defaults
/// (`lr_min` = lr_max / 100, `t0` 10, `tmult` 1, `lr_max_compression` 5, `trigger_val_acc` 0;
/// `step_milestones` [0.5, 0.75], `step_factor` 0.1; plateau 0.1, 3, 0.0001).
final class ReportSettingsTests: XCTestCase {
    func settings(_ json: String) throws -> [String: String] {
        let space = try SearchSpace.parse(data: Data(json.utf8), file: "test.json")
        let rows = space.reportSettings
        XCTAssertEqual(Set(rows.map(\.key)).count, rows.count, "one row per key: \(rows.map(\.key))")
        return Dictionary(uniqueKeysWithValues: rows.map { ($0.key, $0.value) })
    }

    /// The golden race sweep's space (Tests/Fixtures/golden/race.json).
    func testTheGoldenRaceShowsModelFixedRatesBaselinesAndRacing() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../Fixtures/golden/race.json")
        let space = try SearchSpace.parse(data: try Data(contentsOf: url), file: "race.json")
        let keys = space.reportSettings.map(\.key)
        XCTAssertEqual(keys, ["dataset", "train_size", "val_size", "epochs", "batch_size", "model", "hidden", "optimizer",
                              "momentum", "nesterov", "weight_decay", "threads", "strategy", "repeats", "seed",
                              "lr_max", "lr_min", "trigger_val_acc", "baselines", "step_milestones", "step_factor",
                              "plateau_factor", "plateau_patience", "plateau_min_delta",
                              "racing.first_round", "racing.confidence"])
        let s = Dictionary(uniqueKeysWithValues: space.reportSettings.map { ($0.key, $0.value) })
        XCTAssertEqual(s["model"], "mlp")
        XCTAssertEqual(s["lr_max"], "0.1")
        XCTAssertEqual(s["lr_min"], "0.001")
        XCTAssertEqual(s["trigger_val_acc"], "0.5")
        XCTAssertEqual(s["baselines"], "step, cosine, plateau")
        XCTAssertEqual(s["step_milestones"], "[0.5, 0.75]")
        XCTAssertEqual(s["step_factor"], "0.1")
        XCTAssertEqual(s["plateau_patience"], "3")
        XCTAssertEqual(s["racing.first_round"], "2")
        XCTAssertEqual(s["racing.confidence"], "0.9")
        // Swept parameters are not settings.
        for swept in ["t0", "tmult", "lr_max_compression"] { XCTAssertNil(s[swept], swept) }
    }

    func testDefaultsSayDefaultAndACNNShowsItsModelOnce() throws {
        let s = try settings("""
            { "name": "d", "strategy": "grid", "parameters": { "lr_max": {"values": [0.05, 0.1]} },
              "baselines": ["cosine"], "training": {"dataset": "synthetic", "epochs": 2, "model": "cnn"} }
            """)
        XCTAssertEqual(s["model"], "cnn")
        XCTAssertEqual(s["lr_min"], "lr_max / 100 (default)", "follows the swept lr_max")
        XCTAssertEqual(s["t0"], "10 (default)")
        XCTAssertEqual(s["tmult"], "1 (default)")
        XCTAssertEqual(s["lr_max_compression"], "5 (default)")
        XCTAssertEqual(s["trigger_val_acc"], "0 (default)")
        XCTAssertNil(s["lr_max"])
        XCTAssertEqual(s["baselines"], "cosine")
        XCTAssertNil(s["step_factor"], "no step baseline")
        XCTAssertNil(s["plateau_factor"], "no plateau baseline")
        XCTAssertNil(s["racing.first_round"], "no racing")

        let fixedMin = try settings("""
            { "name": "d", "strategy": "grid", "parameters": { "t0": {"values": [1, 2]} }, "fixed": {"lr_max": 0.2},
              "baselines": [], "training": {"dataset": "synthetic", "epochs": 2} }
            """)
        XCTAssertEqual(fixedMin["lr_max"], "0.2")
        XCTAssertEqual(fixedMin["lr_min"], "0.002 (default)", "lr_max / 100")
        XCTAssertEqual(fixedMin["model"], "mlp")
        XCTAssertEqual(fixedMin["baselines"], "none")
    }

    /// A tpe sweep's page says who proposed what and in which order (issue 20): the start-up
    /// draws are configurations 0 ..< startup (here 3: sgdr-0000 to sgdr-0002), TPE's follow.
    func testATPESweepNamesItsProposers() throws {
        let s = try settings("""
            {"name": "t", "strategy": "tpe", "trials": 8, "tpe": {"startup": 3, "parallel": 2},
             "parameters": {"t0": {"min": 1, "max": 4}}, "training": {"dataset": "synthetic", "epochs": 2}}
            """)
        XCTAssertEqual(s["strategy"], "tpe")
        XCTAssertEqual(s["tpe"], "startup 3, candidates 24, gamma 0.25, parallel 2")
        XCTAssertEqual(s["proposed by"], "sgdr-0000 to sgdr-0002: start-up (random search's draws); from sgdr-0003 on: TPE, in the order of their numbers")
    }
}
