import Foundation
import TrainingTypes

/// Why a data set could not be loaded: one line, naming the file or option.
public enum DataError: Error, CustomStringConvertible, Equatable, Sendable {
    case invalidOptions(EngineOptionProblem)
    case missingDirectory(String)
    case missingFile(directory: String, name: String)
    case wrongImageSize(file: String, rows: Int, columns: Int)
    case tooFewImages(file: String, count: Int, needed: Int)
    case idx(IDXError)
    case missingCIFAR10(directory: String, name: String?)
    case cifar10(CIFAR10Error)

    /// With command-line names (`--data-dir`), as `sgdr-search train` takes them.
    public var description: String {
        message(naming: { "--" + $0.rawValue.replacingOccurrences(of: "_", with: "-") }, invalidOptions: { $0.description })
    }

    /// The message with every option spelled by `name`: a space file's `training.data_dir`, the
    /// command line's `--data-dir`.
    public func message(naming name: (TrainingOption) -> String) -> String {
        message(naming: name, invalidOptions: { $0.message(naming: name) })
    }

    private func message(naming name: (TrainingOption) -> String, invalidOptions: (EngineOptionProblem) -> String) -> String {
        let dataDir = name(.dataDir)
        switch self {
        case let .invalidOptions(problem):
            return invalidOptions(problem)
        case let .missingDirectory(dir):
            if dir == DataOptions.defaultFashionMNISTDirectory {
                return "Fashion-MNIST not found in \(dir): install it with `apt-get install dataset-fashion-mnist`, or point \(dataDir) at a folder holding its IDX files (or use \(name(.dataset)) synthetic)"
            }
            return "data directory \(dir) not found: point \(dataDir) at a folder holding the Fashion-MNIST IDX files, or install them with `apt-get install dataset-fashion-mnist` and omit \(dataDir)"
        case let .missingFile(dir, file):
            return "\(dir) has no \(file).gz nor \(file): install `dataset-fashion-mnist` or point \(dataDir) at a folder holding the four Fashion-MNIST IDX files"
        case let .wrongImageSize(file, rows, columns):
            return "\(file): images are \(rows)x\(columns), expected 28x28"
        case let .tooFewImages(file, count, needed):
            return "\(file) holds \(count) images, fewer than the \(needed) that \(name(.trainSize)) + \(name(.valSize)) ask for"
        case let .idx(error):
            return error.description
        case let .missingCIFAR10(dir, file):
            if let file { return "\(dir) has no \(file): point \(dataDir) at a folder holding CIFAR-10's binary files data_batch_1.bin … data_batch_5.bin and test_batch.bin" }
            return "data directory \(dir) not found: point \(dataDir) at a folder holding CIFAR-10's binary files data_batch_1.bin … data_batch_5.bin and test_batch.bin"
        case let .cifar10(error):
            return error.description
        }
    }
}

/// The images of one run's data, as bytes, shared read-only by concurrent runs.
public final class DataSet: Sendable {
    public static let imageSide = 28
    public static let pixels = 784
    public static let classes = 10
    /// Images in Fashion-MNIST's training file.
    public static let fileTrainCount = DatasetKind.fashionMNIST.trainFileCount

    public let kind: DatasetKind
    /// Every image is `channels x side x side` bytes (channel-major, then row-major).
    public let channels: Int
    public let side: Int
    public var pixelsPerImage: Int { channels * side * side }
    /// Row-major `count x pixelsPerImage` bytes, and one label (0...9) per image.
    let trainImages: [UInt8], trainLabels: [UInt8]
    let valImages: [UInt8], valLabels: [UInt8]
    /// Whether the test set was loaded (`load(_:includeTest:)`).
    public let hasTest: Bool
    private let storedTestImages: [UInt8], storedTestLabels: [UInt8]

    /// The test set; only for a data set loaded with its test set.
    var testImages: [UInt8] {
        precondition(hasTest, "the test set was not loaded: load the data set with includeTest: true")
        return storedTestImages
    }
    var testLabels: [UInt8] {
        precondition(hasTest, "the test set was not loaded: load the data set with includeTest: true")
        return storedTestLabels
    }

    public var trainCount: Int { trainLabels.count }
    public var valCount: Int { valLabels.count }
    /// Test images (0 when the test set was not loaded).
    public var testCount: Int { storedTestLabels.count }

