import Foundation
import Schedules
import SpecReference
import XCTest

/// What one epoch of `SGDRSchedule` looked like from outside: its rate and position, and `best` and
/// `nextPeak` after its end.
struct Observed {
    var lr: Double, tCur: Int, tI: Int, triggered: Bool, peak: Double, best: Double, nextPeak: Double
}

/// Runs `SGDRSchedule` over `valAccs`, recording each epoch.
func runSGDR(_ p: SpecCase, _ valAccs: [Double]) -> [Observed] {
    var schedule = SGDRSchedule(SGDRParameters(lrMax: p.lrMax, lrMin: p.lrMin, t0: p.t0, tmult: p.tmult,
                                               lrMaxCompression: p.c, triggerValAcc: p.trigger))
    var out: [Observed] = []
    for a in valAccs.prefix(p.epochs) {
        let triggered = schedule.triggered
        let lr = schedule.beginEpoch()
        let (tCur, tI, peak) = (schedule.tCur, schedule.tI, schedule.peak)
        schedule.endEpoch(valAcc: a)
        out.append(Observed(lr: lr, tCur: tCur, tI: tI, triggered: triggered, peak: peak, best: schedule.best,
                            nextPeak: schedule.nextPeak))
    }
    return out
}

final class SGDRPropertyTests: XCTestCase {
    static let cases = 500

    /// The core check: the state machine matches the spec's whole-run form (`specReference`, which
    /// is not a state machine), to 1e-9 relative, on random parameters and random validation
    /// accuracies: rates, positions, peaks, and `best` and `nextPeak` after every epoch.
    func testMatchesSpecReferenceOnRandomCases() {
        var rng = SplitMix64(seed: 0x5EED_0001)
        for _ in 0..<Self.cases {
            let p = rng.specCase()
            let accs = rng.valAccs(p.epochs)
            let got = runSGDR(p, accs)
            let want = specReference(p, valAccs: accs)
            XCTAssertEqual(got.count, want.count)
            for (e, (g, w)) in zip(got, want).enumerated() {
                guard g.tCur == w.tCur, g.tI == w.tI, g.triggered == w.triggered,
                      close(g.lr, w.lr, rel: 1e-9), close(g.peak, w.peak, rel: 1e-9), g.best == w.best,
                      close(g.nextPeak, w.nextPeak, rel: 1e-9) else {
                    XCTFail("\(p) epoch \(e + 1): got \(g), want \(w)")
                    break
                }
            }
        }
    }

    func testLastEpochOfEveryCycleIsLrMin() {
        var rng = SplitMix64(seed: 0x5EED_0002)
        var cycleEnds = 0
        for _ in 0..<Self.cases {
            let p = rng.specCase()
            let accs = rng.valAccs(p.epochs)
            let got = runSGDR(p, accs)
            let want = specReference(p, valAccs: accs)
            for (e, w) in want.enumerated() where w.triggered && w.tCur == w.tI {
                cycleEnds += 1
                XCTAssertEqual(got[e].lr, p.lrMin, "\(p) epoch \(e + 1)")
            }
        }
        XCTAssertGreaterThan(cycleEnds, 1000)
    }

    func testCompressionOneKeepsEveryPeakAtLrMax() {
        var rng = SplitMix64(seed: 0x5EED_0003)
        var restarts = 0
        for _ in 0..<Self.cases {
            let p = rng.specCase(compression: 1)
            let got = runSGDR(p, rng.valAccs(p.epochs))
            for (e, g) in got.enumerated() {
                XCTAssertEqual(g.peak, p.lrMax, "\(p) epoch \(e + 1)")
                if g.triggered, g.tCur == 1 {
                    restarts += 1
                    let first = p.lrMin + (p.lrMax - p.lrMin) * (1 + cos(Double.pi / Double(g.tI))) / 2
                    XCTAssertTrue(close(g.lr, first, rel: 1e-12), "\(p) epoch \(e + 1): \(g.lr) vs \(first)")
                }
            }
        }
        XCTAssertGreaterThan(restarts, 1000)
    }

    func testRatesStayWithinLrMinAndLrMax() {
        var rng = SplitMix64(seed: 0x5EED_0004)
        for _ in 0..<Self.cases {
            let p = rng.specCase()
            for (e, g) in runSGDR(p, rng.valAccs(p.epochs)).enumerated() {
                XCTAssertGreaterThanOrEqual(g.lr, p.lrMin * (1 - 1e-12), "\(p) epoch \(e + 1)")
                XCTAssertLessThanOrEqual(g.lr, p.lrMax * (1 + 1e-12), "\(p) epoch \(e + 1)")
            }
        }
    }

    func testBeforeTheTriggerTheRateIsLrMax() {
        var rng = SplitMix64(seed: 0x5EED_0005)
        var waited = 0
        for _ in 0..<Self.cases {
            let p = rng.specCase(trigger: Double.random(in: 0.2...1, using: &rng))
            let accs = rng.valAccs(p.epochs)
            let got = runSGDR(p, accs)
            // The first epoch whose val_acc reaches the trigger still runs at lr_max; the schedule
            // starts with T_cur = 1 on the epoch after it.
            let crossing = accs.prefix(p.epochs).firstIndex { $0 >= p.trigger } ?? p.epochs
            for e in 0..<min(crossing + 1, p.epochs) {
                waited += 1
                XCTAssertEqual(got[e].lr, p.lrMax, "\(p) epoch \(e + 1)")
                XCTAssertFalse(got[e].triggered)
                XCTAssertEqual(got[e].tCur, 0)
            }
            if crossing + 1 < p.epochs {
                XCTAssertTrue(got[crossing + 1].triggered)
                XCTAssertEqual(got[crossing + 1].tCur, 1)
                XCTAssertEqual(got[crossing + 1].tI, p.t0)
            }
        }
        XCTAssertGreaterThan(waited, 500)
    }

