import Foundation
import Schedules
import Sweep

/// One line of the summary's settings table (dataset and training settings), in display order.
public struct ReportSetting: Hashable, Sendable {
    public var key: String
    public var value: String

    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}

/// A swept parameter as the space declares it: its space-file name and whether its range is
/// logarithmic (its chart then uses a log axis).
public struct SweptParameter: Hashable, Sendable {
    public var name: String
    public var logScale: Bool

    public init(name: String, logScale: Bool = false) {
        self.name = name
        self.logScale = logScale
    }
}

/// Everything a report shows, independent of how the sweep is stored.
public struct ReportInput: Sendable {
    /// The sweep's name.
    public var name: String
    /// Dataset and training settings, shown in the summary in this order.
    public var settings: [ReportSetting]
    /// What the sweep ranks by (the leaderboard's objective).
    public var objective: Objective
    /// The swept parameters, in space order: one chart each, one leaderboard column each.
    public var parameters: [SweptParameter]
    /// Every trial of the sweep, with its epochs.
    public var trials: [TrialRecord]
    /// When the report was made (shown in the footer; nil: not shown, for reproducible output).
    public var generatedAt: Date?
    /// A note shown at the top of the page, e.g. that the sweep was made with earlier schedule rules.
    public var note: String?
    /// Racing: where the race stands (nil without racing).
    public var race: RaceState?
    /// A sweep read compactly (`trials` then empty): the rows and figures the page shows, in
    /// place of every record (see `ReportSummary`).
    public var summary: ReportSummary?

    public init(name: String, settings: [ReportSetting] = [], objective: Objective = .bestValAcc,
                parameters: [SweptParameter] = [], trials: [TrialRecord], generatedAt: Date? = nil,
                note: String? = nil, race: RaceState? = nil, summary: ReportSummary? = nil) {
        self.race = race
        self.summary = summary
        self.name = name
        self.settings = settings
        self.objective = objective
        self.parameters = parameters
        self.trials = trials
        self.generatedAt = generatedAt
        self.note = note
    }
}

/// What the page shows of a sweep too large to hold as records (a million trials), read from
/// its `LeaderboardTable` (`ReportSummary.init(table:...)` in App): the rows it shows, in full,
/// and the figures it says of the whole. With it, the page is the one `trials` would give.
public struct ReportSummary: Sendable {
    /// The rows the page shows, in rank order, read in full (the plotted ones with their epochs):
    /// the leaderboard's first `maxTableRows`, every baseline, the SGDR rows the charts walk
    /// through, and those with the highest paired differences to the best baseline.
    public var rows: [LeaderboardRow]
    public var configurationCount: Int
    public var trialCount: Int
    public var statusCounts: [TrialStatus: Int]
    /// Seconds of all trials (finite ones), summed in number order.
    public var computeSeconds: Double
    /// The first diverged or failed trials (at most 30, in number order), and how many there are.
    public var failures: [TrialRecord]
    public var failureCount: Int
    /// Ranked SGDR configurations (a score, neither diverged nor failed).
    public var rankedSGDRCount: Int
    /// Configurations with a paired 95% interval to the best baseline.
    public var measuredCount: Int
    /// Each swept parameter's chart points, by name.
    public var points: [String: ParameterPoints]

    public init(rows: [LeaderboardRow], configurationCount: Int, trialCount: Int, statusCounts: [TrialStatus: Int],
                computeSeconds: Double, failures: [TrialRecord], failureCount: Int, rankedSGDRCount: Int,
                measuredCount: Int, points: [String: ParameterPoints]) {
        self.rows = rows
        self.configurationCount = configurationCount
        self.trialCount = trialCount
        self.statusCounts = statusCounts
        self.computeSeconds = computeSeconds
        self.failures = failures
        self.failureCount = failureCount
        self.rankedSGDRCount = rankedSGDRCount
        self.measuredCount = measuredCount
        self.points = points
    }

    /// The page's leaderboard table, in rows, and its forest plot's.
    public static let maxTableRows = ReportPage.maxTableRows, maxComparisonRows = ReportPage.maxComparisonRows
}

/// One swept parameter's chart, summarised: its points sampled (the best 500 done trials and an
/// even sample of the rest, 2000 in all; at most 500 diverged or failed), their totals, and the
/// values its axis needs (the smallest, the largest and the first 7 distinct ones: `Axis.parameter`
/// looks at no more, with its 6 value ticks).
public struct ParameterPoints: Sendable {
    public struct Point: Sendable {
        public var x: Double, y: Double
        public var id: String
    }

    public struct Bad: Sendable {
        public var x: Double
        public var id: String
        public var status: TrialStatus
    }

