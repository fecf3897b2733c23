import CZlib
import Foundation

/// Reads a whole file through zlib: gzip-compressed files are inflated, other files are read
/// as they are (zlib's transparent mode). Errors name the file.
func readPossiblyGzipped(path: String) throws -> [UInt8] {
    guard let file = gzopen(path, "rb") else {
        throw IDXError.unreadable(file: path, reason: "cannot open it")
    }
    defer { gzclose(file) }
    gzbuffer(file, 1 << 17)
    var out: [UInt8] = []
    out.reserveCapacity(1 << 20)
    let chunk = 1 << 20
    var buffer = [UInt8](repeating: 0, count: chunk)
    while true {
        let n = buffer.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32(chunk)) }
        if n < 0 { break }
        if n == 0 { break }
        out.append(contentsOf: buffer[0..<Int(n)])
    }
    var code: Int32 = 0
    let message = gzerror(file, &code).map { String(cString: $0) } ?? ""
    if code != Z_OK && code != Z_STREAM_END {
        throw IDXError.unreadable(file: path, reason: "corrupt or truncated gzip data (\(message))")
    }
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
