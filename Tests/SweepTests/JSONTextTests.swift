import Foundation
@testable import Sweep
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

    /// The byte reader a store uses (`SweptReader`, keys and values reused from row to row) against
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
        var reader = SweptReader()
        func fast(_ text: String) -> [String: Double]? {
            Array(text.utf8).withUnsafeBufferPointer { reader.read($0) ? reader.values.dictionary : nil }
        }
        for (text, expected) in cases + cases.reversed() {
            let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
            let fast = try XCTUnwrap(fast(text), text)
            XCTAssertEqual(reader.values.keys, parsed.keys.sorted { text.range(of: "\"\($0)\"")!.lowerBound < text.range(of: "\"\($1)\"")!.lowerBound }, text)
            XCTAssertEqual(Set(fast.keys), Set(parsed.keys), text)
            XCTAssertEqual(fast.mapValues(\.bitPattern), expected.mapValues(\.bitPattern), text)
            XCTAssertEqual(JSONText.numbers(text), fast, text)
        }
        for text in [#"{"a\"b":1}"#, #"{"t0":"NaN"}"#, "", "[1]", #"{"t0":}"#, #"{"t0":1x}"#] {
            XCTAssertNil(fast(text), text)
            XCTAssertEqual(reader.values, SweptValues(), text)
        }
        XCTAssertEqual(JSONText.numbers(#"{"a\"b":1}"#), ["a\"b": 1])
        XCTAssertEqual(JSONText.numbers(#"{"t0":"NaN"}"#)?["t0"]?.isNaN, true)
    }

    /// The integer-only decimal reader (`exactDecimal`: up to 19 digits, exponents within ±27)
    /// against the C library's `strtod` (Swift's `Double(String)`), bit for bit: the shortest
    /// spellings of random doubles (17 digits, the stores' swept values), random 1-19 digit
    /// mantissas with exponents from -30 to 30 in both spellings, and integers exactly halfway
    /// between two doubles (ties to even) and their neighbours. What it refuses, `number`
    /// hands to strtod.
    func testExactDecimalsAgreeWithStrtod() throws {
        var rng = SystemRandomNumberGenerator()
        var texts: [String] = ["0", "-0", "0.0", "1", "-1", "0.1", "0.3", "2.5", "1e-05", "1E+2", "123456789012345678",
                               "9007199254740993", "9007199254740995", "18014398509481989", "1.5849657184841848",
                               "0.8734523452345234", "9999999999999999999", "1e27", "1e-27", "5e-324", "1.7976931348623157e308",
                               "12345678901234567890", "0.000000000000000000000000000001"]
        for _ in 0..<20_000 {
            let x = Double.random(in: 0.0001...1000, using: &rng) * (Bool.random(using: &rng) ? 1 : -1)
            texts.append(x.description)
            let digits = Int.random(in: 1...19, using: &rng)
            var m = String(UInt64.random(in: 1...9, using: &rng))
            for _ in 1..<digits { m += String(UInt64.random(in: 0...9, using: &rng)) }
            let e = Int.random(in: -30...30, using: &rng)
            texts.append(m + "e" + String(e))
            let point = Int.random(in: 0...m.count, using: &rng)
            let intPart = m.prefix(point), fraction = m.dropFirst(point)
            texts.append((intPart.isEmpty ? "0" : String(intPart)) + (fraction.isEmpty ? "" : "." + fraction))
            // Halfway between two doubles: (2M + 1) × 2^(s-1), M of 53 bits.
            let halfway = (2 * UInt64.random(in: (1 << 52)..<(1 << 53), using: &rng) + 1) << UInt64(Int.random(in: 0...9, using: &rng))
            texts += [String(halfway), String(halfway - 1), String(halfway + 1)]
        }
        var fastOnes = 0
        for text in texts {
            let expected = try XCTUnwrap(Double(text), text)
            let bytes = Array(text.utf8)
            try bytes.withUnsafeBufferPointer { b in
                if let x = JSONText.exactDecimal(b, 0, b.count) {
                    fastOnes += 1
                    XCTAssertEqual(x.bitPattern, expected.bitPattern, text)
                }
                let y = try XCTUnwrap(JSONText.number(b, 0, b.count), text)
                XCTAssertEqual(y.bitPattern, expected.bitPattern, text)
            }
        }
        // Most texts take the integer path (those it refuses: > 19 digits, |exponent| > 27).
        XCTAssertGreaterThan(fastOnes, texts.count * 3 / 4)
        for text in ["", "-", ".5", "5.", "1e", "1e+", "--1", "1.2.3", "0x10", "+1", "1e99999"] {
            Array(text.utf8).withUnsafeBufferPointer { b in XCTAssertNil(JSONText.exactDecimal(b, 0, b.count), text) }
        }
    }
}
