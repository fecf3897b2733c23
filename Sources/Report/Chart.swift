import Foundation

/// One (x, y) sample of a series.
public struct ChartPoint: Hashable, Sendable {
    public var x: Double
    public var y: Double

    public init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }
}

/// How a series' line is drawn.
public enum LineStyle: String, Hashable, Sendable {
    case solid, dashed, dotted
}

/// A named line of a chart. Non-finite points (and non-positive ones on a log axis) are skipped.
public struct ChartSeries: Hashable, Sendable {
    public var label: String
    public var points: [ChartPoint]
    public var style: LineStyle
    /// Index into the palette; nil: the series' position in the chart.
    public var colorIndex: Int?

    public init(label: String, points: [ChartPoint], style: LineStyle = .solid, colorIndex: Int? = nil) {
        self.label = label
        self.points = points
        self.style = style
        self.colorIndex = colorIndex
    }
}

/// Okabe–Ito colours, without the yellow (too pale for lines on white); `dashes` is the second
/// cue once there are more series than colours.
enum Palette {
    static let colors = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]
    static let dashes: [String?] = [nil, "9 4", "3 3", "10 3 2 3"]

    static func color(_ i: Int) -> String { colors[((i % colors.count) + colors.count) % colors.count] }
    /// The dash pattern of series `i` for a solid style (nil: solid).
    static func dash(_ i: Int) -> String? { dashes[(max(0, i) / colors.count) % dashes.count] }
}

// MARK: - Internal chart description

struct LineSpec {
    var points: [ChartPoint]
    var color: String
    var dash: String?
    var width: Double
    var title: String
}

enum MarkerShape { case circle, ring, cross }

struct Marker {
    var x: Double
    /// nil: drawn on the bottom edge of the plot (a value that has no place on the y axis).
    var y: Double?
    var color: String
    var shape: MarkerShape
    var radius: Double = 4
    var title: String
    var cssClass: String
}

struct ReferenceLine {
    var y: Double
    var label: String
}

struct LegendEntry {
    var label: String
    var color: String
    var dash: String?
    var width: Double = 2
    var marker: MarkerShape?
}

struct ChartSpec {
    var section: String
    var title: String
    var xTitle: String
    var yTitle: String
    var x: Axis
    var y: Axis
    var width = 760.0
    var plotHeight = 300.0
    var lines: [LineSpec] = []
    var markers: [Marker] = []
    var references: [ReferenceLine] = []
    var legend: [LegendEntry] = []
    /// A line of text under the legend (e.g. what solid and dotted mean).
    var note: String?
    /// Whether the chart is a standalone SVG document (XML declaration) or inline in the page.
    var standalone = false
    /// Whether stretches where two or more lines coincide (the same drawn segments) are
    /// striped in each line's colour in turn, so that no line hides another (the learning-rate
    /// chart, where schedules share lr_max); the legend note then says so.
    var stripeCoinciding = false
}

/// The plot rectangle of a chart, in SVG user units.
struct PlotRect {
    var x: Double, y: Double, width: Double, height: Double
    var right: Double { x + width }
    var bottom: Double { y + height }
}

// MARK: - Rendering

/// A major x tick's grid line across the plot (every chart of the page draws its x grid so).
func verticalGridLine(_ x: Double, _ plot: PlotRect) -> String {
    let c = Format.coord
    return "<line x1=\"\(c(x))\" y1=\"\(c(plot.y))\" x2=\"\(c(x))\" y2=\"\(c(plot.bottom))\" stroke=\"#e3e3e3\"/>"
}

/// The grid line of one x tick of a row chart (forest plot, race) and its label under the plot.
func rowChartTick(_ x: Double, _ label: String, _ plot: PlotRect, lineBreak: Bool) -> String {
    verticalGridLine(x, plot) + (lineBreak ? "\n" : "")
        + "<text x=\"\(Format.coord(x))\" y=\"\(Format.coord(plot.bottom + 16))\" text-anchor=\"middle\">\(escapeXML(label))</text>\n"
}