    var good: [Point], goodTotal: Int
    var bad: [Bad], badTotal: Int
    /// Finite x values enough for `Axis.parameter` to give the axis of all of them.
    var axisValues: [Double]

    /// From the SGDR trials that have a value of the parameter, in number order: (x, status, the
    /// objective's value), and a trial's id by its position among them (asked only for the points shown).
    public init(_ trials: [(x: Double, status: TrialStatus, score: Double?)], id: (Int) -> String) {
        var goodPoints: [(x: Double, y: Double, i: Int)] = [], badPoints: [(x: Double, i: Int, status: TrialStatus)] = []
        goodPoints.reserveCapacity(trials.count)
        var distinct: [Double] = [], lo = Double.infinity, hi = -Double.infinity
        for i in trials.indices {
            let t = trials[i]
            let x = t.x
            guard x.isFinite else { continue }
            lo = min(lo, x)
            hi = max(hi, x)
            if distinct.count <= 6, !distinct.contains(x) { distinct.append(x) }
            switch t.status {
            case .done: if let y = t.score, y.isFinite { goodPoints.append((x, y, i)) }
            case .diverged, .failed: badPoints.append((x, i, t.status))
            default: break
            }
        }
        axisValues = lo <= hi ? distinct + [lo, hi] : []
        goodTotal = goodPoints.count
        badTotal = badPoints.count
        good = ReportPage.sample(goodPoints, keep: ReportPage.maxChartPoints, best: ReportPage.bestChartPoints) { $0.y }
            .map { Point(x: $0.x, y: $0.y, id: id($0.i)) }
        bad = ReportPage.sample(badPoints, keep: ReportPage.maxChartPoints / 4, best: 0) { _ in 0 }
            .map { Bad(x: $0.x, id: id($0.i), status: $0.status) }
    }

    /// From records: the SGDR trials with a value of `name`.
    init(_ trials: [TrialRecord], name: String, objective: Objective) {
        let sgdr = trials.filter { $0.spec.schedule.kind == .sgdr && $0.spec.swept[name] != nil }
        self.init(sgdr.map { (x: $0.spec.swept[name]!, status: $0.status, score: $0.score(objective)) }) { sgdr[$0].spec.id }
    }
}

/// The section identifiers of the page, as its `data-section` attributes use them.
public enum ReportSection: String, CaseIterable, Sendable {
    case summary, schedules, errors, parameters, comparison, leaderboard
}

/// The whole report: one self-contained XHTML-compatible HTML page (inline CSS and SVG, no
/// script, no external resource) for a sweep, with the top `top` SGDR configurations and every
/// baseline in the schedule and error charts.
public func renderReport(_ input: ReportInput, top: Int = 5) -> String {
    ReportPage(input: input, top: max(0, top)).html()
}

/// One part of the report page, as HTML: `summary` (with the page's header and notices), then
/// one per `ReportSection` in page order. The static page is these fragments in this order; the
/// live dashboard (`serve`) shows the same fragments and replaces each one as the sweep grows.
public struct ReportFragment: Hashable, Sendable {
    public var section: ReportSection
    public var html: String
}

/// The report's sections, rendered exactly as `renderReport` renders them.
public func renderReportSections(_ input: ReportInput, top: Int = 5) -> [ReportFragment] {
    ReportPage(input: input, top: max(0, top)).fragments()
}

/// The report's style sheet (what its page's `<style>` holds).
public let reportCSS: String = ReportPage.css

// MARK: - The page

/// A configuration chosen for the schedule and error charts.
struct PlottedRun {
    var row: LeaderboardRow
    var label: String
    var colorIndex: Int
    /// (epoch, lr) of repeat 0 (or of the first repeat with epochs).
    var lr: [ChartPoint]
    /// Per-epoch mean over the repeats used (`curveRepeats`) of 1 - val_acc and 1 - train_acc.
    var valError: [ChartPoint]
    var trainError: [ChartPoint]
    var curveRepeats: Int
    /// Whether the curves are means over done repeats (false: over unfinished ones, in progress).
    var curvesFromDone: Bool
}

struct ReportPage {
    let input: ReportInput
    let top: Int
    let rows: [LeaderboardRow]
    let runs: [PlottedRun]
    /// Configurations that would be plotted but have no epoch yet.
    let unplotted: [String]
    let doneTrials: Int

    /// The sweep's size and figures: from the trials, or from the input's summary.
    let configurationCount: Int, trialCount: Int, finishedCount: Int, rankedSGDRCount: Int

