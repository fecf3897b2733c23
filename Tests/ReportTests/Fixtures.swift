import TrainingTypes
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Report
import Schedules
import Sweep
import XCTest

// MARK: - Synthetic sweeps

enum Fixture {
    static let parameters = [
        SweptParameter(name: "t0", logScale: true),
        SweptParameter(name: "tmult"),
        SweptParameter(name: "lr_max_compression", logScale: true),
        SweptParameter(name: "trigger_val_acc"),
    ]

    static func sgdrSchedule(t0: Int, tmult: Double, c: Double, trigger: Double, epochs: Int) -> ScheduleConfig {
        ScheduleConfig(kind: .sgdr, parameters: SGDRParameters(lrMax: 0.1, t0: t0, tmult: tmult,
                                                              lrMaxCompression: c, triggerValAcc: trigger),
                       epochs: epochs)
    }

    static func baseline(_ kind: ScheduleKind, epochs: Int) -> ScheduleConfig {
        ScheduleConfig(kind: kind, parameters: SGDRParameters(lrMax: 0.1), epochs: epochs)
    }

    /// Epochs whose val_acc rises towards `ceiling`, with rates from the schedule itself.
    static func epochs(_ schedule: ScheduleConfig, count: Int, ceiling: Double, wobble: Double = 0) -> [EpochMetrics] {
        let rates = simulatedLearningRates(schedule, epochs: schedule.epochs)
        return (1...max(1, count)).prefix(count).map { e in
            let val = ceiling - 0.4 * exp(-Double(e) / 4) + wobble * sin(Double(e))
            return EpochMetrics(epoch: e, lr: rates[e - 1], trainLoss: 1 / Double(e), trainAcc: min(1, val + 0.04),
                                valLoss: 1.2 / Double(e), valAcc: val, trainSeconds: 0.5)
        }
    }

    static func trial(_ configuration: String, number: Int, repeatIndex: Int = 0, schedule: ScheduleConfig,
                      swept: [String: Double] = [:], status: TrialStatus = .done, ceiling: Double = 0.85,
                      epochCount: Int? = nil, error: String? = nil) -> TrialRecord {
        let spec = TrialSpec(id: TrialSpec.id(configuration: configuration, repeatIndex: repeatIndex), number: number,
                             configuration: configuration, repeatIndex: repeatIndex, seed: UInt64(repeatIndex),
                             schedule: schedule, swept: swept)
        let n = epochCount ?? (status == .pending ? 0 : schedule.epochs)
        return TrialRecord(spec: spec, status: status, attempts: status == .pending ? 0 : 1,
                           seconds: status.isFinished ? Double(n) * 0.6 : nil, error: error,
                           epochs: epochs(schedule, count: n, ceiling: ceiling, wobble: 0.01 * Double(repeatIndex)))
    }

    /// 7 SGDR configurations x 2 repeats (one of them diverged with NaN losses, one failed),
    /// 3 baselines x 2 repeats, 20 epochs each.
    static func fullSweep() -> [TrialRecord] {
        let epochs = 20
        var trials: [TrialRecord] = []
        var number = 0
        let grid: [(Int, Double, Double, Double)] = [
            (1, 1, 1, 0), (2, 2, 5, 0), (5, 1.5, 10, 0.6), (10, 1, 2, 0.7), (2, 1, 0, 0), (4, 2, 20, 0.5), (1, 3, 5, 0),
        ]
        for (i, g) in grid.enumerated() {
            let schedule = sgdrSchedule(t0: g.0, tmult: g.1, c: g.2, trigger: g.3, epochs: epochs)
            let swept = ["t0": Double(g.0), "tmult": g.1, "lr_max_compression": g.2, "trigger_val_acc": g.3]
            let name = String(format: "sgdr-%04d", i)
            for r in 0..<2 {
                var status = TrialStatus.done
                var error: String? = nil
                if i == 5 && r == 1 { status = .diverged; error = "loss is NaN at epoch 3" }
                if i == 6 && r == 0 { status = .failed; error = "out of memory <heap> & \"stack\"" }
                var t = trial(name, number: number, repeatIndex: r, schedule: schedule, swept: swept, status: status,
                              ceiling: 0.80 + 0.01 * Double(i), epochCount: status == .done ? nil : 3, error: error)
                if status == .diverged {
                    t.epochs[2].trainLoss = .nan
                    t.epochs[2].valLoss = .infinity
                    t.epochs[2].valAcc = .nan
                    t.epochs[2].trainAcc = -.infinity
                }
                trials.append(t)
                number += 1
            }
        }
        for (i, kind) in [ScheduleKind.step, .cosine, .constant].enumerated() {
            for r in 0..<2 {
                trials.append(trial(kind.rawValue, number: number, repeatIndex: r, schedule: baseline(kind, epochs: epochs),
                                    ceiling: 0.82 + 0.005 * Double(i)))
                number += 1
            }
        }
        return trials
    }

