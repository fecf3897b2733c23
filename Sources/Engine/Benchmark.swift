#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TrainingTypes

/// The engine's speed with one BLAS thread count, on one configuration.
public struct BenchmarkRow: Sendable, Hashable {
    public var threads: Int
    /// Wall time of one epoch's training pass (the sum of each chunk's best time).
    public var secondsPerEpoch: Double
    /// Wall time of the same epoch's sgemm calls alone, on the same shapes and buffers of the
    /// same sizes (measured the same way): the floor. These are the calls the engine makes: for
    /// a Winograd convolution its transform-domain sgemms, not im2col's.
    public var gemmSecondsPerEpoch: Double
    /// Floating-point operations of one epoch's work counted as one sgemm per layer and pass
    /// (2·m·n·k each; convolutions as im2col): the network's work, whatever algorithm does it.
    public var flopsPerEpoch: Double
    /// Floating-point operations of the sgemm calls the engine makes in one epoch (fewer than
    /// `flopsPerEpoch` when a convolution goes through Winograd).
    public var engineFlopsPerEpoch: Double
    /// For a network with Winograd convolutions: the wall time of the sgemm calls the same epoch
    /// would make with every convolution on im2col (the floor before Winograd), measured the same
    /// way, alternately with the others. Nil otherwise.
    public var im2colGemmSecondsPerEpoch: Double?

    public var ratio: Double { secondsPerEpoch / gemmSecondsPerEpoch }
    /// The network's work per second (im2col-counted FLOPs over the training time).
    public var gigaflops: Double { flopsPerEpoch / secondsPerEpoch / 1e9 }
    /// The speed of the engine's own sgemm calls.
    public var floorGigaflops: Double { engineFlopsPerEpoch / gemmSecondsPerEpoch / 1e9 }
}

/// Peak resident set size of this process so far, in bytes (getrusage's ru_maxrss).
public func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    #if os(Linux)
    return Int(usage.ru_maxrss) * 1024
    #else
    return Int(usage.ru_maxrss)
    #endif
}

/// The sgemm floating-point operations of one training epoch of `options` on `trainCount` images.
public func trainingFlopsPerEpoch(options: TrainingOptions, trainCount: Int) -> Double {
    options.modelSpec().trainingFlopsPerImage * Double(trainCount)
}

/// The same for images of `data`'s shape.
func trainingFlopsPerEpoch(options: TrainingOptions, data: DataSet) -> Double {
    options.modelSpec(channels: data.channels, side: data.side).trainingFlopsPerImage * Double(data.trainCount)
}

/// The FLOPs of the sgemm calls the engine makes in one epoch on `data` (see
/// `ModelSpec.engineGemmFlopsPerImage`).
func engineFlopsPerEpoch(options: TrainingOptions, data: DataSet) -> Double {
    options.modelSpec(channels: data.channels, side: data.side).engineGemmFlopsPerImage * Double(data.trainCount)
}

/// Measures training against the same sgemm calls alone, for each thread count. An epoch is cut
/// into chunks of `chunkBatches` batches; each chunk is timed training, then as sgemm calls
/// alone (and, for a CNN with Winograd convolutions, as the sgemm calls of the same network on
/// im2col), alternately, `repeats` times, and an epoch's figure is the sum over chunks of each
/// chunk's best time. Outside load then has to disturb every repeat of a chunk to count, and it
/// disturbs training and floor alike. Sets the BLAS thread count (process-wide) and leaves it at
/// the last value. Training runs at a constant rate `lr`.
public func benchmark(data: DataSet, options: TrainingOptions, threadCounts: [Int], repeats: Int = 3,
                      lr: Double = 0.01, chunkBatches: Int = 20) -> [BenchmarkRow] {
    var rows: [BenchmarkRow] = []
    let flops = trainingFlopsPerEpoch(options: options, data: data)
    let engineFlops = engineFlopsPerEpoch(options: options, data: data)
    let hasWinograd = engineFlops != flops && options.model == .cnn
    let n = data.trainCount, batchSize = options.batchSize
    let chunkImages = max(1, chunkBatches) * batchSize
    let chunks = (n + chunkImages - 1) / chunkImages
    for threads in threadCounts {
        BLAS.setThreads(threads)
        let trainer = Trainer(data: data, options: options)
        // The floor's sgemm calls write garbage into their buffers: give them their own.
        let floorTrainer = Trainer(data: data, options: options)
        let im2colTrainer = hasWinograd ? Trainer(data: data, options: options, allowWinograd: false) : nil
        _ = trainer.trainEpoch(lr: lr, isCancelled: { false })  // warm-up
        _ = floorTrainer.gemmEpoch()
        _ = im2colTrainer?.gemmEpoch()
        var bestTrain = [Double](repeating: .infinity, count: chunks)
        var bestFloor = [Double](repeating: .infinity, count: chunks)
        var bestIm2col = [Double](repeating: .infinity, count: chunks)
        data.trainImages.withUnsafeBufferPointer { images in
            data.trainLabels.withUnsafeBufferPointer { labels in
                for _ in 0..<max(1, repeats) {
                    trainer.shuffle()
                    for c in 0..<chunks {
                        let first = c * chunkImages, end = min(n, first + chunkImages)
                        var t = monotonicSeconds()
                        var start = first
                        while start < end {
                            let batch = min(batchSize, end - start)
                            _ = trainer.trainBatch(images: images.baseAddress!, labels: labels.baseAddress!,
                                                   start: start, count: batch, lr: lr)
                            start += batch
                        }
                        var now = monotonicSeconds()
                        bestTrain[c] = min(bestTrain[c], now - t)
                        t = now
                        start = first
                        while start < end {
                            let batch = min(batchSize, end - start)
                            floorTrainer.model.gemmsOnly(batch: batch, optimizer: floorTrainer.optimizer)
                            start += batch
                        }
                        now = monotonicSeconds()
                        bestFloor[c] = min(bestFloor[c], now - t)
                        guard let im2colTrainer else { continue }
                        t = now
                        start = first
                        while start < end {
                            let batch = min(batchSize, end - start)
                            im2colTrainer.model.gemmsOnly(batch: batch, optimizer: im2colTrainer.optimizer)
                            start += batch
                        }
                        now = monotonicSeconds()
                        bestIm2col[c] = min(bestIm2col[c], now - t)
                    }
                }
            }
        }
        rows.append(BenchmarkRow(threads: threads, secondsPerEpoch: bestTrain.reduce(0, +),
                                 gemmSecondsPerEpoch: bestFloor.reduce(0, +), flopsPerEpoch: flops,
                                 engineFlopsPerEpoch: engineFlops,
                                 im2colGemmSecondsPerEpoch: hasWinograd ? bestIm2col.reduce(0, +) : nil))
    }
    return rows
}

