import Foundation

/// What is wrong with an IDX file (or a pair of them); every message names the file.
public enum IDXError: Error, CustomStringConvertible, Equatable, Sendable {
    case unreadable(file: String, reason: String)
    case tooShort(file: String, bytes: Int, needed: Int)
    case badMagic(file: String, found: UInt32, expected: UInt32)
    case badDimensions(file: String, reason: String)
    case wrongLength(file: String, bytes: Int, expected: Int)
    case badLabel(file: String, index: Int, value: UInt8)
    case countMismatch(images: String, imageCount: Int, labels: String, labelCount: Int)

    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            return "\(file): unreadable: \(reason)"
        case let .tooShort(file, bytes, needed):
            return "\(file): truncated IDX file: \(bytes) bytes, its header needs at least \(needed)"
        case let .badMagic(file, found, expected):
            return "\(file): not an IDX \(expected == IDX.imagesMagic ? "images" : "labels") file: magic number 0x\(hex(found)), expected 0x\(hex(expected))"
        case let .badDimensions(file, reason):
            return "\(file): unexpected IDX dimensions: \(reason)"
        case let .wrongLength(file, bytes, expected):
            return "\(file): \(bytes < expected ? "truncated" : "oversized") IDX file: \(bytes) bytes, its header says \(expected)"
        case let .badLabel(file, index, value):
            return "\(file): label \(index) is \(value), expected a class 0...9"
        case let .countMismatch(images, imageCount, labels, labelCount):
            return "\(images) holds \(imageCount) images but \(labels) holds \(labelCount) labels"
        }
    }

    private func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, 8 - s.count)) + s
    }
}

/// The IDX format of (Fashion-)MNIST: a big-endian header (magic, then one 32-bit size per
/// dimension) followed by unsigned bytes.
public enum IDX {
    public static let imagesMagic: UInt32 = 0x0000_0803
    public static let labelsMagic: UInt32 = 0x0000_0801

    /// Images of an IDX3 file: `count` images of `rows * columns` bytes, row-major.
    public struct Images: Sendable {
        public var count: Int
        public var rows: Int
        public var columns: Int
        public var pixels: [UInt8]
    }

