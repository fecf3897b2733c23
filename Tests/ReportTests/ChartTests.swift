import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Report
import Schedules
import XCTest

final class AxisTests: XCTestCase {
    func testLogAxisHasDecadesWithMinorTwoAndFive() {
        let a = Axis.log(min: 0.001, max: 0.1)
        XCTAssertEqual(a.scale, .log)
        XCTAssertEqual(a.lower, 0.001, accuracy: 1e-15)
        XCTAssertEqual(a.upper, 0.1, accuracy: 1e-15)
        let majors = a.ticks.filter(\.major)
        XCTAssertEqual(majors.map(\.label), ["0.001", "0.01", "0.1"])
        let minors = a.ticks.filter { !$0.major }.map(\.value)
        XCTAssertEqual(minors.count, 4)
        for (m, e) in zip(minors, [0.002, 0.005, 0.02, 0.05]) { XCTAssertEqual(m, e, accuracy: 1e-15) }
        // Two decades: minor ticks are labelled too.
        XCTAssertEqual(a.ticks.filter { !$0.major }.map(\.label), ["0.002", "0.005", "0.02", "0.05"])
    }

    func testLogAxisRoundsOutToDecades() {
        let a = Axis.log(min: 0.00037, max: 0.25)
        XCTAssertEqual(a.lower, 1e-4, accuracy: 1e-18)
        XCTAssertEqual(a.upper, 1, accuracy: 1e-12)
        XCTAssertEqual(a.ticks.filter(\.major).count, 5)
        XCTAssertTrue(a.ticks.filter { !$0.major }.allSatisfy { $0.label.isEmpty }, "many decades: minors unlabelled")
        XCTAssertEqual(a.ticks.filter(\.major).first?.label, "0.0001")
        XCTAssertEqual(a.fraction(0.01)!, 0.5, accuracy: 1e-12)
        XCTAssertNil(a.fraction(0))
        XCTAssertNil(a.fraction(.nan))
        XCTAssertEqual(a.fraction(10), 1, "clamped")
    }

    func testLogAxisOfOneValueStillSpansADecade() {
        for v in [0.01, 0.03, 1.0, 7.0] {
            let a = Axis.log(min: v, max: v)
            XCTAssertLessThan(a.lower, a.upper)
            XCTAssertTrue(a.lower <= v && v <= a.upper * (1 + 1e-12), "\(v) in [\(a.lower), \(a.upper)]")
        }
        let bad = Axis.log(min: 0, max: .nan)
        XCTAssertTrue(bad.lower > 0 && bad.upper > bad.lower)
    }

    func testLinearAxisUsesOneTwoFiveSteps() {
        let a = Axis.linear(min: 0.05, max: 0.93)
        XCTAssertEqual(a.lower, 0, accuracy: 1e-12)
        XCTAssertEqual(a.upper, 1, accuracy: 1e-12)
        XCTAssertEqual(a.ticks.map(\.label), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])

        let e = Axis.linear(min: 0, max: 20)
        XCTAssertEqual(e.ticks.map(\.label), ["0", "5", "10", "15", "20"])
        XCTAssertEqual(Axis.linear(min: 0, max: 1, integer: true).ticks.map(\.label), ["0", "1"])
        XCTAssertEqual(Axis.linear(min: 0, max: 1).ticks.count, 6)