    static func input(_ trials: [TrialRecord], name: String = "fashion-sgdr") -> ReportInput {
        ReportInput(name: name,
                    settings: [ReportSetting("dataset", "fashion-mnist"), ReportSetting("epochs", "20"),
                               ReportSetting("batch_size", "128")],
                    objective: .bestValAcc, parameters: parameters, trials: trials,
                    generatedAt: Date(timeIntervalSince1970: 1_800_000_000))
    }
}

// MARK: - Parsed pages

struct ParsedPage {
    let document: XMLDocument
    let all: [XMLElement]

    init(_ html: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let data = Data(html.utf8)
        do {
            document = try XMLDocument(data: data, options: [])
        } catch {
            XCTFail("page is not well-formed XML: \(error)", file: file, line: line)
            throw error
        }
        var out: [XMLElement] = []
        func walk(_ node: XMLNode) {
            if let e = node as? XMLElement { out.append(e) }
            for child in node.children ?? [] { walk(child) }
        }
        walk(document.rootElement()!)
        all = out
    }

    static func name(_ e: XMLElement) -> String {
        let n = e.localName ?? e.name ?? ""
        return n.split(separator: ":").last.map(String.init) ?? n
    }

    func elements(_ name: String) -> [XMLElement] { all.filter { Self.name($0) == name } }

    /// The charts (`svg` elements) of a section.
    func charts(_ section: String) -> [XMLElement] {
        elements("svg").filter { attr($0, "data-section") == section }
    }

    /// The text of the whole page.
    var text: String { document.rootElement()?.stringValue ?? "" }
}

func descendants(_ e: XMLElement, named name: String) -> [XMLElement] {
    var out: [XMLElement] = []
    func walk(_ node: XMLNode) {
        for child in node.children ?? [] {
            if let c = child as? XMLElement {
                if ParsedPage.name(c) == name { out.append(c) }
                walk(c)
            }
        }
    }
    walk(e)
    return out
}

/// The attribute `name` of `e` (looked up by hand: `attribute(forName:)` misses attributes of
/// elements in a namespace on Linux).
func attr(_ e: XMLElement, _ name: String) -> String? {
    e.attributes?.first { $0.name == name || $0.localName == name }?.stringValue
}

/// Parses `data-plot="x y w h"`.
func plotRect(_ svg: XMLElement) -> (x: Double, y: Double, w: Double, h: Double)? {
    guard let s = attr(svg, "data-plot") else { return nil }
    let v = s.split(separator: " ").compactMap { Double($0) }
    guard v.count == 4 else { return nil }
    return (v[0], v[1], v[2], v[3])
}

/// Every polyline point and data circle of `svg` is finite and inside its plot rectangle.
func assertInsidePlot(_ svg: XMLElement, file: StaticString = #filePath, line: UInt = #line) {
    guard let r = plotRect(svg) else { return XCTFail("chart without data-plot", file: file, line: line) }
    let eps = 0.011
    func check(_ x: Double, _ y: Double, _ what: String) {
        XCTAssertTrue(x.isFinite && y.isFinite, "\(what): non-finite (\(x), \(y))", file: file, line: line)
        XCTAssertTrue(x >= r.x - eps && x <= r.x + r.w + eps && y >= r.y - eps && y <= r.y + r.h + eps,
                      "\(what): (\(x), \(y)) outside plot \(r)", file: file, line: line)
    }
    for p in descendants(svg, named: "polyline") {
        let pts = (attr(p, "points") ?? "").split(separator: " ")
        XCTAssertFalse(pts.isEmpty, "empty polyline", file: file, line: line)
        for pt in pts {
            let xy = pt.split(separator: ",").map { Double($0) }
            XCTAssertEqual(xy.count, 2, "bad point \(pt)", file: file, line: line)
            guard xy.count == 2, let x = xy[0], let y = xy[1] else { XCTFail("unparsable \(pt)", file: file, line: line); continue }
            check(x, y, "polyline point")
        }
    }
    for c in descendants(svg, named: "circle") where attr(c, "class").map({ ["point", "best-marker", "single-point"].contains($0) }) ?? false {
        guard let cx = attr(c, "cx").flatMap(Double.init), let cy = attr(c, "cy").flatMap(Double.init) else {
            XCTFail("circle without coordinates", file: file, line: line); continue
        }
        check(cx, cy, "circle")
    }
}
