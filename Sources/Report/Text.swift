import Foundation

/// Escapes text for XML/HTML content and attribute values: `&`, `<`, `>`, `"` and `'`.
public func escapeXML(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for ch in text.unicodeScalars {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default:
            // Control characters other than tab/newline are not allowed in XML 1.0.
            if ch.value < 0x20 && ch != "\t" && ch != "\n" && ch != "\r" {
                out += "\u{FFFD}"
            } else {
                out.unicodeScalars.append(ch)
            }
        }
    }
    return out
}

enum Format {
    /// A coordinate with two decimals (callers guarantee it is finite).
    static func coord(_ v: Double) -> String { String(format: "%.2f", v) }

    /// An accuracy or error: four decimals, or "–" when absent/non-finite.
    static func acc(_ v: Double?) -> String {
        guard let v, v.isFinite else { return "\u{2013}" }
        return String(format: "%.4f", v)
    }

    /// A signed difference with four decimals (`+0.0012`, `−0.0030`), or "–" when non-finite.
    static func signed(_ v: Double) -> String {
        guard v.isFinite else { return "\u{2013}" }
        return (v < 0 ? "\u{2212}" : "+") + String(format: "%.4f", abs(v))
    }

    /// A swept parameter's value or a tick label: short, no trailing zeros (`%g`), with the
    /// exponent written `1e-5` rather than `1e-05`.
    static func number(_ v: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "NaN" : (v > 0 ? "inf" : "-inf") }
        if v == 0 { return "0" }
        var s = String(format: "%g", v)
        if let e = s.firstIndex(of: "e") {
            var mantissa = String(s[..<e])
            var exponent = String(s[s.index(after: e)...])
            let negative = exponent.hasPrefix("-")
            exponent = String(exponent.drop(while: { $0 == "-" || $0 == "+" || $0 == "0" }))
            if exponent.isEmpty { exponent = "0" }
            if mantissa.contains(".") {
                while mantissa.hasSuffix("0") { mantissa.removeLast() }
                if mantissa.hasSuffix(".") { mantissa.removeLast() }
            }
            s = mantissa + "e" + (negative ? "-" : "") + exponent
        }
        return s
    }

    /// A tick label on a linear axis with `step` between ticks: as many decimals as the step needs.
    static func tick(_ v: Double, step: Double) -> String {
        let decimals = step > 0 ? max(0, Int((-log10(step)).rounded(.up) + 1e-9)) : 0
        if abs(v) >= 1e6 || (abs(v) < 1e-4 && v != 0) { return number(v) }
        let s = String(format: "%.\(min(decimals, 8))f", v)
        return s == "-0" || s.hasPrefix("-0.") && Double(s) == 0 ? String(s.dropFirst()) : s
    }
}

/// Wall-clock seconds as `12.3 s`, `4 min 05 s` or `2 h 07 min` (`–` when not finite or
/// negative): the one duration format of the tool (the report, `status`, the progress lines).
public func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "\u{2013}" }
    if seconds < 60 { return String(format: "%.1f s", seconds) }
    let s = Int(seconds.rounded())
    if s < 3600 { return String(format: "%d min %02d s", s / 60, s % 60) }
    return String(format: "%d h %02d min", s / 3600, (s % 3600) / 60)
}
