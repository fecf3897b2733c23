import Foundation
import Sweep
import Schedules
import TrainingTypes

/// The best SGDR configuration of a sweep, beside the best baseline.
public struct BestSummary: Sendable {
    public var objective: Objective
    public var best: LeaderboardRow?
    public var baseline: LeaderboardRow?
    /// The data, training options and BLAS threads per trial, and repeat 0's training seed (what
    /// `train_args` reproduces).
    public var settings: TrainingSettings
    public var seed: UInt64
    /// The space's repeats (what the note says when only one pair has finished).
    public var plannedRepeats: Int
    /// A sweep with a `trainer`: the rerun is `sgdr-search trial DB CONFIGURATION` (the
    /// database's path as the user gave it), not `train`.
    public var trainerDatabase: String?
    /// How the configurations were proposed (`grid`, `random`, `sobol`, `list`).
    public var strategy: SearchStrategy

    public init(rows: [LeaderboardRow], space: SearchSpace, database: String? = nil) {
        objective = space.objective
        best = Leaderboard.bestSGDR(rows)
        baseline = Leaderboard.bestBaseline(rows)
        settings = space.trainingSettings
        seed = Seeds.training(sweepSeed: space.seed, repeatIndex: 0)
        plannedRepeats = space.repeats
        trainerDatabase = space.trainer == nil ? nil : database ?? space.defaultDatabasePath
        strategy = space.strategy
    }

    /// With a trainer: the arguments of `sgdr-search` that rerun the best configuration's repeat
    /// 0 through the sweep's own trainer.
    public var rerunArguments: [String]? {
        guard let db = trainerDatabase, let b = best else { return nil }
        return ["trial", db, b.configuration, "--repeat", "0"]
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
        return ["--schedule", "sgdr"] + ScheduleParameter.allCases.flatMap { [$0.option, $0.text(in: p)] }
            + TrainingOption.argumentOrder.flatMap { $0.arguments(settings) }
            + ["--seed", String(seed)] + TrainingOption.threads.arguments(settings)
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
        if let rerun = rerunArguments {
            out += "Rerun it: sgdr-search " + rerun.joined(separator: " ") + "\n"
        } else {
            out += "Rerun it: sgdr-search train " + trainArguments.joined(separator: " ") + "\n"
        }
        return out
    }

    /// A JSON object: the named fields, and `train_args` to feed back into `sgdr-search train`.
    public func json() -> String {
        let w = JSONWriter()
        w.object {
            w.key("objective"); w.string(objective.rawValue)
            w.key("strategy"); w.string(strategy.rawValue)
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
            if let rerun = rerunArguments {
                // The user's own trainer: no built-in training options, and the rerun is `trial`.
                w.key("rerun_args")
                w.stringArray(rerun)
                return
            }
            w.key("training")
            w.object {
                for option in TrainingOption.jsonOrder where option.applies(to: settings) {
                    w.key(option.name)
                    switch option.value(in: settings) {
                    case .text(let x): w.string(x)
                    case .integer(let n): w.number(Double(n))
                    case .number(let x): w.number(x)
                    case .flag(let b): w.bool(b)
                    case .widths(let ws): w.array(ws.map(Double.init))
                    case .absent: w.null()
                    }
                }
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
