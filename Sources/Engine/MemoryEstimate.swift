import Foundation
import TrainingTypes

/// What a run would allocate, before anything is: the model's own estimate
/// (`ModelSpec.estimatedBytes`, one per model kind), the optimizer state and the shuffle order
/// (`TrainingOptions.estimatedSessionBytes`), the states the trajectory cache saves, the data.
extension DatasetKind {
    /// Each image's channels and side.
    public var imageShape: (channels: Int, side: Int) {
        self == .cifar10 ? (3, 32) : (1, DataSet.imageSide)
    }
}

extension TrainingOptions {
    /// Bytes of one training session of these options on the data `data` describes.
    public func sessionBytes(data: DataOptions) -> Int {
        let (channels, side) = data.dataset.imageShape
        return estimatedSessionBytes(trainCount: data.trainSize, channels: channels, side: side)
    }

    /// Bytes of one saved state (`TrainingCheckpoint`): parameters, moments and shuffle order.
    public func checkpointBytes(data: DataOptions) -> Int {
        let (channels, side) = data.dataset.imageShape
        let moments = optimizer == .adam ? 2 : (momentum != 0 ? 1 : 0)
        let parameters = modelSpec(channels: channels, side: side).parameterCount
        return Memory.sum(Memory.product(parameters, 1 + moments, MemoryLayout<Float>.stride),
                          Memory.product(data.trainSize, MemoryLayout<Int32>.stride), 64)
    }

    /// The network in a few words, for messages: "784-256-128-10", "conv32-pool-conv64-pool-fc128-10".
    public func modelDescription(data: DataOptions) -> String {
        let (channels, side) = data.dataset.imageShape
        switch model {
        case .mlp: return ([channels * side * side] + hidden + [DataSet.classes]).map(String.init).joined(separator: "-")
        case .cnn: return (conv.map { "conv\($0)-pool" } + hidden.map { "fc\($0)" } + [String(DataSet.classes)]).joined(separator: "-")
        }
    }
}

extension DataOptions {
    /// Bytes of the loaded images and labels (training, validation and, with `includeTest`,
    /// the 10,000 test images).
    public func loadedBytes(includeTest: Bool) -> Int {
        let images = Memory.sum(trainSize, valSize, includeTest ? 10_000 : 0)
        let (channels, side) = dataset.imageShape
        return Memory.product(images, channels * side * side + 1)
    }
}

extension TrainingOptions {
    /// One line saying how much memory a single run (`sgdr-search train`, test set included)
    /// would take and what limit that passes, or nil when it fits.
    public func memoryProblem(data: DataOptions, limit: Int = Memory.limit,
                              limitDescription: String = Memory.limitDescription) -> FieldText? {
        let session = sessionBytes(data: data)
        let images = data.loadedBytes(includeTest: true)
        let total = Memory.sum(session, images)
        guard total > limit else { return nil }
        let text = "the run would need about \(Memory.format(total)) of memory, more than the limit of \(limitDescription): "
            + "model \(modelDescription(data: data)) with \(sessionBatch(trainCount: data.trainSize))-image buffers \(Memory.format(session)) "
            + "(weights, gradients, optimizer state, activations), data \(Memory.format(images)); lower "
        return FieldText([.text(text), .field(.hidden), .text(" or "), .field(.batchSize)])
    }
}

/// The machine's memory and saturating arithmetic for estimates.
public enum Memory {
    /// The share of the available memory an estimate may reach.
    public static let usableFraction = 0.75

    /// Physical memory (sysconf), or the cgroup's limit when the process runs under a lower one.
    public static var available: Int {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        var bytes = pages > 0 && pageSize > 0 ? product(pages, pageSize) : Int.max
        for file in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            if let limit = readInteger(file), limit > 0 { bytes = min(bytes, limit) }
        }
        return bytes
    }

    /// What an estimate may reach: `usableFraction` of `available`.
    public static var limit: Int { Int(Double(available) * usableFraction) }

    /// The limit as a phrase: "17.6 GB (75% of this machine's 23.5 GB)".
    public static var limitDescription: String {
        "\(format(limit)) (\(Int(usableFraction * 100))% of this machine's \(format(available)))"
    }

    static func readInteger(_ path: String) -> Int? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var buffer = [CChar](repeating: 0, count: 64)
        guard fgets(&buffer, 64, f) != nil else { return nil }
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    public static func product(_ factors: Int...) -> Int {
        var p = 1
        for x in factors {
            let (r, overflow) = p.multipliedReportingOverflow(by: max(0, x))
            if overflow { return Int.max }
            p = r
        }
        return p
    }

    public static func sum(_ terms: Int...) -> Int {
        var s = 0
        for x in terms {
            let (r, overflow) = s.addingReportingOverflow(max(0, x))
            if overflow { return Int.max }
            s = r
        }
        return s
    }

    /// "512 MB", "1.7 GB", "3.2 TB" (powers of 1024).
    public static func format(_ bytes: Int) -> String {
        if bytes == Int.max { return "more than 8 EB" }
        let units = ["bytes", "KB", "MB", "GB", "TB", "PB", "EB"]
        var value = Double(bytes), unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        if unit == 0 { return "\(bytes) bytes" }
        return value >= 100 ? "\(Int(value.rounded())) \(units[unit])" : "\((value * 10).rounded() / 10) \(units[unit])"
    }
}
