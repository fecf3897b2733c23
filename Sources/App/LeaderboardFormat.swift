import Foundation
import Sweep
import Schedules
import TrainingTypes

/// The leaderboard as CSV and as an aligned table.
public enum LeaderboardFormat {
    /// The CSV header: `rank,configuration,schedule,<swept parameters>,best_val_acc,best_val_acc_std,
    /// final_val_acc,best_epoch,repeats,status,diff_vs_baseline,diff_ci95,seconds`.
    public static func header(swept: [String]) -> [String] {
        ["rank", "configuration", "schedule"] + swept
            + ["best_val_acc", "best_val_acc_std", "final_val_acc", "best_epoch", "repeats", "status",
               "diff_vs_baseline", "diff_ci95", "seconds"]
    }

    /// One row's cells. Accuracies at full precision; `repeats` is `done/all` while some are
    /// unfinished, else the count. A baseline's swept cells are empty, except `lr_max`/`lr_min`.
    /// `diff_vs_baseline` and `diff_ci95` (the paired mean difference of the objective to the
    /// best baseline and the half-width of its 95% interval) are empty with fewer than 2 pairs.
    public static func cells(_ row: LeaderboardRow, swept: [String], precision: Int? = nil) -> [String] {
        cells(row, swept: swept, precision: precision) { row.swept[swept[$0]] }
    }

    /// `value(k)`: the row's value of `swept[k]`.
    static func cells(_ row: LeaderboardRow, swept: [String], precision: Int? = nil, value: (Int) -> Double?) -> [String] {
        func acc(_ x: Double?) -> String {
            guard let x else { return "" }
            return precision.map { String(format: "%.\($0)f", x) } ?? "\(x)"
        }
        let sweptCells = swept.indices.map { k -> String in
            let name = swept[k]
            if let v = value(k) { return fmt(v) }
            if row.schedule.kind != .sgdr, let p = ScheduleParameter(rawValue: name), p.usedByBaselines {
                return fmt(p.value(in: row.schedule.parameters))
            }
            return ""
        }
        let paired = row.vsBaseline.flatMap { d in d.halfWidth95.map { (d.mean, $0) } }
        func signed(_ x: Double?) -> String {
            guard let x else { return "" }
            return precision.map { String(format: "%+.\($0)f", x) } ?? "\(x)"
        }
        return [String(row.rank), row.configuration, row.schedule.kind.rawValue] + sweptCells + [
            acc(row.bestValAcc), acc(row.bestValAccStd), acc(row.finalValAcc),
            row.bestEpoch.map(String.init) ?? "",
            row.repeatsDone == row.repeats ? String(row.repeats) : "\(row.repeatsDone)/\(row.repeats)",
            row.statusText, signed(paired?.0), acc(paired?.1), twoDecimals(row.seconds),
        ]
    }

    /// `String(format: "%.2f", x)` without Foundation's formatter (a million rows).
    static func twoDecimals(_ x: Double) -> String {
        guard x.isFinite, abs(x) < 1e13 else { return String(format: "%.2f", x) }
        let hundredths = Int((abs(x) * 100).rounded(.toNearestOrEven))
        let fraction = hundredths % 100
        return (x < 0 && hundredths > 0 ? "-" : "") + String(hundredths / 100) + (fraction < 10 ? ".0" : ".") + String(fraction)
    }

    /// RFC 4180: CRLF line ends, fields with `,`, `"`, CR or LF quoted, quotes doubled.
    public static func csv(_ rows: [LeaderboardRow], swept: [String]) -> String {
        csv(count: rows.count, swept: swept) { cells(rows[$0], swept: swept) }
    }

    /// The same text for every row of `table`, made one summary row at a time (no row kept).
    public static func csv(_ table: LeaderboardTable) -> String {
        csv(count: table.count, swept: table.sweptNames) { rank in
            cells(table.summaryRow(at: rank, withSwept: false), swept: table.sweptNames) { table.sweptValue(at: rank, $0) }
        }
    }

    static func csv(count: Int, swept: [String], cells: (Int) -> [String]) -> String {
        var text = ""
        text.reserveCapacity((count + 1) * (80 + 20 * swept.count))
        func line(_ fields: [String]) {
            for (i, f) in fields.enumerated() {
                if i > 0 { text += "," }
                text += csvField(f)
            }
            text += "\r\n"
        }
        line(header(swept: swept))
        for i in 0..<count { line(cells(i)) }
        return text
    }

    public static func csvField(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 13 || $0 == 10 }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// An aligned table (numbers right-aligned), the CSV's columns with shorter headings.
    public static func table(_ rows: [LeaderboardRow], swept: [String]) -> String {
        let head = ["rank", "configuration", "schedule"] + swept
            + ["best_val_acc", "std", "final_val_acc", "best_epoch", "repeats", "status", "vs_baseline", "±95%", "seconds"]
        let body = rows.map { cells($0, swept: swept, precision: 4) }
        let leftAligned: Set<Int> = [1, 2, head.count - 4]
        let widths = head.indices.map { i in ([head[i]] + body.map { $0[i] }).map(\.count).max()! }
        func line(_ cells: [String]) -> String {
            cells.indices.map { i in
                let pad = String(repeating: " ", count: widths[i] - cells[i].count)
                return leftAligned.contains(i) ? cells[i] + pad : pad + cells[i]
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        return ([line(head)] + body.map(line)).joined(separator: "\n") + "\n"
    }
}