    init(input: ReportInput, top: Int) {
        self.input = input
        self.top = top
        if let summary = input.summary {
            rows = summary.rows
            doneTrials = summary.statusCounts[.done] ?? 0
            configurationCount = summary.configurationCount
            trialCount = summary.trialCount
            finishedCount = summary.statusCounts.filter { $0.key.isFinished }.values.reduce(0, +)
            rankedSGDRCount = summary.rankedSGDRCount
        } else {
            rows = Leaderboard.rows(input.trials, objective: input.objective, eliminated: input.race?.eliminated ?? [:])
            doneTrials = input.trials.reduce(0) { $0 + ($1.status == .done ? 1 : 0) }
            configurationCount = rows.count
            trialCount = input.trials.count
            finishedCount = input.trials.reduce(0) { $0 + ($1.status.isFinished ? 1 : 0) }
            rankedSGDRCount = rows.filter { $0.schedule.kind == .sgdr && Self.isRanked($0) }.count
        }
        func hasEpochs(_ r: LeaderboardRow) -> Bool { r.trials.contains { !$0.epochs.isEmpty } }
        let sgdr = rows.filter { $0.schedule.kind == .sgdr }
        let baselines = rows.filter { $0.schedule.kind != .sgdr }
        // The top K SGDR configurations that have epochs, then every baseline that has some;
        // named as not plotted: the baselines without epochs, and the SGDR configurations without
        // epochs that would have filled the top K.
        let sgdrPlotted = Array(sgdr.filter(hasEpochs).prefix(top))
        let sgdrMissing = sgdr.filter { !hasEpochs($0) }.prefix(max(0, top - sgdrPlotted.count))
        let chosen = sgdrPlotted + baselines.filter(hasEpochs)
        unplotted = (sgdrMissing + baselines.filter { !hasEpochs($0) }).map(\.configuration)
        var runs: [PlottedRun] = []
        for row in chosen {
            let run = Self.plottedRun(row, colorIndex: runs.count, parameters: input.parameters)
            if !run.lr.isEmpty || !run.valError.isEmpty { runs.append(run) }
        }
        self.runs = runs
    }

    static func isRanked(_ r: LeaderboardRow) -> Bool { r.score != nil && r.status != .failed && r.status != .diverged }

    /// Configurations with a paired interval to the best baseline (all of them, not only those in `rows`).
    var measuredCount: Int { input.summary?.measuredCount ?? rows.filter { ($0.vsBaseline?.halfWidth95) != nil }.count }

    static func label(_ row: LeaderboardRow, parameters: [SweptParameter]) -> String {
        if row.schedule.kind != .sgdr { return "\(row.configuration) (baseline)" }
        let names = parameters.map(\.name).filter { row.swept[$0] != nil }
            + row.swept.keys.sorted().filter { k in !parameters.contains { $0.name == k } }
        let values = names.map { "\($0)=\(Format.number(row.swept[$0]!))" }
        return values.isEmpty ? row.configuration : "\(row.configuration): \(values.joined(separator: " "))"
    }

    static func plottedRun(_ row: LeaderboardRow, colorIndex: Int, parameters: [SweptParameter]) -> PlottedRun {
        let withEpochs = row.trials.filter { !$0.epochs.isEmpty }
        let lrTrial = withEpochs.first { $0.spec.repeatIndex == 0 } ?? withEpochs.first
        let lr = (lrTrial?.epochs ?? []).compactMap { e -> ChartPoint? in
            guard e.lr.isFinite, e.lr >= 0 else { return nil }
            return ChartPoint(x: Double(e.epoch), y: e.lr)
        }
        let done = withEpochs.filter { $0.status == .done }
        let curveTrials = done.isEmpty ? withEpochs : done
        return PlottedRun(
            row: row, label: label(row, parameters: parameters), colorIndex: colorIndex, lr: lr,
            valError: meanCurve(curveTrials) { 1 - $0.valAcc },
            trainError: meanCurve(curveTrials) { 1 - $0.trainAcc },
            curveRepeats: curveTrials.count, curvesFromDone: !done.isEmpty)
    }

    /// Per-epoch mean of `value` over the trials that have that epoch; non-finite values skipped.
    static func meanCurve(_ trials: [TrialRecord], _ value: (EpochMetricsValue) -> Double) -> [ChartPoint] {
        var sums: [Int: (Double, Int)] = [:]
        for t in trials {
            for e in t.epochs {
                let v = value(EpochMetricsValue(valAcc: e.valAcc, trainAcc: e.trainAcc))
                guard v.isFinite else { continue }
                let (s, n) = sums[e.epoch] ?? (0, 0)
                sums[e.epoch] = (s + v, n + 1)
            }
        }
        return sums.keys.sorted().map { ChartPoint(x: Double($0), y: sums[$0]!.0 / Double(sums[$0]!.1)) }
    }