/// Where one training epoch's time goes, phase by phase (seconds).
public struct EpochProfile: Sendable, Hashable {
    /// Gathering the shuffled images as bytes and converting them to floats.
    public var loadBatch = 0.0
    /// Forward to the logits (MLP: Linear + ReLU; CNN: also convolution, ReLU, pooling).
    public var forward = 0.0
    /// Softmax, loss and its gradient.
    public var loss = 0.0
    /// Backward (sgemm, bias gradients, ReLU masks; CNN: also pooling, col2im and Winograd's
    /// transforms) with each layer's optimizer update right after it.
    public var backward = 0.0
    /// The whole epoch, shuffle included.
    public var total = 0.0

    public var phases: [(String, Double)] {
        [("load", loadBatch), ("forward", forward), ("loss", loss), ("backward+update", backward)]
    }
}

/// One training epoch of `options` on `data` with a timer around every phase (the timers add a
/// little), after one untimed warm-up epoch.
public func profileEpoch(data: DataSet, options: TrainingOptions, lr: Double = 0.01) -> EpochProfile {
    let trainer = Trainer(data: data, options: options)
    _ = trainer.trainEpoch(lr: lr, isCancelled: { false })
    return trainer.profiledEpoch(lr: lr)
}

extension Trainer {
    func profiledEpoch(lr: Double) -> EpochProfile {
        var p = EpochProfile()
        let started = monotonicSeconds()
        shuffle()
        let n = data.trainCount, batchSize = options.batchSize, classes = DataSet.classes
        data.trainImages.withUnsafeBufferPointer { images in
            data.trainLabels.withUnsafeBufferPointer { labels in
                var start = 0
                var t = monotonicSeconds()
                func lap(_ phase: inout Double) {
                    let now = monotonicSeconds()
                    phase += now - t
                    t = now
                }
                while start < n {
                    let batch = min(batchSize, n - start)
                    model.loadBatch(images: images.baseAddress!, labels: labels.baseAddress!,
                                    indices: order, start: start, count: batch)
                    lap(&p.loadBatch)
                    let logits = model.forward(batch: batch)
                    lap(&p.forward)
                    _ = SoftmaxCrossEntropy.forward(logits, labels: model.labels, batch: batch, classes: classes)
                    SoftmaxCrossEntropy.backward(logits, labels: model.labels, batch: batch, classes: classes)
                    lap(&p.loss)
                    model.backward(batch: batch, optimizer: optimizer, lr: lr)
                    lap(&p.backward)
                    start += batch
                }
            }
        }
        p.total = monotonicSeconds() - started
        return p
    }

    /// The sgemm calls of one training epoch alone (same batch shapes, same buffers); seconds.
    func gemmEpoch() -> Double {
        let n = data.trainCount, batchSize = options.batchSize
        let started = monotonicSeconds()
        var start = 0
        while start < n {
            let batch = min(batchSize, n - start)
            model.gemmsOnly(batch: batch, optimizer: optimizer)
            start += batch
        }
        return monotonicSeconds() - started
    }
}
