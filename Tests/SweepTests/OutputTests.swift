@testable import App
import Engine
import TrainingTypes
import Foundation
@testable import Sweep
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The console (escaping, failed writes) and the output-file writer.
final class ConsoleTests: XCTestCase {
    func testControlCharactersAreEscapedAndOnlyThem() {
        XCTAssertEqual(escapeControlCharacters("plain: café, 東京 ✓"), "plain: café, 東京 ✓")
        XCTAssertEqual(escapeControlCharacters("a\u{1B}[31mred"), "a\\x1b[31mred")
        XCTAssertEqual(escapeControlCharacters("bell\u{07} nul\u{00} del\u{7F}"), "bell\\x07 nul\\x00 del\\x7f")
        XCTAssertEqual(escapeControlCharacters("tab\there\rcr"), "tab\\there\\rcr")
        XCTAssertEqual(escapeControlCharacters("csi\u{9B}31m"), "csi\\u{9b}31m")
        XCTAssertEqual(escapeControlCharacters("two\nlines\n"), "two\nlines\n")
        XCTAssertEqual(escapeControlCharacters("two\nlines", keepingNewlines: false), "two\\nlines")
        // An escaped text does not change when escaped again.
        let once = escapeControlCharacters("x\u{1B}]0;title\u{07}")
        XCTAssertEqual(escapeControlCharacters(once), once)
    }

    func testTextIsEscapedDataIsNotAndErrorIsOneLine() throws {
        let (console, output) = Console.capturing()
        try console.out("name \u{1B}[2J\n")
        try console.data("a,\"b\r\n\u{1B}\"\r\n")
        try console.err("progress \u{1B}[K\n")
        console.error("two\nlines \u{1B}")
        XCTAssertEqual(output().out, "name \\x1b[2J\na,\"b\r\n\u{1B}\"\r\n")
        XCTAssertEqual(output().err, "progress \\x1b[K\nError: two\\nlines \\x1b\n")
    }

    func testAFailedWriteThrowsAndTheStatusFollowsTheErrno() {
        XCTAssertThrowsError(try writeStandardToFull()) { error in
            XCTAssertEqual(error as? OutputError, OutputError(stream: .stdout, code: ENOSPC))
        }
        let (console, output) = Console.capturing()
        XCTAssertEqual(console.exitStatus(after: OutputError(stream: .stdout, code: EPIPE)), 141)
        XCTAssertEqual(output().err, "", "a closed pipe ends quietly")
        XCTAssertEqual(console.exitStatus(after: OutputError(stream: .stdout, code: ENOSPC)), 1)
        XCTAssertEqual(output().err, "Error: cannot write to standard output: No space left on device\n")
        XCTAssertEqual(console.exitStatus(after: OutputError(stream: .stderr, code: ENOSPC)), 1)
        XCTAssertEqual(output().err.split(separator: "\n").count, 1, "nothing more is written to a failed stderr")
    }

    /// `writeAll` on a descriptor of /dev/full, as the console writes to fd 1.
    private func writeStandardToFull() throws {
        let fd = open("/dev/full", O_WRONLY)
        guard fd >= 0 else { throw XCTSkip("no /dev/full") }
        defer { close(fd) }
        let failure = Array("x".utf8).withUnsafeBytes { writeAll(fd, $0) }
        if let failure { throw OutputError(stream: .stdout, code: failure) }
    }
}