    var doneCount: Int { doneTrials }
    /// Most rows of the leaderboard table, and most points of each parameter chart: a sweep of a
    /// million trials gets a page of a few megabytes that summarises (the CSV has every row).
    static let maxTableRows = 1000, maxChartPoints = 2000, bestChartPoints = 500

    func html() -> String {
        var h = "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
        h += "<meta charset=\"utf-8\"/>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
        h += "<title>\(escapeXML("sgdr-search report: \(input.name)"))</title>\n"
        h += "<style>\n\(Self.css)</style>\n</head>\n<body>\n"
        for fragment in fragments() { h += fragment.html }
        h += "<footer><p>Made by sgdr-search report"
        if let date = input.generatedAt {
            let f = ISO8601DateFormatter()
            f.formatOptions = [.withInternetDateTime]
            h += " on \(escapeXML(f.string(from: date)))"
        }
        h += ". Self-contained page: no script, no network.</p></footer>\n</body>\n</html>\n"
        return h
    }

    /// The page's parts in page order.
    func fragments() -> [ReportFragment] {
        ReportSection.allCases.map { section in
            let html = switch section {
            case .summary: summary()
            case .schedules: schedulesSection()
            case .errors: errorsSection()
            case .parameters: parametersSection()
            case .comparison: comparisonSection()
            case .leaderboard: leaderboardSection()
            }
            return ReportFragment(section: section, html: html)
        }
    }

    // MARK: Summary

    func summary() -> String {
        let trials = input.trials
        var h = "<header>\n<h1>\(escapeXML("Sweep \(input.name)"))</h1>\n"
        var statusCounts: [TrialStatus: Int] = input.summary?.statusCounts ?? [:]
        if input.summary == nil { for t in trials { statusCounts[t.status, default: 0] += 1 } }
        let finished = finishedCount
        if let note = input.note { h += "<p class=\"notice\" data-note=\"rules\">\(escapeXML(note))</p>\n" }
        if trialCount == 0 {
            h += "<p class=\"notice\">This sweep has no trials yet.</p>\n"
        } else if finished < trialCount {
            h += "<p class=\"notice\">This sweep is still running (or was stopped): \(finished) of \(trialCount) trials finished.</p>\n"
        }
        if trialCount > 0 && doneCount == 0 {
            h += "<p class=\"notice\">No finished trial yet"
            if finished > 0 { h += ": every finished trial diverged or failed (see below)" }
            h += ".</p>\n"
        }
        h += "</header>\n"
        h += "<section id=\"summary\" data-section=\"summary\">\n<h2>Summary</h2>\n"
        // The answer first: the best SGDR configuration against the best baseline, then the settings.
        h += verdict()

        // Settings: (key, value) pairs in three columns, filled top to bottom, so that the
        // table is a third as long as the list.
        var settings = [("sweep", input.name)] + input.settings.map { ($0.key, $0.value) }
        settings.append(("objective", input.objective.rawValue))
        if !input.parameters.isEmpty {
            let names = input.parameters.map { $0.logScale ? "\($0.name) (log)" : $0.name }
            settings.append(("swept", names.joined(separator: ", ")))
        }
        let columns = 3, settingRows = (settings.count + columns - 1) / columns
        h += "<h3>Settings</h3>\n<table class=\"settings\">\n<tbody>\n"
        for r in 0..<settingRows {
            h += "<tr>"
            for c in 0..<columns {
                let i = c * settingRows + r
                if i < settings.count {
                    h += "<th scope=\"row\">\(escapeXML(settings[i].0))</th><td>\(escapeXML(settings[i].1))</td>"
                } else {
                    h += "<td></td><td></td>"
                }
            }
            h += "</tr>\n"
        }
        h += "</tbody>\n</table>\n"

        // Trials by status and compute time.
        h += "<h3>Trials</h3>\n<table class=\"status-counts\">\n<thead><tr>"
        for status in TrialStatus.allCases { h += "<th class=\"num\">\(status.rawValue)</th>" }
        h += "<th class=\"num\">total</th></tr></thead>\n<tbody><tr>"
        for status in TrialStatus.allCases {
            h += "<td class=\"num\">\(statusCounts[status] ?? 0)</td>"
        }
        h += "<td class=\"num\">\(trialCount)</td></tr></tbody>\n</table>\n"
        let compute = input.summary?.computeSeconds ?? trials.reduce(0.0) { $0 + ($1.seconds.map { $0.isFinite ? $0 : 0 } ?? 0) }
        h += "<p>Total compute time of the finished trials: <strong>\(escapeXML(formatDuration(compute)))</strong> "
        h += "(\(configurationCount) configuration\(configurationCount == 1 ? "" : "s")).</p>\n"

        // Trials that went wrong.
        let bad = input.summary?.failures ?? Array(trials.lazy.filter { $0.status == .failed || $0.status == .diverged }.prefix(30))
        let badCount = input.summary?.failureCount ?? trials.reduce(0) { $0 + ($1.status == .failed || $1.status == .diverged ? 1 : 0) }
        if !bad.isEmpty {
            h += "<h3>Diverged and failed trials</h3>\n<ul class=\"failures\">\n"
            for t in bad.prefix(30) {
                h += "<li><code>\(escapeXML(t.spec.id))</code> \(t.status.rawValue)"
                if let e = t.error, !e.isEmpty { h += ": \(escapeXML(e))" }
                h += "</li>\n"
            }
            if badCount > 30 { h += "<li>and \(badCount - 30) more.</li>\n" }
            h += "</ul>\n"
        }
        h += "</section>\n"
        return h
    }

