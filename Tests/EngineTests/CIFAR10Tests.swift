import Foundation
import XCTest
@testable import Engine
import TrainingTypes

/// The CIFAR-10 reader on small files the tests write (the real files cannot be downloaded here).
final class CIFAR10Tests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "cifar10-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        BLAS.setThreads(1)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// `count` records numbered from `first`: label (first + i) % 10, pixels derived from the
    /// record's number and position, so that a record copied from the wrong place shows.
    func records(_ count: Int, first: Int) -> [UInt8] {
        var out: [UInt8] = []
        for i in first..<(first + count) {
            out.append(UInt8(i % 10))
            out += (0..<CIFAR10.pixels).map { UInt8(truncatingIfNeeded: i * 7 + $0 * 13 + $0 / 1024) }
        }
        return out
    }

    func write(_ bytes: [UInt8], _ name: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: "\(dir!)/\(name)"))
    }

    /// Five training files of 3 records (15 images, numbered 0...14) and a test file of 4.
    func writeAll() throws {
        for (k, name) in CIFAR10.trainFiles.enumerated() { try write(records(3, first: 3 * k), name) }
        try write(records(4, first: 100), CIFAR10.testFile)
    }

    func assertThrows(_ expression: @autoclosure () throws -> DataSet, is expected: String,
                      file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            XCTAssertEqual("\(error)", expected, file: file, line: line)
        }
    }

    func options(train: Int = 10, val: Int = 4) -> DataOptions {
        DataOptions(dataset: .cifar10, dataDir: dir, trainSize: train, valSize: val)
    }

    func testLoadsSplitsAndKeepsChannelMajorImages() throws {
        try writeAll()
        let data = try DataSet.load(options())
        XCTAssertEqual(data.kind, .cifar10)
        XCTAssertEqual(data.channels, 3)
        XCTAssertEqual(data.side, 32)
        XCTAssertEqual(data.trainCount, 10)
        XCTAssertEqual(data.valCount, 4)
        XCTAssertEqual(data.testCount, 4)
        let all = records(15, first: 0)
        func image(_ bytes: [UInt8], _ i: Int) -> [UInt8] {
            Array(bytes[(i * CIFAR10.recordBytes + 1)..<((i + 1) * CIFAR10.recordBytes)])
        }
        XCTAssertEqual(data.trainLabels, (0..<10).map { UInt8($0 % 10) })
        XCTAssertEqual(data.valLabels, (11..<15).map { UInt8($0 % 10) })
        XCTAssertEqual(Array(data.trainImages[(4 * 3072)..<(5 * 3072)]), image(all, 4), "an image across the file boundary")
        XCTAssertEqual(Array(data.valImages[0..<3072]), image(all, 11), "validation is the last images of the training files")
        XCTAssertEqual(data.testLabels, (100..<104).map { UInt8($0 % 10) })
        XCTAssertEqual(Array(data.testImages[3072..<6144]), image(records(4, first: 100), 1))
        // Without the test set: the same training and validation bytes.
        let noTest = try DataSet.load(options(), includeTest: false)
        XCTAssertFalse(noTest.hasTest)
        XCTAssertTrue(noTest.trainImages == data.trainImages && noTest.valImages == data.valImages)
        // A CNN (3 input channels) and an MLP (3072 inputs) train on it.
        for training in [TrainingOptions(model: .cnn, conv: [4, 4], hidden: [8], batchSize: 4, epochs: 1),
                         TrainingOptions(hidden: [8], batchSize: 4, epochs: 1)] {
            let result = try train(data: data, options: training, learningRate: { _ in 0.01 }, onEpoch: { _ in .proceed },
                                   evaluateTest: true)
            XCTAssertEqual(result.outcome, .completed)
            XCTAssertTrue(result.epochs[0].valLoss.isFinite)
        }
    }

    func testBadFilesNameTheFileAndTheProblem() throws {
        try writeAll()
        let batch2 = "\(dir!)/data_batch_2.bin"
        // Truncated: a record cut short.
        try write(Array(records(3, first: 3).dropLast(100)), "data_batch_2.bin")
        assertThrows(try DataSet.load(options()),
                     is: "\(batch2): truncated or wrong-size CIFAR-10 file: 9119 bytes is not a whole number of 3073-byte records (2 records and 2973 bytes)")
        // Wrong size: an extra byte.
        try write(records(3, first: 3) + [0], "data_batch_2.bin")
        assertThrows(try DataSet.load(options()),
                     is: "\(batch2): truncated or wrong-size CIFAR-10 file: 9220 bytes is not a whole number of 3073-byte records (3 records and 1 bytes)")
        // Empty.
        try write([], "data_batch_2.bin")
        assertThrows(try DataSet.load(options()), is: "\(batch2): empty CIFAR-10 file: it holds no 3073-byte record")
        // A label outside 0...9 (record 1 of the file).
        var bad = records(3, first: 3)
        bad[CIFAR10.recordBytes] = 10
        try write(bad, "data_batch_2.bin")
        assertThrows(try DataSet.load(options()), is: "\(batch2): label 1 is 10, expected a class 0...9")
        // The test file is checked too, when it is read.
        try write(records(3, first: 3), "data_batch_2.bin")
        try write(Array(records(2, first: 0).dropLast(1)), CIFAR10.testFile)
        assertThrows(try DataSet.load(options()),
                     is: "\(dir!)/test_batch.bin: truncated or wrong-size CIFAR-10 file: 6145 bytes is not a whole number of 3073-byte records (1 records and 3072 bytes)")
        XCTAssertNoThrow(try DataSet.load(options(), includeTest: false))
        // Too few images for train_size + val_size.
        assertThrows(try DataSet.load(options(train: 12, val: 4)),
                     is: "\(dir!)/data_batch_1.bin … data_batch_5.bin holds 15 images, fewer than the 16 that --train-size + --val-size ask for")
        // A missing file, a missing folder, no folder at all.
        try FileManager.default.removeItem(atPath: "\(dir!)/data_batch_5.bin")
        assertThrows(try DataSet.load(options()),
                     is: "\(dir!) has no data_batch_5.bin: point --data-dir at a folder holding CIFAR-10's binary files data_batch_1.bin … data_batch_5.bin and test_batch.bin")
        assertThrows(try DataSet.load(DataOptions(dataset: .cifar10, dataDir: dir + "/nope", trainSize: 10, valSize: 4)),
                     is: "data directory \(dir!)/nope not found: point --data-dir at a folder holding CIFAR-10's binary files data_batch_1.bin … data_batch_5.bin and test_batch.bin")
        assertThrows(try DataSet.load(DataOptions(dataset: .cifar10, dataDir: nil, trainSize: 10, valSize: 4)),
                     is: "data_dir is needed for cifar10: a folder holding data_batch_1.bin … data_batch_5.bin and test_batch.bin")
        // CIFAR-10 has 50,000 training images.
        XCTAssertEqual(DataOptions(dataset: .cifar10, dataDir: dir, trainSize: 45000, valSize: 10000).firstInvalid()?.description,
                       "train_size + val_size must be <= 50000 so that training and validation never overlap (got 45000 + 10000)")
    }
}
