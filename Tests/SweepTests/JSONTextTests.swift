import Sweep
import XCTest

/// The one JSON writer and reader of the stores' JSON columns.
final class JSONTextTests: XCTestCase {
    func testCompactFormsAsWritten() {
        XCTAssertEqual(JSONText.array([0.5, 0.75, 3, -2, 1e-5]), "[0.5,0.75,3,-2,1e-05]")
        XCTAssertEqual(JSONText.array([.nan, .infinity, -.infinity]), #"["NaN","Infinity","-Infinity"]"#)
        XCTAssertEqual(JSONText.object(["tmult": 1.5, "t0": 5]), #"{"t0":5,"tmult":1.5}"#)
        XCTAssertEqual(JSONText.string("a\"b\\c\nd\u{1}"), #""a\"b\\c\nd\u0001""#)
    }

    func testRoundTripsThroughTheFastAndTheGeneralReader() {
        let values: [String: Double] = ["t0": 5, "lr_max": 0.1, "c": -0.5, "odd\"key\n": 1e300, "nan": .nan]
        let read = JSONText.numbers(JSONText.object(values))
        XCTAssertEqual(read?.count, values.count)
        for (k, v) in values where !v.isNaN { XCTAssertEqual(read?[k], v, k) }
        XCTAssertTrue(read?["nan"]?.isNaN ?? false)
        XCTAssertEqual(JSONText.doubles(JSONText.array([0.25, .infinity])), [0.25, .infinity])
        // What another writer may have stored (spaces, exponents): the general reader takes it.
        XCTAssertEqual(JSONText.numbers(#" { "t0" : 5.0 , "tmult": 2E0 } "#), ["t0": 5, "tmult": 2])
        XCTAssertEqual(JSONText.doubles(" [ 0.5 , 7.5e-1 ] "), [0.5, 0.75])
    }

    func testMalformedTextIsNil() {
        for bad in ["", "[", "{\"a\":}", "[1,\"x\"]", "{\"a\":[1]}", "null", "[1,2]x"] {
            XCTAssertNil(JSONText.doubles(bad) ?? JSONText.numbers(bad).map { _ in [] }, bad)
        }
    }
}