    /// `0.9123 ± 0.0021 (3 repeats)`, `0.9123 (2 of 3 repeats)` or `0.9123`.
    func scoreText(_ row: LeaderboardRow) -> String {
        var s = Format.acc(row.score)
        if row.repeats > 1 {
            if input.objective == .bestValAcc, let std = row.bestValAccStd { s += " \u{00B1} \(Format.acc(std))" }
            s += row.repeatsDone == row.repeats ? " (\(row.repeats) repeats" : " (\(row.repeatsDone) of \(row.repeats) repeats"
            s += input.objective == .bestValAcc && row.bestValAccStd != nil ? ", mean \u{00B1} sample std)" : ", mean)"
        }
        return escapeXML(s)
    }

    // MARK: Sections 2 and 3

    func emptyNote() -> String {
        trialCount == 0 ? "This sweep has no trials yet." : "No finished trial yet: no epoch to plot."
    }

    /// Said above the charts of sections 2 and 3 when what they show is still running.
    func inProgressNote() -> String {
        doneCount == 0 ? "<p class=\"notice\">No finished trial yet: the curves show the epochs run so far.</p>\n" : ""
    }

    func unplottedNote() -> String {
        guard !unplotted.isEmpty else { return "" }
        return " Not plotted, no epoch yet: \(escapeXML(unplotted.joined(separator: ", ")))."
    }

    func schedulesSection() -> String {
        var h = "<section id=\"schedules\" data-section=\"schedules\">\n<h2>Learning-rate schedules</h2>\n"
        guard !runs.isEmpty else { return h + "<p class=\"empty\">\(emptyNote())</p>\n</section>\n" }
        let series = runs.map { ChartSeries(label: $0.label, points: $0.lr, colorIndex: $0.colorIndex) }
        let sgdrCount = runs.filter { $0.row.schedule.kind == .sgdr }.count
        let baselineCount = runs.count - sgdrCount
        var title = "Learning rate per epoch: "
        if sgdrCount > 0 { title += sgdrCount == 1 ? "best SGDR configuration" : "top \(sgdrCount) SGDR configurations" }
        if sgdrCount > 0 && baselineCount > 0 { title += " and " }
        if baselineCount > 0 { title += baselineCount == 1 ? "the baseline" : "the baselines" }
        let spec = learningRateChart(series, title: title, section: ReportSection.schedules.rawValue)
        h += inProgressNote()
        h += "<figure>\n\(renderChart(spec))<figcaption>The learning rate each epoch actually ran with (repeat 0 of each configuration), log scale. "
        h += "A learning rate of 0 is drawn on the bottom edge.\(unplottedNote())</figcaption>\n</figure>\n</section>\n"
        return h
    }

