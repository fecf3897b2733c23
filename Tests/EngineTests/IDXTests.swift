import Foundation
import XCTest
@testable import Engine

func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

func idxImages(count: Int, rows: Int = 28, columns: Int = 28, magic: UInt32 = 0x803) -> [UInt8] {
    bigEndian(magic) + bigEndian(UInt32(count)) + bigEndian(UInt32(rows)) + bigEndian(UInt32(columns))
        + (0..<(count * rows * columns)).map { UInt8($0 % 251) }
}

func idxLabels(count: Int, magic: UInt32 = 0x801) -> [UInt8] {
    bigEndian(magic) + bigEndian(UInt32(count)) + (0..<count).map { UInt8($0 % 10) }
}

final class IDXTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "idx-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    func write(_ bytes: [UInt8], _ name: String, gzip: Bool = false) throws -> String {
        let path = "\(dir!)/\(name)"
        if gzip { try writeGzipped(bytes, path: path) } else { try Data(bytes).write(to: URL(fileURLWithPath: path)) }
        return path
    }

    func testGoodFilesRawAndGzipped() throws {
        for gzip in [false, true] {
            let images = try IDX.readImages(path: write(idxImages(count: 3), "im\(gzip)", gzip: gzip))
            XCTAssertEqual(images.count, 3)
            XCTAssertEqual(images.rows, 28)
            XCTAssertEqual(images.pixels.count, 3 * 784)
            XCTAssertEqual(images.pixels[785], UInt8(785 % 251))
            let labels = try IDX.readLabels(path: write(idxLabels(count: 3), "lb\(gzip)", gzip: gzip))
            XCTAssertEqual(labels, [0, 1, 2])
        }
    }

    func assertThrows(_ expression: @autoclosure () throws -> Any, contains fragments: [String],
                      file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            let message = String(describing: error)
            for f in fragments {
                XCTAssertTrue(message.contains(f), "'\(message)' lacks '\(f)'", file: file, line: line)
            }
            XCTAssertFalse(message.contains("\n"), file: file, line: line)
        }
    }

    func testTruncatedFiles() throws {
        let full = idxImages(count: 4)
        let raw = try write(Array(full.dropLast(100)), "truncated-images")
        assertThrows(try IDX.readImages(path: raw), contains: ["truncated-images", "truncated", "\(full.count - 100) bytes", "\(full.count)"])
        let header = try write(Array(full.prefix(10)), "short-header")
        assertThrows(try IDX.readImages(path: header), contains: ["short-header", "truncated"])
        // A gzip stream cut in the middle.
        let gzPath = try write(full, "whole.gz", gzip: true)
        let gz = try Data(contentsOf: URL(fileURLWithPath: gzPath))
        let cut = try write(Array(gz.prefix(gz.count / 2)), "cut.gz")
        assertThrows(try IDX.readImages(path: cut), contains: ["cut.gz"])
        let labels = try write(Array(idxLabels(count: 5).dropLast(1)), "truncated-labels")
        assertThrows(try IDX.readLabels(path: labels), contains: ["truncated-labels", "truncated"])
    }

    func testWrongMagic() throws {
        let path = try write(idxImages(count: 2, magic: 0x801), "labels-as-images")
        assertThrows(try IDX.readImages(path: path), contains: ["labels-as-images", "0x00000801", "0x00000803"])
        let foreign = try write(Array("<html>not an idx file at all</html>".utf8), "page.html")
        assertThrows(try IDX.readLabels(path: foreign), contains: ["page.html", "magic", "0x00000801"])
    }

    func testMismatchedCounts() throws {
        let images = try write(idxImages(count: 3), "three-images")
        let labels = try write(idxLabels(count: 4), "four-labels")
        assertThrows(try IDX.readPair(images: images, labels: labels),
                     contains: ["three-images", "3 images", "four-labels", "4 labels"])
    }

    func testBadLabelValue() throws {
        var bytes = idxLabels(count: 3)
        bytes[9] = 12
        let path = try write(bytes, "bad-label")
        assertThrows(try IDX.readLabels(path: path), contains: ["bad-label", "12"])
    }

    func testMissingDirectoryNamesPackageAndOption() {
        let options = DataOptions(dataset: .fashionMNIST, dataDir: "\(dir!)/nowhere")
        assertThrows(try DataSet.load(options), contains: ["nowhere", "dataset-fashion-mnist", "--data-dir"])
        XCTAssertTrue(DataError.missingDirectory(DataOptions.defaultFashionMNISTDirectory).description
            .contains("apt-get install dataset-fashion-mnist"))
    }

    func testDirectoryWithFilesLoadsAndSplits() throws {
        _ = try write(idxImages(count: 30), "train-images-idx3-ubyte", gzip: true)
        _ = try write(idxLabels(count: 30), "train-labels-idx1-ubyte")
        _ = try write(idxImages(count: 5), "t10k-images-idx3-ubyte.gz", gzip: true)
        _ = try write(idxLabels(count: 5), "t10k-labels-idx1-ubyte.gz", gzip: true)
        // The gzipped train images file was written without .gz: zlib reads either way.
        let data = try DataSet.load(DataOptions(dataset: .fashionMNIST, dataDir: dir, trainSize: 20, valSize: 7))
        XCTAssertEqual(data.trainCount, 20)
        XCTAssertEqual(data.valCount, 7)
        XCTAssertEqual(data.testCount, 5)
        // Validation is the last 7 images of the file.
        let expectedLabels: [UInt8] = (23..<30).map { (i: Int) -> UInt8 in UInt8(i % 10) }
        XCTAssertEqual(data.valLabels, expectedLabels)
        let first: Int = 23 * 784
        let expectedPixels: [UInt8] = (first..<(first + 3)).map { (i: Int) -> UInt8 in UInt8(i % 251) }
        XCTAssertEqual(Array(data.valImages.prefix(3)), expectedPixels)
        assertThrows(try DataSet.load(DataOptions(dataset: .fashionMNIST, dataDir: dir, trainSize: 25, valSize: 7)),
                     contains: ["30 images", "32"])
        try FileManager.default.removeItem(atPath: "\(dir!)/t10k-labels-idx1-ubyte.gz")
        assertThrows(try DataSet.load(DataOptions(dataset: .fashionMNIST, dataDir: dir, trainSize: 20, valSize: 7)),
                     contains: ["t10k-labels-idx1-ubyte"])
    }

    func testSplitSizesThatWouldOverlapAreRefused() {
        XCTAssertNil(DataOptions().firstInvalid())
        XCTAssertTrue(DataOptions(trainSize: 50001).firstInvalid()?.hasPrefix("train_size + val_size") ?? false)
        XCTAssertTrue(DataOptions(trainSize: 0).firstInvalid()?.hasPrefix("train_size") ?? false)
        XCTAssertTrue(DataOptions(valSize: 0).firstInvalid()?.hasPrefix("val_size") ?? false)
        XCTAssertThrowsError(try DataSet.load(DataOptions(dataset: .synthetic, trainSize: 55000, valSize: 10000)))
    }
}
