import Report
import XCTest

/// The live dashboard (`serve`) shows `renderReportSections`; the static page must be exactly
/// those fragments, in page order, between its head and its footer (one renderer for both).
final class ReportSectionsTests: XCTestCase {
    func testTheStaticPageIsTheSectionsInOrder() {
        for input in [Fixture.input(Fixture.fullSweep()), Fixture.input([])] {
            for top in [0, 2, 5] {
                let page = renderReport(input, top: top)
                let fragments = renderReportSections(input, top: top)
                XCTAssertEqual(fragments.map(\.section), ReportSection.allCases)
                let body = fragments.map(\.html).joined()
                guard let start = page.range(of: "<body>\n"), let end = page.range(of: "<footer>") else {
                    return XCTFail("no body or footer")
                }
                XCTAssertEqual(String(page[start.upperBound..<end.lowerBound]), body)
                XCTAssertTrue(page.contains("<style>\n\(reportCSS)</style>"))
            }
        }
    }
}
