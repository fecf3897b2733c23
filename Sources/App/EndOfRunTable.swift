import Foundation
import Sweep

/// The table a sweep prints when it ends: the leaderboard's first rows in the columns that answer
/// "which configuration, how good, how sure, against the baseline", narrow enough for a
/// 120-column terminal with the usual three swept parameters. `sgdr-search leaderboard DB`
/// prints every column (final_val_acc, best_epoch, seconds, ...).
enum EndOfRunTable {
    static func text(_ ranked: RankedSweep, objective: Objective, swept: [String], path: String) -> String {
        var out = table(ranked.top, objective: objective, swept: swept)
        let more = ranked.configurationCount - ranked.top.count
        out += more > 0
            ? "(\(more) more, and every column: sgdr-search leaderboard \(path))\n"
            : "(every column: sgdr-search leaderboard \(path))\n"
        return out
    }

    /// Columns: rank, configuration, the swept parameters, the objective's mean ± sample std,
    /// repeats, status, and the paired difference to the best baseline ± its 95% half-width.
    static func table(_ rows: [LeaderboardRow], objective: Objective, swept: [String]) -> String {
        let head = ["rank", "configuration"] + swept + [objective.rawValue, "repeats", "status", "vs_baseline ±95%"]
        let body = rows.map { row -> [String] in
            let all = LeaderboardFormat.cells(row, swept: swept, precision: 4)
            // cells: rank, configuration, schedule, swept..., best_val_acc, std, final_val_acc,
            // best_epoch, repeats, status, diff, ci95, seconds.
            let sweptCells = Array(all[3..<(3 + swept.count)])
            let rest = Array(all[(3 + swept.count)...])
            let (mean, std) = row.objective(objective)
            let score = mean.map { String(format: "%.4f", $0) + (std.map { String(format: " ± %.4f", $0) } ?? "") } ?? ""
            let paired = rest[6].isEmpty ? "" : rest[6] + " ± " + rest[7]
            return [all[0], all[1]] + sweptCells + [score, rest[4], rest[5], paired]
        }
        let leftAligned: Set<Int> = [1, head.count - 2]
        let widths = head.indices.map { i in ([head[i]] + body.map { $0[i] }).map(\.count).max() ?? 0 }
        func line(_ cells: [String]) -> String {
            var text = cells.indices.map { i in
                let pad = String(repeating: " ", count: widths[i] - cells[i].count)
                return leftAligned.contains(i) ? cells[i] + pad : pad + cells[i]
            }.joined(separator: "  ")
            while text.hasSuffix(" ") { text.removeLast() }
            return text
        }
        return ([line(head)] + body.map(line)).joined(separator: "\n") + "\n"
    }
}
