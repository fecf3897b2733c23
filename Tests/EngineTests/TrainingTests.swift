import Foundation
import XCTest
@testable import Engine
import TrainingTypes

/// Metrics without the wall times, for bit-for-bit comparisons.
struct Numbers: Equatable {
    var lr, trainLoss, trainAcc, valLoss, valAcc: Double
    init(_ m: EpochMetrics) {
        lr = m.lr; trainLoss = m.trainLoss; trainAcc = m.trainAcc; valLoss = m.valLoss; valAcc = m.valAcc
    }
}

final class TrainingTests: XCTestCase {
    static let synthetic = DataSet.synthetic(trainSize: 600, valSize: 200, testSize: 200, seed: 3)

    override func setUp() { BLAS.setThreads(1) }

    func run(_ options: TrainingOptions, data: DataSet = synthetic, lr: Double = 0.05,
             evaluateTest: Bool = false) throws -> TrainingResult {
        try train(data: data, options: options, learningRate: { _ in lr }, onEpoch: { _ in .proceed },
                  evaluateTest: evaluateTest)
    }

    func testSameSeedIsBitIdenticalAndOtherSeedsDiffer() throws {
        for optimizer in OptimizerKind.allCases {
            let options = TrainingOptions(hidden: [32, 16], batchSize: 50, epochs: 2, optimizer: optimizer, seed: 7)
            let lr = optimizer == .adam ? 0.001 : 0.05
            let a = try run(options, lr: lr).epochs.map(Numbers.init)
            let b = try run(options, lr: lr).epochs.map(Numbers.init)
            XCTAssertEqual(a.count, 2)
            XCTAssertEqual(a, b, "\(optimizer)")
            var other = options
            other.seed = 8
            let c = try run(other, lr: lr).epochs.map(Numbers.init)
            XCTAssertNotEqual(a.map(\.trainLoss), c.map(\.trainLoss), "\(optimizer)")
        }
    }

    func testSyntheticDataIsSeededAndInRange() {
        let a = DataSet.synthetic(trainSize: 50, valSize: 10, testSize: 10, seed: 1)
        let b = DataSet.synthetic(trainSize: 50, valSize: 10, testSize: 10, seed: 1)
        let c = DataSet.synthetic(trainSize: 50, valSize: 10, testSize: 10, seed: 2)
        XCTAssertEqual(a.trainImages, b.trainImages)
        XCTAssertEqual(a.trainLabels, b.trainLabels)
        XCTAssertNotEqual(a.trainImages, c.trainImages)
        XCTAssertEqual(a.trainImages.count, 50 * 784)
        XCTAssertTrue(a.trainLabels.allSatisfy { $0 < 10 })
        XCTAssertGreaterThan(Set(a.trainLabels).count, 5)
    }

    func testSyntheticIsLearnableAndTestAccuracyIsReported() throws {
        let result = try run(TrainingOptions(hidden: [64], batchSize: 32, epochs: 3, seed: 1), evaluateTest: true)
        XCTAssertEqual(result.outcome, .completed)
        XCTAssertEqual(result.epochs.map(\.epoch), [1, 2, 3])
        XCTAssertGreaterThan(result.epochs.last!.valAcc, 0.6)
        XCTAssertLessThan(result.epochs.last!.trainLoss, result.epochs.first!.trainLoss)
        XCTAssertGreaterThan(result.testAccuracy ?? 0, 0.6)
        XCTAssertTrue(result.epochs.allSatisfy { $0.trainSeconds > 0 && $0.trainSeconds <= result.seconds })
        XCTAssertNil(try run(TrainingOptions(hidden: [8], epochs: 1)).testAccuracy)
    }

    func testLearningRateIsAskedOncePerEpochAndMetricsReported() throws {
        var asked: [Int] = []
        var reported: [EpochMetrics] = []
        let result = try train(data: Self.synthetic, options: TrainingOptions(hidden: [8], epochs: 3),
                               learningRate: { e in asked.append(e); return 0.01 * Double(e) },
                               onEpoch: { m in reported.append(m); return .proceed })
        XCTAssertEqual(asked, [1, 2, 3])
        XCTAssertEqual(reported, result.epochs)
        XCTAssertEqual(reported.map(\.lr), [0.01, 0.02, 0.03])
    }

    func testStopCancelAndDivergence() throws {
        let options = TrainingOptions(hidden: [16], batchSize: 20, epochs: 5)
        let stopped = try train(data: Self.synthetic, options: options, learningRate: { _ in 0.05 },
                                onEpoch: { $0.epoch == 2 ? .stop : .proceed }, evaluateTest: true)
        XCTAssertEqual(stopped.outcome, .stopped)
        XCTAssertEqual(stopped.epochs.count, 2)
        XCTAssertNotNil(stopped.testAccuracy)

        var polls = 0
        let cancelled = try train(data: Self.synthetic, options: options, learningRate: { _ in 0.05 },
                                  onEpoch: { _ in .proceed }, isCancelled: { polls += 1; return polls > 40 })
        XCTAssertEqual(cancelled.outcome, .cancelled)
        XCTAssertEqual(cancelled.epochs.count, 1)  // 30 batches per epoch: cancelled in the second
        XCTAssertEqual(polls, 41)

        let diverged = try run(options, lr: 1e6)
        XCTAssertEqual(diverged.outcome, .diverged(epoch: 1))
        XCTAssertTrue(diverged.epochs.isEmpty)
    }

