import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Report
import Schedules
import Sweep
import TrainingTypes
import XCTest

/// The charts' ranges and overlaps (issue 22): the error axis, the parameter charts' x axes and
/// the learning-rate chart's coinciding lines.
final class ReportChartRangeTests: XCTestCase {
    /// `Fixture.fullSweep()`'s curves: val_acc = ceiling - 0.4 exp(-e/4) + 0.01 r sin(e), train_acc
    /// = val_acc + 0.04, 20 epochs. The plotted runs (sgdr-0000...0004, ceilings 0.80...0.84, and the
    /// three baselines, 0.82...0.83), averaged over their two repeats, in epochs 11...20 (the
    /// later half) have errors from 0.1181 (sgdr-0004's training error at epoch 20) to 0.2306
    /// (sgdr-0000's validation error at epoch 11); at epoch 1 every validation error is above
    /// 0.467. So the axis is [0.10, 0.25] in steps of 0.05, and each validation curve enters
    /// through the top edge.
    func testErrorAxisCoversTheLaterHalfOfTheCurves() throws {
        let page = try ParsedPage(renderReport(Fixture.input(Fixture.fullSweep()), top: 5))
        let chart = try XCTUnwrap(page.charts("errors").first)
        let plot = try XCTUnwrap(plotRect(chart))
        let labels = descendants(chart, named: "g").first { attr($0, "class") == "tick-labels" }.map {
            descendants($0, named: "text").filter { attr($0, "text-anchor") == "end" }.map { $0.stringValue ?? "" }
        } ?? []
        XCTAssertEqual(labels, ["0.10", "0.15", "0.20", "0.25"])
        let validation = descendants(chart, named: "polyline").filter { attr($0, "stroke-width") == "2.00" }
        XCTAssertEqual(validation.count, 8)
        for line in validation {
            let points = (attr(line, "points") ?? "").split(separator: " ").map { $0.split(separator: ",").compactMap { Double($0) } }
            // The top of the data range is 6 units inside the frame.
            XCTAssertEqual(points.first?[1] ?? .nan, plot.y + 6, accuracy: 0.011, "enters through the top edge")
            XCTAssertTrue(points.allSatisfy { $0[1] >= plot.y + 6 - 0.011 })
        }
        let caption = descendants(try XCTUnwrap(page.elements("section").first { attr($0, "id") == "errors" }), named: "figcaption")
        XCTAssertTrue((caption.first?.stringValue ?? "").contains("the curve enters through the top edge"))
        assertInsidePlot(chart)
    }

    /// Two values of an integer t0 (2 and 3): ticks at 2 and 3 only, the points away from the frame.
    func testTwoValuesOfAnIntegerParameterGetTheirOwnTicks() throws {
        var trials: [TrialRecord] = []
        for (i, (t0, tmult)) in [(2, 1.0), (2, 2.0), (3, 1.0), (3, 2.0)].enumerated() {
            let schedule = Fixture.sgdrSchedule(t0: t0, tmult: tmult, c: 5, trigger: 0, epochs: 6)
            trials.append(Fixture.trial(String(format: "sgdr-%04d", i), number: i, schedule: schedule,
                                        swept: ["t0": Double(t0), "tmult": tmult], ceiling: 0.8 + 0.01 * Double(i)))
        }
        var input = Fixture.input(trials)
        input.parameters = [SweptParameter(name: "t0"), SweptParameter(name: "tmult")]
        let page = try ParsedPage(renderReport(input))
        let charts = page.charts("parameters")
        XCTAssertEqual(charts.count, 2)
        for (chart, expected) in zip(charts, [["2", "3"], ["1", "2"]]) {
            let plot = try XCTUnwrap(plotRect(chart))
            let xLabels = descendants(chart, named: "g").first { attr($0, "class") == "tick-labels" }.map {
                descendants($0, named: "text").filter { attr($0, "text-anchor") == "middle" }.map { $0.stringValue ?? "" }
            } ?? []
            XCTAssertEqual(xLabels, expected)
            let points = descendants(chart, named: "circle").filter { attr($0, "class") == "point" }
            XCTAssertEqual(points.count, 4)
            for p in points {
                let cx = try XCTUnwrap(attr(p, "cx").flatMap(Double.init)), r = try XCTUnwrap(attr(p, "r").flatMap(Double.init))
                XCTAssertGreaterThan(cx - r, plot.x + 20, "clear of the left frame")
                XCTAssertLessThan(cx + r, plot.x + plot.w - 20, "clear of the right frame")
            }
        }
    }