    func testNonPositiveCompressionUsesTheImprovingEpochsRate() {
        var rng = SplitMix64(seed: 0x5EED_0006)
        var restarts = 0
        for _ in 0..<Self.cases {
            let cs: [Double] = [0, -1, -Double.random(in: 0...100, using: &rng)]
            let c = cs.randomElement(using: &rng)!
            let p = rng.specCase(compression: c, trigger: [0.0, 0.5].randomElement(using: &rng)!)
            let accs = rng.valAccs(p.epochs)
            let got = runSGDR(p, accs)
            // Track "the rate of the last improving epoch" by hand: the spec's improvements are
            // val_acc > best from the trigger on, the epoch that fires it included (it ran at lr_max).
            var best = 0.0
            var lastImprovingRate = p.lrMax
            var triggeredAfter = p.trigger <= 0
            for (e, g) in got.enumerated() {
                if g.triggered, g.tCur == 1, e > 0, got[e - 1].triggered {
                    restarts += 1
                    XCTAssertEqual(g.peak, lastImprovingRate, "\(p) epoch \(e + 1)")
                }
                if !triggeredAfter && accs[e] >= p.trigger { triggeredAfter = true }
                if triggeredAfter && accs[e] > best { best = accs[e]; lastImprovingRate = g.lr }
            }
        }
        XCTAssertGreaterThan(restarts, 500)
    }

    func testCompressionShrinksPeaksGeometricallyWhenEveryEpochImproves() {
        // c = 5, every epoch improves, t0 long enough that the first epoch's rate is below peak / 5... not
        // required: next peak is max(peak / 5, lr of the last epoch of the cycle = lr_min).
        let p = SGDRParameters(lrMax: 0.1, lrMin: 0.001, t0: 4, tmult: 1, lrMaxCompression: 5, triggerValAcc: 0)
        var schedule = SGDRSchedule(p)
        var peaks: [Double] = []
        for e in 1...16 {
            _ = schedule.beginEpoch()
            if schedule.tCur == 1 { peaks.append(schedule.peak) }
            schedule.endEpoch(valAcc: Double(e) / 17)
        }
        XCTAssertEqual(peaks.count, 4)
        XCTAssertEqual(peaks[0], 0.1, accuracy: 1e-15)
        XCTAssertEqual(peaks[1], 0.02, accuracy: 1e-15)
        XCTAssertEqual(peaks[2], 0.004, accuracy: 1e-15)
        XCTAssertEqual(peaks[3], 0.001, accuracy: 1e-15, "max(0.004 / 5, lr_min)")
    }

    func testTmultOneAndAHalfGrowsFiveSevenTen() {
        var schedule = SGDRSchedule(SGDRParameters(lrMax: 0.1, t0: 5, tmult: 1.5, lrMaxCompression: 1))
        var lengths: [Int] = []
        for e in 1...(5 + 7 + 10 + 15 + 22 + 1) {
            _ = schedule.beginEpoch()
            if schedule.tCur == 1 { lengths.append(schedule.tI) }
            schedule.endEpoch(valAcc: Double(e) / 100)
        }
        XCTAssertEqual(lengths, [5, 7, 10, 15, 22, 33])
    }

    func testNextCycleLength() {
        XCTAssertEqual(SGDRSchedule.nextCycleLength(5, tmult: 1.5), 7)
        XCTAssertEqual(SGDRSchedule.nextCycleLength(7, tmult: 1.5), 10)
        XCTAssertEqual(SGDRSchedule.nextCycleLength(10, tmult: 1), 10)
        XCTAssertEqual(SGDRSchedule.nextCycleLength(20, tmult: 1.15), 23, "1.15 * 20 is 23 in decimal")
        // Every tmult of two decimals against exact integer arithmetic.
        for percent in 100...400 {
            for tI in 1...200 {
                XCTAssertEqual(SGDRSchedule.nextCycleLength(tI, tmult: Double(percent) / 100), percent * tI / 100,
                               "tmult \(Double(percent) / 100), T_i \(tI)")
            }
        }
    }

    func testNextCycleLengthSaturatesInsteadOfTrapping() {
        XCTAssertEqual(SGDRSchedule.nextCycleLength(1, tmult: 1e300), Int.max)
        XCTAssertEqual(SGDRSchedule.nextCycleLength(Int.max / 2, tmult: 4), Int.max)
        var schedule = SGDRSchedule(SGDRParameters(lrMax: 0.1, t0: 1, tmult: 1e300, lrMaxCompression: 1))
        XCTAssertNil(schedule.parameters.firstInvalid())
        for _ in 1...5 { _ = schedule.beginEpoch(); schedule.endEpoch(valAcc: 0.5) }
        XCTAssertEqual(schedule.tI, Int.max)
        XCTAssertEqual(schedule.tCur, 4)
    }
}
