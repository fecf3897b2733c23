import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Output that cannot be written, output files, and unclear input, through the built binary.
final class OutputCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("output-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func space(name: String = "io", trainSize: Int = 300, epochs: Int = 2, concurrency: Int = 2) throws -> String {
        let text = """
            { "name": "\(name)", "strategy": "grid", "seed": 3, "concurrency": \(concurrency),
              "parameters": { "t0": {"values": [1, 2]}, "tmult": {"values": [1, 2]} },
              "baselines": ["step"],
              "training": { "dataset": "synthetic", "train_size": \(trainSize), "val_size": 100, "epochs": \(epochs),
                            "batch_size": 50, "hidden": [8] } }
            """
        let file = path("\(name)-\(UUID().uuidString).json")
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        return file
    }

    /// A finished sweep of 5 tiny trials.
    func finishedSweep() throws -> String {
        let db = path("done.sqlite")
        let r = try BinaryRunner.run([try space(), "--db", db])
        XCTAssertEqual(r.status, 0, r.stderr)
        return db
    }

    /// Where a stream of the child goes.
    enum Target {
        case capture
        case file(String)
        /// A pipe whose reading end is closed before the command starts.
        case closedPipe
    }

    /// Runs the binary with stdout and stderr sent to `stdout` and `stderr`.
    func run(_ arguments: [String], stdout: Target = .capture, stderr: Target = .capture,
             via program: String? = nil) throws -> CommandResult {
        var keep: [Any] = []
        func handle(_ target: Target, _ name: String) throws -> (FileHandle, URL?) {
            switch target {
            case .capture:
                let url = dir.appendingPathComponent("\(name)-\(UUID().uuidString)")
                FileManager.default.createFile(atPath: url.path, contents: nil)
                return (try FileHandle(forWritingTo: url), url)
            case .file(let p):
                return (try XCTUnwrap(FileHandle(forWritingAtPath: p)), nil)
            case .closedPipe:
                let pipe = Pipe()
                try pipe.fileHandleForReading.close()
                keep.append(pipe)
                return (pipe.fileHandleForWriting, nil)
            }
        }
        let (out, outURL) = try handle(stdout, "stdout")
        let (err, errURL) = try handle(stderr, "stderr")
        let process = Process()
        process.executableURL = try program.map { URL(fileURLWithPath: $0) } ?? BinaryRunner.binaryURL()
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        try process.run()
        try out.close()
        try err.close()
        process.waitUntilExit()
        _ = keep
        return CommandResult(status: process.terminationStatus,
                             stdout: try outURL.map { try String(contentsOf: $0, encoding: .utf8) } ?? "",
                             stderr: try errURL.map { try String(contentsOf: $0, encoding: .utf8) } ?? "")
    }

    func counts(_ db: String) throws -> [String: Int] {
        let status = try BinaryRunner.run(["status", db])
        XCTAssertEqual(status.status, 0, status.stderr)
        var counts: [String: Int] = [:]
        for match in status.stdout.matches(of: /(pending|running|done|diverged|failed|interrupted) (\d+)/) {
            counts[String(match.1)] = Int(match.2)
        }
        return counts
    }

    func fileType(_ p: String) -> mode_t {
        var st = stat()
        XCTAssertEqual(lstat(p, &st), 0, p)
        return st.st_mode & 0o170000
    }

    /// The commands that print, each with what it needs.
    func printingCommands(_ db: String) -> [[String]] {
        [["leaderboard", db], ["leaderboard", db, "--csv", "-"], ["best", db], ["best", db, "--json"], ["status", db],
         ["report", db, "--out", "-"], ["schedule", "--epochs", "3"], ["--help"],
         ["train", "--dataset", "synthetic", "--train-size", "200", "--val-size", "100", "--epochs", "2", "--hidden", "8"]]
    }

    // MARK: - stdout and stderr that fail

    func testAFullStdoutEndsTheCommandWithOneLineAndStatus1() throws {
        let db = try finishedSweep()
        for args in printingCommands(db) {
            let r = try run(args, stdout: .file("/dev/full"))
            XCTAssertEqual(r.status, 1, "\(args): \(r.stderr)")
            XCTAssertEqual(r.stderr, "Error: cannot write to standard output: No space left on device\n", "\(args)")
        }
        // Both streams full: nothing can be said, still status 1 and no trap.
        let both = try run(["status", db], stdout: .file("/dev/full"), stderr: .file("/dev/full"))
        XCTAssertEqual(both.status, 1)
        // A closed stdout (`>&-`): a write error like any other; an output file is still written.
        let binary = try BinaryRunner.binaryURL().path
        let csv = path("closed.csv")
        let shell = try run(["-c", "exec \"$0\" status \"$1\" >&-", binary, db], via: "/bin/sh")
        XCTAssertEqual(shell.status, 1)
        XCTAssertEqual(shell.stderr, "Error: cannot write to standard output: Bad file descriptor\n")
        let toFile = try run(["-c", "exec \"$0\" leaderboard \"$1\" --csv \"$2\" >&-", binary, db, csv], via: "/bin/sh")
        XCTAssertEqual(toFile.status, 0, toFile.stderr)
        XCTAssertTrue(try String(contentsOfFile: csv, encoding: .utf8).hasPrefix("rank,configuration,schedule,"))
    }

    func testAClosedPipeEndsTheCommandQuietlyWith141() throws {
        let db = try finishedSweep()
        for args in printingCommands(db) {
            let r = try run(args, stdout: .closedPipe)
            XCTAssertEqual(r.status, 141, "\(args): \(r.stderr)")
            XCTAssertEqual(r.stderr, "", "\(args)")
        }
        // A long train stops at its first failed write instead of training every epoch into a
        // closed pipe. 100,000 epochs take many minutes (about 5 ms each in a debug build);
        // stopping takes well under a second. The bound only tells the two apart: it is not
        // a speed target, and the child is killed at it so that a regression fails, not hangs.
        let pipe = Pipe()
        try pipe.fileHandleForReading.close()
        let long = Process()
        long.executableURL = try BinaryRunner.binaryURL()
        long.arguments = ["train", "--dataset", "synthetic", "--train-size", "200", "--val-size", "100", "--epochs", "100000",
                          "--hidden", "8"]
        long.standardInput = FileHandle.nullDevice
        long.standardOutput = pipe.fileHandleForWriting
        long.standardError = FileHandle.nullDevice
        try long.run()
        try pipe.fileHandleForWriting.close()
        let end = Date().addingTimeInterval(120)
        while long.isRunning && Date() < end { Thread.sleep(forTimeInterval: 0.05) }
        if long.isRunning { kill(long.processIdentifier, SIGKILL) }
        long.waitUntilExit()
        XCTAssertEqual(long.terminationReason, .exit, "still training into a closed pipe after 120 s")
        XCTAssertEqual(long.terminationStatus, 141)
    }

    func testASweepWhoseOutputFailsKeepsItsDatabaseConsistent() throws {
        let spaceFile = try space(trainSize: 1500, epochs: 4)
        // stderr full from the start: the first line fails, no trial is left running.
        let full = path("full.sqlite")
        let r1 = try run([spaceFile, "--db", full], stderr: .file("/dev/full"))
        XCTAssertEqual(r1.status, 1)
        XCTAssertEqual(r1.stdout, "")
        XCTAssertEqual(try counts(full)["running"], 0)
        // The sweep is resumable, and best says nothing has finished, on stderr.
        let best = try BinaryRunner.run(["best", full])
        XCTAssertEqual(best.status, 1)
        XCTAssertEqual(best.stdout, "")
        XCTAssertEqual(best.stderrLines, ["Error: \(full): no SGDR configuration has finished yet (0 of 5 trials done); run or resume the sweep: sgdr-search resume \(full)"])
        let bestJSON = try BinaryRunner.run(["best", full, "--json"])
        XCTAssertEqual(bestJSON.status, 1)
        XCTAssertEqual(bestJSON.stdout, "")
        XCTAssertEqual(bestJSON.stderrLines.count, 1)
        let resumed = try BinaryRunner.run(["resume", full])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(try counts(full)["done"], 5)

        // stderr a closed pipe: quietly 141, nothing running.
        let piped = path("piped.sqlite")
        let r2 = try run([spaceFile, "--db", piped], stderr: .closedPipe)
        XCTAssertEqual(r2.status, 141)
        let c2 = try counts(piped)
        XCTAssertEqual(c2["running"], 0, "\(c2)")

        // stdout full at the end: the trials are stored, the error is one line.
        let atEnd = path("end.sqlite")
        let r3 = try run([spaceFile, "--db", atEnd], stdout: .file("/dev/full"))
        XCTAssertEqual(r3.status, 1)
        XCTAssertEqual(r3.stderrLines.last, "Error: cannot write to standard output: No space left on device")
        XCTAssertEqual(try counts(atEnd)["done"], 5)
        XCTAssertFalse(r1.stderr.contains("Fatal error") || r3.stderr.contains("Fatal error"))
    }

    // MARK: - Output files

    func testAnOutputPathThatIsTheDatabaseIsRefusedAndTheDatabaseUntouched() throws {
        let db = try finishedSweep()
        let before = try Data(contentsOf: URL(fileURLWithPath: db))
        XCTAssertEqual(symlink(db, path("link.csv")), 0)
        let cases: [[String]] = [
            ["leaderboard", db, "--csv", db],
            ["leaderboard", db, "--csv", dir.path + "/./done.sqlite"],
            ["leaderboard", db, "--csv", path("link.csv")],
            ["leaderboard", db, "--csv", db + "-wal"],
            ["report", db, "--out", db],
            ["report", db, "--out", db + "-shm"],
        ]
        for args in cases {
            let r = try BinaryRunner.run(args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
            XCTAssertEqual(r.stderrLines.count, 1, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("Error: \(args[2]) \"\(args[3])\" is the sweep database"), r.stderr)
            XCTAssertEqual(r.stdout, "")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: db)), before)
        XCTAssertEqual(fileType(path("link.csv")), 0o120000)
        XCTAssertEqual(try counts(db)["done"], 5)
    }

    func testOutputFilesFollowSymlinksAndWriteIntoFIFOsAndDevices() throws {
        let db = try finishedSweep()
        // A symlink: the target is written, the link stays.
        try Data("old".utf8).write(to: URL(fileURLWithPath: path("target.csv")))
        XCTAssertEqual(symlink("target.csv", path("link.csv")), 0)
        XCTAssertEqual(try BinaryRunner.run(["leaderboard", db, "--csv", path("link.csv")]).status, 0)
        XCTAssertEqual(fileType(path("link.csv")), 0o120000)
        XCTAssertTrue(try String(contentsOfFile: path("target.csv"), encoding: .utf8).hasPrefix("rank,configuration,schedule,"))
        // A FIFO, read by another thread: the page goes through it, the FIFO stays one.
        let fifo = path("fifo")
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let received = ReadAll()
        Thread { received.read(fifo) }.start()
        let report = try BinaryRunner.run(["report", db, "--out", fifo])
        XCTAssertEqual(report.status, 0, report.stderr)
        XCTAssertTrue(received.wait(seconds: 30))
        XCTAssertTrue(received.text.contains("<title>sgdr-search report: io</title>"))
        XCTAssertEqual(fileType(fifo), 0o010000)
        // /dev/stdout: the command's own stdout.
        let toStdout = try BinaryRunner.run(["leaderboard", db, "--csv", "/dev/stdout"])
        XCTAssertEqual(toStdout.status, 0, toStdout.stderr)
        XCTAssertTrue(toStdout.stdout.hasPrefix("rank,configuration,schedule,"), toStdout.stdout)
        // A device: first a private null device (a regression replaces it, not the system's),
        // then /dev/null itself.
        let device = path("null")
        if mknod(device, 0o020000 | 0o666, (1 << 8) | 3) == 0 {
            for args in [["leaderboard", db, "--csv", device], ["report", db, "--out", device],
                         ["schedule", "--epochs", "3", "--svg", device]] {
                XCTAssertEqual(try BinaryRunner.run(args).status, 0, "\(args)")
                XCTAssertEqual(fileType(device), 0o020000, "\(args) replaced the device")
            }
        }
        if fileType(device) == 0o020000 || !FileManager.default.fileExists(atPath: device) {
            for args in [["leaderboard", db, "--csv", "/dev/null"], ["report", db, "--out", "/dev/null"],
                         ["schedule", "--epochs", "3", "--svg", "/dev/null"]] {
                XCTAssertEqual(try BinaryRunner.run(args).status, 0, "\(args)")
                XCTAssertEqual(fileType("/dev/null"), 0o020000, "\(args) replaced /dev/null")
            }
        }
        // /dev/full as the file: its error, one line, status 1.
        let full = try BinaryRunner.run(["leaderboard", db, "--csv", "/dev/full"])
        XCTAssertEqual(full.status, 1)
        XCTAssertEqual(full.stderrLines, ["Error: --csv \"/dev/full\" cannot be written: No space left on device"])
    }

    func testAReadOnlyOutputFileIsRefusedNotOverwritten() throws {
        let db = try finishedSweep()
        for (name, args) in [("ro.csv", ["leaderboard", db, "--csv"]), ("ro.html", ["report", db, "--out"]),
                             ("ro.svg", ["schedule", "--epochs", "3", "--svg"])] {
            let file = path(name)
            try Data("keep".utf8).write(to: URL(fileURLWithPath: file))
            chmod(file, 0o444)
            let r = try BinaryRunner.run(args + [file])
            XCTAssertEqual(r.status, 1, "\(args)")
            XCTAssertEqual(r.stderrLines, ["Error: \(args.last!) \"\(file)\" is read-only; make it writable or give another path"])
            XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "keep")
        }
        // A folder that does not exist, a directory: one line each.
        let missing = try BinaryRunner.run(["leaderboard", db, "--csv", path("no/such.csv")])
        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(missing.stderrLines.count, 1)
        let directory = try BinaryRunner.run(["report", db, "--out", dir.path])
        XCTAssertEqual(directory.status, 1)
        XCTAssertEqual(directory.stderrLines, ["Error: --out \"\(dir.path)\" is a directory; give a file name"])
    }

    // MARK: - Unclear input

    func testNegativeNumbersReachTheRangeCheck() throws {
        let db = try finishedSweep()
        let spaceFile = try space()
        let cases: [(args: [String], option: String)] = [
            ([spaceFile, "--db", path("n.sqlite"), "--concurrency", "-1"], "--concurrency"),
            ([spaceFile, "--db", path("n.sqlite"), "--cache-mb", "-5"], "--cache-mb"),
            (["resume", db, "--concurrency", "-3"], "--concurrency"),
            (["leaderboard", db, "--top", "-1"], "--top"),
            (["report", db, "--top", "-2"], "--top"),
            (["train", "--batch-size", "-1"], "--batch-size"),
            (["train", "--epochs", "-1"], "--epochs"),
            (["train", "--threads", "-1"], "--threads"),
            (["train", "--seed", "-1"], "--seed"),
            (["train", "--train-size", "-10"], "--train-size"),
            (["train", "--momentum", "-0.5"], "--momentum"),
            (["train", "--hidden", "-4"], "--hidden"),
            (["bench", "--repeats", "-1"], "--repeats"),
        ]
        for c in cases {
            let r = try BinaryRunner.run(c.args)
            XCTAssertEqual(r.status, 64, "\(c.args): \(r.stderr)")
            XCTAssertEqual(r.stderrLines.count, 1, "\(c.args): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("Error: \(c.option) "), "\(c.args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("-"), r.stderr)
            XCTAssertFalse(r.stderr.contains("Missing value"), r.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("n.sqlite")))
        // ArgumentParser's own errors are one line too, with where to find help.
        let word = try BinaryRunner.run([spaceFile, "--concurrency", "abc"])
        XCTAssertEqual(word.status, 64)
        XCTAssertEqual(word.stderrLines, ["Error: The value 'abc' is invalid for '--concurrency <n>' (see 'sgdr-search run --help')"])
    }

    func testTopZeroIsAllowedByLeaderboardAndReportAlike() throws {
        let db = try finishedSweep()
        let table = try BinaryRunner.run(["leaderboard", db, "--top", "0", "--csv", "-"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertEqual(table.stdout.components(separatedBy: "\r\n").filter { !$0.isEmpty }.count, 1, "the header alone")
        let page = try BinaryRunner.run(["report", db, "--top", "0", "--out", path("top0.html")])
        XCTAssertEqual(page.status, 0, page.stderr)
        let negative = try [BinaryRunner.run(["leaderboard", db, "--top", "-1"]), BinaryRunner.run(["report", db, "--top", "-1"])]
        XCTAssertEqual(negative.map(\.stderrLines), Array(repeating: ["Error: --top must be an integer >= 0 (got -1)"], count: 2))
    }

    func testControlCharactersAreEscapedInMessages() throws {
        let esc = "\u{1B}"
        let badName = path("name.json")
        try Data(#"{"name": "a\u001b[31mred", "parameters": {"t0": {"values": [1]}}}"#.utf8).write(to: URL(fileURLWithPath: badName))
        let badKey = path("key.json")
        try Data(#"{"name": "k", "parameters": {"t\u001b]0;owned\u00070": {"values": [1]}}}"#.utf8).write(to: URL(fileURLWithPath: badKey))
        let badValue = path("value.json")
        try Data(#"{"name": "v", "strategy": "g\u001b[2Jrid", "parameters": {"t0": {"values": [1]}}}"#.utf8).write(to: URL(fileURLWithPath: badValue))
        let cases: [(args: [String], shown: String)] = [
            ([badName, "--db", path("x.sqlite")], "a\\x1b[31mred"),
            ([badKey, "--db", path("x.sqlite")], "t\\x1b]0;owned\\x070"),
            ([badValue, "--db", path("x.sqlite")], "g\\x1b[2Jrid"),
            (["leaderboard", path("db\(esc)[31m.sqlite")], "db\\x1b[31m.sqlite"),
            (["status", path("tab\there.sqlite")], "tab\\there.sqlite"),
            (["schedule", "--epochs", "3", "--svg", path("no\(esc)dir/x.svg")], "no\\x1bdir"),
        ]
        for c in cases {
            let r = try BinaryRunner.run(c.args)
            XCTAssertNotEqual(r.status, 0, "\(c.args)")
            XCTAssertEqual(r.stderrLines.count, 1, r.stderr.debugDescription)
            XCTAssertFalse(r.stderr.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" }, r.stderr.debugDescription)
            XCTAssertTrue(r.stderr.contains(c.shown), "\(r.stderr.debugDescription) should show \(c.shown)")
        }
    }
}

/// Everything a reader thread reads from a path (a FIFO) until its end.
final class ReadAll: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes: [UInt8] = []
    private let done = DispatchSemaphore(value: 0)

    func read(_ path: String) {
        let fd = open(path, O_RDONLY)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while fd >= 0 {
            let n = Glibc.read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            lock.withLock { bytes += buffer[0..<n] }
        }
        if fd >= 0 { close(fd) }
        done.signal()
    }

    func wait(seconds: Double) -> Bool { done.wait(timeout: .now() + seconds) == .success }
    var text: String { lock.withLock { String(decoding: bytes, as: UTF8.self) } }
}