    func errorsSection() -> String {
        var h = "<section id=\"errors\" data-section=\"errors\">\n<h2>Validation and training error</h2>\n"
        guard !runs.isEmpty else { return h + "<p class=\"empty\">\(emptyNote())</p>\n</section>\n" }
        // The y axis covers the later half of each curve (epochs sorted; the whole curve when it
        // has one point), not the first epochs: their high errors would take most of the
        // height and squash the band where the runs differ, which is what a reader compares.
        // A fixed rule rather than a tuned quantile: every later point is inside the axis; a
        // curve whose first epochs are above it enters through the top edge where its line
        // crosses it (no point drawn at a value it did not have), as the caption then says.
        func laterHalf(_ curve: [ChartPoint]) -> [Double] {
            let sorted = curve.filter { $0.y.isFinite }.sorted { $0.x < $1.x }
            return sorted.suffix((sorted.count + 1) / 2).map(\.y)
        }
        let values = runs.flatMap { laterHalf($0.valError) + laterHalf($0.trainError) }
            + runs.compactMap { $0.valError.map(\.y).filter(\.isFinite).min() }
        let yAxis = Axis.covering(values.map { min(1, max(0, $0)) }, scale: .linear)
        let clippedAbove = runs.contains { ($0.valError + $0.trainError).contains { $0.y.isFinite && $0.y > yAxis.upper } }
        func enteringFromTop(_ curve: [ChartPoint]) -> [ChartPoint] {
            let top = yAxis.upper
            let sorted = curve.sorted { $0.x < $1.x }
            guard let i = sorted.firstIndex(where: { !($0.y > top) }), i > 0, sorted[i - 1].y.isFinite else { return sorted }
            let (p, q) = (sorted[i - 1], sorted[i])
            let x = p.x + (top - p.y) / (q.y - p.y) * (q.x - p.x)
            return [ChartPoint(x: x, y: top)] + sorted[i...]
        }
        let xMax = runs.flatMap { $0.valError.map(\.x) + $0.trainError.map(\.x) }.max() ?? 1
        var spec = ChartSpec(section: ReportSection.errors.rawValue,
                             title: "Error per epoch: validation (solid) and training (dotted)",
                             xTitle: "epoch", yTitle: "error (1 \u{2212} accuracy)",
                             x: Axis.linear(min: 0, max: max(1, xMax), integer: true), y: yAxis)
        for run in runs {
            let color = Palette.color(run.colorIndex)
            let dash = Palette.dash(run.colorIndex)
            let n = run.curveRepeats
            let suffix = n > 1 ? " (mean of \(n) \(run.curvesFromDone ? "done" : "unfinished") repeats)"
                : run.curvesFromDone ? "" : " (in progress)"
            spec.lines.append(LineSpec(points: enteringFromTop(run.valError), color: color, dash: dash, width: 2,
                                       title: "\(run.label): validation error\(suffix)"))
            spec.lines.append(LineSpec(points: enteringFromTop(run.trainError), color: color, dash: "1.5 3.5", width: 1.5,
                                       title: "\(run.label): training error\(suffix)"))
            spec.legend.append(LegendEntry(label: run.label + suffix, color: color, dash: dash))
            if let best = run.valError.min(by: { $0.y < $1.y }) {
                spec.markers.append(Marker(x: best.x, y: best.y, color: color, shape: .circle, radius: 4.5,
                                           title: "\(run.label): lowest validation error \(Format.acc(best.y)) at epoch \(Int(best.x))",
                                           cssClass: "best-marker"))
            }
        }
        spec.note = "Solid: validation error. Dotted: training error. Circle: lowest validation error of each run."
        let anyMean = runs.contains { $0.curveRepeats > 1 }
        h += inProgressNote()
        h += "<figure>\n\(renderChart(spec))<figcaption>Error = 1 \u{2212} accuracy per epoch"
        if anyMean { h += "; for configurations with several repeats, the per-epoch mean over the done repeats" }
        h += ". The circles mark each run&#8217;s lowest validation error."
        if clippedAbove {
            h += " The error axis covers the later half of each curve: where the first epochs&#8217; errors are higher, the curve enters through the top edge."
        }
        h += "\(unplottedNote())</figcaption>\n</figure>\n</section>\n"
        return h
    }

    // MARK: Section 4

    func parametersSection() -> String {
        var h = "<section id=\"parameters\" data-section=\"parameters\">\n<h2>Effect of each swept parameter</h2>\n"
        if input.parameters.isEmpty {
            return h + "<p class=\"empty\">This sweep has no swept parameter.</p>\n</section>\n"
        }
        if doneCount == 0 {
            return h + "<p class=\"empty\">\(trialCount == 0 ? "This sweep has no trials yet." : "No finished trial yet.")</p>\n</section>\n"
        }
        let baseline = rows.first { $0.schedule.kind != .sgdr && $0.score != nil }
        h += "<div class=\"small-multiples\">\n"
        for p in input.parameters {
            h += "<figure>\n\(parameterChart(p, baseline: baseline))</figure>\n"
        }
        h += "</div>\n<p class=\"caption\">Each filled circle is one done trial (every repeat separately), at its \(escapeXML(input.objective.rawValue)). "
        h += "Crosses on the bottom edge are diverged or failed trials. "
        h += baseline == nil ? "" : "The dashed line is the best baseline&#8217;s score. "
        h += "</p>\n</section>\n"
        return h
    }