    static func bigEndian32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
    }

    /// Checks an images file's header (its first 16 bytes, or fewer if the file is shorter)
    /// against the file's length `total`; returns the images' count and size.
    static func checkImagesHeader(_ header: [UInt8], total: Int, name: String) throws -> (count: Int, rows: Int, columns: Int) {
        guard total >= 16, header.count >= 16 else { throw IDXError.tooShort(file: name, bytes: total, needed: 16) }
        let magic = bigEndian32(header, 0)
        guard magic == imagesMagic else { throw IDXError.badMagic(file: name, found: magic, expected: imagesMagic) }
        let count = Int(bigEndian32(header, 4)), rows = Int(bigEndian32(header, 8)), columns = Int(bigEndian32(header, 12))
        guard rows >= 1, columns >= 1, rows <= 4096, columns <= 4096, count <= 100_000_000 else {
            throw IDXError.badDimensions(file: name, reason: "\(count) images of \(rows)x\(columns)")
        }
        let expected = 16 + count * rows * columns
        guard total == expected else { throw IDXError.wrongLength(file: name, bytes: total, expected: expected) }
        return (count, rows, columns)
    }

    /// Parses an images file already in memory; `name` is used in error messages.
    public static func parseImages(_ bytes: [UInt8], name: String) throws -> Images {
        let (count, rows, columns) = try checkImagesHeader(Array(bytes.prefix(16)), total: bytes.count, name: name)
        return Images(count: count, rows: rows, columns: columns, pixels: Array(bytes[16...]))
    }

    /// Some images of an images file: the header's count and size, and one byte array per
    /// requested range of images.
    public struct ImageRanges: Sendable {
        public var count: Int
        public var rows: Int
        public var columns: Int
        public var parts: [[UInt8]]
    }

    /// Reads an images file (gzip-compressed or raw) in one streaming pass, keeping only the
    /// images in the ranges `select` returns for the header's `(count, rows, columns)` (each
    /// range within `0..<count`; return [] to keep nothing). Nothing else of the file is held in
    /// memory. Checks the file exactly as `readImages` does, with the same errors in the same
    /// order (a damaged gzip stream first, then the header, then the length); `select` is only
    /// called for a header that names a plausible size, and its ranges are filled only if the
    /// whole file checks out.
    public static func readImages(path: String, chunkSize: Int = 1 << 20,
                                  select: (_ count: Int, _ rows: Int, _ columns: Int) -> [Range<Int>]) throws -> ImageRanges {
        var header: [UInt8] = []
        header.reserveCapacity(16)
        // Destination byte ranges within the pixel data (the file after its header).
        var parts: [[UInt8]] = []
        var targets: [Range<Int>] = []
        var pixelOffset = 0
        let total = try streamPossiblyGzipped(path: path, chunkSize: chunkSize) { chunk in
            var chunk = chunk
            if header.count < 16 {
                let take = min(16 - header.count, chunk.count)
                header.append(contentsOf: chunk[0..<take])
                chunk = UnsafeRawBufferPointer(rebasing: chunk[take...])
                if header.count == 16, let dims = plausibleImagesHeader(header) {
                    let size = dims.rows * dims.columns
                    for r in select(dims.count, dims.rows, dims.columns) {
                        precondition(r.lowerBound >= 0 && r.upperBound <= dims.count, "image range \(r) outside 0..<\(dims.count)")
                        targets.append(r.lowerBound * size..<r.upperBound * size)
                        parts.append([UInt8](repeating: 0, count: r.count * size))
                    }
                }
            }
            guard !chunk.isEmpty else { return }
            let here = pixelOffset..<pixelOffset + chunk.count
            for i in targets.indices where targets[i].overlaps(here) {
                let lo = max(targets[i].lowerBound, here.lowerBound), hi = min(targets[i].upperBound, here.upperBound)
                parts[i].withUnsafeMutableBytes { dst in
                    (dst.baseAddress! + (lo - targets[i].lowerBound))
                        .copyMemory(from: chunk.baseAddress! + (lo - here.lowerBound), byteCount: hi - lo)
                }
            }
            pixelOffset += chunk.count
        }
        let (count, rows, columns) = try checkImagesHeader(header, total: total, name: path)
        return ImageRanges(count: count, rows: rows, columns: columns, parts: parts)
    }

    /// The header's count and size if its magic and dimensions are valid (not its length).
    private static func plausibleImagesHeader(_ header: [UInt8]) -> (count: Int, rows: Int, columns: Int)? {
        guard header.count >= 16, bigEndian32(header, 0) == imagesMagic else { return nil }
        let count = Int(bigEndian32(header, 4)), rows = Int(bigEndian32(header, 8)), columns = Int(bigEndian32(header, 12))
        guard rows >= 1, columns >= 1, rows <= 4096, columns <= 4096, count <= 100_000_000 else { return nil }
        return (count, rows, columns)
    }

    /// Parses a labels file already in memory; every label must be a class 0...9.
    public static func parseLabels(_ bytes: [UInt8], name: String) throws -> [UInt8] {
        guard bytes.count >= 8 else { throw IDXError.tooShort(file: name, bytes: bytes.count, needed: 8) }
        let magic = bigEndian32(bytes, 0)
        guard magic == labelsMagic else { throw IDXError.badMagic(file: name, found: magic, expected: labelsMagic) }
        let count = Int(bigEndian32(bytes, 4))
        guard count <= 100_000_000 else { throw IDXError.badDimensions(file: name, reason: "\(count) labels") }
        let expected = 8 + count
        guard bytes.count == expected else { throw IDXError.wrongLength(file: name, bytes: bytes.count, expected: expected) }
        let labels = Array(bytes[8...])
        if let i = labels.firstIndex(where: { $0 > 9 }) {
            throw IDXError.badLabel(file: name, index: i, value: labels[i])
        }
        return labels
    }

    /// Reads an images file, gzip-compressed or raw.
    public static func readImages(path: String) throws -> Images {
        try parseImages(readPossiblyGzipped(path: path), name: path)
    }

    /// Reads a labels file, gzip-compressed or raw.
    public static func readLabels(path: String) throws -> [UInt8] {
        try parseLabels(readPossiblyGzipped(path: path), name: path)
    }

    /// Reads a matching pair of images and labels files; refuses differing counts.
    public static func readPair(images: String, labels: String) throws -> (Images, [UInt8]) {
        let im = try readImages(path: images)
        let lb = try readLabels(path: labels)
        guard im.count == lb.count else {
            throw IDXError.countMismatch(images: images, imageCount: im.count, labels: labels, labelCount: lb.count)
        }
        return (im, lb)
    }
}
