import EngineAdapter
import Foundation
import Sweep
#if canImport(Glibc)
import Glibc
#endif

/// How a command uses a sweep database.
public enum StoreAccess: Sendable {
    /// `run`: create the database when it does not exist.
    case create
    /// `resume`: an existing database, written.
    case write
    /// `leaderboard`, `best`, `status`, `report`: an existing database, only read (nothing is
    /// written nor created, so a user who cannot write its folder can read it).
    case read
}

/// Opens the store of a sweep database: any access but `create` must fail, without creating
/// anything, when `path` does not exist.
public typealias StoreOpener = (_ path: String, _ access: StoreAccess) throws -> any TrialStore

/// A refusal or failure of a sweep command, printed as `Error: ...`.
public struct SweepError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public var exitCode: Int32
    public init(_ description: String, exitCode: Int32 = 1) {
        self.description = description
        self.exitCode = exitCode
    }
}

/// The library behind the subcommands `run`, `resume`, `leaderboard`, `best` and `status`:
/// each returns the process's exit status, and writes only to the given console.
public enum SweepCommands {
    public static let exitInterrupted: Int32 = 130
    /// An invalid space file, like an invalid option elsewhere in the tool (EX_USAGE).
    public static let exitUsage: Int32 = 64
    /// stdout or stderr is a closed pipe (`| head -1`): the command ends quietly with the status
    /// a shell reports for `seq` or `yes` there (128 + SIGPIPE).
    public static let exitBrokenPipe: Int32 = 141

    /// How `run` and `resume` run the trials.
    public struct RunOptions {
        /// Overrides the space's `concurrency`.
        public var concurrency: Int?
        /// Set by Ctrl-C / SIGTERM when `handleSignals`, or by a test.
        public var cancellation = CancellationFlag()
        public var handleSignals = false
        /// nil: the engine, on the space's data set loaded once.
        public var makeExecutor: ((SearchSpace) throws -> any TrialExecutor)?
        public var owner = Owner.current
        public var isAbandoned: @Sendable (String) -> Bool = Owner.isAbandoned
        /// Leaderboard rows printed at the end.
        public var top = 10
        /// The store's lease in seconds (the runner renews it every lease/4), or nil.
        public var lease: Double?
        /// Byte budget of the engine's trajectory cache (0: no sharing of epochs between trials).
        public var cacheBytes = TrajectoryCache.defaultBudgetBytes

        public init(concurrency: Int? = nil) { self.concurrency = concurrency }
    }

    // MARK: helpers shared by the commands

    static func openExisting(_ path: String, _ openStore: StoreOpener, access: StoreAccess = .read) throws
        -> (any TrialStore, SweepInfo, SearchSpace) {
        let store = try openStore(path, access)
        do {
            guard let info = try store.info() else {
                throw SweepError("\(path) holds no sweep: its creation did not finish; run the space file again to create it")
            }
            do {
                return (store, info, try SearchSpace.parse(data: Data(info.spaceJSON.utf8), file: "\(path) (stored space)"))
            } catch {
                throw SweepError("\(error)")
            }
        } catch {
            try? store.close()
            throw error
        }
    }

    /// Creates the folder of `path` (and its parents) if missing, or says in one line why not.
    static func makeFolder(of path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        guard !dir.isEmpty else { return }
        var isDirectory: ObjCBool = false
        var prefix = dir.hasPrefix("/") ? "/" : ""
        for part in dir.split(separator: "/") {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + part
            if FileManager.default.fileExists(atPath: prefix, isDirectory: &isDirectory) {
                if !isDirectory.boolValue {
                    throw SweepError("cannot create the folder \(dir) for the database \(path): \(prefix) is a file, not a folder; remove it or give --db PATH")
                }
                continue
            }
            if mkdir(prefix, 0o777) != 0 && errno != EEXIST {
                throw SweepError("cannot create the folder \(prefix) for the database \(path): \(String(cString: strerror(errno))); give --db PATH")
            }
        }
    }

    /// Runs `body`, printing any error as one `Error:` line; a failed write to stdout or stderr
    /// ends it as `Console.exitStatus(after:)` says.
    static func report(_ console: Console, _ body: () throws -> Int32) -> Int32 {
        do {
            return try body()
        } catch let e as OutputError {
            return console.exitStatus(after: e)
        } catch let e as SweepError {
            console.error(e.description)
            return e.exitCode
        } catch {
            console.error("\(error)")
            return 1
        }
    }

    /// Refuses an output path that is the sweep database or one of its companion files (exit 64).
    public static func checkOutput(_ path: String, option: String, database: String) throws(SweepError) {
        do throws(OutputFileError) {
            try OutputFile.checkNotDatabase(path, database: database)
        } catch {
            throw SweepError("\(option) \(error)", exitCode: error.exitCode)
        }
    }

    /// Writes an output file (see `OutputFile`), after checking it is not the sweep database.
    /// Throws `SweepError`, or `OutputError` when the file is a pipe whose reader went away (the
    /// command then ends quietly, as on a closed stdout).
    public static func writeOutput(_ text: String, to path: String, option: String, database: String) throws {
        var text = text
        try text.withUTF8 { try writeOutput(UnsafeRawBufferPointer($0), to: path, option: option, database: database) }
    }

    /// `writeOutput` of UTF-8 bytes.
    public static func writeOutput(_ bytes: [UInt8], to path: String, option: String, database: String) throws {
        try bytes.withUnsafeBytes { try writeOutput($0, to: path, option: option, database: database) }
    }

    static func writeOutput(_ bytes: UnsafeRawBufferPointer, to path: String, option: String, database: String) throws {
        try writeOutput(to: path, option: option, database: database) { emit in emit(bytes) }
    }

    /// `writeOutput` of the chunks `produce` hands over (see `OutputFile.write(to:_:)`).
    static func writeOutput(to path: String, option: String, database: String,
                            _ produce: ((UnsafeRawBufferPointer) -> Void) -> Void) throws {
        try checkOutput(path, option: option, database: database)
        do throws(OutputFileError) {
            try OutputFile.write(to: path, produce)
        } catch {
            if error.isBrokenPipe { throw OutputError(stream: .stdout, code: error.code) }
            throw SweepError("\(option) \(error)", exitCode: error.exitCode)
        }
    }
}
