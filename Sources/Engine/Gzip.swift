import CZlib
import Foundation

/// Streams a whole file through zlib: gzip-compressed files are inflated, other files are read
/// as they are (zlib's transparent mode). `consume` gets the bytes in order, in chunks of at most
/// `chunkSize` bytes held in one reused buffer (valid only during the call), so a caller that
/// keeps part of the file never holds all of it. Returns the total byte count. Errors name the
/// file; a corrupt or truncated gzip stream is reported after every byte before the damage has
/// been passed to `consume`.
@discardableResult
func streamPossiblyGzipped(path: String, chunkSize: Int = 1 << 20,
                           _ consume: (UnsafeRawBufferPointer) -> Void) throws -> Int {
    guard let file = gzopen(path, "rb") else {
        throw IDXError.unreadable(file: path, reason: "cannot open it")
    }
    defer { gzclose(file) }
    // Compressed input is read in 256 KiB blocks; gzread inflates straight into `buffer` when a
    // request is at least twice this size.
    gzbuffer(file, 1 << 18)
    let chunk = max(1, chunkSize)
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
    defer { buffer.deallocate() }
    var total = 0
    while true {
        let n = gzread(file, buffer.baseAddress, UInt32(chunk))
        if n <= 0 { break }
        total += Int(n)
        consume(UnsafeRawBufferPointer(rebasing: buffer[0..<Int(n)]))
    }
    var code: Int32 = 0
    let message = gzerror(file, &code).map { String(cString: $0) } ?? ""
    if code != Z_OK && code != Z_STREAM_END {
        throw IDXError.unreadable(file: path, reason: "corrupt or truncated gzip data (\(message))")
    }
    return total
}

/// Reads a whole file through zlib: gzip-compressed files are inflated, other files are read
/// as they are (zlib's transparent mode). Errors name the file.
func readPossiblyGzipped(path: String) throws -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(1 << 20)
    try streamPossiblyGzipped(path: path) { out.append(contentsOf: $0) }
    return out
}

/// Writes `bytes` gzip-compressed to `path` (for tests and tools that make IDX files).
public func writeGzipped(_ bytes: [UInt8], path: String) throws {
    guard let file = gzopen(path, "wb") else {
        throw IDXError.unreadable(file: path, reason: "cannot create it")
    }
    let written = bytes.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
    let closed = gzclose(file)
    if Int(written) != bytes.count || closed != Z_OK {
        throw IDXError.unreadable(file: path, reason: "cannot write it")
    }
}
