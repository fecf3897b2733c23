import Foundation
import TrainingTypes

/// What is wrong with a CIFAR-10 binary file; every message names the file.
public enum CIFAR10Error: Error, CustomStringConvertible, Equatable, Sendable {
    case unreadable(file: String, reason: String)
    case empty(file: String)
    case wrongLength(file: String, bytes: Int)
    case badLabel(file: String, index: Int, value: UInt8)

    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            return "\(file): unreadable: \(reason)"
        case let .empty(file):
            return "\(file): empty CIFAR-10 file: it holds no \(CIFAR10.recordBytes)-byte record"
        case let .wrongLength(file, bytes):
            let whole = bytes / CIFAR10.recordBytes
            return "\(file): truncated or wrong-size CIFAR-10 file: \(bytes) bytes is not a whole number of \(CIFAR10.recordBytes)-byte records (\(whole) records and \(bytes - whole * CIFAR10.recordBytes) bytes)"
        case let .badLabel(file, index, value):
            return "\(file): label \(index) is \(value), expected a class 0...9"
        }
    }
}

/// The CIFAR-10 binary format: records of 1 label byte (0...9) and 3072 pixel bytes (the red,
/// green and blue 32x32 planes, row-major), in `data_batch_1.bin` … `data_batch_5.bin`
/// (training, 10,000 records each) and `test_batch.bin`.
public enum CIFAR10 {
    public static let side = 32
    public static let channels = 3
    public static let pixels = channels * side * side
    public static let recordBytes = 1 + pixels
    public static let trainFiles = (1...5).map { "data_batch_\($0).bin" }
    public static let testFile = "test_batch.bin"

    /// Splits a file's bytes into images (`count x 3072`, channel-major per image) and labels;
    /// `name` is used in error messages.
    public static func parse(_ bytes: [UInt8], name: String) throws -> (images: [UInt8], labels: [UInt8]) {
        guard !bytes.isEmpty else { throw CIFAR10Error.empty(file: name) }
        guard bytes.count % recordBytes == 0 else { throw CIFAR10Error.wrongLength(file: name, bytes: bytes.count) }
        let count = bytes.count / recordBytes
        var images = [UInt8](repeating: 0, count: count * pixels)
        var labels = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeBufferPointer { src in
            images.withUnsafeMutableBufferPointer { dst in
                for i in 0..<count {
                    labels[i] = src[i * recordBytes]
                    (dst.baseAddress! + i * pixels).update(from: src.baseAddress! + i * recordBytes + 1, count: pixels)
                }
            }
        }
        if let i = labels.firstIndex(where: { $0 > 9 }) {
            throw CIFAR10Error.badLabel(file: name, index: i, value: labels[i])
        }
        return (images, labels)
    }

    /// Reads one file.
    public static func read(path: String) throws -> (images: [UInt8], labels: [UInt8]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CIFAR10Error.unreadable(file: path, reason: "cannot open it")
        }
        return try parse([UInt8](data), name: path)
    }
}

extension DataSet {
    /// The five training files in order (validation: the last `valSize` of their 50,000
    /// images), and the test file.
    static func loadCIFAR10(directory: String?, trainSize: Int, valSize: Int, includeTest: Bool) throws -> DataSet {
        guard let directory else { throw DataError.invalidOptions(DataOptions.cifar10NeedsDirectory) }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw DataError.missingCIFAR10(directory: directory, name: nil)
        }
        let names = CIFAR10.trainFiles + [CIFAR10.testFile]
        for name in names where !FileManager.default.fileExists(atPath: "\(directory)/\(name)") {
            throw DataError.missingCIFAR10(directory: directory, name: name)
        }
        do {
            var images: [UInt8] = [], labels: [UInt8] = []
            for name in CIFAR10.trainFiles {
                let part = try CIFAR10.read(path: "\(directory)/\(name)")
                images += part.images
                labels += part.labels
            }
            let n = labels.count, p = CIFAR10.pixels
            guard n >= trainSize + valSize else {
                throw DataError.tooFewImages(file: "\(directory)/data_batch_1.bin … data_batch_5.bin", count: n, needed: trainSize + valSize)
            }
            let train = (Array(images[0..<trainSize * p]), Array(labels[0..<trainSize]))
            let val = (Array(images[(n - valSize) * p..<n * p]), Array(labels[(n - valSize)..<n]))
            images = []
            let test = includeTest ? try CIFAR10.read(path: "\(directory)/\(CIFAR10.testFile)") : nil
            return DataSet(kind: .cifar10, channels: CIFAR10.channels, side: CIFAR10.side, train: train, val: val,
                           test: test.map { ($0.images, $0.labels) })
        } catch let error as CIFAR10Error {
            throw DataError.cifar10(error)
        }
    }
}