    /// Lines that share segments are striped over them, one colour per line in turn; the rest of
    /// each line is drawn once, as before.
    func testCoincidingLearningRatesAreStriped() throws {
        func series(_ label: String, _ ys: [Double]) -> ChartSeries {
            ChartSeries(label: label, points: ys.enumerated().map { ChartPoint(x: Double($0.offset + 1), y: $0.element) })
        }
        // A and B share epochs 1-2; A, B and D share nothing more; C shares nothing.
        let svg = scheduleChartSVG([series("A", [0.1, 0.1, 0.05, 0.01]), series("B", [0.1, 0.1, 0.1, 0.1]),
                                    series("C", [0.02, 0.03, 0.04, 0.05]), series("D", [0.05, 0.05, 0.05, 0.01])],
                                   title: "t")
        let root = try XCTUnwrap(XMLDocument(data: Data(svg.utf8), options: []).rootElement())
        XCTAssertEqual(descendants(root, named: "polyline").count, 4, "each line still drawn whole")
        var groups = descendants(root, named: "g").filter { attr($0, "class") == "coincide" }
        XCTAssertEqual(groups.count, 2, "A-B over epochs 1-2, A-D over epochs 3-4")
        let ab = descendants(groups[0], named: "path")
        XCTAssertEqual(ab.map { attr($0, "stroke") }, [Palette.color(0), Palette.color(1)])
        XCTAssertEqual(ab.map { attr($0, "stroke-dasharray") }, ["6.00 6.00", "6.00 6.00"])
        XCTAssertEqual(ab.map { attr($0, "stroke-dashoffset") }, ["0.00", "6.00"])
        XCTAssertEqual(descendants(groups[0], named: "title").first?.stringValue, "The same rate here: A; B")
        // The stretch is the segment from epoch 1 to epoch 2 of A's polyline.
        let a = (attr(descendants(root, named: "polyline")[0], "points") ?? "").split(separator: " ")
        XCTAssertEqual(attr(ab[0], "d"), "M\(a[0]) L\(a[1])")
        XCTAssertEqual(descendants(groups[1], named: "title").first?.stringValue, "The same rate here: A; D")
        let legend = descendants(root, named: "text").first { attr($0, "class") == "legend-note" }?.stringValue
        XCTAssertEqual(legend, "Striped: curves that coincide there (the same rate), each colour in turn.")

        // Three lines over one stretch: a dash of each in every three, offsets 0, 2 and 1 dashes.
        let three = scheduleChartSVG([series("A", [0.1, 0.1, 0.01]), series("B", [0.1, 0.1, 0.02]), series("C", [0.1, 0.1, 0.03])], title: "t")
        let root3 = try XCTUnwrap(XMLDocument(data: Data(three.utf8), options: []).rootElement())
        groups = descendants(root3, named: "g").filter { attr($0, "class") == "coincide" }
        XCTAssertEqual(groups.count, 1)
        XCTAssertEqual(descendants(groups[0], named: "path").map { attr($0, "stroke-dasharray") }, Array(repeating: "6.00 12.00", count: 3))
        XCTAssertEqual(descendants(groups[0], named: "path").map { attr($0, "stroke-dashoffset") }, ["0.00", "12.00", "6.00"])

        // Nothing shared: no stripes, no note.
        let apart = scheduleChartSVG([series("A", [0.1, 0.05]), series("B", [0.05, 0.1])], title: "t")
        XCTAssertFalse(apart.contains("coincide"))
        XCTAssertFalse(apart.contains("Striped"))
    }
}
