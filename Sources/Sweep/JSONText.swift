#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Schedules

/// The JSON this project writes, in one place: the stores' JSON columns (`swept`,
/// `step_milestones`) and the strings and numbers of `best --json`. Written and read directly,
/// which a million trials need (a JSONEncoder/JSONDecoder per row costs seconds); anything the
/// byte-level readers do not take goes through `JSONReader`. Compact form: keys sorted, whole
/// numbers without a fraction, non-finite numbers as the strings "Infinity", "-Infinity", "NaN".
public enum JSONText {
    /// A number of the compact form.
    public static func number(_ x: Double) -> String {
        if x.isNaN { return "\"NaN\"" }
        if x.isInfinite { return x > 0 ? "\"Infinity\"" : "\"-Infinity\"" }
        return fmt(x)
    }

    /// A string literal: quotes and backslashes escaped, control characters as `\n`, `\r`,
    /// `\t` or `\u00XX`.
    public static func string(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    public static func array(_ xs: [Double]) -> String { "[" + xs.map(number).joined(separator: ",") + "]" }

    public static func object(_ values: [String: Double]) -> String {
        "{" + values.sorted { $0.key < $1.key }.map { string($0.key) + ":" + number($0.value) }.joined(separator: ",") + "}"
    }

    /// The numbers of an array `array(_:)` wrote (or any JSON array of numbers and the three
    /// non-finite strings); nil for anything else.
    public static func doubles(_ text: String) -> [Double]? {
        if let fast = fastDoubles(text) { return fast }
        guard case .array(let items)? = try? JSONReader.parse(Array(text.utf8)).kind else { return nil }
        var out: [Double] = []
        for item in items {
            guard let x = number(item) else { return nil }
            out.append(x)
        }
        return out
    }

    /// The members of an object `object(_:)` wrote (or any JSON object of numbers and the three
    /// non-finite strings); nil for anything else.
    public static func numbers(_ text: String) -> [String: Double]? {
        if let fast = fastNumbers(text) { return fast }
        guard case .object(let members)? = try? JSONReader.parse(Array(text.utf8)).kind else { return nil }
        var out: [String: Double] = [:]
        for m in members {
            guard let x = number(m.value) else { return nil }
            out[m.key] = x
        }
        return out
    }

    private static func number(_ value: JSONValue) -> Double? {
        switch value.kind {
        case .number(let x, _): x
        case .string("NaN"): .nan
        case .string("Infinity"): .infinity
        case .string("-Infinity"): -.infinity
        default: nil
        }
    }

    /// `[0.5,0.75]`: plain numbers only; nil for anything else.
    static func fastDoubles(_ text: String) -> [Double]? {
        var text = text
        return text.withUTF8 { b -> [Double]? in
            let n = b.count
            guard n >= 2, b[0] == UInt8(ascii: "["), b[n - 1] == UInt8(ascii: "]") else { return nil }
            var out: [Double] = []
            var i = 1
            while i < n - 1 {
                var k = i
                while k < n - 1 && b[k] != UInt8(ascii: ",") { k += 1 }
                guard let x = number(b, i, k) else { return nil }
                out.append(x)
                i = k + 1
            }
            return out
        }
    }

    /// `{"t0":5,"tmult":1.5}`: plain keys (no escapes) and plain numbers only; nil otherwise.
    static func fastNumbers(_ text: String) -> [String: Double]? {
        var text = text
        var reader = SweptReader()
        return text.withUTF8 { reader.read($0) ? reader.values.dictionary : nil }
    }

    /// The finite number spelled by `b[start..<end]` (digits, sign, '.', exponent only), or nil.
    static func number(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
        let length = end - start
        guard length > 0 && length < 40 else { return nil }
        for i in start..<end {
            switch b[i] {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."),
                 UInt8(ascii: "e"), UInt8(ascii: "E"): continue
            default: return nil
            }
        }
        if let x = exactDecimal(b, start, end) { return x }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: length + 1) { buffer -> Double? in
            for i in 0..<length { buffer[i] = CChar(bitPattern: b[start + i]) }
            buffer[length] = 0
            var end: UnsafeMutablePointer<CChar>?
            let x = strtod(buffer.baseAddress!, &end)
            guard end == buffer.baseAddress! + length, x.isFinite else { return nil }
            return x
        }
    }