final class OutputFileTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("output-file-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let dir {
            chmod(dir.path, 0o755)
            try? FileManager.default.removeItem(at: dir)
        }
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func contents(_ name: String) -> String? { try? String(contentsOfFile: path(name), encoding: .utf8) }

    func fileType(_ p: String) -> mode_t {
        var st = stat()
        XCTAssertEqual(lstat(p, &st), 0, p)
        return st.st_mode & 0o170000
    }

    func mode(_ p: String) -> mode_t {
        var st = stat()
        XCTAssertEqual(stat(p, &st), 0, p)
        return st.st_mode & 0o7777
    }

    /// The folder holds exactly `names`: no temporary file is left behind.
    func assertFolderHolds(_ names: Set<String>, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)), names, file: file, line: line)
    }

    func testANewFileAndAReplacedFileKeepingItsMode() throws {
        try OutputFile.write("one\n", to: path("a.csv"))
        XCTAssertEqual(contents("a.csv"), "one\n")
        let mask = umask(0o022)
        umask(mask)
        XCTAssertEqual(mode(path("a.csv")), 0o666 & ~mask)
        chmod(path("a.csv"), 0o640)
        try OutputFile.write("two\n", to: path("a.csv"))
        XCTAssertEqual(contents("a.csv"), "two\n")
        XCTAssertEqual(mode(path("a.csv")), 0o640, "the replaced file keeps its permission bits")
        try assertFolderHolds(["a.csv"])
    }

    func testASymlinkIsFollowedAndStaysALink() throws {
        try OutputFile.write("old", to: path("target.csv"))
        XCTAssertEqual(symlink("target.csv", path("link.csv")), 0)
        try OutputFile.write("new", to: path("link.csv"))
        XCTAssertEqual(fileType(path("link.csv")), 0o120000, "still a symlink")
        XCTAssertEqual(contents("target.csv"), "new")
        // A dangling link: its target is created.
        XCTAssertEqual(symlink("later.csv", path("dangling.csv")), 0)
        try OutputFile.write("created", to: path("dangling.csv"))
        XCTAssertEqual(fileType(path("dangling.csv")), 0o120000)
        XCTAssertEqual(contents("later.csv"), "created")
        try assertFolderHolds(["target.csv", "link.csv", "dangling.csv", "later.csv"])
    }

    func testAFIFOIsWrittenInPlace() throws {
        let fifo = path("fifo")
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let received = LockedData()
        let reader = Thread {
            let fd = open(fifo, O_RDONLY)
            var buffer = [UInt8](repeating: 0, count: 4096)
            while fd >= 0 {
                let n = read(fd, &buffer, buffer.count)
                if n <= 0 { break }
                received.append(buffer[0..<n])
            }
            close(fd)
            received.finish()
        }
        reader.start()
        try OutputFile.write("through the fifo\n", to: fifo)
        XCTAssertTrue(received.wait(seconds: 10))
        XCTAssertEqual(received.text, "through the fifo\n")
        XCTAssertEqual(fileType(fifo), 0o010000, "still a FIFO")
        try assertFolderHolds(["fifo"])
    }

    func testADeviceIsWrittenInPlace() throws {
        // A private null device (root can make one): a regression replaces it, not /dev/null.
        let device = path("null")
        guard mknod(device, 0o020000 | 0o666, (1 << 8) | 3) == 0 else { throw XCTSkip("mknod needs root") }
        try OutputFile.write("gone\n", to: device)
        XCTAssertEqual(fileType(device), 0o020000, "still a character device")
        // /dev/full: the device's error, and the device is untouched.
        XCTAssertThrowsError(try OutputFile.write("x", to: "/dev/full")) { error in
            XCTAssertEqual((error as? OutputFileError)?.description, "\"/dev/full\" cannot be written: No space left on device")
            XCTAssertEqual((error as? OutputFileError)?.exitCode, 1)
        }
        XCTAssertEqual(fileType("/dev/full"), 0o020000)
    }

    func testReadOnlyFilesDirectoriesAndMissingFoldersAreRefused() throws {
        try OutputFile.write("keep", to: path("ro.csv"))
        chmod(path("ro.csv"), 0o444)
        XCTAssertThrowsError(try OutputFile.write("overwritten", to: path("ro.csv"))) { error in
            XCTAssertEqual("\(error)", "\"\(path("ro.csv"))\" is read-only; make it writable or give another path")
        }
        XCTAssertEqual(contents("ro.csv"), "keep")
        XCTAssertThrowsError(try OutputFile.write("x", to: dir.path)) { error in
            XCTAssertTrue("\(error)".hasSuffix("is a directory; give a file name"), "\(error)")
        }
        XCTAssertThrowsError(try OutputFile.write("x", to: path("no/such/x.csv"))) { error in
            XCTAssertEqual("\(error)", "\"\(path("no/such/x.csv"))\" cannot be written: the folder \"\(path("no/such"))\" does not exist")
        }
        try assertFolderHolds(["ro.csv"])
    }

    func testAFailedWriteLeavesTheOldFileWhole() throws {
        // A file-size limit makes write(2) fail (EFBIG) part way, as a full disk would.
        try OutputFile.write("the old contents\n", to: path("big.csv"))
        var old = rlimit()
        getrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
        let oldHandler = signal(SIGXFSZ, SIG_IGN)
        var limit = rlimit(rlim_cur: 4096, rlim_max: old.rlim_max)
        XCTAssertEqual(setrlimit(Int32(RLIMIT_FSIZE.rawValue), &limit), 0)
        defer {
            setrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
            signal(SIGXFSZ, oldHandler)
        }
        let big = String(repeating: "0123456789abcdef\n", count: 1000)
        XCTAssertThrowsError(try OutputFile.write(big, to: path("big.csv"))) { error in
            XCTAssertEqual((error as? OutputFileError)?.exitCode, 1)
            XCTAssertTrue("\(error)".contains("cannot be written: File too large"), "\(error)")
        }
        XCTAssertEqual(contents("big.csv"), "the old contents\n")
        try assertFolderHolds(["big.csv"])
    }

    func testTheDatabaseAndItsCompanionsAreRefusedByFileNotByName() throws {
        let db = path("sweep.sqlite")
        try Data("SQLite format 3\0".utf8).write(to: URL(fileURLWithPath: db))
        let sub = path("sub")
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
        XCTAssertEqual(symlink(db, path("link.csv")), 0)
        XCTAssertEqual(link(db, path("hard.csv")), 0)
        let refused: [(String, String)] = [
            (db, "is the sweep database"),
            (sub + "/../sweep.sqlite", "is the sweep database"),
            (path("link.csv"), "is the sweep database"),
            (path("hard.csv"), "is the sweep database"),
            (db + "-wal", "is the sweep database's write-ahead log"),          // does not exist yet
            (sub + "/../sweep.sqlite-shm", "is the sweep database's shared-memory index"),
            (db + "-journal", "is the sweep database's rollback journal"),
        ]
        for (output, problem) in refused {
            XCTAssertThrowsError(try OutputFile.checkNotDatabase(output, database: db), output) { error in
                XCTAssertTrue("\(error)".contains(problem), "\(output): \(error)")
                XCTAssertEqual((error as? OutputFileError)?.exitCode, 64)
            }
        }
        // The database given through a symlink: its target's companions are refused too.
        XCTAssertEqual(symlink(db, path("alias.sqlite")), 0)
        XCTAssertThrowsError(try OutputFile.checkNotDatabase(db + "-wal", database: path("alias.sqlite")))
        // Other files, also with similar names, are fine.
        for output in [path("sweep.sqlite.csv"), path("sweep.sqlite-wal.csv"), sub + "/sweep.sqlite", "/dev/null"] {
            XCTAssertNoThrow(try OutputFile.checkNotDatabase(output, database: db), output)
        }
    }
}