        let narrow = Axis.linear(min: 0.8712, max: 0.8934)
        XCTAssertEqual(narrow.ticks.map(\.label), ["0.870", "0.875", "0.880", "0.885", "0.890", "0.895"])
        for s in [0.3, 7.0, 42.0, 0.0004] {
            let step = Axis.niceStep(s)
            let normalized = step / pow(10, log10(step).rounded(.down))
            XCTAssertTrue([1, 2, 5].contains { abs($0 - normalized) < 1e-9 }, "\(s) -> \(step)")
            XCTAssertGreaterThanOrEqual(step, s)
        }
    }

    func testLinearAxisOfOneValueOrNothing() {
        let a = Axis.linear(min: 0.9, max: 0.9)
        XCTAssertLessThan(a.lower, 0.9)
        XCTAssertGreaterThan(a.upper, 0.9)
        let z = Axis.covering([.nan, .infinity], scale: .linear)
        XCTAssertEqual(z.lower, 0)
        XCTAssertEqual(z.upper, 1)
    }

    /// A swept parameter's x axis (issue 22: two values of t0 sat on the frame, with ticks at
    /// 2.5 and 3.5). Bounds by hand: the span widened by 8% on each side.
    func testParameterAxisPadsItsRangeAndTicksAtFewValues() {
        let two = Axis.parameter([2, 3, 2, 3], scale: .linear, integer: true)
        XCTAssertEqual(two.lower, 1.92, accuracy: 1e-12)
        XCTAssertEqual(two.upper, 3.08, accuracy: 1e-12)
        XCTAssertEqual(two.ticks.map(\.label), ["2", "3"])
        XCTAssertEqual(two.ticks.map(\.value), [2, 3])
        XCTAssertEqual(two.fraction(2)!, 0.08 / 1.16, accuracy: 1e-12)

        // One value: +-1 for an integer, +-10% otherwise.
        let one = Axis.parameter([4], scale: .linear, integer: true)
        XCTAssertEqual([one.lower, one.upper], [3, 5])
        XCTAssertEqual(one.ticks.map(\.label), ["4"])
        let oneReal = Axis.parameter([0.5], scale: .linear, integer: false)
        XCTAssertEqual(oneReal.lower, 0.45, accuracy: 1e-12)
        XCTAssertEqual(oneReal.upper, 0.55, accuracy: 1e-12)

        // Many integers (a random range 1...40): 1-2-5 ticks, whole numbers, inside the padded range.
        let many = Axis.parameter((1...40).map(Double.init), scale: .linear, integer: true)
        XCTAssertEqual(many.lower, 1 - 39 * 0.08, accuracy: 1e-12)
        XCTAssertEqual(many.ticks.map(\.label), ["0", "10", "20", "30", "40"])
        // Seven integers 1...7 (more than six values): step 2, never 0.5 or 1.5.
        let seven = Axis.parameter((1...7).map(Double.init), scale: .linear, integer: true)
        XCTAssertEqual(seven.ticks.map(\.label), ["2", "4", "6"])
        // Seven reals 0.1...0.7: padded [0.052, 0.748], step 0.2.
        XCTAssertEqual(Axis.parameter((1...7).map { Double($0) / 10 }, scale: .linear, integer: false).ticks.map(\.label),
                       ["0.2", "0.4", "0.6"])

        // Log: padded by 8% of the span in decades; ticks at the values when few.
        let log = Axis.parameter([1, 2, 4], scale: .log, integer: true)
        XCTAssertEqual(log10(log.lower), -0.08 * log10(4), accuracy: 1e-12)
        XCTAssertEqual(log10(log.upper), 1.08 * log10(4), accuracy: 1e-12)
        XCTAssertEqual(log.ticks.map(\.label), ["1", "2", "4"])
        // Values too close to label each (3 and 3.2 of [1, 10]): per-decade 1-2-5 ticks instead.
        let close = Axis.parameter([1, 3, 3.2, 10], scale: .log, integer: false)
        XCTAssertEqual(close.ticks.map(\.label), ["1", "2", "5", "10"])
        for v in [1.0, 3, 3.2, 10] {
            let f = close.fraction(v)!
            XCTAssertTrue(f > 0.05 && f < 0.95, "\(v) at \(f): not on the frame")
        }
    }

    func testNumberFormatting() {
        XCTAssertEqual(Format.number(1e-5), "1e-5")
        XCTAssertEqual(Format.number(0.001), "0.001")
        XCTAssertEqual(Format.number(2), "2")
        XCTAssertEqual(Format.number(1.5), "1.5")
        XCTAssertEqual(Format.number(2.5e-7), "2.5e-7")
        XCTAssertEqual(Format.acc(0.91234), "0.9123")
        XCTAssertEqual(Format.acc(nil), "\u{2013}")
        XCTAssertEqual(Format.acc(.nan), "\u{2013}")
        XCTAssertEqual(formatDuration(12.34), "12.3 s")
        XCTAssertEqual(formatDuration(245), "4 min 05 s")
        XCTAssertEqual(formatDuration(7620), "2 h 07 min")
    }

    func testEscaping() {
        XCTAssertEqual(escapeXML("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;")
        XCTAssertEqual(escapeXML("plain \u{00B1} text"), "plain \u{00B1} text")
        XCTAssertEqual(escapeXML("bell\u{07}"), "bell\u{FFFD}")
    }
}