    /// `b[start..<end]` as a JSON number `-?digits(.digits)?([eE][+-]?digits)?` of at most 19
    /// significant digits and a decimal exponent within ±27, correctly rounded (as `strtod`) by
    /// integer arithmetic alone: m × 10^e is m × 5^e × 2^e, and m × 5^e is exact in 128 bits
    /// (e ≥ 0), while m / 5^k is a 128-by-64-bit division whose remainder says whether it was
    /// exact (e = -k < 0). nil for anything else (the caller asks `strtod`).
    static func exactDecimal(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
        let zero = UInt8(ascii: "0")
        func isDigit(_ c: UInt8) -> Bool { c &- zero < 10 }
        var i = start
        let negative = i < end && b[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        var m: UInt64 = 0, digits = 0, exponent = 0
        // Digits: leading zeros are not significant; a 20th significant digit goes to strtod.
        func digit(_ c: UInt8) -> Bool {
            if m == 0 && c == zero { return true }
            guard digits < 19 else { return false }
            m = m * 10 + UInt64(c - zero)
            digits += 1
            return true
        }
        let integerStart = i
        while i < end, isDigit(b[i]) {
            guard digit(b[i]) else { return nil }
            i += 1
        }
        guard i > integerStart else { return nil }
        if i < end, b[i] == UInt8(ascii: ".") {
            i += 1
            let fractionStart = i
            while i < end, isDigit(b[i]) {
                guard digit(b[i]) else { return nil }
                exponent -= 1
                i += 1
            }
            guard i > fractionStart else { return nil }
        }
        if i < end, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            var negativeExponent = false
            if i < end, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                negativeExponent = b[i] == UInt8(ascii: "-")
                i += 1
            }
            let exponentStart = i
            var e = 0
            while i < end, isDigit(b[i]) {
                guard i - exponentStart < 4 else { return nil }
                e = e * 10 + Int(b[i] - zero)
                i += 1
            }
            guard i > exponentStart else { return nil }
            exponent += negativeExponent ? -e : e
        }
        guard i == end else { return nil }
        if m == 0 { return negative ? -0.0 : 0.0 }
        guard let x = exactProduct(m, exponent) else { return nil }
        return negative ? -x : x
    }

    /// 5^0 ... 5^27 (5^27 < 2^63).
    private static let powersOfFive: [UInt64] = (0..<28).reduce(into: []) { p, k in p.append(k == 0 ? 1 : p[k - 1] * 5) }

    /// m × 10^e correctly rounded (ties to even), for m > 0 and |e| ≤ 27; nil outside that.
    static func exactProduct(_ m: UInt64, _ e: Int) -> Double? {
        guard m > 0, e >= -27, e <= 27 else { return nil }
        if e >= 0 {
            let (high, low) = m.multipliedFullWidth(by: powersOfFive[e])
            return rounded(high: high, low: low, inexact: false, twoExponent: e)
        }
        // m / 5^k, scaled by 2^s so that the quotient has 63 or 64 bits (and fits: high < d).
        let k = -e, d = powersOfFive[k]
        let s = 63 + (64 - d.leadingZeroBitCount) - (64 - m.leadingZeroBitCount)
        let high: UInt64, low: UInt64
        if s >= 64 {
            (high, low) = (m << UInt64(s - 64), 0)
        } else if s == 0 {
            (high, low) = (0, m)
        } else {
            (high, low) = (m >> UInt64(64 - s), m << UInt64(s))
        }
        let (q, r) = d.dividingFullWidth((high, low))
        return rounded(high: 0, low: q, inexact: r != 0, twoExponent: -s - k)
    }

    /// (high·2^64 + low + a little more when `inexact`) × 2^twoExponent, rounded to 53 bits
    /// (ties to even; a tie that is inexact rounds up). The result must be a normal number.
    private static func rounded(high: UInt64, low: UInt64, inexact: Bool, twoExponent: Int) -> Double {
        let length = high != 0 ? 128 - high.leadingZeroBitCount : 64 - low.leadingZeroBitCount
        if length <= 53 && !inexact { return Double(sign: .plus, exponent: twoExponent, significand: Double(low)) }
        var shift = length - 53
        func bit(_ j: Int) -> Bool { j < 64 ? (low >> UInt64(j)) & 1 == 1 : (high >> UInt64(j - 64)) & 1 == 1 }
        /// Any of bits 0 ..< j set.
        func anyBelow(_ j: Int) -> Bool {
            if j <= 0 { return false }
            if j < 64 { return low & ((1 << UInt64(j)) - 1) != 0 }
            if j == 64 { return low != 0 }
            return low != 0 || high & ((1 << UInt64(j - 64)) - 1) != 0
        }
        var mantissa: UInt64
        if shift <= 0 {
            mantissa = low << UInt64(-shift)   // inexact with fewer than 54 bits: never asked for
        } else if shift < 64 {
            mantissa = (low >> UInt64(shift)) | (high << UInt64(64 - shift))
        } else {
            mantissa = high >> UInt64(shift - 64)
        }
        if shift > 0, bit(shift - 1), inexact || anyBelow(shift - 1) || mantissa & 1 == 1 { mantissa += 1 }
        if mantissa == 1 << 53 {
            mantissa >>= 1
            shift += 1
        }
        return Double(sign: .plus, exponent: shift + twoExponent, significand: Double(mantissa))
    }
}

