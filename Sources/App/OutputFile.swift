import Foundation
import Sweep
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An output file (`leaderboard --csv FILE`, `report --out FILE`, `schedule --svg FILE`) that
/// cannot be written, or that is refused. `description` is `"PATH" what is wrong`, to follow the
/// option's name in one `Error:` line.
public struct OutputFileError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var problem: String
    /// 64 (invalid option) when the path is refused before anything is done, 1 when writing failed.
    public var exitCode: Int32
    /// The errno of a failed write (0: refused before writing).
    public var code: Int32 = 0

    /// The reader of a pipe went away: the command ends quietly, as on stdout.
    public var isBrokenPipe: Bool { code == EPIPE }

    public var description: String { "\"\(path)\" \(problem)" }
}

/// Writes output files the way Unix tools do, without the ways they lose data.
///
/// - A symlink is followed: its target is written (also a dangling one: the target is created).
/// - A device or a FIFO (`/dev/stdout`, `/dev/null`, a `mkfifo`) is opened and written in place,
///   never replaced by a plain file.
/// - A regular file is written to a temporary file in the same folder, synced, and renamed over
///   it, keeping its permission bits: on any failure the old file is left as it was and the
///   temporary file removed, so a half-written file is never left at the path.
/// - Permissions are respected: a file without write permission is refused (also for root,
///   who could otherwise replace it), as are a directory and a missing folder.
/// - `checkNotDatabase` refuses a path that is a sweep's database or one of its `-wal`, `-shm`
///   and `-journal` files, comparing files (device and inode, or the folder's and the name when
///   the file does not exist yet), not strings.
public enum OutputFile {
    private static let typeMask: mode_t = 0o170000
    private static let regular: mode_t = 0o100000
    private static let directory: mode_t = 0o040000
    private static let symlink: mode_t = 0o120000

    /// What a path designates: an existing file, or a name in an existing folder.
    enum Identity: Equatable {
        case file(device: UInt64, inode: UInt64)
        case entry(folderDevice: UInt64, folderInode: UInt64, name: String)
    }

    /// The path after following its final symlinks (a dangling link gives its target's path),
    /// for a path that does not exist; an existing one is resolved by the kernel (`stat`,
    /// `realpath`), which also understands /proc's links to pipes.
    static func resolvingLinks(_ path: String) -> String {
        var current = path
        for _ in 0..<40 {
            guard let next = linkTarget(current) else { return current }
            current = next
        }
        return current
    }

    /// The path a symlink points to (relative targets made relative to the link's folder), or
    /// nil when `path` is not a readable symlink.
    static func linkTarget(_ path: String) -> String? {
        var st = stat()
        guard lstat(path, &st) == 0, st.st_mode & typeMask == symlink else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        let target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return target.hasPrefix("/") ? target : folder(of: path) + "/" + target
    }

    /// The descriptor a path names by convention, as gawk reads them: `/dev/stdout` (1),
    /// `/dev/stderr` (2), `/dev/fd/N` and `/proc/self/fd/N`; also through symlinks to them.
    static func standardDescriptor(_ path: String) -> Int32? {
        var current = path
        for _ in 0..<40 {
            switch current {
            case "/dev/stdout": return 1
            case "/dev/stderr": return 2
            default: break
            }
            for prefix in ["/dev/fd/", "/proc/self/fd/"] where current.hasPrefix(prefix) {
                if let n = Int32(current.dropFirst(prefix.count)), n >= 0 { return n }
            }
            guard let next = linkTarget(current) else { return nil }
            current = next
        }
        return nil
    }

    /// `a/b/c` -> `a/b`; `c` -> `.`; `/c` -> `/`.
    static func folder(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }

    /// `a/b/c` -> `c`.
    static func name(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        return trimmed.lastIndex(of: "/").map { String(trimmed[trimmed.index(after: $0)...]) } ?? String(trimmed)
    }

