import Foundation
import Schedules
import SpecReference
import XCTest

private func rates(_ config: ScheduleConfig) -> [Double] {
    var schedule = config.makeSchedule()
    return (1...config.epochs).map { e in
        let lr = schedule.beginEpoch()
        schedule.endEpoch(valAcc: Double(e % 3) / 3)  // baselines ignore val_acc
        return lr
    }
}

final class BaselineTests: XCTestCase {
    func testStepOnTenEpochs() {
        let got = rates(ScheduleConfig(kind: .step, parameters: SGDRParameters(lrMax: 0.1), epochs: 10))
        let want = [0.1, 0.1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001, 0.001]
        for (e, (g, w)) in zip(got, want).enumerated() { XCTAssertTrue(close(g, w, rel: 1e-12), "epoch \(e + 1): \(g)") }
    }

    func testStepMilestonesAndFactorAreConfigurable() {
        let config = ScheduleConfig(kind: .step, parameters: SGDRParameters(lrMax: 1), epochs: 8,
                                    stepMilestones: [0.25], stepFactor: 0.5)
        XCTAssertEqual(rates(config), [1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
        let none = ScheduleConfig(kind: .step, parameters: SGDRParameters(lrMax: 1), epochs: 4, stepMilestones: [])
        XCTAssertEqual(rates(none), [1, 1, 1, 1])
    }

    func testStepOnRandomLengths() {
        var rng = SplitMix64(seed: 11)
        for _ in 0..<200 {
            let epochs = Int.random(in: 1...300, using: &rng)
            let lrMax = pow(10, Double.random(in: -4...0, using: &rng))
            let got = rates(ScheduleConfig(kind: .step, parameters: SGDRParameters(lrMax: lrMax), epochs: epochs))
            for (i, lr) in got.enumerated() {
                let e = i + 1
                let want = 2 * e <= epochs ? lrMax : 4 * e <= 3 * epochs ? lrMax / 10 : lrMax / 100
                XCTAssertTrue(close(lr, want, rel: 1e-12), "epochs \(epochs) epoch \(e): \(lr) vs \(want)")
            }
        }
    }

    func testCosineIsOneCosineEndingAtLrMin() {
        var rng = SplitMix64(seed: 12)
        for _ in 0..<200 {
            let epochs = Int.random(in: 1...300, using: &rng)
            let lrMax = pow(10, Double.random(in: -4...0, using: &rng))
            let lrMin = lrMax * rng.unit()
            let got = rates(ScheduleConfig(kind: .cosine, parameters: SGDRParameters(lrMax: lrMax, lrMin: lrMin), epochs: epochs))
            XCTAssertEqual(got.last, lrMin)
            for (i, lr) in got.enumerated() {
                let want = lrMin + (lrMax - lrMin) * (1 + cos(Double.pi * Double(i + 1) / Double(epochs))) / 2
                XCTAssertTrue(close(lr, want, rel: 1e-9))
                XCTAssertLessThanOrEqual(lr, lrMax)
                XCTAssertGreaterThanOrEqual(lr, lrMin)
                if i > 0 { XCTAssertLessThanOrEqual(lr, got[i - 1]) }
            }
        }
    }

    func testConstantIsLrMaxThroughout() {
        let got = rates(ScheduleConfig(kind: .constant, parameters: SGDRParameters(lrMax: 0.05), epochs: 30))
        XCTAssertEqual(got, Array(repeating: 0.05, count: 30))
    }
}
