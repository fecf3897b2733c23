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