    /// `test` nil: a data set without its test set.
    init(kind: DatasetKind, channels: Int = 1, side: Int = DataSet.imageSide,
         train: ([UInt8], [UInt8]), val: ([UInt8], [UInt8]), test: ([UInt8], [UInt8])?) {
        let pixels = channels * side * side
        precondition(train.0.count == train.1.count * pixels)
        precondition(val.0.count == val.1.count * pixels)
        precondition(test.map { $0.0.count == $0.1.count * pixels } ?? true)
        self.kind = kind
        self.channels = channels
        self.side = side
        (trainImages, trainLabels) = train
        (valImages, valLabels) = val
        hasTest = test != nil
        (storedTestImages, storedTestLabels) = test ?? ([], [])
    }

    /// Loads (or generates) the data set the options describe. `includeTest: false` skips the
    /// test set (sweeps never use it): its files must still exist, but are not read, and
    /// the train and validation sets are the same bytes either way.
    public static func load(_ options: DataOptions, includeTest: Bool = true) throws -> DataSet {
        if let problem = options.firstInvalid() { throw DataError.invalidOptions(problem) }
        switch options.dataset {
        case .synthetic:
            return synthetic(trainSize: options.trainSize, valSize: options.valSize,
                             testSize: includeTest ? max(options.valSize, 1000) : nil, seed: options.syntheticSeed)
        case .cifar10:
            return try loadCIFAR10(directory: options.dataDir, trainSize: options.trainSize, valSize: options.valSize,
                                   includeTest: includeTest)
        case .fashionMNIST:
            return try loadFashionMNIST(directory: options.dataDir ?? DataOptions.defaultFashionMNISTDirectory,
                                        trainSize: options.trainSize, valSize: options.valSize,
                                        includeTest: includeTest)
        }
    }

