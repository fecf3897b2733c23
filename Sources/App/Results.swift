import Engine
import Foundation
import Sweep
import Schedules

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
        func acc(_ x: Double?) -> String {
            guard let x else { return "" }
            return precision.map { String(format: "%.\($0)f", x) } ?? "\(x)"
        }
        let sweptCells = swept.map { name -> String in
            if let v = row.swept[name] { return fmt(v) }
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
        var text = ""
        text.reserveCapacity((rows.count + 1) * (80 + 20 * swept.count))
        func line(_ fields: [String]) {
            for (i, f) in fields.enumerated() {
                if i > 0 { text += "," }
                text += csvField(f)
            }
            text += "\r\n"
        }
        line(header(swept: swept))
        for row in rows { line(cells(row, swept: swept)) }
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

/// The best SGDR configuration of a sweep, beside the best baseline.
public struct BestSummary: Sendable {
    public var objective: Objective
    public var best: LeaderboardRow?
    public var baseline: LeaderboardRow?
    public var training: TrainingOptions
    public var data: DataOptions
    /// BLAS threads per trial, and repeat 0's training seed (what `train_args` reproduces).
    public var threads: Int
    public var seed: UInt64
    /// The space's repeats (what the note says when only one pair has finished).
    public var plannedRepeats: Int

    public init(rows: [LeaderboardRow], space: SearchSpace) {
        objective = space.objective
        best = Leaderboard.bestSGDR(rows)
        baseline = Leaderboard.bestBaseline(rows)
        training = space.training
        data = space.data
        threads = space.trainingThreads
        seed = Seeds.training(sweepSeed: space.seed, repeatIndex: 0)
        plannedRepeats = space.repeats
    }

    /// best - baseline, paired over the repeats both finished (common random numbers: repeat r
    /// of both ran with the same training seed).
    public var difference: PairedDifference? {
        guard let b = best, let base = baseline else { return nil }
        return PairedDifference(b.scores(objective), base.scores(objective))
    }

    /// Said instead of a verdict when the difference has no spread to judge it by.
    public var notMeasurable: String { PairedDifference.notMeasurable(repeats: plannedRepeats) }

    /// The arguments of `sgdr-search train` that rerun the best configuration's repeat 0 exactly:
    /// the schedule, the data, the training settings and repeat 0's seed.
    public var trainArguments: [String] {
        guard let b = best else { return [] }
        let p = b.schedule.parameters
        var args = ["--schedule", "sgdr"] + ScheduleParameter.allCases.flatMap { [$0.option, $0.text(in: p)] }
            + ["--epochs", String(b.schedule.epochs), "--dataset", data.dataset.rawValue]
        if let dir = data.dataDir { args += ["--data-dir", dir] }
        args += ["--train-size", String(data.trainSize), "--val-size", String(data.valSize)]
        if training.model == .cnn {
            args += ["--model", training.model.rawValue, "--conv", training.conv.map(String.init).joined(separator: ",")]
        }
        // "none" rather than an empty argument, which `$(jq -r '.train_args[]')` would drop.
        args += ["--hidden", training.hidden.isEmpty ? "none" : training.hidden.map(String.init).joined(separator: ","),
                 "--batch-size", String(training.batchSize), "--optimizer", training.optimizer.rawValue,
                 "--momentum", fmt(training.momentum)]
        if training.nesterov { args.append("--nesterov") }
        args += ["--weight-decay", fmt(training.weightDecay), "--seed", String(seed), "--threads", String(threads)]
        return args
    }

    /// Human-readable lines.
    public func text() -> String {
        guard let b = best, let score = b.score else {
            return "No SGDR configuration has finished yet.\n"
        }
        func spread(_ r: LeaderboardRow) -> String {
            let (_, std) = r.objective(objective)
            let s = std.map { String(format: " ± %.4f", $0) } ?? ""
            return s + " (\(r.repeatsDone) repeat\(r.repeatsDone == 1 ? "" : "s"))"
        }
        let p = b.schedule.parameters
        var out = "Best SGDR configuration: \(b.configuration): \(objective.rawValue) \(String(format: "%.4f", score))\(spread(b))\n"
        out += "  \(p.assignments()) epochs=\(b.schedule.epochs)\n"
        if let base = baseline, let t = base.score {
            out += "Best baseline: \(base.configuration): \(objective.rawValue) \(String(format: "%.4f", t))\(spread(base))\n"
            if let d = difference {
                if let se = d.standardError, let (low, high) = d.interval95 {
                    out += "Difference (SGDR - baseline), paired over \(d.pairs) repeats: "
                        + String(format: "%+.4f ± %.4f (standard error), 95%% interval [%+.4f, %+.4f]", d.mean, se, low, high)
                        + "\n"
                } else {
                    out += "Difference (SGDR - baseline): \(notMeasurable)\n"
                }
            }
        } else {
            out += "Best baseline: none finished\n"
        }
        out += "Rerun it: sgdr-search train " + trainArguments.joined(separator: " ") + "\n"
        return out
    }

    /// A JSON object: the named fields, and `train_args` to feed back into `sgdr-search train`.
    public func json() -> String {
        let w = JSONWriter()
        w.object {
            w.key("objective"); w.string(objective.rawValue)
            w.key("best")
            if let b = best { row(b, w, full: true) } else { w.null() }
            w.key("best_baseline")
            if let base = baseline { row(base, w, full: false) } else { w.null() }
            let d = difference
            w.key("difference")
            if let d { w.number(d.mean) } else { w.null() }
            w.key("difference_standard_error")
            if let se = d?.standardError { w.number(se) } else { w.null() }
            w.key("difference_ci95")
            if let (low, high) = d?.interval95 { w.array([low, high]) } else { w.null() }
            w.key("difference_pairs")
            w.number(Double(d?.pairs ?? 0))
            if let d, d.standardError == nil {
                w.key("difference_note"); w.string(notMeasurable)
            }
            w.key("training")
            w.object {
                w.key("dataset"); w.string(data.dataset.rawValue)
                w.key("train_size"); w.number(Double(data.trainSize))
                w.key("val_size"); w.number(Double(data.valSize))
                w.key("epochs"); w.number(Double(training.epochs))
                w.key("batch_size"); w.number(Double(training.batchSize))
                w.key("model"); w.string(training.model.rawValue)
                if training.model == .cnn { w.key("conv"); w.array(training.conv.map { Double($0) }) }
                w.key("hidden"); w.array(training.hidden.map { Double($0) })
                w.key("optimizer"); w.string(training.optimizer.rawValue)
                w.key("momentum"); w.number(training.momentum)
                w.key("nesterov"); w.bool(training.nesterov)
                w.key("weight_decay"); w.number(training.weightDecay)
            }
            w.key("train_args")
            w.stringArray(trainArguments)
        }
        return w.text + "\n"
    }

    private func row(_ r: LeaderboardRow, _ w: JSONWriter, full: Bool) {
        let p = r.schedule.parameters
        w.object {
            w.key("configuration"); w.string(r.configuration)
            w.key("schedule"); w.string(r.schedule.kind.rawValue)
            w.key("score"); if let s = r.score { w.number(s) } else { w.null() }
            w.key("score_std"); if let s = r.objective(objective).std { w.number(s) } else { w.null() }
            w.key("best_val_acc"); if let s = r.bestValAcc { w.number(s) } else { w.null() }
            w.key("final_val_acc"); if let s = r.finalValAcc { w.number(s) } else { w.null() }
            w.key("repeats"); w.number(Double(r.repeatsDone))
            // Baselines' rows (`full` false) hold only the parameters the baselines use.
            for q in ScheduleParameter.allCases where full || q.usedByBaselines {
                w.key(q.name); w.number(q.value(in: p))
            }
            if full {
                w.key("swept")
                w.object { for k in r.swept.keys.sorted() { w.key(k); w.number(r.swept[k]!) } }
            }
            w.key("epochs"); w.number(Double(r.schedule.epochs))
        }
    }
}

extension LeaderboardRow {
    /// The objective's mean and its spread (sample std over done repeats).
    func objective(_ o: Objective) -> (mean: Double?, std: Double?) {
        switch o {
        case .bestValAcc: return (bestValAcc, bestValAccStd)
        case .finalValAcc:
            return (finalValAcc, Leaderboard.sampleStd(trials.filter { $0.status == .done }.compactMap(\.finalValAcc)))
        }
    }
}

/// `best --json`'s pretty layout with ordered keys; strings and numbers are spelled as `JSONText`
/// spells them (non-finite numbers as null).
final class JSONWriter {
    var text = ""
    private var indent = 0
    private var needsComma = [false]

    private func value(_ s: String) {
        text += s
        needsComma[needsComma.count - 1] = true
    }

    func key(_ k: String) {
        if needsComma.last! { text += "," }
        text += "\n" + String(repeating: "  ", count: indent) + quote(k) + ": "
        needsComma[needsComma.count - 1] = false
    }

    func object(_ body: () -> Void) {
        text += "{"
        indent += 1
        needsComma.append(false)
        body()
        let nonEmpty = needsComma.removeLast()
        indent -= 1
        text += nonEmpty ? "\n" + String(repeating: "  ", count: indent) + "}" : "}"
        if !needsComma.isEmpty { needsComma[needsComma.count - 1] = true }
    }

    func string(_ s: String) { value(quote(s)) }
    func number(_ x: Double) { value(x.isFinite ? fmt(x) : "null") }
    func bool(_ b: Bool) { value(b ? "true" : "false") }
    func null() { value("null") }
    func array(_ xs: [Double]) { value("[" + xs.map { $0.isFinite ? fmt($0) : "null" }.joined(separator: ", ") + "]") }
    func stringArray(_ xs: [String]) { value("[" + xs.map(quote).joined(separator: ", ") + "]") }

    func quote(_ s: String) -> String { JSONText.string(s) }
}