func renderChart(_ spec: ChartSpec) -> String {
    let margin = (left: 72.0, right: 24.0, top: 34.0, bottom: 50.0)
    let plot = PlotRect(x: margin.left, y: margin.top, width: spec.width - margin.left - margin.right,
                        height: spec.plotHeight)
    // Two legend columns when the longest label (about 6.6 units a character) fits in one.
    let charWidth = 6.6
    let maxLabel = spec.legend.map { $0.label.count }.max() ?? 0
    let columns = !spec.legend.isEmpty && Double(maxLabel) * charWidth + 34 <= (spec.width - plot.x) / 2 ? 2 : 1
    let legendRows = (spec.legend.count + columns - 1) / columns
    let legendTop = plot.bottom + margin.bottom + 4

    // The data range sits a few units inside the frame, so that lines on the axis bounds
    // (lr_max on a decade, the last epoch) stay visible.
    let pad = 6.0
    func px(_ v: Double) -> Double? { spec.x.fraction(v).map { plot.x + pad + $0 * (plot.width - 2 * pad) } }
    func py(_ v: Double) -> Double? { spec.y.fraction(v).map { plot.y + pad + (1 - $0) * (plot.height - 2 * pad) } }
    let c = Format.coord

    // Each line's drawn points (non-finite ones skipped), and the stretches lines share.
    let drawn = spec.lines.map { line in
        line.points.compactMap { p -> (Double, Double)? in
            guard let x = px(p.x), let y = py(p.y), x.isFinite, y.isFinite else { return nil }
            return (x, y)
        }
    }
    let stripes = spec.stripeCoinciding ? coincidingStretches(drawn) : []
    var note = spec.note
    if !stripes.isEmpty {
        let stripeNote = "Striped: curves that coincide there (the same rate), each colour in turn."
        note = note.map { $0 + " " + stripeNote } ?? stripeNote
    }
    let height = legendTop + Double(legendRows) * 18 + (note == nil ? 0 : 18) + 6

    var s = ""
    if spec.standalone { s += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" }
    s += "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" data-section=\"\(escapeXML(spec.section))\""
    s += " data-plot=\"\(c(plot.x)) \(c(plot.y)) \(c(plot.width)) \(c(plot.height))\""
    s += " width=\"\(c(spec.width))\" height=\"\(c(height))\" viewBox=\"0 0 \(c(spec.width)) \(c(height))\""
    s += " role=\"img\" font-family=\"system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
    s += "<title>\(escapeXML(spec.title))</title>\n"
    s += "<rect x=\"0\" y=\"0\" width=\"\(c(spec.width))\" height=\"\(c(height))\" fill=\"#ffffff\"/>\n"
    s += "<text class=\"chart-title\" x=\"\(c(spec.width / 2))\" y=\"20\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">\(escapeXML(spec.title))</text>\n"

    // Grid and ticks.
    s += "<g class=\"grid\" stroke-width=\"1\">\n"
    for t in spec.x.ticks {
        guard let x = px(t.value) else { continue }
        if t.major {
            s += verticalGridLine(x, plot) + "\n"
        }
        let len = t.major ? 6.0 : 3.5
        s += "<line x1=\"\(c(x))\" y1=\"\(c(plot.bottom))\" x2=\"\(c(x))\" y2=\"\(c(plot.bottom + len))\" stroke=\"#333333\"/>\n"
    }
    for t in spec.y.ticks {
        guard let y = py(t.value) else { continue }
        if t.major {
            s += "<line x1=\"\(c(plot.x))\" y1=\"\(c(y))\" x2=\"\(c(plot.right))\" y2=\"\(c(y))\" stroke=\"#e3e3e3\"/>\n"
        }
        let len = t.major ? 6.0 : 3.5
        s += "<line x1=\"\(c(plot.x - len))\" y1=\"\(c(y))\" x2=\"\(c(plot.x))\" y2=\"\(c(y))\" stroke=\"#333333\"/>\n"
    }
    s += "</g>\n"
    s += "<rect class=\"plot-area\" x=\"\(c(plot.x))\" y=\"\(c(plot.y))\" width=\"\(c(plot.width))\" height=\"\(c(plot.height))\" fill=\"none\" stroke=\"#333333\"/>\n"

    // Tick labels and axis titles.
    s += "<g class=\"tick-labels\" fill=\"#222222\">\n"
    for t in spec.x.ticks where !t.label.isEmpty {
        guard let x = px(t.value) else { continue }
        s += "<text x=\"\(c(x))\" y=\"\(c(plot.bottom + 19))\" text-anchor=\"middle\">\(escapeXML(t.label))</text>\n"
    }
    for t in spec.y.ticks where !t.label.isEmpty {
        guard let y = py(t.value) else { continue }
        s += "<text x=\"\(c(plot.x - 9))\" y=\"\(c(y + 4))\" text-anchor=\"end\">\(escapeXML(t.label))</text>\n"
    }
    s += "</g>\n"
    s += "<text class=\"axis-title\" x=\"\(c(plot.x + plot.width / 2))\" y=\"\(c(plot.bottom + 40))\" text-anchor=\"middle\">\(escapeXML(spec.xTitle))</text>\n"
    s += "<text class=\"axis-title\" transform=\"translate(16 \(c(plot.y + plot.height / 2))) rotate(-90)\" text-anchor=\"middle\">\(escapeXML(spec.yTitle))</text>\n"

    // Reference lines.
    for r in spec.references {
        guard let y = py(r.y) else { continue }
        s += "<line class=\"reference\" x1=\"\(c(plot.x))\" y1=\"\(c(y))\" x2=\"\(c(plot.right))\" y2=\"\(c(y))\" stroke=\"#555555\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"><title>\(escapeXML(r.label))</title></line>\n"
    }

    // Series.
    for (line, coords) in zip(spec.lines, drawn) {
        guard !coords.isEmpty else { continue }
        let points = coords.map { "\(c($0.0)),\(c($0.1))" }.joined(separator: " ")
        s += "<polyline class=\"series\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"\(c(line.width))\""
        s += " stroke-linejoin=\"round\" stroke-linecap=\"round\""
        if let dash = line.dash { s += " stroke-dasharray=\"\(dash)\"" }
        s += " points=\"\(points)\"><title>\(escapeXML(line.title))</title></polyline>\n"
        if coords.count == 1 {
            s += "<circle class=\"single-point\" cx=\"\(c(coords[0].0))\" cy=\"\(c(coords[0].1))\" r=\"2.5\" fill=\"\(line.color)\"/>\n"
        }
    }

    // Coinciding stretches, striped: drawn over the lines, each line's colour in turn.
    for stretch in stripes {
        let k = Double(stretch.lines.count), dash = 6.0
        let d = "M" + stretch.points.map { "\(c($0.0)),\(c($0.1))" }.joined(separator: " L")
        let names = stretch.lines.map { spec.lines[$0].title }.joined(separator: "; ")
        s += "<g class=\"coincide\"><title>\(escapeXML("The same rate here: " + names))</title>"
        for (j, i) in stretch.lines.enumerated() {
            let line = spec.lines[i]
            // Line j shows on [j, j + 1) dashes of every k: offset (k - j) dashes, modulo k.
            let offset = Double((stretch.lines.count - j) % stretch.lines.count) * dash
            s += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"\(c(line.width))\" stroke-linecap=\"butt\""
            s += " stroke-dasharray=\"\(c(dash)) \(c(dash * (k - 1)))\" stroke-dashoffset=\"\(c(offset))\"/>"
        }
        s += "</g>\n"
    }
    // Markers.
    for m in spec.markers {
        guard let x = px(m.x) else { continue }
        let y: Double
        if let my = m.y {
            guard let v = py(my) else { continue }
            y = v
        } else {
            y = plot.bottom - m.radius - 2
        }
        // Keep the whole marker inside the plot.
        let cx = min(max(x, plot.x + m.radius), plot.right - m.radius)
        let cy = min(max(y, plot.y + m.radius), plot.bottom - m.radius)
        let title = "<title>\(escapeXML(m.title))</title>"
        switch m.shape {
        case .circle:
            s += "<circle class=\"\(m.cssClass)\" cx=\"\(c(cx))\" cy=\"\(c(cy))\" r=\"\(c(m.radius))\" fill=\"\(m.color)\" stroke=\"#ffffff\" stroke-width=\"1\">\(title)</circle>\n"
        case .ring:
            s += "<circle class=\"\(m.cssClass)\" cx=\"\(c(cx))\" cy=\"\(c(cy))\" r=\"\(c(m.radius))\" fill=\"#ffffff\" stroke=\"\(m.color)\" stroke-width=\"2\">\(title)</circle>\n"
        case .cross:
            let r = m.radius
            s += "<path class=\"\(m.cssClass)\" d=\"M\(c(cx - r)),\(c(cy - r)) L\(c(cx + r)),\(c(cy + r)) M\(c(cx - r)),\(c(cy + r)) L\(c(cx + r)),\(c(cy - r))\" stroke=\"\(m.color)\" stroke-width=\"2\" fill=\"none\">\(title)</path>\n"
        }
    }

    // Legend.
    if !spec.legend.isEmpty || note != nil {
        s += "<g class=\"legend\">\n"
        let columnWidth = (spec.width - plot.x) / Double(columns)
        for (i, e) in spec.legend.enumerated() {
            let col = Double(i / legendRows)
            let row = Double(i % legendRows)
            let x0 = plot.x + col * columnWidth
            let y0 = legendTop + row * 18 + 9
            if e.width > 0 {
                s += "<line x1=\"\(c(x0))\" y1=\"\(c(y0))\" x2=\"\(c(x0 + 28))\" y2=\"\(c(y0))\" stroke=\"\(e.color)\" stroke-width=\"\(c(e.width))\""
                if let dash = e.dash { s += " stroke-dasharray=\"\(dash)\"" }
                s += "/>\n"
            }
            if let shape = e.marker {
                switch shape {
                case .cross:
                    s += "<path d=\"M\(c(x0 + 10)),\(c(y0 - 4)) L\(c(x0 + 18)),\(c(y0 + 4)) M\(c(x0 + 10)),\(c(y0 + 4)) L\(c(x0 + 18)),\(c(y0 - 4))\" stroke=\"\(e.color)\" stroke-width=\"2\" fill=\"none\"/>\n"
                case .circle, .ring:
                    s += "<circle cx=\"\(c(x0 + 14))\" cy=\"\(c(y0))\" r=\"4\" fill=\"\(shape == .ring ? "#ffffff" : e.color)\" stroke=\"\(e.color)\" stroke-width=\"1.5\"/>\n"
                }
            }
            s += "<text x=\"\(c(x0 + 34))\" y=\"\(c(y0 + 4))\">\(escapeXML(e.label))</text>\n"
        }
        if let note {
            s += "<text class=\"legend-note\" x=\"\(c(plot.x))\" y=\"\(c(legendTop + Double(legendRows) * 18 + 13))\" fill=\"#444444\">\(escapeXML(note))</text>\n"
        }
        s += "</g>\n"
    }
    s += "</svg>\n"
    return s
}

/// A stretch of drawn segments shared by two or more lines: its points and the lines (indices,
/// ascending).
struct CoincidingStretch {
    var points: [(Double, Double)]
    var lines: [Int]
}

/// The stretches where lines coincide: segments (between consecutive points) drawn at the same
/// coordinates, to the hundredth of a unit as they are written, by two or more lines; consecutive
/// segments shared by the same lines joined into one stretch. In the order of the lowest line
/// that draws them, along that line.
func coincidingStretches(_ lines: [[(Double, Double)]]) -> [CoincidingStretch] {
    let c = Format.coord
    func key(_ p: (Double, Double)) -> String { "\(c(p.0)),\(c(p.1))" }
    var owners: [String: [Int]] = [:]
    var order: [(key: String, from: (Double, Double), to: (Double, Double))] = []
    for (i, coords) in lines.enumerated() {
        for (p, q) in zip(coords, coords.dropFirst()) {
            let k = key(p) + " " + key(q)
            if owners[k] == nil { order.append((k, p, q)) }
            if owners[k, default: []].last != i { owners[k, default: []].append(i) }
        }
    }
    var out: [CoincidingStretch] = []
    for segment in order {
        let shared = owners[segment.key] ?? []
        guard shared.count >= 2 else { continue }
        if let last = out.indices.last, out[last].lines == shared, let end = out[last].points.last, key(end) == key(segment.from) {
            out[last].points.append(segment.to)
        } else {
            out.append(CoincidingStretch(points: [segment.from, segment.to], lines: shared))
        }
    }
    return out
}
