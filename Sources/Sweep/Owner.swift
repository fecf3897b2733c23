import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Who runs a trial: `hostname:pid:start`, where `start` is the process's start time in clock
/// ticks since boot (`/proc/<pid>/stat`, field 22), so that a reused pid is not mistaken for
/// the process that claimed the trial.
public enum Owner {
    /// This process's owner string.
    public static let current: String = {
        let pid = getpid()
        return "\(hostName()):\(pid):\(startTime(pid: pid) ?? "0")"
    }()

    /// The owner string of this process with `host` as its host part (`--host-id`).
    public static func current(host: String) -> String {
        let pid = getpid()
        return "\(host):\(pid):\(startTime(pid: pid) ?? "0")"
    }

    public static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }

    /// Field 22 of `/proc/<pid>/stat` (the start time), nil when the process does not exist.
    public static func startTime(pid: Int32) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        // Fields after the command name (which may hold spaces) start at field 3.
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? String(fields[19]) : nil
    }

    /// Whether the process that owns a trial is gone: true only for an owner on this host whose
    /// pid no longer exists, or exists with another start time (the pid was reused). Owners on
    /// other hosts, and malformed owners, are never abandoned: their trials are not taken.
    public static func isAbandoned(_ owner: String) -> Bool {
        isAbandoned(owner, host: hostName())
    }

    /// The host part of an owner string (`hostname` of `hostname:pid:start`), nil when malformed.
    public static func host(of owner: String) -> String? { parts(of: owner)?.host }

    /// `hostname`, `pid` and `start` of an owner string (the host may hold ':'), nil when malformed.
    private static func parts(of owner: String) -> (host: String, pid: Int32, start: String)? {
        let parts = owner.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 3, let pid = Int32(parts[parts.count - 2]), pid > 0 else { return nil }
        return (parts[..<(parts.count - 2)].joined(separator: ":"), pid, String(parts[parts.count - 1]))
    }

    /// `isAbandoned` for owners whose host part is `localHost` (this process's `--host-id`).
    public static func isAbandoned(_ owner: String, host localHost: String) -> Bool {
        guard let (host, pid, start) = parts(of: owner), host == localHost else { return false }
        if kill(pid, 0) != 0 && errno == ESRCH { return true }
        guard let current = startTime(pid: pid) else { return false }
        return current != start
    }
}