/// Bytes received by a reader thread.
final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes: [UInt8] = []
    private let done = DispatchSemaphore(value: 0)
    func append(_ chunk: ArraySlice<UInt8>) { lock.withLock { bytes += chunk } }
    func finish() { done.signal() }
    func wait(seconds: Double) -> Bool { done.wait(timeout: .now() + seconds) == .success }
    var text: String { lock.withLock { String(decoding: bytes, as: UTF8.self) } }
}

/// A sweep whose progress cannot be written stops as on Ctrl-C.
final class ProgressFailureTests: XCTestCase {
    /// `step.r0` finishes at once (once another trial is running); every other trial runs until
    /// it is cancelled.
    struct HoldingExecutor: TrialExecutor {
        let started = DispatchSemaphore(value: 0)

        func execute(_ spec: TrialSpec, onEpoch: (EpochMetrics) throws -> Void, isCancelled: () -> Bool) throws -> ExecutionOutcome {
            if spec.id == "step.r0" {
                _ = started.wait(timeout: .now() + 10)
                for e in 1...spec.schedule.epochs {
                    try onEpoch(EpochMetrics(epoch: e, lr: 0.1, trainLoss: 1, trainAcc: 0.5, valLoss: 1, valAcc: 0.5, trainSeconds: 0))
                }
                return .completed
            }
            started.signal()
            let end = Date().addingTimeInterval(30)
            while Date() < end {
                if isCancelled() { return .cancelled }
                Thread.sleep(forTimeInterval: 0.005)
            }
            return .completed
        }
    }

    func testAFailedProgressWriteRecordsTheRunningTrialsInterrupted() throws {
        for code in [ENOSPC, EPIPE] {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("progress-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let spaceFile = dir.appendingPathComponent("g.json").path
            try Data(gridJSON.utf8).write(to: URL(fileURLWithPath: spaceFile))
            // stderr takes the sweep's first line, then fails.
            let lock = NSLock()
            nonisolated(unsafe) var writes = 0
            nonisolated(unsafe) var out = ""
            let console = Console(out: { s in lock.withLock { out += s } }, err: { _ throws(OutputError) in
                let n = lock.withLock { writes += 1; return writes }
                if n > 1 { throw OutputError(stream: .stderr, code: code) }
            }, isTerminal: false)
            let store = MemoryTrialStore()
            var options = SweepCommands.RunOptions(concurrency: 2)
            let executor = HoldingExecutor()
            options.makeExecutor = { _ in executor }
            options.isAbandoned = { _ in false }
            let status = SweepCommands.run(spaceFile: spaceFile, db: dir.appendingPathComponent("g.sqlite").path,
                                           options: options, openStore: { _, _ in store }, console: console)
            XCTAssertEqual(status, code == EPIPE ? 141 : 1)
            let trials = try store.trials()
            var counts: [TrialStatus: Int] = [:]
            for t in trials { counts[t.status, default: 0] += 1 }
            XCTAssertEqual(counts[.running], nil, "no trial is left running")
            XCTAssertEqual(counts[.done], 1, "\(counts)")
            XCTAssertEqual(counts[.interrupted], 1, "the trial that was running is interrupted: \(counts)")
            XCTAssertEqual(counts[.pending], trials.count - 2)
            XCTAssertEqual(lock.withLock { out }, "", "no results are printed after the failure")
        }
    }
}