    func parameterChart(_ p: SweptParameter, baseline: LeaderboardRow?) -> String {
        // Summarised before (a sweep may have a million trials): the sampled points and the axis's values.
        let points = input.summary?.points[p.name] ?? ParameterPoints(input.trials, name: p.name, objective: input.objective)
        let xsAll = points.axisValues
        let useLog = p.logScale && !xsAll.isEmpty && xsAll.allSatisfy { $0 > 0 }
        let allGood = points.goodTotal
        let good = points.good.map { ($0.x, $0.y, $0.id) }
        let bad = points.bad.map { ($0.x, $0.id, $0.status) }
        var ys = good.map(\.1)
        if let s = baseline?.score, s.isFinite { ys.append(s) }
        let integer = ScheduleParameter(rawValue: p.name)?.isInteger ?? false
        let xAxis = Axis.parameter(xsAll, scale: useLog ? .log : .linear, integer: integer)
        var spec = ChartSpec(section: ReportSection.parameters.rawValue,
                             title: "\(input.objective.rawValue) against \(p.name)",
                             xTitle: p.name + (useLog ? " (log scale)" : p.logScale && !xsAll.isEmpty ? " (linear: a value \u{2264} 0)" : ""),
                             yTitle: input.objective.rawValue,
                             x: xAxis, y: Axis.covering(ys, scale: .linear))
        spec.width = 470
        spec.plotHeight = 210
        for (x, y, id) in good {
            spec.markers.append(Marker(x: x, y: y, color: Palette.color(0), shape: .circle, radius: 3.5,
                                       title: "\(id): \(p.name)=\(Format.number(x)), \(input.objective.rawValue)=\(Format.acc(y))",
                                       cssClass: "point"))
        }
        for (x, id, status) in bad {
            spec.markers.append(Marker(x: x, y: nil, color: Palette.color(1), shape: .cross, radius: 4,
                                       title: "\(id): \(p.name)=\(Format.number(x)), \(status.rawValue)",
                                       cssClass: "failed-point"))
        }
        if let b = baseline, let s = b.score, s.isFinite {
            spec.references.append(ReferenceLine(y: s, label: "best baseline \(b.configuration): \(Format.acc(s))"))
        }
        let goodLabel = good.count < allGood
            ? "done trial (\(good.count) of \(allGood) shown: the best \(Self.bestChartPoints) and an even sample of the rest)"
            : "done trial (\(good.count))"
        spec.legend.append(LegendEntry(label: goodLabel, color: Palette.color(0), dash: nil, width: 0, marker: .circle))
        if !bad.isEmpty {
            let shown = bad.count < points.badTotal ? "\(bad.count) of \(points.badTotal) shown" : "\(bad.count)"
            spec.legend.append(LegendEntry(label: "diverged or failed (\(shown)), on the bottom edge", color: Palette.color(1), dash: nil, width: 0, marker: .cross))
        }
        if let r = spec.references.first {
            spec.legend.append(LegendEntry(label: r.label, color: "#555555", dash: "6 4", width: 1.5))
        }
        return renderChart(spec)
    }

    /// At most `keep` of `points`: the `best` highest (by `score`) and an even sample
    /// of the others, in their original order; all of them when they are few enough.
    static func sample<T>(_ points: [T], keep: Int, best: Int, score: (T) -> Double) -> [T] {
        guard points.count > keep else { return points }
        let scores = points.map(score)
        let byScore = points.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        var chosen = Set(byScore.prefix(best))
        let rest = byScore.dropFirst(best).sorted()
        let room = keep - chosen.count
        for k in 0..<room { chosen.insert(rest[k * rest.count / room]) }
        return chosen.sorted().map { points[$0] }
    }

    // MARK: Section 5