/// A trial's swept values as a store reads them: the keys in the stored text's order, the values
/// beside them (a parameter is looked up among a few keys; no dictionary a row).
public struct SweptValues: Sendable, Hashable, CustomStringConvertible {
    public internal(set) var keys: [String] = []
    public internal(set) var values: [Double] = []

    public init() {}

    /// In key order.
    public init(_ values: [String: Double]) {
        let sorted = values.sorted { $0.key < $1.key }
        keys = sorted.map(\.key)
        self.values = sorted.map(\.value)
    }

    public subscript(name: String) -> Double? {
        keys.lastIndex(of: name).map { values[$0] }
    }

    public var dictionary: [String: Double] {
        Dictionary(zip(keys, values), uniquingKeysWith: { _, last in last })
    }

    /// The same values by the same names, whatever their order.
    public static func == (a: SweptValues, b: SweptValues) -> Bool { a.dictionary == b.dictionary }
    public func hash(into hasher: inout Hasher) { hasher.combine(dictionary) }
    public var description: String { JSONText.object(dictionary) }
}

/// Reads a store's `swept` column row after row, as `{"t0":5,"tmult":1.5}` (plain keys, plain
/// numbers): the keys of the row before are kept where the same bytes name them again, and the
/// values are written over the row before's (no allocation a row once the shape repeats).
public struct SweptReader {
    private var keyBytes: [[UInt8]] = []
    /// The last row read (empty after one `read` refused).
    public private(set) var values = SweptValues()

    public init() {}

    /// Reads one object; false (and `values` empty) for anything not of the plain form.
    public mutating func read(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        if readPlain(b) { return true }
        keyBytes = []
        values = SweptValues()
        return false
    }

    private mutating func readPlain(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        let n = b.count
        guard n >= 2, b[0] == UInt8(ascii: "{"), b[n - 1] == UInt8(ascii: "}") else { return false }
        var i = 1, member = 0
        while i < n - 1 {
            guard b[i] == quote else { return false }
            var j = i + 1
            while j < n - 1 && b[j] != quote {
                if b[j] == backslash { return false }
                j += 1
            }
            guard j + 1 < n - 1, b[j + 1] == UInt8(ascii: ":") else { return false }
            let key = UnsafeBufferPointer(rebasing: b[(i + 1)..<j])
            let same = member < keyBytes.count && keyBytes[member].count == key.count
                && (key.isEmpty || keyBytes[member].withUnsafeBufferPointer { memcmp($0.baseAddress!, key.baseAddress!, key.count) == 0 })
            if !same {
                let name = String(decoding: key, as: UTF8.self)
                if member < keyBytes.count {
                    keyBytes[member] = Array(key)
                    values.keys[member] = name
                } else {
                    keyBytes.append(Array(key))
                    values.keys.append(name)
                    values.values.append(0)
                }
            }
            var k = j + 2
            let start = k
            while k < n - 1 && b[k] != UInt8(ascii: ",") { k += 1 }
            guard let x = JSONText.number(b, start, k) else { return false }
            values.values[member] = x
            member += 1
            i = k + 1
        }
        if member < keyBytes.count {
            keyBytes.removeLast(keyBytes.count - member)
            values.keys.removeLast(values.keys.count - member)
            values.values.removeLast(values.values.count - member)
        }
        return true
    }
}
