import Foundation

/// A problem in a space file: one line naming the file, the key path and what is allowed, e.g.
/// `search-spaces/x.json: parameters.tmult.values[1]: 0.5 is out of range; tmult must be a number >= 1`.
public struct SpaceError: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    /// `parameters.tmult.values[1]`; empty for the file as a whole.
    public var path: String
    /// What is wrong; what is allowed.
    public var message: String
    /// Set for malformed JSON.
    public var line: Int?
    public var column: Int?

    public init(file: String, path: String, message: String, line: Int? = nil, column: Int? = nil) {
        self.file = file
        self.path = path
        self.message = message
        self.line = line
        self.column = column
    }

    public var description: String {
        if let line, let column {
            return "\(file): line \(line), column \(column): \(message)"
        }
        return path.isEmpty ? "\(file): \(message)" : "\(file): \(path): \(message)"
    }
}

/// Levenshtein distance, for "did you mean" suggestions.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = previous
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}

/// The allowed key closest to `key`, when it is close enough to be a likely typo.
func closestKey(to key: String, in allowed: [String]) -> String? {
    let lowered = key.lowercased().replacingOccurrences(of: "-", with: "_")
    var best: (String, Int)?
    for candidate in allowed {
        let d = candidate == lowered ? 0 : editDistance(lowered, candidate)
        if best == nil || d < best!.1 { best = (candidate, d) }
    }
    guard let (candidate, d) = best else { return nil }
    return d <= max(2, candidate.count / 3) ? candidate : nil
}
