import Foundation
import Schedules

/// The rate of each epoch of `config` without training: the same table as `sgdr-search
/// schedule` without `--val-acc` (the trigger counts as reached before epoch 1 and every epoch
/// improves on the last).
public func simulatedLearningRates(_ config: ScheduleConfig, epochs: Int? = nil) -> [Double] {
    var config = config
    config.epochs = max(0, epochs ?? config.epochs)
    return scheduleTable(config: config).map(\.lr)
}

/// The series (epoch, lr) of `config` as `simulatedLearningRates` computes it.
public func learningRateSeries(_ config: ScheduleConfig, epochs: Int? = nil, label: String? = nil,
                               colorIndex: Int? = nil) -> ChartSeries {
    let rates = simulatedLearningRates(config, epochs: epochs)
    return ChartSeries(
        label: label ?? scheduleDescription(config),
        points: rates.enumerated().map { ChartPoint(x: Double($0.offset + 1), y: $0.element) },
        colorIndex: colorIndex)
}

/// A short description of a schedule: its kind and its parameters' `name=value` pairs.
public func scheduleDescription(_ config: ScheduleConfig) -> String {
    let p = config.parameters
    let f = Format.number
    switch config.kind {
    case .sgdr:
        return "sgdr " + p.assignments(omittingDefaults: true, format: f)
    case .step:
        return "step lr_max=\(f(p.lrMax)) factor=\(f(config.stepFactor)) at \(config.stepMilestones.map(f).joined(separator: ","))"
    case .cosine:
        return "cosine lr_max=\(f(p.lrMax)) lr_min=\(f(p.lrMin))"
    case .constant:
        return "constant lr_max=\(f(p.lrMax))"
    case .plateau:
        let q = config.plateau
        return "plateau lr_max=\(f(p.lrMax)) lr_min=\(f(p.lrMin)) factor=\(f(q.factor)) patience=\(q.patience) min_delta=\(f(q.minDelta))"
    }
}

/// A standalone SVG document (with XML declaration) charting learning rate against epoch on a
/// log axis, one line per series: what `sgdr-search schedule ... --svg FILE` writes.
public func scheduleChartSVG(_ series: [ChartSeries], title: String) -> String {
    var spec = learningRateChart(series, title: title, section: "schedule")
    spec.standalone = true
    return renderChart(spec)
}

/// The lr chart: x = epoch (linear, from 0), y = lr (log10). Rates of 0 (lr_min = 0) sit on the
/// bottom edge; the axis spans at most six decades below the highest rate.
func learningRateChart(_ series: [ChartSeries], title: String, section: String) -> ChartSpec {
    let xs = series.flatMap { $0.points.map(\.x) }.filter(\.isFinite)
    let ys = series.flatMap { $0.points.map(\.y) }.filter { $0.isFinite && $0 > 0 }
    let top = ys.max() ?? 1
    let bottom = max(ys.min() ?? top / 10, top * 1e-6)
    let yAxis = Axis.log(min: bottom, max: top)
    let xAxis = Axis.linear(min: 0, max: max(1, xs.max() ?? 1), integer: true)
    var spec = ChartSpec(section: section, title: title, xTitle: "epoch", yTitle: "learning rate (log scale)",
                         x: xAxis, y: yAxis)
    // Schedules share stretches (lr_max before a trigger, a baseline's first epochs): striped.
    spec.stripeCoinciding = true
    for (i, s) in series.enumerated() {
        let ci = s.colorIndex ?? i
        let color = Palette.color(ci)
        let dash = dashPattern(s.style, index: ci)
        // lr = 0 has no place on a log axis: draw it on the bottom edge.
        let points = s.points.compactMap { p -> ChartPoint? in
            guard p.x.isFinite, p.y.isFinite, p.y >= 0 else { return nil }
            return ChartPoint(x: p.x, y: max(p.y, yAxis.lower))
        }
        spec.lines.append(LineSpec(points: points, color: color, dash: dash, width: 2, title: s.label))
        spec.legend.append(LegendEntry(label: s.label, color: color, dash: dash))
    }
    return spec
}

func dashPattern(_ style: LineStyle, index: Int) -> String? {
    switch style {
    case .solid: Palette.dash(index)
    case .dashed: "9 4"
    case .dotted: "1.5 3.5"
    }
}