    static func identity(_ path: String) -> Identity? {
        var st = stat()
        if stat(path, &st) == 0 {
            return .file(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        }
        let resolved = resolvingLinks(path)
        var folderStat = stat()
        guard stat(folder(of: resolved), &folderStat) == 0 else { return nil }
        return .entry(folderDevice: UInt64(folderStat.st_dev), folderInode: UInt64(folderStat.st_ino),
                      name: name(of: resolved))
    }

    /// Refuses `path` (exit 64) when it is the database `database` or one of its companion files,
    /// whether or not those exist yet. Nothing is opened or written.
    public static func checkNotDatabase(_ path: String, database: String) throws(OutputFileError) {
        guard let target = identity(path) else { return }
        // SQLite names its companions after the path it was given, and after the symlink's target.
        let bases = Set([database, resolvingLinks(database), realPath(database) ?? database])
        let companions: [(suffix: String, what: String)] = [
            ("", "the sweep database"), ("-wal", "the sweep database's write-ahead log"),
            ("-shm", "the sweep database's shared-memory index"), ("-journal", "the sweep database's rollback journal"),
        ]
        for base in bases.sorted() {
            for companion in companions where identity(base + companion.suffix) == target {
                throw OutputFileError(path: path, problem: "is \(companion.what) (\(database + companion.suffix)); give another path",
                                      exitCode: 64)
            }
        }
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Writes `text` (UTF-8) to `path` as described above (exit 1 when it fails).
    public static func write(_ text: String, to path: String) throws(OutputFileError) {
        var text = text
        let failure: OutputFileError? = text.withUTF8 { bytes in
            do throws(OutputFileError) { try write(UnsafeRawBufferPointer(bytes), to: path) } catch { return error }
            return nil
        }
        if let failure { throw failure }
    }

    public static func write(_ bytes: UnsafeRawBufferPointer, to path: String) throws(OutputFileError) {
        try write(to: path) { emit in emit(bytes) }
    }

    /// `write(_:to:)` of the bytes `produce` hands to `emit`, a chunk at a time (a large output is
    /// never held whole): written as they come, to the same places, with the same guarantees
    /// (a regular file is replaced only once every chunk is written and synced). After a
    /// failed write the remaining chunks are dropped.
    public static func write(to path: String,
                             _ produce: (_ emit: (UnsafeRawBufferPointer) -> Void) -> Void) throws(OutputFileError) {
        func writing(_ fd: Int32) -> Int32? {
            var failed: Int32?
            produce { chunk in if failed == nil { failed = writeAll(fd, chunk) } }
            return failed
        }
        func failure(_ problem: String, code: Int32 = 0) -> OutputFileError {
            OutputFileError(path: path, problem: problem, exitCode: 1, code: code)
        }
        func failure(code: Int32) -> OutputFileError { failure("cannot be written: \(errorText(code))", code: code) }
        if path.isEmpty { throw failure("is not a file name") }
        if let fd = standardDescriptor(path) {
            // The process's own stdout, stderr or another open descriptor: written as it is.
            if let code = writing(fd) { throw failure(code: code) }
            return
        }
        var st = stat()
        if stat(path, &st) == 0 {
            let type = st.st_mode & typeMask
            if type == directory { throw failure("is a directory; give a file name") }
            if type == regular {
                guard access(path, W_OK) == 0 else {
                    throw errno == EACCES || errno == EROFS ? failure("is read-only; make it writable or give another path")
                                                            : failure(code: errno)
                }
                if geteuid() == 0 && st.st_mode & 0o222 == 0 {
                    throw failure("is read-only; make it writable or give another path")
                }
                guard let target = realPath(path) else { throw failure(code: errno) }
                try replace(target, with: writing, mode: st.st_mode & 0o7777, owner: (st.st_uid, st.st_gid),
                            failure: { failure(code: $0) })
            } else {
                // A device, a FIFO: write into it, as a shell's `>` would, without replacing it.
                let fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC)
                if fd < 0 { throw failure(code: errno) }
                if let code = writing(fd) {
                    close(fd)
                    throw failure(code: code)
                }
                if close(fd) != 0 && errno != EINTR { throw failure(code: errno) }
            }
        } else if errno == ENOENT {
            // A new file, maybe through a dangling symlink: created at the link's target.
            let target = resolvingLinks(path)
            var folderStat = stat()
            let dir = folder(of: target)
            guard stat(dir, &folderStat) == 0, folderStat.st_mode & typeMask == directory else {
                throw failure("cannot be written: the folder \"\(dir)\" does not exist")
            }
            try replace(target, with: writing, mode: nil, owner: nil, failure: { failure(code: $0) })
        } else {
            throw failure(code: errno)
        }
    }

    /// Writes a temporary file beside `target`, syncs it and renames it over `target`; `mode`
    /// (and, when allowed, `owner`) are those of the file it replaces (nil: a new file, 0666
    /// less the umask).
    /// `writing(fd)` writes the content and returns the errno of a failure.
    private static func replace(_ target: String, with writing: (Int32) -> Int32?, mode: mode_t?,
                                owner: (uid_t, gid_t)?, failure: (Int32) -> OutputFileError) throws(OutputFileError) {
        let dir = folder(of: target)
        let temporary = dir + "/." + String(name(of: target).prefix(100)) + ".sgdr-search-"
            + String(UInt64.random(in: 0...UInt64.max), radix: 36) + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        if fd < 0 { throw failure(errno) }
        var failed: Int32?
        if let mode, fchmod(fd, mode) != 0 { failed = errno }
        if let (uid, gid) = owner { _ = fchown(fd, uid, gid) }
        if failed == nil { failed = writing(fd) }
        if failed == nil, fsync(fd) != 0 { failed = errno }
        if close(fd) != 0, failed == nil, errno != EINTR { failed = errno }
        if failed == nil, rename(temporary, target) != 0 { failed = errno }
        if let failed {
            unlink(temporary)
            throw failure(failed)
        }
        let folderFD = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folderFD >= 0 {
            _ = fsync(folderFD)
            close(folderFD)
        }
    }
}
