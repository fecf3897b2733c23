import Foundation
import Schedules
import Sweep

/// Section 5 of the page: every configuration against the best baseline, in pairs (a forest
/// plot), and, for a racing sweep, the race.
extension ReportPage {
    /// Rows drawn at most in the forest plot and the race chart (the best ranked first).
    static let maxComparisonRows = 60

    /// A row's label in these charts, short enough for their 250-pixel margin:
    /// `sgdr-0011 t0=4 tmult=1 c=5 trigger=0.8`, `cosine (baseline)`.
    func shortLabel(_ row: LeaderboardRow) -> String {
        guard row.schedule.kind == .sgdr else { return "\(row.configuration) (baseline)" }
        let values = input.parameters.compactMap { p in
            row.swept[p.name].map { "\(ScheduleParameter(rawValue: p.name)?.label ?? p.name)=\(Format.number($0))" }
        }
        let text = ([row.configuration] + values).joined(separator: " ")
        return text.count <= 36 ? text : String(text.prefix(35)) + "\u{2026}"
    }

    func comparisonSection() -> String {
        var h = "<section id=\"comparison\" data-section=\"comparison\">\n<h2>Against the best baseline, in pairs</h2>\n"
        if doneCount == 0 {
            return h + "<p class=\"empty\">No finished trial yet: nothing to compare.</p>\n" + raceSubsection() + "</section>\n"
        }
        guard let base = Leaderboard.bestBaseline(rows) else {
            h += "<p class=\"empty\">No finished baseline: nothing to compare with.</p>\n"
            return h + raceSubsection() + "</section>\n"
        }
        let measured = rows.filter { ($0.vsBaseline?.halfWidth95) != nil }
        if measured.isEmpty {
            h += "<p class=\"empty\">\(escapeXML(PairedDifference.notMeasurable)).</p>\n"
            return h + raceSubsection() + "</section>\n"
        }
        h += "<p>Each configuration's \(escapeXML(input.objective.rawValue)) minus <strong>\(escapeXML(base.configuration))</strong>'s, "
        h += "repeat by repeat (repeat r of both ran with the same training seed), over the repeats both finished: "
        h += "the mean difference with its 95% interval (Student t). Right of the line at 0 is better than the baseline.</p>\n"
        let sorted = measured.sorted { $0.vsBaseline!.mean > $1.vsBaseline!.mean }
        let shown = Array(sorted.prefix(Self.maxComparisonRows))
        h += "<figure>\n" + forestPlot(shown, baseline: base.configuration) + "\n"
        if measuredCount > shown.count {
            h += "<figcaption>The \(shown.count) highest of \(measuredCount) configurations.</figcaption>\n"
        }
        h += "</figure>\n"
        return h + raceSubsection() + "</section>\n"
    }

    /// A forest plot: one row per configuration, its paired mean difference (a point) and 95%
    /// interval (a line), a vertical line at 0.
    func forestPlot(_ shown: [LeaderboardRow], baseline: String) -> String {
        let c = Format.coord
        let width = 960.0, labelWidth = 250.0, rowHeight = 18.0
        let plot = PlotRect(x: labelWidth, y: 40, width: width - labelWidth - 30, height: Double(shown.count) * rowHeight + 8)
        let lows = shown.compactMap { $0.vsBaseline?.interval95?.low }, highs = shown.compactMap { $0.vsBaseline?.interval95?.high }
        let axis = Axis.linear(min: min(0, lows.min() ?? 0), max: max(0, highs.max() ?? 0), target: 6)
        func px(_ v: Double) -> Double { plot.x + 4 + (axis.fraction(v) ?? 0) * (plot.width - 8) }
        let height = plot.bottom + 46
        let title = "Paired difference to \(baseline), 95% intervals"
        var s = Self.rowChartHeader(section: "comparison", title: title, plot: plot, width: width, height: height)
        for t in axis.ticks where t.major { s += rowChartTick(px(t.value), t.label, plot, lineBreak: true) }
        s += "<rect class=\"plot-area\" x=\"\(c(plot.x))\" y=\"\(c(plot.y))\" width=\"\(c(plot.width))\" height=\"\(c(plot.height))\" fill=\"none\" stroke=\"#333333\"/>\n"
        s += "<line class=\"zero\" x1=\"\(c(px(0)))\" y1=\"\(c(plot.y))\" x2=\"\(c(px(0)))\" y2=\"\(c(plot.bottom))\" stroke=\"#000000\" stroke-dasharray=\"4 3\"/>\n"
        s += "<text class=\"axis-title\" x=\"\(c(plot.x + plot.width / 2))\" y=\"\(c(plot.bottom + 36))\" text-anchor=\"middle\">"
        s += "\(escapeXML(input.objective.rawValue)) minus \(escapeXML(baseline))'s (paired)</text>\n"
        for (i, row) in shown.enumerated() {
            guard let d = row.vsBaseline, let (low, high) = d.interval95 else { continue }
            let y = plot.y + 4 + (Double(i) + 0.5) * rowHeight
            let color = row.schedule.kind != .sgdr ? Palette.color(1) : row.eliminatedAfter != nil ? "#999999" : Palette.color(0)
            let label = shortLabel(row)
            s += "<g class=\"forest-row\" data-configuration=\"\(escapeXML(row.configuration))\">"
            s += "<title>\(escapeXML(label)): \(String(format: "%+.4f [%+.4f, %+.4f]", d.mean, low, high)), \(d.pairs) pairs</title>"
            s += "<text x=\"\(c(plot.x - 8))\" y=\"\(c(y + 4))\" text-anchor=\"end\">\(escapeXML(label))</text>"
            s += "<polyline points=\"\(c(px(low))),\(c(y)) \(c(px(high))),\(c(y))\" stroke=\"\(color)\" stroke-width=\"2\" fill=\"none\"/>"
            s += "<circle class=\"point\" cx=\"\(c(px(d.mean)))\" cy=\"\(c(y))\" r=\"3.5\" fill=\"\(color)\"/></g>\n"
        }
        return s + "</svg>"
    }

