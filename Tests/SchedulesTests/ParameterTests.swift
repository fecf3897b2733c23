import Schedules
import XCTest

final class ParameterTests: XCTestCase {
    func testDefaults() {
        let p = SGDRParameters()
        XCTAssertEqual(p.lrMax, 0.1)
        XCTAssertEqual(p.lrMin, 0.001)
        XCTAssertEqual(p.t0, 10)
        XCTAssertEqual(p.tmult, 1)
        XCTAssertEqual(p.lrMaxCompression, 5)
        XCTAssertEqual(p.triggerValAcc, 0)
        XCTAssertNil(p.firstInvalid())
        XCTAssertEqual(SGDRParameters(lrMax: 0.5).lrMin, 0.005)
    }

    func testFirstInvalidNamesTheParameter() {
        func bad(_ p: SGDRParameters) -> String? { p.firstInvalid()?.parameter }
        XCTAssertEqual(bad(SGDRParameters(lrMax: -0.1)), "lr_max")
        XCTAssertEqual(bad(SGDRParameters(lrMax: 0)), "lr_max")
        XCTAssertEqual(bad(SGDRParameters(lrMax: .nan)), "lr_max")
        XCTAssertEqual(bad(SGDRParameters(lrMax: .infinity)), "lr_max")
        XCTAssertEqual(bad(SGDRParameters(lrMin: -1e-9)), "lr_min")
        XCTAssertEqual(bad(SGDRParameters(lrMin: .infinity)), "lr_min")
        XCTAssertEqual(bad(SGDRParameters(lrMax: 0.1, lrMin: 0.2)), "lr_min")
        XCTAssertEqual(bad(SGDRParameters(t0: 0)), "t0")
        XCTAssertEqual(bad(SGDRParameters(t0: -3)), "t0")
        XCTAssertEqual(bad(SGDRParameters(tmult: 0.99)), "tmult")
        XCTAssertEqual(bad(SGDRParameters(tmult: .nan)), "tmult")
        XCTAssertEqual(bad(SGDRParameters(tmult: .infinity)), "tmult")
        XCTAssertEqual(bad(SGDRParameters(lrMaxCompression: .nan)), "lr_max_compression")
        XCTAssertEqual(bad(SGDRParameters(lrMaxCompression: 0.5)), "lr_max_compression")
        XCTAssertEqual(bad(SGDRParameters(triggerValAcc: 1.5)), "trigger_val_acc")
        XCTAssertEqual(bad(SGDRParameters(triggerValAcc: .nan)), "trigger_val_acc")
    }

    func testValidEdgeValues() {
        for c in [-5.0, 0, 1, 5, 100] {
            XCTAssertNil(SGDRParameters(lrMaxCompression: c).firstInvalid(), "c = \(c)")
        }
        XCTAssertNil(SGDRParameters(lrMax: 0.1, lrMin: 0).firstInvalid())
        XCTAssertNil(SGDRParameters(lrMax: 0.1, lrMin: 0.1).firstInvalid())
        XCTAssertNil(SGDRParameters(t0: 1, tmult: 1).firstInvalid())
        XCTAssertNil(SGDRParameters(triggerValAcc: 1).firstInvalid())
        XCTAssertNil(SGDRParameters(triggerValAcc: 0).firstInvalid())
        // One rule for options and space files: a validation accuracy in [0, 1].
        XCTAssertEqual(SGDRParameters(triggerValAcc: -0.5).firstInvalid()?.parameter, "trigger_val_acc")
        XCTAssertEqual(ScheduleParameter.triggerValAcc.rule.allowed, "a number in [0, 1] (0: the schedule runs from epoch 1)")
    }
}
