import Schedules
import SpecReference
import XCTest

final class ScheduleTableTests: XCTestCase {
    func testWithoutValAccsTheTriggerIsReachedBeforeEpochOneAndEveryEpochImproves() {
        var rng = SplitMix64(seed: 21)
        for _ in 0..<300 {
            var p = rng.specCase(trigger: Double.random(in: 0.1...1, using: &rng))
            let parameters = SGDRParameters(lrMax: p.lrMax, lrMin: p.lrMin, t0: p.t0, tmult: p.tmult,
                                            lrMaxCompression: p.c, triggerValAcc: p.trigger)
            let rows = scheduleTable(config: ScheduleConfig(kind: .sgdr, parameters: parameters, epochs: p.epochs))
            p.trigger = 0
            let want = specReference(p, valAccs: (1...p.epochs).map { Double($0) / Double(p.epochs + 1) })
            XCTAssertEqual(rows.count, p.epochs)
            for (row, w) in zip(rows, want) {
                XCTAssertEqual(row.triggered, true)
                XCTAssertEqual(row.tCur, w.tCur)
                XCTAssertEqual(row.tI, w.tI)
                XCTAssertTrue(close(row.lr, w.lr, rel: 1e-9), "\(p) epoch \(row.epoch)")
                XCTAssertTrue(close(row.peak!, w.peak, rel: 1e-9))
                XCTAssertTrue(w.improved, "every epoch improves, the first included")
            }
        }
    }

    func testWithValAccsMatchesTheSpec() {
        var rng = SplitMix64(seed: 22)
        for _ in 0..<300 {
            let p = rng.specCase()
            let accs = rng.valAccs(p.epochs) + [0.5, 0.5]  // extra values are ignored
            let parameters = SGDRParameters(lrMax: p.lrMax, lrMin: p.lrMin, t0: p.t0, tmult: p.tmult,
                                            lrMaxCompression: p.c, triggerValAcc: p.trigger)
            let rows = scheduleTable(config: ScheduleConfig(kind: .sgdr, parameters: parameters, epochs: p.epochs), valAccs: accs)
            let want = specReference(p, valAccs: accs)
            XCTAssertEqual(rows.map(\.epoch), Array(1...p.epochs))
            for (row, w) in zip(rows, want) {
                XCTAssertEqual(row.triggered, w.triggered)
                XCTAssertEqual(row.tCur, w.tCur)
                XCTAssertEqual(row.tI, w.tI)
                XCTAssertEqual(row.valAcc, accs[row.epoch - 1])
                XCTAssertTrue(close(row.lr, w.lr, rel: 1e-9), "\(p) epoch \(row.epoch)")
            }
        }
    }

    func testBaselineRowsHaveNoSGDRState() {
        for kind in [ScheduleKind.step, .cosine, .constant] {
            let rows = scheduleTable(config: ScheduleConfig(kind: kind, parameters: SGDRParameters(), epochs: 5))
            XCTAssertEqual(rows.count, 5)
            XCTAssertTrue(rows.allSatisfy { $0.tCur == nil && $0.tI == nil && $0.triggered == nil && $0.peak == nil })
        }
    }

    func testNoEpochsGiveNoRows() {
        XCTAssertEqual(scheduleTable(config: ScheduleConfig(kind: .sgdr, parameters: SGDRParameters(), epochs: 0)), [])
    }

