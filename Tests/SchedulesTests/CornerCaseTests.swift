import Foundation
import Schedules
import SpecReference
import XCTest

/// Hand-checked runs for the corners the golden tables do not reach. Every expected number is
/// worked out in the comments from docs/SCHEDULE.md's rules (cosine factors
/// `(1 + cos(pi * T_cur / T_i)) / 2` evaluated with Python's `math.cos`); each case is checked
/// against both the code (`SGDRSchedule`) and the tests' reference (`specReference`), and both
/// must match the hand numbers: rate, position, peak, and `best` / `next_peak` after each epoch.
final class CornerCaseTests: XCTestCase {
    struct Row {
        var lr: Double, tCur: Int, tI: Int, peak: Double, best: Double, nextPeak: Double
    }

    private func check(_ p: SpecCase, _ accs: [Double], _ rows: [Row], triggeredFrom: Int = 1,
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(rows.count, p.epochs, file: file, line: line)
        let code = runSGDR(p, accs)
        let reference = specReference(p, valAccs: accs)
        for (name, got) in [("code", code.map { Row(lr: $0.lr, tCur: $0.tCur, tI: $0.tI, peak: $0.peak, best: $0.best, nextPeak: $0.nextPeak) }),
                            ("reference", reference.map { Row(lr: $0.lr, tCur: $0.tCur, tI: $0.tI, peak: $0.peak, best: $0.best, nextPeak: $0.nextPeak) })] {
            XCTAssertEqual(got.count, rows.count, name, file: file, line: line)
            for (e, (g, w)) in zip(got, rows).enumerated() {
                let at = "\(name), epoch \(e + 1)"
                XCTAssertEqual(g.lr, w.lr, accuracy: 1e-12, "lr, \(at)", file: file, line: line)
                XCTAssertEqual(g.tCur, w.tCur, "T_cur, \(at)", file: file, line: line)
                XCTAssertEqual(g.tI, w.tI, "T_i, \(at)", file: file, line: line)
                XCTAssertEqual(g.peak, w.peak, accuracy: 1e-12, "peak, \(at)", file: file, line: line)
                XCTAssertEqual(g.best, w.best, "best, \(at)", file: file, line: line)
                XCTAssertEqual(g.nextPeak, w.nextPeak, accuracy: 1e-12, "next_peak, \(at)", file: file, line: line)
            }
        }
        let triggered = code.map(\.triggered)
        XCTAssertEqual(triggered, (1...p.epochs).map { $0 >= triggeredFrom }, "code: scheduled epochs", file: file, line: line)
        XCTAssertEqual(reference.map(\.triggered), (1...p.epochs).map { $0 >= triggeredFrom }, "reference: scheduled epochs",
                       file: file, line: line)
    }

    /// c = 0 and lr_min = 0: lr_max 0.2, t0 2, tmult 1, trigger 0. Factors: T_cur 1 of 2 gives
    /// (1 + cos(pi/2)) / 2 = 0.5, T_cur 2 of 2 gives 0.
    /// 1: lr 0.2 * 0.5 = 0.1; a 0.5 > 0 improves: best 0.5, next_peak = lr = 0.1 (c <= 0).
    /// 2: lr 0; a 0.4 does not beat 0.5.
    /// 3: restart, peak 0.1: lr 0.05; a 0.45 does not improve.
    /// 4: lr 0; a 0.6 improves: best 0.6, next_peak = lr = 0.
    /// 5, 6: restart at peak 0: lr 0 (a 0.55, 0.3 do not improve).
    func testZeroCompressionAndZeroLrMin() {
        let p = SpecCase(lrMax: 0.2, lrMin: 0, t0: 2, tmultPercent: 100, c: 0, trigger: 0, epochs: 6)
        check(p, [0.5, 0.4, 0.45, 0.6, 0.55, 0.3], [
            Row(lr: 0.1, tCur: 1, tI: 2, peak: 0.2, best: 0.5, nextPeak: 0.1),
            Row(lr: 0, tCur: 2, tI: 2, peak: 0.2, best: 0.5, nextPeak: 0.1),
            Row(lr: 0.05, tCur: 1, tI: 2, peak: 0.1, best: 0.5, nextPeak: 0.1),
            Row(lr: 0, tCur: 2, tI: 2, peak: 0.1, best: 0.6, nextPeak: 0),
            Row(lr: 0, tCur: 1, tI: 2, peak: 0, best: 0.6, nextPeak: 0),
            Row(lr: 0, tCur: 2, tI: 2, peak: 0, best: 0.6, nextPeak: 0),
        ])
    }

