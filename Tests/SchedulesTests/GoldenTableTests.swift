import Schedules
import SpecReference
import XCTest

let goldenParameters = SGDRParameters(lrMax: 0.1, lrMin: 0.00001, t0: 5, tmult: 2, lrMaxCompression: 1, triggerValAcc: 0)

final class GoldenTableTests: XCTestCase {
    func testGoldenTableHas18Rows() {
        XCTAssertEqual(goldenTable.count, 18)
        XCTAssertEqual(goldenTable.map(\.epoch), Array(1...18))
    }

    func testSGDRScheduleMatchesGoldenTable() {
        var schedule = SGDRSchedule(goldenParameters)
        XCTAssertTrue(schedule.triggered)
        for row in goldenTable {
            let lr = schedule.beginEpoch()
            XCTAssertEqual(schedule.epoch, row.epoch)
            XCTAssertEqual(schedule.tCur, row.tCur, "epoch \(row.epoch)")
            XCTAssertEqual(schedule.tI, row.tI, "epoch \(row.epoch)")
            XCTAssertEqual(lr, row.lr, accuracy: 1e-8, "epoch \(row.epoch)")
            XCTAssertEqual(schedule.lr, lr)
            XCTAssertEqual(schedule.peak, 0.1, "c = 1 keeps every peak at lr_max")
            schedule.endEpoch(valAcc: Double(row.epoch) / 19)
        }
    }

    func testGoldenTableDoesNotDependOnValAcc() {
        // c = 1 and trigger 0: whatever the accuracies, the same table.
        var rng = SplitMix64(seed: 7)
        for _ in 0..<20 {
            var schedule = SGDRSchedule(goldenParameters)
            for row in goldenTable {
                XCTAssertEqual(schedule.beginEpoch(), row.lr, accuracy: 1e-8)
                schedule.endEpoch(valAcc: rng.unit())
            }
        }
    }

    func testScheduleTableMatchesGoldenTable() {
        let config = ScheduleConfig(kind: .sgdr, parameters: goldenParameters, epochs: 18)
        let rows = scheduleTable(config: config)
        XCTAssertEqual(rows.count, 18)
        for (row, golden) in zip(rows, goldenTable) {
            XCTAssertEqual(row.epoch, golden.epoch)
            XCTAssertEqual(row.tCur, golden.tCur)
            XCTAssertEqual(row.tI, golden.tI)
            XCTAssertEqual(row.triggered, true)
            XCTAssertEqual(row.peak, 0.1)
            XCTAssertEqual(row.lr, golden.lr, accuracy: 1e-8, "epoch \(golden.epoch)")
        }
    }

    func testReferenceMatchesGoldenTable() {
        // The tests' own reference must agree with the spec's table before it judges anything.
        let p = SpecCase(lrMax: 0.1, lrMin: 1e-5, t0: 5, tmultPercent: 200, c: 1, trigger: 0, epochs: 18)
        let reference = specReference(p, valAccs: (1...18).map { Double($0) / 19 })
        for (r, golden) in zip(reference, goldenTable) {
            XCTAssertEqual(r.tCur, golden.tCur)
            XCTAssertEqual(r.tI, golden.tI)
            XCTAssertEqual(r.lr, golden.lr, accuracy: 1e-8)
        }
    }
}

/// SGDR-SPEC.md's golden table 2: the trigger epoch is the schedule's first improvement.
final class GoldenTable2Tests: XCTestCase {
    let parameters = SGDRParameters(lrMax: 0.1, lrMin: 0.001, t0: 3, tmult: 2, lrMaxCompression: 5, triggerValAcc: 0.8)

    func testReferenceMatchesGoldenTable2() {
        // The reference judges the code only after it reproduces the spec's table.
        let reference = specReference(goldenTable2Case, valAccs: goldenTable2.map(\.valAcc))
        XCTAssertEqual(reference.count, 12)
        for (r, g) in zip(reference, goldenTable2) {
            XCTAssertEqual(r.triggered, g.scheduled, "epoch \(g.epoch)")
            XCTAssertEqual(r.tI, g.tI, "epoch \(g.epoch)")
            if let tCur = g.tCur { XCTAssertEqual(r.tCur, tCur, "epoch \(g.epoch)") }
            XCTAssertEqual(r.peak, g.peak, accuracy: 1e-10, "epoch \(g.epoch)")
            XCTAssertEqual(r.lr, g.lr, accuracy: 1e-10, "epoch \(g.epoch)")
            XCTAssertEqual(r.best, g.best, "epoch \(g.epoch)")
            XCTAssertEqual(r.nextPeak, g.nextPeak, accuracy: 1e-10, "epoch \(g.epoch)")
        }
    }

    func testSGDRScheduleMatchesGoldenTable2() {
        var schedule = SGDRSchedule(parameters)
        for g in goldenTable2 {
            XCTAssertEqual(schedule.triggered, g.scheduled, "epoch \(g.epoch)")
            let lr = schedule.beginEpoch()
            XCTAssertEqual(lr, g.lr, accuracy: 1e-10, "epoch \(g.epoch)")
            XCTAssertEqual(schedule.tI, g.tI, "epoch \(g.epoch)")
            XCTAssertEqual(schedule.tCur, g.tCur ?? 0, "epoch \(g.epoch)")
            XCTAssertEqual(schedule.peak, g.peak, accuracy: 1e-10, "epoch \(g.epoch)")
            schedule.endEpoch(valAcc: g.valAcc)
            XCTAssertEqual(schedule.best, g.best, "epoch \(g.epoch): best after")
            XCTAssertEqual(schedule.nextPeak, g.nextPeak, accuracy: 1e-10, "epoch \(g.epoch): next_peak after")
        }
    }

