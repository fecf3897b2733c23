import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// What one run of the built `sgdr-search` binary did.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String

    /// stderr split into lines, without the final empty one.
    var stderrLines: [String] {
        stderr.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
    }
}

struct BinaryNotFound: Error, CustomStringConvertible {
    var searched: [String]
    var description: String { "sgdr-search binary not found (build it first); looked at: \(searched.joined(separator: ", "))" }
}

/// Runs the built `sgdr-search` binary, for tests of the command line (exit codes, stdout, stderr).
///
/// Every CLI test finds the binary this one way: `sgdr-search` in the folder of the running test
/// bundle, i.e. the build products folder of this very `swift test` (whatever its
/// configuration, triple or `--scratch-path`). CLITests depends on the `sgdr-search` target, so
/// `swift test` (or `swift build --build-tests`) builds the binary into that folder before any
/// test runs. Nothing else is tried — no `$PATH`, no environment variable, no `.build/debug`,
/// no path relative to the current folder — so a binary left by another build or configuration
/// can never be the one tested. When it is missing the tests fail (they do not skip).
enum BinaryRunner {
    private final class Marker {}

    /// `sgdr-search` beside the running test bundle (on Linux in the folder of the `.xctest`
    /// executable, on macOS in the folder holding the `.xctest` bundle).
    static func binaryURL() throws -> URL {
        var candidates: [URL] = []
        for bundle in [Bundle(for: Marker.self), Bundle.main] {
            var dir = bundle.bundleURL
            if dir.pathExtension == "xctest" { dir.deleteLastPathComponent() }
            candidates.append(dir.appendingPathComponent("sgdr-search"))
        }
        for url in candidates where FileManager.default.isExecutableFile(atPath: url.path) {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue {
                return url
            }
        }
        // A failure, not a skip: CLI tests that silently stop running would hide regressions.
        throw BinaryNotFound(searched: candidates.map(\.path))
    }

    /// Runs `sgdr-search arguments...` to completion, with stdin empty, and captures its output;
    /// in `directory` when given (relative paths in `arguments` are then relative to it).
    static func run(_ arguments: [String], in directory: URL? = nil) throws -> CommandResult {
        try runExecutable(try binaryURL(), arguments, in: directory)
    }

    /// Runs any executable to completion, with stdin empty, capturing its output; in
    /// `directory` when given.
    static func runExecutable(_ executable: URL, _ arguments: [String], in directory: URL? = nil) throws -> CommandResult {
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("sgdr-search-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("stdout")
        let errURL = scratch.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)

        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        try process.run()
        process.waitUntilExit()
        try out.close()
        try err.close()
        return CommandResult(status: process.terminationStatus,
                             stdout: try String(contentsOf: outURL, encoding: .utf8),
                             stderr: try String(contentsOf: errURL, encoding: .utf8))
    }

    /// A file holding `contents` in a fresh temporary directory, removed at the end of `test`.
    static func temporaryFile(_ contents: String, name: String = "file.txt", removedAfter test: XCTestCase) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sgdr-search-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent(name)
        try contents.write(to: url, atomically: true, encoding: .utf8)
        return url
    }
}

/// A simple CSV (no quoting: what `sgdr-search` prints): header and rows of fields.
struct SimpleCSV {
    var header: [String]
    var rows: [[String]]

    init(_ text: String) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        header = lines.first.map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) } ?? []
        rows = lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    }

    /// The column named `name`, one string per row.
    func column(_ name: String) -> [String]? {
        guard let index = header.firstIndex(of: name) else { return nil }
        return rows.map { index < $0.count ? $0[index] : "" }
    }

    func doubles(_ name: String) -> [Double]? { column(name)?.map { Double($0) ?? .nan } }
    func ints(_ name: String) -> [Int]? { column(name)?.map { Int($0) ?? Int.min } }
}

/// A running `sgdr-search` whose stderr goes to a file (for kill -9, Ctrl-C and several processes).
final class ChildProcess {
    let process = Process()
    let errURL: URL
    /// `environment`: variables added to the test's own; `stdout`: where its stdout goes
    /// (nil: /dev/null).
    init(_ arguments: [String], in dir: URL, environment: [String: String] = [:], stdout: FileHandle? = nil) throws {
        errURL = dir.appendingPathComponent("stderr-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.executableURL = try BinaryRunner.binaryURL()
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = stdout ?? FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
    }
    var stderr: String { (try? String(contentsOf: errURL, encoding: .utf8)) ?? "" }
    /// Trial ids this process reported finished (`[ n/N] id ...` lines).
    var finishedIDs: [String] {
        stderr.split(separator: "\n").filter { $0.hasPrefix("[") }.compactMap { line in
            line.split(separator: "]", maxSplits: 1).last?.split(separator: " ").first.map(String.init)
        }
    }
    /// Waits until `condition` holds (or the process ends, or `timeout` passes).
    func wait(timeout: Double, until condition: (ChildProcess) -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if condition(self) { return true }
            if !process.isRunning { return condition(self) }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }
    /// Waits for the process to end; false when it still runs after `timeout` seconds.
    func waitForExit(timeout: Double) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < end { Thread.sleep(forTimeInterval: 0.05) }
        return !process.isRunning
    }

    /// Freezes the process (SIGSTOP) at a moment when `database` shows at least one trial
    /// `running` (read by `sgdr-search status` while it is stopped); else lets it go on and
    /// looks again. Returns how many trials are running and the ids `status` lists as running
    /// (the first few unfinished trials), or count 0 when the process ended or `timeout` passed
    /// first. The caller then sends the signal it wants, and SIGCONT (or SIGKILL).
    func stopWhileTrialsRun(database: String, timeout: Double = 120) throws -> (count: Int, ids: [String]) {
        let pid = process.processIdentifier
        let end = Date().addingTimeInterval(timeout)
        while Date() < end && process.isRunning {
            kill(pid, SIGSTOP)
            let status = try BinaryRunner.run(["status", database])
            let running = status.stdout.firstMatch(of: /running (\d+)/).flatMap { Int($0.1) } ?? 0
            if status.status == 0 && running > 0 {
                return (running, status.stdout.matches(of: /([\w.-]+) \(running\)/).map { String($0.1) })
            }
            kill(pid, SIGCONT)
            Thread.sleep(forTimeInterval: 0.05)
        }
        return (0, [])
    }

    /// kill -9 at a moment when `database` shows trials running (`stopWhileTrialsRun`); asserts
    /// that some were and that the process died of the signal. Returns them.
    func killWhileTrialsRun(database: String, file: StaticString = #filePath, line: UInt = #line) throws -> (count: Int, ids: [String]) {
        let running = try stopWhileTrialsRun(database: database)
        XCTAssertGreaterThan(running.count, 0, "no trial was running when the process was killed: \(stderr)", file: file, line: line)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal, file: file, line: line)
        return running
    }
}

extension BinaryRunner {
    /// `leaderboard DB --csv -` as rows of cells, without the `seconds` column (timings differ
    /// between runs).
    static func leaderboardWithoutSeconds(_ db: String, file: StaticString = #filePath, line: UInt = #line) throws -> [[String]] {
        let r = try run(["leaderboard", db, "--csv", "-"])
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        // The `seconds` column (wall time) by its header, wherever it is (a tpe sweep's CSV ends with `proposed_by`).
        let rows = r.stdout.components(separatedBy: "\r\n").filter { !$0.isEmpty }.map { $0.components(separatedBy: ",") }
        guard let seconds = rows.first?.firstIndex(of: "seconds") else { return rows }
        return rows.map { row in row.enumerated().filter { $0.offset != seconds }.map(\.element) }
    }
}
