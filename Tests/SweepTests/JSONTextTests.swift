import Foundation
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

    /// The byte reader a store uses (`fastNumbers(_:keys:)`, keys reused from row to row) against
    /// the values as Swift's literals spell them (correctly rounded; Linux's JSONSerialization is
    /// off by an ulp on 0.8734523452345234) and the keys as JSONSerialization reads them; nil
    /// where it must hand over to the general reader (escapes, non-finite strings).
    func testFastNumbersFromBytesAgreeWithLiteralsAndJSONSerialization() throws {
        let cases: [(String, [String: Double])] = [
            (#"{"t0":5,"tmult":1.5}"#, ["t0": 5, "tmult": 1.5]),
            (#"{"t0":1e-05,"tmult":0.1,"lr_max_compression":5e-324}"#, ["t0": 1e-05, "tmult": 0.1, "lr_max_compression": 5e-324]),
            (#"{"lr_max_compression":-2.5,"trigger_val_acc":0.8734523452345234,"t0":100}"#,
             ["lr_max_compression": -2.5, "trigger_val_acc": 0.8734523452345234, "t0": 100]),
            (#"{"t0":-7,"tmult":1E+2,"x":123456789012345678}"#, ["t0": -7, "tmult": 100, "x": 123456789012345678]),
            (#"{"t0":3}"#, ["t0": 3]), ("{}", [:]),
            (#"{"lr_max_compression":1.7976931348623157e308,"é":2.2250738585072014e-308}"#,
             ["lr_max_compression": 1.7976931348623157e308, "é": 2.2250738585072014e-308]),
        ]
        var keys: [String] = []
        for (text, expected) in cases + cases.reversed() {
            let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
            let fast = try XCTUnwrap(Array(text.utf8).withUnsafeBufferPointer { JSONText.fastNumbers($0, keys: &keys) }, text)
            XCTAssertEqual(Set(fast.keys), Set(parsed.keys), text)
            XCTAssertEqual(fast.mapValues(\.bitPattern), expected.mapValues(\.bitPattern), text)
            XCTAssertEqual(JSONText.numbers(text), fast, text)
        }
        for text in [#"{"a\"b":1}"#, #"{"t0":"NaN"}"#, "", "[1]", #"{"t0":}"#, #"{"t0":1x}"#] {
            XCTAssertNil(Array(text.utf8).withUnsafeBufferPointer { JSONText.fastNumbers($0, keys: &keys) }, text)
        }
        XCTAssertEqual(JSONText.numbers(#"{"a\"b":1}"#), ["a\"b": 1])
        XCTAssertEqual(JSONText.numbers(#"{"t0":"NaN"}"#)?["t0"]?.isNaN, true)
    }
}
