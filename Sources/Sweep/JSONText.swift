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
    /// Byte by byte: a million rows are read in well under a second.
    static func fastNumbers(_ text: String) -> [String: Double]? {
        var text = text
        var keys: [String] = []
        return text.withUTF8 { fastNumbers($0, keys: &keys) }
    }

    /// `fastNumbers` of UTF-8 bytes (a store's column as it is): `keys` are the keys of the
    /// previous object read, reused where the same bytes name them again (no new string a row).
    public static func fastNumbers(_ b: UnsafeBufferPointer<UInt8>, keys: inout [String]) -> [String: Double]? {
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        do {
            let n = b.count
            guard n >= 2, b[0] == UInt8(ascii: "{"), b[n - 1] == UInt8(ascii: "}") else { return nil }
            var out: [String: Double] = [:]
            out.reserveCapacity(ScheduleParameter.allCases.count)
            var i = 1, member = 0
            while i < n - 1 {
                guard b[i] == quote else { return nil }
                var j = i + 1
                while j < n - 1 && b[j] != quote {
                    if b[j] == backslash { return nil }
                    j += 1
                }
                guard j + 1 < n - 1, b[j + 1] == UInt8(ascii: ":") else { return nil }
                let keyBytes = UnsafeBufferPointer(rebasing: b[(i + 1)..<j])
                let key: String
                if member < keys.count, keys[member].utf8.elementsEqual(keyBytes) {
                    key = keys[member]
                } else {
                    key = String(decoding: keyBytes, as: UTF8.self)
                    if member < keys.count { keys[member] = key } else { keys.append(key) }
                }
                member += 1
                var k = j + 2
                let start = k
                while k < n - 1 && b[k] != UInt8(ascii: ",") { k += 1 }
                guard let x = number(b, start, k) else { return nil }
                out[key] = x
                i = k + 1
            }
            return out
        }
    }

    /// The finite number spelled by `b[start..<end]` (digits, sign, '.', exponent only), or nil.
    private static func number(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
        let length = end - start
        guard length > 0 && length < 40 else { return nil }
        for i in start..<end {
            switch b[i] {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."),
                 UInt8(ascii: "e"), UInt8(ascii: "E"): continue
            default: return nil
            }
        }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: length + 1) { buffer -> Double? in
            for i in 0..<length { buffer[i] = CChar(bitPattern: b[start + i]) }
            buffer[length] = 0
            var end: UnsafeMutablePointer<CChar>?
            let x = strtod(buffer.baseAddress!, &end)
            guard end == buffer.baseAddress! + length, x.isFinite else { return nil }
            return x
        }
    }
}