    func testScheduleTableMatchesGoldenTable2() {
        let rows = scheduleTable(config: ScheduleConfig(kind: .sgdr, parameters: parameters, epochs: 12),
                                 valAccs: goldenTable2.map(\.valAcc))
        XCTAssertEqual(rows.count, 12)
        for (row, g) in zip(rows, goldenTable2) {
            XCTAssertEqual(row.triggered, g.scheduled)
            XCTAssertEqual(row.tCur, g.tCur ?? 0)
            XCTAssertEqual(row.tI, g.tI)
            XCTAssertEqual(row.peak ?? .nan, g.peak, accuracy: 1e-10)
            XCTAssertEqual(row.lr, g.lr, accuracy: 1e-10, "epoch \(g.epoch)")
        }
    }

    func testTheTriggerEpochIsTheFirstImprovementForEveryCompression() {
        // Whatever c, the epoch that fires the trigger ran at lr_max, so next_peak stays lr_max
        // and best becomes its val_acc.
        for c in [-1.0, 0, 1, 5, 100] {
            var schedule = SGDRSchedule(SGDRParameters(lrMax: 0.2, lrMin: 0.002, t0: 2, tmult: 1,
                                                       lrMaxCompression: c, triggerValAcc: 0.5))
            _ = schedule.beginEpoch()
            schedule.endEpoch(valAcc: 0.4)
            XCTAssertFalse(schedule.triggered)
            XCTAssertEqual(schedule.best, 0)
            _ = schedule.beginEpoch()
            schedule.endEpoch(valAcc: 0.6)
            XCTAssertTrue(schedule.triggered)
            XCTAssertEqual(schedule.best, 0.6, "c = \(c)")
            XCTAssertEqual(schedule.nextPeak, 0.2, "c = \(c)")
            // A lower val_acc after the trigger is not an improvement.
            _ = schedule.beginEpoch()
            schedule.endEpoch(valAcc: 0.55)
            XCTAssertEqual(schedule.best, 0.6)
            XCTAssertEqual(schedule.nextPeak, 0.2)
        }
    }
}

/// SGDR-SPEC.md's plateau baseline (Keras's ReduceLROnPlateau on val_acc).
final class PlateauTests: XCTestCase {
    func testSpecExample() {
        var schedule = PlateauSchedule(lrMax: 0.1, lrMin: 0.001)
        var rates: [Double] = []
        for a in plateauExampleValAccs {
            rates.append(schedule.beginEpoch())
            schedule.endEpoch(valAcc: a)
        }
        XCTAssertEqual(rates.count, plateauExampleRates.count)
        for (r, w) in zip(rates, plateauExampleRates) { XCTAssertEqual(r, w, accuracy: 1e-15) }
        XCTAssertEqual(rates.last ?? .nan, 0.001, accuracy: 1e-15, "the rate stops at lr_min")
    }

    func testReferenceReproducesTheSpecExample() {
        let rates = plateauReference(lrMax: 0.1, lrMin: 0.001, factor: 0.1, patience: 3, minDelta: 1e-4,
                                     valAccs: plateauExampleValAccs)
        for (r, w) in zip(rates, plateauExampleRates) { XCTAssertEqual(r, w, accuracy: 1e-15) }
    }

    func testRandomCasesMatchTheReference() {
        var rng = SplitMix64(seed: 0x91A7)
        for _ in 0..<500 {
            let lrMax = pow(10, Double.random(in: -4...0, using: &rng))
            let lrMin = Int.random(in: 0..<3, using: &rng) == 0 ? 0 : lrMax * rng.unit() / 10
            let settings = PlateauSettings(factor: Double.random(in: 0.05...0.9, using: &rng),
                                           patience: Int.random(in: 1...5, using: &rng),
                                           minDelta: [0, 1e-4, 0.01].randomElement(using: &rng)!)
            let accs = rng.valAccs(Int.random(in: 1...60, using: &rng))
            let config = ScheduleConfig(kind: .plateau, parameters: SGDRParameters(lrMax: lrMax, lrMin: lrMin),
                                        epochs: accs.count, plateau: settings)
            let rows = scheduleTable(config: config, valAccs: accs)
            let want = plateauReference(lrMax: lrMax, lrMin: lrMin, factor: settings.factor, patience: settings.patience,
                                        minDelta: settings.minDelta, valAccs: accs)
            XCTAssertEqual(rows.map(\.lr), want, "\(settings) lr_max \(lrMax) lr_min \(lrMin)")
        }
    }

    func testSettingsRules() {
        XCTAssertNil(PlateauSettings().firstInvalid())
        XCTAssertEqual(PlateauSettings(factor: 1).firstInvalid()?.parameter, "plateau_factor")
        XCTAssertEqual(PlateauSettings(factor: 0).firstInvalid()?.parameter, "plateau_factor")
        XCTAssertEqual(PlateauSettings(patience: 0).firstInvalid()?.parameter, "plateau_patience")
        XCTAssertEqual(PlateauSettings(minDelta: -0.1).firstInvalid()?.parameter, "plateau_min_delta")
        XCTAssertEqual(PlateauSettings(minDelta: .nan).firstInvalid()?.parameter, "plateau_min_delta")
    }
}