final class ScheduleChartTests: XCTestCase {
    func testSimulatedRatesFollowTheSchedule() {
        let p = SGDRParameters(lrMax: 0.1, lrMin: 0.001, t0: 2, tmult: 1, lrMaxCompression: 1, triggerValAcc: 0)
        let rates = simulatedLearningRates(ScheduleConfig(kind: .sgdr, parameters: p, epochs: 4))
        let half = 0.001 + (0.1 - 0.001) / 2
        XCTAssertEqual(rates.count, 4)
        for (r, e) in zip(rates, [half, 0.001, half, 0.001]) { XCTAssertEqual(r, e, accuracy: 1e-12) }

        // As `sgdr-search schedule` without --val-acc: the trigger counts as reached before epoch 1.
        var q = p
        q.triggerValAcc = 0.9
        let triggered = simulatedLearningRates(ScheduleConfig(kind: .sgdr, parameters: q, epochs: 3))
        XCTAssertEqual(triggered, scheduleTable(config: ScheduleConfig(kind: .sgdr, parameters: q, epochs: 3)).map(\.lr))
        XCTAssertEqual(triggered[0], half, accuracy: 1e-12)
        XCTAssertEqual(triggered[1], 0.001, accuracy: 1e-12)
        XCTAssertEqual(triggered[2], half, accuracy: 1e-12)

        // Compression: with c = 5 every improvement lowers the next peak to max(peak / 5, lr).
        q = p
        q.lrMaxCompression = 5
        let compressed = simulatedLearningRates(ScheduleConfig(kind: .sgdr, parameters: q, epochs: 3))
        XCTAssertEqual(compressed[2], 0.001 + (0.02 - 0.001) / 2, accuracy: 1e-12)

        XCTAssertEqual(simulatedLearningRates(ScheduleConfig(kind: .constant, parameters: p, epochs: 3)), [0.1, 0.1, 0.1])
        XCTAssertEqual(simulatedLearningRates(ScheduleConfig(kind: .sgdr, parameters: p, epochs: 0)), [])
    }

    func testScheduleSVGIsWellFormedWithOnePolylinePerSeries() throws {
        let p = SGDRParameters(lrMax: 0.1, t0: 5, tmult: 2, lrMaxCompression: 5)
        let configs = [
            ScheduleConfig(kind: .sgdr, parameters: p, epochs: 40),
            ScheduleConfig(kind: .step, parameters: p, epochs: 40),
            ScheduleConfig(kind: .cosine, parameters: SGDRParameters(lrMax: 0.1, lrMin: 0), epochs: 40),
        ]
        let svg = scheduleChartSVG(configs.map { learningRateSeries($0) }, title: "SGDR <t0=5> & baselines")
        XCTAssertTrue(svg.hasPrefix("<?xml"))
        let doc = try XMLDocument(data: Data(svg.utf8), options: [])
        let root = try XCTUnwrap(doc.rootElement())
        XCTAssertEqual(ParsedPage.name(root), "svg")
        XCTAssertEqual(descendants(root, named: "polyline").count, 3)
        XCTAssertEqual(descendants(root, named: "title").first?.stringValue, "SGDR <t0=5> & baselines")
        // The cosine to lr_min = 0 ends at 0: drawn on the bottom edge, never as a non-finite coordinate.
        assertInsidePlot(root)
        let legend = descendants(root, named: "g").first { attr($0, "class") == "legend" }?.stringValue ?? ""
        XCTAssertTrue(legend.contains("sgdr lr_max=0.1"), legend)
        XCTAssertTrue(legend.contains("step"), legend)
        // Log y axis: decade labels present.
        let labels = descendants(root, named: "g").first { attr($0, "class") == "tick-labels" }.map {
            descendants($0, named: "text").map { $0.stringValue ?? "" }
        } ?? []
        XCTAssertTrue(labels.contains("0.1"), "\(labels)")
        XCTAssertTrue(labels.contains("0.0001"), "\(labels)")
    }

    func testNonFiniteSeriesValuesAreSkipped() throws {
        let series = ChartSeries(label: "broken", points: [
            ChartPoint(x: 1, y: 0.1), ChartPoint(x: 2, y: .nan), ChartPoint(x: .infinity, y: 0.1),
            ChartPoint(x: 3, y: -1), ChartPoint(x: 4, y: 0.05),
        ])
        let svg = scheduleChartSVG([series], title: "t")
        let root = try XCTUnwrap(XMLDocument(data: Data(svg.utf8), options: []).rootElement())
        let line = try XCTUnwrap(descendants(root, named: "polyline").first)
        XCTAssertEqual(attr(line, "points")?.split(separator: " ").count, 2)
        assertInsidePlot(root)
    }
}
