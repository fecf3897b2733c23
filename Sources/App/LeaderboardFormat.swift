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
        String(decoding: csvBytes(table), as: UTF8.self)
    }

    /// `csv(table)` as UTF-8 bytes in one array (`csvChunks` collected).
    public static func csvBytes(_ table: LeaderboardTable, proposer: (@Sendable (String) -> String)? = nil) -> [UInt8] {
        var out: [UInt8] = []
        csvChunks(table, proposer: proposer) { out.append(contentsOf: $0) }
        return out
    }

    /// The bytes of `csv(table)`, handed to `emit` in order, a block of rows at a time (a million
    /// rows in about half a second, in a few megabytes): the same fields, formatted as `cells`
    /// formats them, quoted as `csvField` quotes them. The blocks of a round are formatted on
    /// every core at once (each into its own buffer), then emitted in rank order: the bytes
    /// never depend on the cores. `proposer`: a tpe sweep's last column, `proposed_by`, by
    /// configuration.
    public static func csvChunks(_ table: LeaderboardTable, proposer: (@Sendable (String) -> String)? = nil,
                                 rowsPerBlock: Int = 4096, emit: (UnsafeRawBufferPointer) -> Void) {
        let swept = table.sweptNames
        var header = CSVBytes()
        for (i, f) in (Self.header(swept: swept) + (proposer == nil ? [] : ["proposed_by"])).enumerated() {
            if i > 0 { header.comma() }
            header.field(f)
        }
        header.lineEnd()
        header.bytes.withUnsafeBytes(emit)
        let baselineParameters = swept.map { name in ScheduleParameter(rawValue: name).flatMap { $0.usedByBaselines ? $0 : nil } }
        @Sendable func line(_ rank: Int, _ out: inout CSVBytes) {
            let row = table.summaryRow(at: rank, withSwept: false)
            out.int(row.rank); out.comma()
            out.field(row.configuration); out.comma()
            out.field(row.schedule.kind.rawValue)
            for k in swept.indices {
                out.comma()
                if let v = table.sweptValue(at: rank, k) {
                    out.fmt(v)
                } else if row.schedule.kind != .sgdr, let p = baselineParameters[k] {
                    out.fmt(p.value(in: row.schedule.parameters))
                }
            }
            out.comma(); out.double(row.bestValAcc)
            out.comma(); out.double(row.bestValAccStd)
            out.comma(); out.double(row.finalValAcc)
            out.comma(); if let e = row.bestEpoch { out.int(e) }
            out.comma()
            if row.repeatsDone == row.repeats {
                out.int(row.repeats)
            } else {
                out.int(row.repeatsDone); out.bytes.append(UInt8(ascii: "/")); out.int(row.repeats)
            }
            out.comma(); out.field(row.statusText)
            let paired = row.vsBaseline.flatMap { d in d.halfWidth95.map { (d.mean, $0) } }
            out.comma(); out.double(paired?.0)
            out.comma(); out.double(paired?.1)
            out.comma(); out.twoDecimals(row.seconds)
            if let proposer { out.comma(); out.field(proposer(row.configuration)) }
            out.lineEnd()
        }
        let rowsPerBlock = max(1, rowsPerBlock), blocksPerRound = 8 * max(1, ProcessInfo.processInfo.activeProcessorCount)
        var buffers = [[UInt8]](repeating: [], count: blocksPerRound)
        var start = 0
        while start < table.count {
            let blocks = min(blocksPerRound, (table.count - start + rowsPerBlock - 1) / rowsPerBlock)
            let first = start
            buffers.withUnsafeMutableBufferPointer { buffers in
                let shared = SendableBuffers(buffers: buffers)
                DispatchQueue.concurrentPerform(iterations: blocks) { b in
                    var out = CSVBytes()
                    swap(&out.bytes, &shared.buffers[b])
                    let lo = first + b * rowsPerBlock
                    for rank in lo..<min(table.count, lo + rowsPerBlock) { line(rank, &out) }
                    swap(&out.bytes, &shared.buffers[b])
                }
            }
            for b in 0..<blocks {
                buffers[b].withUnsafeBytes(emit)
                buffers[b].removeAll(keepingCapacity: true)
            }
            start += blocks * rowsPerBlock
        }
    }

    /// The buffers of a round, each written by one block's worker alone.
    private struct SendableBuffers: @unchecked Sendable { let buffers: UnsafeMutableBufferPointer<[UInt8]> }

    /// A CSV's bytes, appended field by field.
    struct CSVBytes {
        var bytes: [UInt8] = []

        mutating func comma() { bytes.append(UInt8(ascii: ",")) }
        mutating func lineEnd() { bytes.append(13); bytes.append(10) }

        /// `csvField(s)`.
        mutating func field(_ s: String) {
            var s = s
            s.withUTF8 { u in
                if u.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 13 || $0 == 10 }) {
                    bytes.append(UInt8(ascii: "\""))
                    for c in u {
                        bytes.append(c)
                        if c == UInt8(ascii: "\"") { bytes.append(c) }
                    }
                    bytes.append(UInt8(ascii: "\""))
                } else {
                    bytes.append(contentsOf: u)
                }
            }
        }

        /// `String(x)`.
        mutating func int(_ x: Int) {
            if x < 0 {
                guard x != .min else { field(String(x)); return }
                bytes.append(UInt8(ascii: "-"))
            }
            var m = x.magnitude
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
                var n = 0
                repeat {
                    digits[n] = UInt8(ascii: "0") + UInt8(m % 10)
                    m /= 10
                    n += 1
                } while m > 0
                while n > 0 {
                    n -= 1
                    bytes.append(digits[n])
                }
            }
        }

        /// `"\(x)"` (nothing for nil).
        mutating func double(_ x: Double?) {
            guard let x else { return }
            field(x.description)
        }

        /// `fmt(x)` (Schedules).
        mutating func fmt(_ x: Double) {
            if x == x.rounded(), abs(x) < 1e15 { int(Int(x)) } else { field(x.description) }
        }

        /// `LeaderboardFormat.twoDecimals(x)`.
        mutating func twoDecimals(_ x: Double) {
            guard x.isFinite, abs(x) < 1e13 else { field(String(format: "%.2f", x)); return }
            let hundredths = Int((abs(x) * 100).rounded(.toNearestOrEven))
            let fraction = hundredths % 100
            if x < 0 && hundredths > 0 { bytes.append(UInt8(ascii: "-")) }
            int(hundredths / 100)
            bytes.append(UInt8(ascii: "."))
            if fraction < 10 { bytes.append(UInt8(ascii: "0")) }
            int(fraction)
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
    /// `proposer`: a last column, `proposed_by` (a tpe sweep's), by configuration.
    public static func table(_ rows: [LeaderboardRow], swept: [String], proposer: ((String) -> String)? = nil) -> String {
        var head = ["rank", "configuration", "schedule"] + swept
            + ["best_val_acc", "std", "final_val_acc", "best_epoch", "repeats", "status", "vs_baseline", "±95%", "seconds"]
        var leftAligned: Set<Int> = [1, 2, head.count - 4]
        var body = rows.map { cells($0, swept: swept, precision: 4) }
        if let proposer {
            leftAligned.insert(head.count)
            head.append("proposed_by")
            for i in body.indices { body[i].append(proposer(rows[i].configuration)) }
        }
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