    func testLastPartialBatchIsKept() throws {
        // 600 images in batches of 256: 256 + 256 + 88, so three batches (polls) per epoch.
        var polls = 0
        let result = try train(data: Self.synthetic, options: TrainingOptions(hidden: [8], batchSize: 256, epochs: 2),
                               learningRate: { _ in 0.05 }, onEpoch: { _ in .proceed },
                               isCancelled: { polls += 1; return false })
        XCTAssertEqual(polls, 6)
        XCTAssertEqual(result.outcome, .completed)
        // Every image counts in train_acc: 600 * acc is a whole number.
        let correct = result.epochs[0].trainAcc * 600
        XCTAssertEqual(correct, correct.rounded(), accuracy: 1e-9)
    }

    func testInvalidOptionsNameTheField() {
        XCTAssertEqual(TrainingOptions(batchSize: 0).firstInvalid()?.description, "batch_size must be an integer in [1, 1000000] (got 0)")
        XCTAssertEqual(TrainingOptions(epochs: 0).firstInvalid()?.description.hasPrefix("epochs"), true)
        XCTAssertEqual(TrainingOptions(epochs: 100_001).firstInvalid()?.description, "epochs must be an integer in [1, 100000] (got 100001)")
        XCTAssertNil(TrainingOptions(epochs: 100_000).firstInvalid())
        XCTAssertEqual(TrainingOptions(momentum: 1).firstInvalid()?.description.hasPrefix("momentum"), true)
        XCTAssertEqual(TrainingOptions(weightDecay: -1).firstInvalid()?.description.hasPrefix("weight_decay"), true)
        XCTAssertEqual(TrainingOptions(hidden: [0]).firstInvalid()?.description.hasPrefix("hidden"), true)
        XCTAssertNil(TrainingOptions().firstInvalid())
        XCTAssertThrowsError(try run(TrainingOptions(batchSize: 0)))
    }

    func testBenchmarkReportsBothFigures() {
        let rows = benchmark(data: Self.synthetic, options: TrainingOptions(hidden: [32], epochs: 1),
                             threadCounts: [1], repeats: 1)
        XCTAssertEqual(rows.count, 1)
        XCTAssertGreaterThan(rows[0].secondsPerEpoch, 0)
        XCTAssertGreaterThan(rows[0].gemmSecondsPerEpoch, 0)
        XCTAssertEqual(rows[0].flopsPerEpoch, 2 * (784 * 32 * 2 + 32 * 10 * 3) * 600)
        XCTAssertGreaterThan(peakResidentBytes(), 1_000_000)
    }

    /// A short real run on a Fashion-MNIST subset learns (skipped without the package).
    func testShortFashionMNISTRunLearns() throws {
        let dir = DataOptions.defaultFashionMNISTDirectory
        try XCTSkipUnless(FileManager.default.fileExists(atPath: dir), "dataset-fashion-mnist is not installed")
        let data = try DataSet.load(DataOptions(dataset: .fashionMNIST, trainSize: 2000, valSize: 1000))
        XCTAssertEqual(data.testCount, 10000)
        let result = try train(data: data, options: TrainingOptions(hidden: [64], batchSize: 64, epochs: 3),
                               learningRate: { _ in 0.05 }, onEpoch: { _ in .proceed })
        XCTAssertEqual(result.outcome, .completed)
        XCTAssertGreaterThan(result.epochs.last!.valAcc, 0.65)  // chance is 0.1
    }
}

final class ConcurrencyTests: XCTestCase {
    /// Runs sharing one data set on several threads at once give the numbers of a run alone.
    func testConcurrentRunsMatchASerialRun() throws {
        BLAS.setThreads(1)
        let data = TrainingTests.synthetic
        let options = TrainingOptions(hidden: [32], batchSize: 40, epochs: 2, seed: 11)
        @Sendable func once() throws -> [Numbers] {
            try train(data: data, options: options, learningRate: { _ in 0.05 }, onEpoch: { _ in .proceed })
                .epochs.map(Numbers.init)
        }
        let alone = try once()
        let lock = NSLock()
        nonisolated(unsafe) var results: [[Numbers]] = []
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            let r = try? once()
            lock.lock(); results.append(r ?? []); lock.unlock()
        }
        XCTAssertEqual(results.count, 4)
        for r in results { XCTAssertEqual(r, alone) }
    }
}
