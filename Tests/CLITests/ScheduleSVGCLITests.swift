import Foundation
import FoundationXML
import XCTest

final class ScheduleSVGCLITests: XCTestCase {
    func testSVGIsWellFormedWithOnePolylineOfOnePointPerEpoch() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("svg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("s.svg").path
        let result = try BinaryRunner.run(["schedule", "--t0", "5", "--tmult", "2", "--epochs", "18", "--svg", path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout.split(separator: "\n").count, 19, "the CSV is still printed")
        let doc = try XMLDocument(data: Data(contentsOf: URL(fileURLWithPath: path)), options: [])
        let polylines = try doc.nodes(forXPath: "//*[local-name()='polyline']")
        XCTAssertEqual(polylines.count, 1)
        let points = (polylines.first as? XMLElement)?.attributes?.first { $0.localName == "points" || $0.name == "points" }?.stringValue ?? ""
        XCTAssertEqual(points.split(separator: " ").count, 18)
    }

    func testUnwritableSVGPathIsOneLineNamingTheOption() throws {
        let result = try BinaryRunner.run(["schedule", "--epochs", "3", "--svg", "/nonexistent-dir/s.svg"])
        XCTAssertEqual(result.status, 1, "an output file that cannot be written is a runtime error")
        XCTAssertEqual(result.stdout, "")
        XCTAssertEqual(result.stderrLines.count, 1)
        XCTAssertTrue(result.stderr.hasPrefix("Error: --svg "), result.stderr)
    }
}