    func leaderboardSection() -> String {
        var h = "<section id=\"leaderboard\" data-section=\"leaderboard\">\n<h2>Leaderboard</h2>\n"
        guard !rows.isEmpty else { return h + "<p class=\"empty\">This sweep has no trials yet.</p>\n</section>\n" }
        if doneCount == 0 { h += "<p class=\"empty\">No finished trial yet: no configuration has a score.</p>\n" }
        h += "<p>Ranked by \(escapeXML(input.objective.rawValue)) (mean over done repeats); the same rows as <code>sgdr-search leaderboard</code>"
        h += configurationCount > Self.maxTableRows
            ? ": the first \(Self.maxTableRows) of \(configurationCount) configurations (all of them: <code>sgdr-search leaderboard DB --csv FILE</code>).</p>\n"
            : ".</p>\n"
        h += "<p>best_val_acc is the mean \u{00B1} sample std over the done repeats; vs_baseline the paired mean "
        h += "difference of \(escapeXML(input.objective.rawValue)) to the best baseline \u{00B1} the half-width of its 95% interval.</p>\n"
        h += "<div class=\"table-wrap\">\n<table class=\"leaderboard\" data-section=\"leaderboard\">\n<thead><tr>"
        // Headings may wrap at their underscores; cells do not wrap.
        func heading(_ name: String) -> String { escapeXML(name).replacingOccurrences(of: "_", with: "_<wbr/>") }
        h += "<th class=\"num\">rank</th><th>configuration</th><th>schedule</th>"
        for p in input.parameters { h += "<th class=\"num\">\(heading(p.name))</th>" }
        for c in ["best_val_acc", "final_val_acc", "best_epoch", "repeats"] { h += "<th class=\"num\">\(heading(c))</th>" }
        h += "<th>status</th><th class=\"num\">\(heading("vs_baseline"))</th><th class=\"num\">seconds</th></tr></thead>\n<tbody>\n"
        for r in rows.prefix(Self.maxTableRows) {
            h += "<tr class=\"status-\(r.status.rawValue)\"><td class=\"num\">\(r.rank)</td><td>\(escapeXML(r.configuration))</td>"
            h += "<td>\(escapeXML(r.schedule.kind.rawValue))</td>"
            for p in input.parameters {
                h += "<td class=\"num\">\(r.swept[p.name].map { escapeXML(Format.number($0)) } ?? "\u{2013}")</td>"
            }
            h += "<td class=\"num\">\(Format.acc(r.bestValAcc))\(r.bestValAccStd.map { " \u{00B1} " + Format.acc($0) } ?? "")</td>"
            h += "<td class=\"num\">\(Format.acc(r.finalValAcc))</td><td class=\"num\">\(r.bestEpoch.map(String.init) ?? "\u{2013}")</td>"
            h += "<td class=\"num\">\(r.repeatsDone)/\(r.repeats)</td><td class=\"status\">\(escapeXML(r.statusText))</td>"
            let paired = r.vsBaseline.flatMap { d in d.halfWidth95.map { Format.signed(d.mean) + " \u{00B1} " + Format.acc($0) } }
            h += "<td class=\"num\">\(paired ?? "\u{2013}")</td>"
            h += "<td class=\"num\">\(String(format: "%.1f", r.seconds))</td></tr>\n"
        }
        h += "</tbody>\n</table>\n</div>\n</section>\n"
        return h
    }

    static let css = """
        body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1a1a1a;
               max-width: 1200px; margin: 24px auto; padding: 0 16px; line-height: 1.45; background: #ffffff; }
        h1 { font-size: 1.6em; margin-bottom: 0.3em; }
        h2 { font-size: 1.25em; border-bottom: 1px solid #cccccc; padding-bottom: 3px; margin-top: 1.8em; }
        h3 { font-size: 1.05em; margin-bottom: 0.3em; }
        table { border-collapse: collapse; font-size: 13px; }
        th, td { border: 1px solid #d0d0d0; padding: 3px 6px; text-align: left; vertical-align: top; }
        table.settings th { font-weight: 600; background: #f7f7f7; }
        table.leaderboard td { white-space: nowrap; }
        table.leaderboard td.status { white-space: nowrap; }
        thead th { background: #f2f2f2; }
        .num { text-align: right; font-variant-numeric: tabular-nums; }
        .table-wrap { overflow-x: auto; }
        tr.status-failed td, tr.status-diverged td { color: #8a3a00; }
        figure { margin: 12px 0; }
        figcaption, .caption { font-size: 13px; color: #444444; max-width: 760px; }
        svg.chart { max-width: 100%; height: auto; display: block; }
        .small-multiples { display: flex; flex-wrap: wrap; gap: 8px 16px; }
        .small-multiples figure { margin: 0; }
        .verdict { border-left: 4px solid #0072B2; background: #eef5fb; padding: 2px 12px; margin: 8px 0 16px 0; }
        .verdict ul.result { padding-left: 1.2em; }
        .notice { background: #fff4d6; border-left: 4px solid #E69F00; padding: 6px 10px; }
        .empty { color: #555555; font-style: italic; }
        code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.92em; }
        footer { margin-top: 2.5em; font-size: 12px; color: #666666; }
        @page { margin: 14mm; }
        @media print {
          body { max-width: none; margin: 0; padding: 0; font-size: 10pt; }
          figure, svg.chart, tr, .verdict, .result, .settings, .status-counts { break-inside: avoid; page-break-inside: avoid; }
          h2, h3 { break-after: avoid; page-break-after: avoid; }
          .table-wrap { overflow: visible; }
          table { font-size: 8.5pt; }
          .notice { border: 1px solid #999999; background: none; }
        }

        """
}

/// The two accuracies a curve is computed from.
struct EpochMetricsValue {
    var valAcc: Double
    var trainAcc: Double
}