    /// c = -1: lr_max 0.1, lr_min 0.01, t0 3, tmult 1, trigger 0. Factors for T_i 3:
    /// (1 + cos(pi/3)) / 2 = 0.75, (1 + cos(2pi/3)) / 2 = 0.25, then 0.
    /// 1: 0.01 + 0.09 * 0.75 = 0.0775; a 0.3 improves: next_peak 0.0775.
    /// 2: 0.01 + 0.09 * 0.25 = 0.0325; a 0.5 improves: next_peak 0.0325.
    /// 3: 0.01; a 0.4 no.
    /// 4-6: peak 0.0325: 0.01 + 0.0225 * 0.75 = 0.026875, 0.01 + 0.0225 * 0.25 = 0.015625, 0.01; no
    ///      improvement (0.2, 0.1, 0.1), so the next restart keeps the value of epoch 2:
    /// 7: peak 0.0325 again: 0.026875.
    func testNegativeCompressionCarriesAnOlderCyclesRate() {
        let p = SpecCase(lrMax: 0.1, lrMin: 0.01, t0: 3, tmultPercent: 100, c: -1, trigger: 0, epochs: 7)
        check(p, [0.3, 0.5, 0.4, 0.2, 0.1, 0.1, 0.45], [
            Row(lr: 0.0775, tCur: 1, tI: 3, peak: 0.1, best: 0.3, nextPeak: 0.0775),
            Row(lr: 0.0325, tCur: 2, tI: 3, peak: 0.1, best: 0.5, nextPeak: 0.0325),
            Row(lr: 0.01, tCur: 3, tI: 3, peak: 0.1, best: 0.5, nextPeak: 0.0325),
            Row(lr: 0.026875, tCur: 1, tI: 3, peak: 0.0325, best: 0.5, nextPeak: 0.0325),
            Row(lr: 0.015625, tCur: 2, tI: 3, peak: 0.0325, best: 0.5, nextPeak: 0.0325),
            Row(lr: 0.01, tCur: 3, tI: 3, peak: 0.0325, best: 0.5, nextPeak: 0.0325),
            Row(lr: 0.026875, tCur: 1, tI: 3, peak: 0.0325, best: 0.5, nextPeak: 0.0325),
        ])
    }

    /// c = 2, lr_min 0: lr_max 0.1, t0 4, tmult 1, trigger 0, every epoch improves. Factors for T_i 4:
    /// (1 + cos(pi/4)) / 2 = 0.8535533905932737, 0.5, (1 - cos(pi/4)) / 2 = 0.14644660940672624, 0.
    /// Cycle 1 (peak 0.1): lr 0.08535533905932738, 0.05, 0.014644660940672622, 0; next_peak
    ///   max(0.1 / 2, lr) = 0.08535533905932738, then 0.05, 0.05, 0.05 (peak / c wins).
    /// Cycle 2 (peak 0.05): lr 0.04267766952966369, 0.025, 0.007322330470336311, 0; next_peak
    ///   0.04267766952966369, then 0.025 three times.
    /// Epoch 9 (peak 0.025): lr 0.021338834764831845 = next_peak.
    func testCompressionPicksTheLargerOfPeakOverCAndTheRate() {
        let p = SpecCase(lrMax: 0.1, lrMin: 0, t0: 4, tmultPercent: 100, c: 2, trigger: 0, epochs: 9)
        let accs = (1...9).map { Double($0) / 10 }
        check(p, accs, [
            Row(lr: 0.08535533905932738, tCur: 1, tI: 4, peak: 0.1, best: accs[0], nextPeak: 0.08535533905932738),
            Row(lr: 0.05, tCur: 2, tI: 4, peak: 0.1, best: accs[1], nextPeak: 0.05),
            Row(lr: 0.014644660940672622, tCur: 3, tI: 4, peak: 0.1, best: accs[2], nextPeak: 0.05),
            Row(lr: 0, tCur: 4, tI: 4, peak: 0.1, best: accs[3], nextPeak: 0.05),
            Row(lr: 0.04267766952966369, tCur: 1, tI: 4, peak: 0.05, best: accs[4], nextPeak: 0.04267766952966369),
            Row(lr: 0.025, tCur: 2, tI: 4, peak: 0.05, best: accs[5], nextPeak: 0.025),
            Row(lr: 0.007322330470336311, tCur: 3, tI: 4, peak: 0.05, best: accs[6], nextPeak: 0.025),
            Row(lr: 0, tCur: 4, tI: 4, peak: 0.05, best: accs[7], nextPeak: 0.025),
            Row(lr: 0.021338834764831845, tCur: 1, tI: 4, peak: 0.025, best: accs[8], nextPeak: 0.021338834764831845),
        ])
    }

    /// A trigger that never fires: lr_max 0.05, trigger 0.9, accuracies up to 0.8999999. Every
    /// epoch runs at lr_max with T_cur 0 and T_i = t0; best stays 0 and next_peak lr_max.
    func testATriggerThatNeverFires() {
        let p = SpecCase(lrMax: 0.05, lrMin: 0.001, t0: 2, tmultPercent: 200, c: 5, trigger: 0.9, epochs: 5)
        check(p, [0.5, 0.89, 0.8999999, 0.7, 0.1],
              Array(repeating: Row(lr: 0.05, tCur: 0, tI: 2, peak: 0.05, best: 0, nextPeak: 0.05), count: 5),
              triggeredFrom: 6)
    }

