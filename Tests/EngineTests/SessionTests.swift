import Foundation
import XCTest
@testable import Engine
import TrainingTypes

final class SessionTests: XCTestCase {
    static let data = DataSet.synthetic(trainSize: 500, valSize: 150, testSize: 100, seed: 5)
    /// A rate per epoch that changes every epoch (so a restore into the wrong epoch shows).
    static let rates = [0.05, 0.03, 0.08, 0.01, 0.02]

    override func setUp() { BLAS.setThreads(1) }

    static let variants: [(String, TrainingOptions, Double)] = [
        ("sgd", TrainingOptions(hidden: [32, 16], batchSize: 64, epochs: 5, momentum: 0.9, seed: 11), 1),
        ("sgd-plain", TrainingOptions(hidden: [32], batchSize: 64, epochs: 5, momentum: 0, seed: 11), 1),
        ("nesterov", TrainingOptions(hidden: [32, 16], batchSize: 64, epochs: 5, momentum: 0.9, nesterov: true, seed: 11), 1),
        ("adam", TrainingOptions(hidden: [32, 16], batchSize: 64, epochs: 5, optimizer: .adam, seed: 11), 0.02),
        ("cnn-sgd", TrainingOptions(model: .cnn, conv: [4, 6], hidden: [16], batchSize: 64, epochs: 5, momentum: 0.9, seed: 11), 1),
        ("cnn-adam", TrainingOptions(model: .cnn, conv: [3], hidden: [], batchSize: 64, epochs: 5, optimizer: .adam, seed: 11), 0.02),
    ]

    func metrics(_ step: EpochStep, file: StaticString = #filePath, line: UInt = #line) -> EpochMetrics? {
        guard case let .completed(m) = step else { XCTFail("\(step)", file: file, line: line); return nil }
        return m
    }

    func uninterrupted(_ options: TrainingOptions, scale: Double) throws -> [Numbers] {
        try train(data: Self.data, options: options, learningRate: { Self.rates[$0 - 1] * scale },
                  onEpoch: { _ in .proceed }).epochs.map(Numbers.init)
    }

    func testRestoreContinuesBitIdenticallyForEveryOptimizer() throws {
        for (name, options, scale) in Self.variants {
            let reference = try uninterrupted(options, scale: scale)
            XCTAssertEqual(reference.count, 5, name)
            for cut in 0...4 {
                let a = try TrainingSession(data: Self.data, options: options)
                var got: [Numbers] = []
                for e in 0..<cut { got += [Numbers(try XCTUnwrap(metrics(a.runEpoch(lr: Self.rates[e] * scale, isCancelled: { false }))))] }
                let saved = a.checkpoint()
                XCTAssertEqual(saved.epoch, cut)
                // A session of another seed, moved on elsewhere, takes the state over.
                var other = options
                other.seed = 99
                let b = try TrainingSession(data: Self.data, options: other)
                _ = b.runEpoch(lr: 0.07 * scale, isCancelled: { false })
                b.restore(saved)
                XCTAssertEqual(b.epoch, cut)
                // And the original session, after running ahead on other rates, comes back.
                _ = a.runEpoch(lr: 0.09 * scale, isCancelled: { false })
                a.restore(saved)
                var fromB = got, fromA = got
                for e in cut..<5 {
                    let mb = try XCTUnwrap(metrics(b.runEpoch(lr: Self.rates[e] * scale, isCancelled: { false })))
                    let ma = try XCTUnwrap(metrics(a.runEpoch(lr: Self.rates[e] * scale, isCancelled: { false })))
                    XCTAssertEqual(mb.epoch, e + 1)
                    fromB.append(Numbers(mb))
                    fromA.append(Numbers(ma))
                }
                XCTAssertEqual(fromB, reference, "\(name), restored after \(cut) epochs into another session")
                XCTAssertEqual(fromA, reference, "\(name), restored after \(cut) epochs into the same session")
            }
        }
    }

    func testResetIsTheFreshStateAndSwitchesSeeds() throws {
        for (name, options, scale) in Self.variants {
            let reference = try uninterrupted(options, scale: scale)
            var other = options
            other.seed = 3
            let otherReference = try uninterrupted(other, scale: scale)
            let s = try TrainingSession(data: Self.data, options: options)
            _ = s.runEpoch(lr: 0.04 * scale, isCancelled: { false })
            _ = s.runEpoch(lr: 0.06 * scale, isCancelled: { false })
            s.reset()
            XCTAssertEqual(s.epoch, 0)
            let again = try (0..<5).map { try Numbers(XCTUnwrap(metrics(s.runEpoch(lr: Self.rates[$0] * scale, isCancelled: { false })))) }
            XCTAssertEqual(again, reference, name)
            s.reset(seed: 3)
            let switched = try (0..<5).map { try Numbers(XCTUnwrap(metrics(s.runEpoch(lr: Self.rates[$0] * scale, isCancelled: { false })))) }
            XCTAssertEqual(switched, otherReference, name)
        }
    }

    func testCancelledOrDivergedEpochNeedsARestore() throws {
        let options = TrainingOptions(hidden: [16], batchSize: 50, epochs: 3, seed: 2)
        let s = try TrainingSession(data: Self.data, options: options)
        let start = s.checkpoint()
        var polls = 0
        XCTAssertEqual(s.runEpoch(lr: 0.05, isCancelled: { polls += 1; return polls > 3 }), .cancelled)
        XCTAssertFalse(s.isConsistent)
        XCTAssertEqual(s.epoch, 0)
        s.restore(start)
        XCTAssertTrue(s.isConsistent)
        XCTAssertEqual(s.runEpoch(lr: 1e6, isCancelled: { false }), .diverged)
        XCTAssertFalse(s.isConsistent)
        s.reset()
        let m = try XCTUnwrap(metrics(s.runEpoch(lr: 0.05, isCancelled: { false })))
        let reference = try train(data: Self.data, options: options, learningRate: { _ in 0.05 }, onEpoch: { _ in .stop })
        XCTAssertEqual(Numbers(m), Numbers(reference.epochs[0]))
    }

    func testCheckpointSize() throws {
        // The reference model: 784 -> 256 -> 128 -> 10, SGD with momentum: params + momentum.
        let data = DataSet.synthetic(trainSize: 1000, valSize: 10, testSize: 10, seed: 1)
        let params = 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
        let sgd = try TrainingSession(data: data, options: TrainingOptions(seed: 1)).checkpoint()
        XCTAssertEqual(sgd.byteCount, 2 * params * 4 + 1000 * 4 + 64)
        XCTAssertLessThan(abs(Double(sgd.byteCount) - 1.9e6), 0.1e6)
        let adam = try TrainingSession(data: data, options: TrainingOptions(optimizer: .adam, seed: 1)).checkpoint()
        XCTAssertEqual(adam.byteCount, 3 * params * 4 + 1000 * 4 + 64)
        let plain = try TrainingSession(data: data, options: TrainingOptions(momentum: 0, seed: 1)).checkpoint()
        XCTAssertEqual(plain.byteCount, params * 4 + 1000 * 4 + 64)
    }

    func testInvalidOptionsAreRefused() {
        XCTAssertThrowsError(try TrainingSession(data: Self.data, options: TrainingOptions(batchSize: 0))) {
            XCTAssertEqual($0 as? TrainingError, .invalidOptions(EngineOptionProblem(.batchSize, " must be an integer in [1, 1000000] (got 0)")))
        }
    }
}
