@testable import App
import XCTest

/// The progress line at a given terminal width (issue 22: on a 50-column pane it wrapped, and every
/// update left a stale line). Expected lines written by hand from the documented order: the
/// elapsed time goes first, then the best so far, then the line is cut with an ellipsis; always
/// one column to spare.
final class LiveLineTests: XCTestCase {
    let count = "[ 7/33] sgdr-0003.r1 best_val_acc 0.8610 (2.1 s)"
    let best = "best sgdr-0003.r1 0.8610"

    func line(_ width: Int?) -> String {
        ProgressReporter.liveLine(count: count, best: best, elapsed: "12.3 s", eta: "40.0 s", width: width)
    }

    func testAWideTerminalGetsTheWholeLine() {
        XCTAssertEqual(line(200), "[ 7/33] sgdr-0003.r1 best_val_acc 0.8610 (2.1 s) | best sgdr-0003.r1 0.8610 | elapsed 12.3 s, ETA 40.0 s")
        XCTAssertEqual(line(nil), line(200), "not a terminal: the whole line")
    }

    func testTheElapsedTimeGoesFirstThenTheBest() {
        // The whole line is 101 columns; 100 leaves 99.
        XCTAssertEqual(line(100), "[ 7/33] sgdr-0003.r1 best_val_acc 0.8610 (2.1 s) | best sgdr-0003.r1 0.8610 | ETA 40.0 s")
        XCTAssertEqual(line(80), "[ 7/33] sgdr-0003.r1 best_val_acc 0.8610 (2.1 s) | ETA 40.0 s")
    }

    func testANarrowPaneGetsACutLineThatNeverWraps() {
        // 49 columns: the first 48 characters (the whole count, which is 48 long) and the ellipsis.
        XCTAssertEqual(line(50), "[ 7/33] sgdr-0003.r1 best_val_acc 0.8610 (2.1 s)…")
        for width in 2...120 {
            XCTAssertLessThanOrEqual(line(width).count, width - 1, "width \(width)")
        }
        XCTAssertEqual(line(1), "…", "even one column keeps a mark")
    }

    func testControlCharactersInATrialsTextCannotMoveTheCursor() {
        let l = ProgressReporter.liveLine(count: "[1/2] bad\u{1b}[2J", best: "b", elapsed: "1 s", eta: "1 s", width: nil)
        XCTAssertFalse(l.contains("\u{1b}"), l)
    }
}