    /// The trigger reached exactly on the last epoch: it fires (a >= trigger) and improves
    /// (best 0.9, next_peak max(0.05 / 5, 0.05) = 0.05), but no epoch is left to schedule.
    func testATriggerReachedOnTheLastEpoch() {
        let p = SpecCase(lrMax: 0.05, lrMin: 0.001, t0: 2, tmultPercent: 200, c: 5, trigger: 0.9, epochs: 3)
        check(p, [0.5, 0.7, 0.9], [
            Row(lr: 0.05, tCur: 0, tI: 2, peak: 0.05, best: 0, nextPeak: 0.05),
            Row(lr: 0.05, tCur: 0, tI: 2, peak: 0.05, best: 0, nextPeak: 0.05),
            Row(lr: 0.05, tCur: 0, tI: 2, peak: 0.05, best: 0.9, nextPeak: 0.05),
        ], triggeredFrom: 4)
    }

    /// Cycle lengths from t0 with c = 1 and trigger 0, read at each restart.
    private func cycleLengths(_ p: SpecCase) -> (code: [Int], reference: [Int]) {
        let code = runSGDR(p, Array(repeating: 0.5, count: p.epochs)).filter { $0.tCur == 1 }.map(\.tI)
        let reference = specReference(p, valAccs: Array(repeating: 0.5, count: p.epochs)).filter { $0.tCur == 1 }.map(\.tI)
        return (code, reference)
    }

    /// tmult 1.16 from t0 25: in binary 1.16 * 25 is 28.999999999999996 (Python: `1.16 * 25`), which a
    /// bare floor makes 28; the spec's 1e-9 slack makes it 29. Then 1.16 * 29 = 33.64 -> 33,
    /// 1.16 * 33 = 38.28 -> 38. The first epoch of cycle 2 (epoch 26) runs at
    /// 1 * (1 + cos(pi / 29)) / 2 = 0.9970689785771798 (lr_max 1, lr_min 0).
    func testFractionalTmultWhoseProductIsAWholeNumberInDecimal() {
        let p = SpecCase(lrMax: 1, lrMin: 0, t0: 25, tmultPercent: 116, c: 1, trigger: 0, epochs: 25 + 29 + 33 + 1)
        XCTAssertEqual(1.16 * 25, 28.999999999999996, "the binary product the slack is for")
        let (code, reference) = cycleLengths(p)
        XCTAssertEqual(code, [25, 29, 33, 38])
        XCTAssertEqual(reference, [25, 29, 33, 38])
        XCTAssertEqual(runSGDR(p, Array(repeating: 0.5, count: p.epochs))[25].lr, 0.9970689785771798, accuracy: 1e-15)
        // tmult 1.4 from t0 45: 1.4 * 45 is 62.99999999999999 in binary -> 63; 1.4 * 63 = 88.2 -> 88.
        let q = SpecCase(lrMax: 1, lrMin: 0, t0: 45, tmultPercent: 140, c: 1, trigger: 0, epochs: 45 + 63 + 1)
        XCTAssertEqual(cycleLengths(q).code, [45, 63, 88])
        XCTAssertEqual(cycleLengths(q).reference, [45, 63, 88])
    }

    /// tmult just below 3. 2.9999999 is 3.3e-8 (relative) below 3, beyond the slack: from t0 1,
    /// 2.9999999 -> 2, 5.9999998 -> 5, 14.9999995 -> 14. 2.999999999999 is 3.3e-13 below 3,
    /// within the slack: 1 -> 3 -> 9 -> 27, as tmult 3.
    func testTmultJustBelowAWholeNumber() {
        let beyond = SpecCase(lrMax: 1, lrMin: 0, t0: 1, tmultNumerator: 29_999_999, tmultDenominator: 10_000_000,
                              c: 1, trigger: 0, epochs: 1 + 2 + 5 + 14 + 1)
        XCTAssertEqual(cycleLengths(beyond).code, [1, 2, 5, 14, 41])
        XCTAssertEqual(cycleLengths(beyond).reference, [1, 2, 5, 14, 41])
        let within = SpecCase(lrMax: 1, lrMin: 0, t0: 1, tmultNumerator: 2_999_999_999_999, tmultDenominator: 1_000_000_000_000,
                              c: 1, trigger: 0, epochs: 1 + 3 + 9 + 27 + 1)
        XCTAssertEqual(cycleLengths(within).code, [1, 3, 9, 27, 81])
        XCTAssertEqual(cycleLengths(within).reference, [1, 3, 9, 27, 81])
    }
}
