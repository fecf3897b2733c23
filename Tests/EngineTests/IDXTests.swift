import Foundation
import XCTest
@testable import Engine
import TrainingTypes

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

    /// Pseudo-random pixels (not periodic), so that a row copied from the wrong place shows.
    func noisyImages(count: Int, seed: UInt64) -> [UInt8] {
        var rng = Xoshiro256(seed: seed, stream: 7)
        return bigEndian(0x803) + bigEndian(UInt32(count)) + bigEndian(28) + bigEndian(28)
            + (0..<(count * 784)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    func noisyLabels(count: Int, seed: UInt64) -> [UInt8] {
        var rng = Xoshiro256(seed: seed, stream: 8)
        return bigEndian(0x801) + bigEndian(UInt32(count)) + (0..<count).map { _ in UInt8(rng.nextInt(below: 10)) }
    }

    /// The data set as the whole files, read in full, say it is.
    func assertMatchesFullRead(_ data: DataSet, directory: String, trainSize: Int, valSize: Int, test: Bool,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        func path(_ name: String) throws -> String { try DataSet.locate(name, in: directory) }
        let (im, lb) = try IDX.readPair(images: path("train-images-idx3-ubyte"), labels: path("train-labels-idx1-ubyte"))
        let n = im.count, p = 784
        XCTAssertTrue(data.trainImages == Array(im.pixels[0..<trainSize * p]), "train images", file: file, line: line)
        XCTAssertEqual(data.trainLabels, Array(lb[0..<trainSize]), file: file, line: line)
        XCTAssertTrue(data.valImages == Array(im.pixels[(n - valSize) * p..<n * p]), "val images", file: file, line: line)
        XCTAssertEqual(data.valLabels, Array(lb[(n - valSize)..<n]), file: file, line: line)
        XCTAssertEqual(data.hasTest, test, file: file, line: line)
        if test {
            let (tim, tlb) = try IDX.readPair(images: path("t10k-images-idx3-ubyte"), labels: path("t10k-labels-idx1-ubyte"))
            XCTAssertTrue(data.testImages == tim.pixels, "test images", file: file, line: line)
            XCTAssertEqual(data.testLabels, tlb, file: file, line: line)
        } else {
            XCTAssertEqual(data.testCount, 0, file: file, line: line)
        }
    }

    func testPartialStreamingLoadMatchesFullRead() throws {
        _ = try write(noisyImages(count: 300, seed: 1), "train-images-idx3-ubyte.gz", gzip: true)
        _ = try write(noisyLabels(count: 300, seed: 1), "train-labels-idx1-ubyte.gz", gzip: true)
        _ = try write(noisyImages(count: 40, seed: 2), "t10k-images-idx3-ubyte")
        _ = try write(noisyLabels(count: 40, seed: 2), "t10k-labels-idx1-ubyte")
        for (trainSize, valSize) in [(100, 50), (1, 299), (299, 1), (150, 150)] {
            for test in [true, false] {
                let data = try DataSet.load(DataOptions(dataset: .fashionMNIST, dataDir: dir, trainSize: trainSize, valSize: valSize),
                                            includeTest: test)
                try assertMatchesFullRead(data, directory: dir, trainSize: trainSize, valSize: valSize, test: test)
            }
        }
        // Chunks that split the header and rows anywhere give the same bytes.
        let path = "\(dir!)/train-images-idx3-ubyte.gz"
        let full = try IDX.readImages(path: path)
        for chunk in [1, 7, 16, 17, 783, 4096, 100_000] {
            let some = try IDX.readImages(path: path, chunkSize: chunk) { count, _, _ in [0..<3, 10..<11, (count - 5)..<count] }
            XCTAssertEqual(some.count, 300)
            XCTAssertEqual(some.parts.count, 3)
            XCTAssertTrue(some.parts[0] == Array(full.pixels[0..<3 * 784]), "chunk \(chunk)")
            XCTAssertTrue(some.parts[1] == Array(full.pixels[10 * 784..<11 * 784]), "chunk \(chunk)")
            XCTAssertTrue(some.parts[2] == Array(full.pixels[295 * 784..<300 * 784]), "chunk \(chunk)")
        }
    }

    /// The real Fashion-MNIST files (skipped without the package): the streaming, partial load
    /// gives the same bytes as reading the files whole.
    func testFashionMNISTPartialLoadMatchesFullRead() throws {
        let dir = DataOptions.defaultFashionMNISTDirectory
        try XCTSkipUnless(FileManager.default.fileExists(atPath: dir), "dataset-fashion-mnist is not installed")
        for test in [false, true] {
            let data = try DataSet.load(DataOptions(dataset: .fashionMNIST, trainSize: 10000, valSize: 5000), includeTest: test)
            try assertMatchesFullRead(data, directory: dir, trainSize: 10000, valSize: 5000, test: test)
        }
    }

    func testConcurrentLoadErrorsNameTheRightFile() throws {
        let options = DataOptions(dataset: .fashionMNIST, dataDir: dir, trainSize: 20, valSize: 7)
        _ = try write(idxImages(count: 30), "train-images-idx3-ubyte.gz", gzip: true)
        _ = try write(idxLabels(count: 30), "train-labels-idx1-ubyte.gz", gzip: true)
        _ = try write(idxImages(count: 5), "t10k-images-idx3-ubyte.gz", gzip: true)
        _ = try write(idxLabels(count: 5), "t10k-labels-idx1-ubyte.gz", gzip: true)
        XCTAssertNoThrow(try DataSet.load(options))
        // A foreign test images file: refused when the test set is loaded, not read otherwise.
        _ = try write(Array("<html>not an idx file</html>".utf8), "t10k-images-idx3-ubyte.gz")
        assertThrows(try DataSet.load(options), contains: ["t10k-images-idx3-ubyte.gz", "magic"])
        XCTAssertFalse(try DataSet.load(options, includeTest: false).hasTest)
        // Bad train labels: named, before the test file (a serial read's order).
        var labels = idxLabels(count: 30)
        labels[20] = 11
        _ = try write(labels, "train-labels-idx1-ubyte.gz", gzip: true)
        assertThrows(try DataSet.load(options), contains: ["train-labels-idx1-ubyte.gz", "11"])
        // A cut train images stream comes first of all, though it is read on another thread.
        let gz = try Data(contentsOf: URL(fileURLWithPath: try write(idxImages(count: 30), "whole.gz", gzip: true)))
        _ = try write(Array(gz.prefix(gz.count / 2)), "train-images-idx3-ubyte.gz")
        for test in [true, false] {
            assertThrows(try DataSet.load(options, includeTest: test), contains: ["train-images-idx3-ubyte.gz", "gzip"])
        }
        // A truncated raw train images file: its length, named.
        try FileManager.default.removeItem(atPath: "\(dir!)/train-images-idx3-ubyte.gz")
        let full = idxImages(count: 30)
        _ = try write(Array(full.dropLast(10)), "train-images-idx3-ubyte")
        _ = try write(idxLabels(count: 30), "train-labels-idx1-ubyte.gz", gzip: true)
        assertThrows(try DataSet.load(options, includeTest: false),
                     contains: ["train-images-idx3-ubyte", "truncated", "\(full.count - 10) bytes", "\(full.count)"])
        // Images of another size.
        _ = try write(idxImages(count: 30, rows: 20, columns: 20), "train-images-idx3-ubyte")
        assertThrows(try DataSet.load(options, includeTest: false), contains: ["train-images-idx3-ubyte", "20x20", "28x28"])
    }

    func testSplitSizesThatWouldOverlapAreRefused() {
        XCTAssertNil(DataOptions().firstInvalid())
        XCTAssertTrue(DataOptions(trainSize: 50001).firstInvalid()?.description.hasPrefix("train_size + val_size") ?? false)
        XCTAssertTrue(DataOptions(trainSize: 0).firstInvalid()?.description.hasPrefix("train_size") ?? false)
        XCTAssertTrue(DataOptions(valSize: 0).firstInvalid()?.description.hasPrefix("val_size") ?? false)
        XCTAssertThrowsError(try DataSet.load(DataOptions(dataset: .synthetic, trainSize: 55000, valSize: 10000)))
    }
}
