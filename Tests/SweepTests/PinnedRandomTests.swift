import Foundation
@testable import Sweep
import XCTest

/// Random search's draws pinned as literal values: raising `trials` of a stored sweep continues
/// its sequence only if these never change (across versions, platforms and refactorings of the
/// generators). The values were recorded from this version and must stay bit for bit.
final class PinnedRandomTests: XCTestCase {
    func testRandomSearchConfigurationsArePinned() throws {
        let s = try space("""
            { "name": "pin", "strategy": "random", "seed": 42, "trials": 4,
              "parameters": { "t0": {"min": 1, "max": 40, "log": true},
                              "tmult": {"min": 1, "max": 3},
                              "lr_max_compression": {"values": [1, 2, 5, 10]},
                              "trigger_val_acc": {"min": 0, "max": 1},
                              "lr_max": {"min": 1, "max": 20, "int": true} } }
            """)
        let got = (0..<4).map { i in s.sampler.configuration(at: i).map { $0.1.bitPattern } }
        XCTAssertEqual(got, PINNED, "\(got)")
    }

    func testTrainingSeedsArePinned() {
        XCTAssertEqual((0..<3).map { Seeds.training(sweepSeed: 1, repeatIndex: $0) }, PINNED_SEEDS)
    }
}
/// The bit patterns of configurations 0-3 (t0, tmult, c, trigger_val_acc, lr_max); their t0s are 3, 2, 20, 5.
let PINNED: [[UInt64]] = [
    [4613937818241073152, 4611318997656727698, 4611686018427387904, 4594955828288916872, 4623507967449235456],
    [4611686018427387904, 4612165712438513208, 4607182418800017408, 4599589796526532792, 4611686018427387904],
    [4626322717216342016, 4607967570815690770, 4607182418800017408, 4605899989561135001, 4621819117588971520],
    [4617315517961601024, 4611536826872299216, 4617315517961601024, 4605667971799915745, 4626322717216342016],
]
let PINNED_SEEDS: [UInt64] = [5485027108525682765, 8086748288993028758, 6934225328634357368]