    func testCSV() {
        let config = ScheduleConfig(kind: .sgdr, parameters: goldenParameters, epochs: 18)
        let csv = scheduleCSV(scheduleTable(config: config), kind: .sgdr, includeValAcc: false)
        let lines = csv.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, 20, "header, 18 rows, and the final newline")
        XCTAssertEqual(lines[0], "epoch,lr,t_cur,t_i,triggered,peak")
        XCTAssertEqual(lines[5], "5,1e-05,5,5,true,0.1")
        XCTAssertEqual(lines.last, "")
        for (line, golden) in zip(lines.dropFirst(), goldenTable) {
            let fields = line.split(separator: ",").map(String.init)
            XCTAssertEqual(fields.count, 6)
            XCTAssertEqual(Int(fields[0]), golden.epoch)
            XCTAssertEqual(Double(fields[1])!, golden.lr, accuracy: 1e-8)
            XCTAssertEqual(Int(fields[2]), golden.tCur)
            XCTAssertEqual(Int(fields[3]), golden.tI)
        }
    }

    func testCSVRatesRoundTrip() {
        var rng = SplitMix64(seed: 23)
        let p = rng.specCase(compression: 7)
        let parameters = SGDRParameters(lrMax: p.lrMax, lrMin: p.lrMin, t0: p.t0, tmult: p.tmult, lrMaxCompression: 7)
        let rows = scheduleTable(config: ScheduleConfig(kind: .sgdr, parameters: parameters, epochs: 60))
        let lines = scheduleCSV(rows, kind: .sgdr, includeValAcc: false).split(separator: "\n").dropFirst()
        for (line, row) in zip(lines, rows) {
            let fields = line.split(separator: ",")
            XCTAssertEqual(Double(fields[1]), row.lr, "bit-exact")
            XCTAssertEqual(Double(fields[5]), row.peak)
        }
    }

    func testCSVColumns() {
        XCTAssertEqual(scheduleCSVColumns(kind: .sgdr, includeValAcc: true),
                       ["epoch", "lr", "t_cur", "t_i", "triggered", "peak", "val_acc"])
        XCTAssertEqual(scheduleCSVColumns(kind: .step, includeValAcc: false), ["epoch", "lr"])
        let rows = scheduleTable(config: ScheduleConfig(kind: .constant, parameters: SGDRParameters(lrMax: 0.2), epochs: 2),
                                 valAccs: [0.25, 0.5])
        XCTAssertEqual(scheduleCSV(rows, kind: .constant, includeValAcc: true), "epoch,lr,val_acc\n1,0.2,0.25\n2,0.2,0.5\n")
    }

    func testParseValAccs() throws {
        XCTAssertEqual(try parseValAccs("0.1\n0.5\n1\n0\n", needed: 4), [0.1, 0.5, 1, 0])
        XCTAssertEqual(try parseValAccs("0.1\r\n 0.5 \r\n\t1e-1\n\n\n", needed: 2), [0.1, 0.5, 0.1])
        XCTAssertEqual(try parseValAccs("0.9", needed: 1), [0.9])
        XCTAssertEqual(try parseValAccs("", needed: 0), [])
    }

    func testParseValAccsProblems() {
        func problem(_ text: String, needed: Int) -> ValAccProblem? {
            do { _ = try parseValAccs(text, needed: needed); return nil } catch { return error }
        }
        XCTAssertEqual(problem("0.1\nabc\n0.3\n", needed: 3), .badLine(line: 2, text: "abc"))
        XCTAssertEqual(problem("0.1\n1.5\n", needed: 2), .badLine(line: 2, text: "1.5"))
        XCTAssertEqual(problem("-0.1\n", needed: 1), .badLine(line: 1, text: "-0.1"))
        XCTAssertEqual(problem("nan\n", needed: 1), .badLine(line: 1, text: "nan"))
        XCTAssertEqual(problem("inf\n", needed: 1), .badLine(line: 1, text: "inf"))
        XCTAssertEqual(problem("0.1\n\n0.3\n", needed: 3), .badLine(line: 2, text: ""))
        XCTAssertEqual(problem("0.1,0.2\n", needed: 1), .badLine(line: 1, text: "0.1,0.2"))
        XCTAssertEqual(problem("0.1\n0.2\n", needed: 3), .tooShort(count: 2, needed: 3))
        XCTAssertEqual(problem("", needed: 1), .tooShort(count: 0, needed: 1))
        XCTAssertEqual(problem("0.1\n0.2\nx\n", needed: 2), .badLine(line: 3, text: "x"), "extra lines are checked too")
        XCTAssertEqual(ValAccProblem.badLine(line: 2, text: "abc").description, "line 2 is \"abc\", not a number in [0, 1]")
        XCTAssertEqual(ValAccProblem.tooShort(count: 2, needed: 3).description, "has 2 values, needs at least 3 (one per epoch)")
    }
}
