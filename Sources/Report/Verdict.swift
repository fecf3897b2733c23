import Foundation
import Schedules
import Sweep

/// What the page's first lines conclude about restarts (its `data-verdict`).
enum Verdict: String {
    /// The paired 95% interval lies above 0: the best SGDR configuration beat the best baseline.
    case sgdr
    /// It lies below 0: the best baseline beat the best SGDR configuration.
    case baseline
    /// It contains 0.
    case undecided
    /// One pair only (one repeat, or one finished so far): no interval.
    case oneRepeat = "one-repeat"
    /// The two share no finished repeat.
    case unpaired
    /// The sweep has no baseline.
    case noBaseline = "no-baseline"
    /// No finished SGDR or baseline trial yet.
    case pending
}

extension ReportPage {
    /// The verdict, right under the title: the best SGDR configuration and the best baseline
    /// (each mean ± sample std over its done repeats), their paired difference over the repeats
    /// both finished with its 95% interval (Student t), and one sentence saying whether restarts
    /// helped.
    func verdict() -> String {
        let bestSGDR = Leaderboard.bestSGDR(rows)
        let bestBaseline = Leaderboard.bestBaseline(rows)
        let objective = escapeXML(input.objective.rawValue)
        let hasBaselines = rows.contains { $0.schedule.kind != .sgdr }
        var items = ""
        if let b = bestSGDR {
            items += "<li>Best SGDR configuration: <strong>\(escapeXML(Self.label(b, parameters: input.parameters)))</strong>, "
            items += "\(objective) <strong>\(scoreText(b))</strong></li>\n"
            items += "<li class=\"schedule\">Schedule: <code>\(escapeXML(scheduleDescription(b.schedule)))</code></li>\n"
        } else {
            items += "<li>Best SGDR configuration: no finished SGDR trial yet.</li>\n"
        }
        if let base = bestBaseline {
            items += "<li>Best baseline: <strong>\(escapeXML(base.configuration))</strong>, \(objective) <strong>\(scoreText(base))</strong></li>\n"
        } else if hasBaselines {
            items += "<li>Best baseline: no finished baseline trial yet.</li>\n"
        } else {
            items += "<li>This sweep has no baseline.</li>\n"
        }

        let kind: Verdict
        var sentence: String
        if let b = bestSGDR, let base = bestBaseline {
            let baseName = escapeXML(base.configuration)
            if let d = b.vsBaseline {
                // In pairs: repeat r of both ran with the same training seed.
                let repeatsText = d.pairs == 1 ? "the 1 repeat both finished" : "the \(d.pairs) repeats both finished"
                items += "<li class=\"difference\">Paired difference, SGDR minus baseline, over \(repeatsText): <strong>\(Format.signed(d.mean))</strong>"
                if let se = d.standardError, let (low, high) = d.interval95 {
                    items += ", 95% interval <strong>[\(Format.signed(low)), \(Format.signed(high))]</strong> (standard error \(Format.acc(se)))</li>\n"
                    let sgdrCount = rankedSGDRCount
                    if low > 0 {
                        kind = .sgdr
                        sentence = "Restarts helped: the 95% interval lies above 0, in favour of SGDR"
                        if sgdrCount > 1 {
                            sentence += " (the best of \(sgdrCount) SGDR configurations, picked on these same repeats: another seed confirms it)"
                        }
                        sentence += "."
                    } else if high < 0 {
                        kind = .baseline
                        sentence = "Restarts did not help: the 95% interval lies below 0, in favour of the baseline \(baseName)."
                    } else {
                        kind = .undecided
                        sentence = "Undecided: the 95% interval contains 0, so this sweep does not say whether restarts helped; more repeats narrow it."
                    }
                } else {
                    items += " (one pair: no interval)</li>\n"
                    kind = .oneRepeat
                    let repeats = max(b.repeats, base.repeats)
                    sentence = repeats <= 1
                        ? "One repeat is not a result: a single pair has no spread to judge the difference by, so this sweep cannot say whether restarts helped; use repeats >= 3."
                        : "One repeat is not a result: \(escapeXML(PairedDifference.notMeasurable(repeats: repeats)))."
                }
            } else {
                kind = .unpaired
                sentence = "No verdict yet: the best SGDR configuration and \(baseName) have no finished repeat in common to pair."
            }
        } else if !hasBaselines {
            kind = .noBaseline
            sentence = "No verdict: this sweep has no baseline to compare restarts with."
        } else {
            kind = .pending
            sentence = "No verdict yet: \(bestSGDR == nil ? "no SGDR" : "no baseline") trial has finished."
        }
        if finishedCount < trialCount && kind != .pending {
            sentence += " The sweep is not finished (\(finishedCount) of \(trialCount) trials): this may change."
        }
        var h = "<div class=\"verdict\" data-verdict=\"\(kind.rawValue)\">\n<ul class=\"result\">\n\(items)</ul>\n"
        h += "<p class=\"verdict-sentence\"><strong>\(sentence)</strong></p>\n</div>\n"
        return h
    }
}