    /// The opening of a one-row-per-configuration chart: the `svg` element (with the plot
    /// rectangle as `data-plot`, as every chart of the page), its title and background.
    static func rowChartHeader(section: String, title: String, plot: PlotRect, width: Double, height: Double) -> String {
        let c = Format.coord
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" data-section=\"\(section)\""
        s += " data-plot=\"\(c(plot.x)) \(c(plot.y)) \(c(plot.width)) \(c(plot.height))\""
        s += " width=\"\(c(width))\" height=\"\(c(height))\" viewBox=\"0 0 \(c(width)) \(c(height))\" role=\"img\""
        s += " font-family=\"system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
        s += "<title>\(escapeXML(title))</title>\n"
        s += "<rect x=\"0\" y=\"0\" width=\"\(c(width))\" height=\"\(c(height))\" fill=\"#ffffff\"/>\n"
        s += "<text class=\"chart-title\" x=\"\(c(width / 2))\" y=\"20\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">\(escapeXML(title))</text>\n"
        return s
    }

    /// The race: for each SGDR configuration, how many rounds it ran (a bar, grey when it was
    /// eliminated) and its mean with a 95% interval over its repeats; when nothing was
    /// eliminated, a sentence saying so instead of a chart of equal bars.
    func raceSubsection() -> String {
        guard let race = input.race else { return "" }
        var h = "<h3>The race</h3>\n"
        let saved = rows.reduce(0) { $0 + ($1.schedule.kind == .sgdr ? race.rounds - $1.trials.count : 0) }
        h += "<p>\(race.roundsDone) of \(race.rounds) rounds done\(race.isFinished ? " (finished)" : ""); "
        // As `status` says it: still racing while the race runs, survived once it is over.
        h += "\(race.survivors.count) configuration\(race.survivors.count == 1 ? "" : "s") \(race.isFinished ? "survived" : "still racing"), "
        h += "\(race.eliminated.count) eliminated; \(saved) of the full grid's \(race.rounds * (race.survivors.count + race.eliminated.count)) "
        h += "SGDR trials not run.</p>\n"
        let sgdr = rows.filter { $0.schedule.kind == .sgdr }
        let shown = Array(sgdr.prefix(Self.maxComparisonRows))
        guard !shown.isEmpty else { return h }
        if race.eliminated.isEmpty {
            // Every bar would be as long as the others: said in words instead of drawn.
            h += "<p class=\"race-none\" data-race=\"none-eliminated\">"
            if race.isFinished {
                h += "Nothing was eliminated: all \(sgdr.count) SGDR configuration\(sgdr.count == 1 ? "" : "s") ran all \(race.rounds) "
                h += "round\(race.rounds == 1 ? "" : "s")\(saved == 0 ? ", so racing saved no trial" : ""). "
                h += "No race chart is drawn: its bars would all be the same length.</p>\n"
            } else {
                h += "Nothing eliminated yet, after \(race.roundsDone) of \(race.rounds) round\(race.rounds == 1 ? "" : "s"): "
                h += "the race chart is drawn once a configuration is eliminated.</p>\n"
            }
            return h
        }
        let c = Format.coord
        let width = 960.0, labelWidth = 250.0, rowHeight = 18.0, barWidth = 260.0
        let plot = PlotRect(x: labelWidth, y: 40, width: width - labelWidth - 30, height: Double(shown.count) * rowHeight + 8)
        let intervals = shown.map { row -> (Double, Double)? in
            let scores = Array(row.scores(input.objective).values)
            guard !scores.isEmpty else { return nil }
            let d = PairedDifference(differences: scores)
            return (d.mean, d.halfWidth95 ?? 0)
        }
        let values = intervals.compactMap { $0 }
        let axis = Axis.linear(min: values.map { $0.0 - $0.1 }.min() ?? 0, max: values.map { $0.0 + $0.1 }.max() ?? 1, target: 5)
        let meanLeft = plot.x + barWidth + 40
        func bx(_ rounds: Double) -> Double { plot.x + 4 + rounds / Double(max(1, race.rounds)) * (barWidth - 8) }
        func mx(_ v: Double) -> Double { meanLeft + (axis.fraction(v) ?? 0) * (plot.right - 4 - meanLeft) }
        let height = plot.bottom + 46
        let title = "Rounds run and mean \(input.objective.rawValue) (95% interval)"
        var s = Self.rowChartHeader(section: "race", title: title, plot: plot, width: width, height: height)
        s += "<rect class=\"plot-area\" x=\"\(c(plot.x))\" y=\"\(c(plot.y))\" width=\"\(c(plot.width))\" height=\"\(c(plot.height))\" fill=\"none\" stroke=\"#333333\"/>\n"
        for r in 0...race.rounds {
            s += rowChartTick(bx(Double(r)), String(r), plot, lineBreak: false)
        }
        for t in axis.ticks where t.major { s += rowChartTick(mx(t.value), t.label, plot, lineBreak: false) }
        s += "<text class=\"axis-title\" x=\"\(c(bx(Double(race.rounds) / 2)))\" y=\"\(c(plot.bottom + 36))\" text-anchor=\"middle\">rounds run</text>\n"
        s += "<text class=\"axis-title\" x=\"\(c((meanLeft + plot.right) / 2))\" y=\"\(c(plot.bottom + 36))\" text-anchor=\"middle\">mean \(escapeXML(input.objective.rawValue))</text>\n"
        for (i, row) in shown.enumerated() {
            let y = plot.y + 4 + (Double(i) + 0.5) * rowHeight
            let out = race.eliminated[row.configuration] != nil
            let color = out ? "#999999" : Palette.color(0)
            let rounds = race.eliminated[row.configuration] ?? row.trials.count
            let label = shortLabel(row)
            s += "<g class=\"race-row\" data-configuration=\"\(escapeXML(row.configuration))\" data-rounds=\"\(rounds)\">"
            s += "<title>\(escapeXML(label)): \(rounds) round\(rounds == 1 ? "" : "s")\(out ? ", eliminated" : race.isFinished ? ", survived" : ", still racing")</title>"
            s += "<text x=\"\(c(plot.x - 8))\" y=\"\(c(y + 4))\" text-anchor=\"end\">\(escapeXML(label))</text>"
            s += "<rect x=\"\(c(bx(0)))\" y=\"\(c(y - 5))\" width=\"\(c(bx(Double(rounds)) - bx(0)))\" height=\"10\" fill=\"\(color)\"/>"
            if let (m, hw) = intervals[i] {
                s += "<polyline points=\"\(c(mx(m - hw))),\(c(y)) \(c(mx(m + hw))),\(c(y))\" stroke=\"\(color)\" stroke-width=\"2\" fill=\"none\"/>"
                s += "<circle class=\"point\" cx=\"\(c(mx(m)))\" cy=\"\(c(y))\" r=\"3.5\" fill=\"\(color)\"/>"
            }
            s += "</g>\n"
        }
        s += "</svg>"
        h += "<figure>\n" + s + "\n"
        if sgdr.count > shown.count { h += "<figcaption>The \(shown.count) best of \(sgdr.count) configurations.</figcaption>\n" }
        return h + "</figure>\n"
    }
}