    /// Checks, without reading them, that the files `load` reads exist: the options, the data
    /// directory and each file (a sweep checks this before it creates its database, so that a
    /// typo in the data directory leaves nothing behind). Throws what `load` would throw for them.
    public static func checkFiles(_ options: DataOptions) throws {
        if let problem = options.firstInvalid() { throw DataError.invalidOptions(problem) }
        var isDir: ObjCBool = false
        switch options.dataset {
        case .synthetic:
            return
        case .cifar10:
            guard let directory = options.dataDir else { throw DataError.invalidOptions(DataOptions.cifar10NeedsDirectory) }
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
                throw DataError.missingCIFAR10(directory: directory, name: nil)
            }
            for name in CIFAR10.trainFiles + [CIFAR10.testFile] where !FileManager.default.fileExists(atPath: "\(directory)/\(name)") {
                throw DataError.missingCIFAR10(directory: directory, name: name)
            }
        case .fashionMNIST:
            let directory = options.dataDir ?? DataOptions.defaultFashionMNISTDirectory
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
                throw DataError.missingDirectory(directory)
            }
            for name in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
                _ = try locate(name, in: directory)
            }
        }
    }

    static func locate(_ name: String, in dir: String) throws -> String {
        let fm = FileManager.default
        for candidate in ["\(dir)/\(name).gz", "\(dir)/\(name)"] where fm.fileExists(atPath: candidate) {
            return candidate
        }
        throw DataError.missingFile(directory: dir, name: name)
    }

    /// One result slot per concurrent task.
    // @unchecked: each task writes only its own slot, read after the tasks are joined.
    private final class Slot<T>: @unchecked Sendable {
        var value: Result<T, any Error>?
    }

    /// Reads the training images in one streaming pass that keeps only the first `trainSize`
    /// and last `valSize` images, while the labels (and the test set) are read on another
    /// thread. Errors are reported as a serial read of the four files in order would report
    /// them: training images, training labels, test images, test labels.
    static func loadFashionMNIST(directory: String, trainSize: Int, valSize: Int,
                                 includeTest: Bool = true) throws -> DataSet {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw DataError.missingDirectory(directory)
        }
        let trainImagesPath = try locate("train-images-idx3-ubyte", in: directory)
        let trainLabelsPath = try locate("train-labels-idx1-ubyte", in: directory)
        let testImagesPath = try locate("t10k-images-idx3-ubyte", in: directory)
        let testLabelsPath = try locate("t10k-labels-idx1-ubyte", in: directory)
        let side = imageSide
        let images = Slot<IDX.ImageRanges>(), labels = Slot<[UInt8]>(), test = Slot<(IDX.Images, [UInt8])>()
        DispatchQueue.concurrentPerform(iterations: 2) { task in
            if task == 0 {
                images.value = Result {
                    try IDX.readImages(path: trainImagesPath) { count, rows, columns in
                        guard rows == side, columns == side, count >= trainSize + valSize else { return [] }
                        return [0..<trainSize, (count - valSize)..<count]
                    }
                }
            } else {
                labels.value = Result { try IDX.readLabels(path: trainLabelsPath) }
                if includeTest {
                    test.value = Result { try IDX.readPair(images: testImagesPath, labels: testLabelsPath) }
                }
            }
        }
        do {
            let trainIm = try images.value!.get()
            let trainLb = try labels.value!.get()
            guard trainIm.count == trainLb.count else {
                throw IDXError.countMismatch(images: trainImagesPath, imageCount: trainIm.count,
                                             labels: trainLabelsPath, labelCount: trainLb.count)
            }
            let testSet = try test.value?.get()
            if trainIm.rows != side || trainIm.columns != side {
                throw DataError.wrongImageSize(file: trainImagesPath, rows: trainIm.rows, columns: trainIm.columns)
            }
            if let testIm = testSet?.0, testIm.rows != side || testIm.columns != side {
                throw DataError.wrongImageSize(file: testImagesPath, rows: testIm.rows, columns: testIm.columns)
            }
            guard trainIm.count >= trainSize + valSize else {
                throw DataError.tooFewImages(file: trainImagesPath, count: trainIm.count, needed: trainSize + valSize)
            }
            let n = trainIm.count
            let train = (trainIm.parts[0], Array(trainLb[0..<trainSize]))
            let val = (trainIm.parts[1], Array(trainLb[(n - valSize)..<n]))
            return DataSet(kind: .fashionMNIST, train: train, val: val, test: testSet.map { ($0.0.pixels, $0.1) })
        } catch let error as IDXError {
            throw DataError.idx(error)
        }
    }

    /// A learnable 10-class set: each class has a smooth random prototype image; a sample is its
    /// class prototype, randomly shifted by up to 2 pixels, dimmed, plus uniform noise.
    /// `testSize` nil: no test set (the train and validation sets are the same either way).
    public static func synthetic(trainSize: Int, valSize: Int, testSize: Int?, seed: UInt64) -> DataSet {
        var protoRNG = Xoshiro256(seed: seed, stream: 0x5EED)
        let side = imageSide
        // Prototypes: sums of a few random Gaussian blobs, scaled to 0...255.
        var prototypes = [[Double]](repeating: [Double](repeating: 0, count: pixels), count: classes)
        for c in 0..<classes {
            for _ in 0..<4 {
                let cx = 4 + protoRNG.nextDouble() * 20, cy = 4 + protoRNG.nextDouble() * 20
                let r = 2 + protoRNG.nextDouble() * 5, a = 0.5 + protoRNG.nextDouble()
                for y in 0..<side {
                    for x in 0..<side {
                        let d2 = (Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy)
                        prototypes[c][y * side + x] += a * exp(-d2 / (2 * r * r))
                    }
                }
            }
            let top = prototypes[c].max() ?? 1
            for i in 0..<pixels { prototypes[c][i] = min(1, prototypes[c][i] / top) * 200 }
        }
        func make(_ count: Int, stream: UInt64) -> ([UInt8], [UInt8]) {
            var rng = Xoshiro256(seed: seed, stream: stream)
            var images = [UInt8](repeating: 0, count: count * pixels)
            var labels = [UInt8](repeating: 0, count: count)
            images.withUnsafeMutableBufferPointer { img in
                for i in 0..<count {
                    let c = rng.nextInt(below: classes)
                    labels[i] = UInt8(c)
                    let dx = rng.nextInt(below: 5) - 2, dy = rng.nextInt(below: 5) - 2
                    let gain = 0.6 + 0.4 * rng.nextDouble()
                    prototypes[c].withUnsafeBufferPointer { proto in
                        for y in 0..<side {
                            for x in 0..<side {
                                let sx = x - dx, sy = y - dy
                                let base = (sx >= 0 && sx < side && sy >= 0 && sy < side) ? proto[sy * side + sx] : 0
                                let v = base * gain + rng.nextDouble() * 55
                                img[i * pixels + y * side + x] = UInt8(min(255, v))
                            }
                        }
                    }
                }
            }
            return (images, labels)
        }
        return DataSet(kind: .synthetic, train: make(trainSize, stream: 1), val: make(valSize, stream: 2),
                       test: testSize.map { make($0, stream: 3) })
    }
}
