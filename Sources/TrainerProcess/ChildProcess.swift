import CProcess

/// A trainer's process: started with `posix_spawn` in a process group of its own, its stdin,
/// stdout and stderr on pipes; read line by line with time limits, its stderr kept as a bounded
/// tail. The one file that calls the C process API.
///
/// No orphans: the group is killed when the trial ends however it ends (`terminate`), and on
/// Linux the trainer is started through `setpriv --pdeathsig KILL` (util-linux), so that it is
/// killed when the tool dies, even by kill -9. A trainer's own children are in its group, which
/// `terminate` kills; after a kill -9 of the tool they see their input closed (the client exits
/// on stdin EOF, `examples/sgdr_trainer.py`).
///
/// Not thread-safe: one worker owns one `ChildProcess` for its trial.
final class ChildProcess {
    let pid: pid_t
    private var input: Int32
    private var output: Int32
    private var errors: Int32
    private var pending: [UInt8] = []
    private var errorTail: [UInt8] = []
    /// Where each read lands (allocated once per trainer, not per poll).
    private var chunk = [UInt8](repeating: 0, count: 65536)
    private var reaped: ExitStatus?

    /// A line of stdout longer than this is a fault (a flood of output, or not the protocol).
    static let maxLineBytes = 1 << 20
    /// The stderr bytes kept (the last ones).
    static let maxTailBytes = 4096
    /// How often a wait wakes to ask whether the trial was cancelled (milliseconds).
    static let cancelPollMilliseconds: Int32 = 50

    enum ExitStatus: Equatable {
        case exited(Int32)
        case signalled(Int32)

        /// From waitpid's status: WIFEXITED / WEXITSTATUS / WTERMSIG, spelled out (they are macros).
        init(waitStatus status: Int32) {
            let signal = status & 0x7f
            self = signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
        }

        var description: String {
            switch self {
            case .exited(let code): "exit status \(code)"
            case .signalled(let signal): "killed by signal \(signal) (\(ChildProcess.signalName(signal)))"
            }
        }
    }

    enum Read {
        case line([UInt8])
        /// stdout was closed (the trainer exited, or closed it).
        case endOfOutput
        case timedOut
        case cancelled
        case lineTooLong
    }

    /// Where `program` is: itself when it contains a `/` (relative to `workingDirectory`), else
    /// the first executable file of that name in `searchPath`'s folders. The error is one line.
    static func locate(_ program: String, searchPath: String?, workingDirectory: String?) -> Result<String, ProcessFault> {
        func isExecutableFile(_ path: String) -> Bool {
            var st = stat()
            return stat(path, &st) == 0 && (st.st_mode & mode_t(S_IFMT)) == mode_t(S_IFREG) && access(path, X_OK) == 0
        }
        func exists(_ path: String) -> Bool {
            var st = stat()
            return stat(path, &st) == 0
        }
        if program.contains("/") {
            let path = program.hasPrefix("/") || workingDirectory == nil ? program : workingDirectory! + "/" + program
            if isExecutableFile(path) { return .success(path) }
            return .failure(ProcessFault(exists(path) ? "\(program) is not an executable file" : "\(program) does not exist"))
        }
        for folder in (searchPath ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":", omittingEmptySubsequences: false) {
            let dir = folder.isEmpty ? "." : String(folder)
            let candidate = (dir.hasPrefix("/") || workingDirectory == nil ? dir : workingDirectory! + "/" + dir) + "/" + program
            if isExecutableFile(candidate) { return .success(candidate) }
        }
        return .failure(ProcessFault("\(program) was not found on PATH"))
    }

    /// Whether `path` is a folder one can enter.
    static func isUsableFolder(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & mode_t(S_IFMT)) == mode_t(S_IFDIR) && access(path, X_OK) == 0
    }

    /// The parent-death wrapper, where there is one.
    static let deathSignalWrapper: String? = {
        for path in ["/usr/bin/setpriv", "/bin/setpriv"] where access(path, X_OK) == 0 { return path }
        return nil
    }()

    /// A write to a trainer that exited must fail with EPIPE (a fault of that trial), not end
    /// this process with SIGPIPE: ignored once, before the first trainer starts (the command line
    /// ignores it anyway; this covers any other host of the executor, e.g. a test process).
    private static let brokenPipesAreErrors: Void = sgdr_ignore_sigpipe()

    /// Starts `executable` (a path, see `locate`) with `arguments` (argv[1...]) and exactly
    /// `environment` (`NAME=value`), in `workingDirectory` (nil: the tool's).
    init(executable: String, arguments: [String], environment: [String], workingDirectory: String?) throws(ProcessFault) {
        _ = Self.brokenPipesAreErrors
        var argv = [executable] + arguments
        if let wrapper = Self.deathSignalWrapper { argv = [wrapper, "--pdeathsig", "KILL", "--"] + argv }

        // Pipes: close-on-exec, so that no other trainer inherits them (a trainer holding another
        // trainer's stdin would keep that one from ever seeing its input end).
        var fds: [Int32] = [-1, -1, -1, -1, -1, -1]
        func closeAll() { for fd in fds where fd >= 0 { close(fd) } }
        for k in 0..<3 {
            var pair: [Int32] = [-1, -1]
            guard pipe2(&pair, O_CLOEXEC) == 0 else {
                let e = sgdr_errno()
                closeAll()
                throw ProcessFault("cannot create a pipe: \(String(cString: strerror(e)))")
            }
            fds[2 * k] = pair[0]
            fds[2 * k + 1] = pair[1]
        }
        // fds: [stdin read, stdin write, stdout read, stdout write, stderr read, stderr write]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fds[3], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[5], 2)
        if let workingDirectory { posix_spawn_file_actions_addchdir_np(&actions, workingDirectory) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group (so that the terminal's Ctrl-C reaches the tool alone, and the
        // tool can kill the trainer with its children), no blocked signals, and the signals the
        // tool ignores or handles back at their defaults.
        var none = sigset_t()
        sigemptyset(&none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let cArgv = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup($0) } + [nil]
        defer {
            for p in cArgv { free(p) }
            for p in cEnv { free(p) }
        }
        var child: pid_t = 0
        let rc = posix_spawn(&child, argv[0], &actions, &attributes, cArgv, cEnv)
        close(fds[0])
        close(fds[3])
        close(fds[5])
        guard rc == 0 else {
            close(fds[1])
            close(fds[2])
            close(fds[4])
            throw ProcessFault("cannot start \(executable): \(String(cString: strerror(rc)))")
        }
        pid = child
        input = fds[1]
        output = fds[2]
        errors = fds[4]
        // The tool never waits on a trainer's input: a trainer that does not read it is a fault.
        for fd in [input, output, errors] { _ = sgdr_set_nonblocking(fd) }
    }

    deinit { terminate(grace: 0) }

    /// Nanoseconds of a monotonic clock.
    static func now() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    /// Writes `text` to the trainer's stdin. A fault when the trainer closed its input or does
    /// not read it (the pipe's buffer, 64 KiB, is full).
    func send(_ text: String) throws(ProcessFault) {
        guard input >= 0 else { throw ProcessFault("the trainer's input is closed") }
        var bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(input, $0.baseAddress! + done, $0.count - done) }
            if n > 0 { done += n; continue }
            let e = sgdr_errno()
            if n < 0 && e == EINTR { continue }
            if e == EAGAIN { throw ProcessFault("the trainer does not read its input (stdin)") }
            throw ProcessFault("the trainer closed its input (stdin) early")
        }
        bytes.removeAll()
    }

    /// Closes the trainer's stdin (it sees end of input).
    func closeInput() {
        if input >= 0 { close(input); input = -1 }
    }

    /// The next line of stdout (without its newline), waiting until `deadline` (monotonic
    /// nanoseconds) at most, asking `isCancelled` every `cancelPollMilliseconds`. stderr is
    /// drained meanwhile into its tail.
    func readLine(deadline: UInt64, isCancelled: () -> Bool) -> Read {
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(pending[..<newline])
                pending.removeSubrange(...newline)
                return .line(line)
            }
            if pending.count > Self.maxLineBytes { return .lineTooLong }
            if output < 0 { return .endOfOutput }
            if isCancelled() { return .cancelled }
            let now = Self.now()
            if now >= deadline { return .timedOut }
            let wait = min(UInt64(Self.cancelPollMilliseconds) * 1_000_000, deadline - now)
            pollOnce(timeoutMilliseconds: Int32((wait + 999_999) / 1_000_000))
        }
    }

    /// One poll of stdout and stderr: reads what is there (stdout into `pending`, stderr into
    /// the tail) and notes a closed stream.
    private func pollOnce(timeoutMilliseconds: Int32) {
        var polled = [pollfd(fd: output, events: Int16(POLLIN), revents: 0),
                      pollfd(fd: errors, events: Int16(POLLIN), revents: 0)]
        let rc = poll(&polled, 2, timeoutMilliseconds)
        guard rc > 0 else { return }
        if output >= 0 && polled[0].revents != 0 {
            // Up to the line limit (plus one chunk) is kept; beyond it `readLine` reports a fault.
            let n = chunk.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
            if n > 0 {
                pending.append(contentsOf: chunk[..<n])
            } else if n == 0 || (sgdr_errno() != EAGAIN && sgdr_errno() != EINTR) {
                close(output)
                output = -1
            }
        }
        if errors >= 0 && polled[1].revents != 0 {
            let n = chunk.withUnsafeMutableBytes { read(errors, $0.baseAddress, $0.count) }
            if n > 0 {
                errorTail.append(contentsOf: chunk[..<n])
                if errorTail.count > Self.maxTailBytes { errorTail.removeFirst(errorTail.count - Self.maxTailBytes) }
            } else if n == 0 || (sgdr_errno() != EAGAIN && sgdr_errno() != EINTR) {
                close(errors)
                errors = -1
            }
        }
    }

    /// The last non-empty line the trainer wrote to stderr (at most 300 characters), or nil.
    var lastErrorLine: String? {
        let text = String(decoding: errorTail, as: UTF8.self)
        guard let line = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).last(where: { !$0.allSatisfy(\.isWhitespace) }) else { return nil }
        let trimmed = String(line.drop(while: { $0 == " " || $0 == "\t" }))
        return trimmed.count > 300 ? String(trimmed.prefix(300)) + "…" : trimmed
    }

    /// The exit status once the trainer has exited (reaping it), else nil.
    func exitStatus() -> ExitStatus? {
        if let reaped { return reaped }
        var status: Int32 = 0
        let rc = waitpid(pid, &status, WNOHANG)
        guard rc == pid else { return nil }
        reaped = ExitStatus(waitStatus: status)
        kill(-pid, SIGKILL)  // what the trainer left running in its group
        return reaped
    }

    /// Waits until the trainer exits or `deadline`, draining its output meanwhile (a trainer
    /// blocked on a full pipe never exits). Nil: still running at the deadline.
    func waitForExit(deadline: UInt64) -> ExitStatus? {
        while true {
            if let status = exitStatus() { return status }
            let now = Self.now()
            if now >= deadline { return nil }
            if output >= 0 || errors >= 0 {
                // Its streams close when it exits: poll wakes at once.
                pollOnce(timeoutMilliseconds: Int32(min(50, (deadline - now) / 1_000_000 + 1)))
                if output >= 0 && pending.count > Self.maxLineBytes { pending.removeAll() }
            } else {
                var pause = timespec(tv_sec: 0, tv_nsec: 500_000)
                nanosleep(&pause, nil)
            }
        }
    }

    /// Ends the trainer and its process group: SIGTERM, then after `grace` seconds SIGKILL;
    /// reaps it and closes the pipes. Idempotent.
    func terminate(grace: Double) {
        closeInput()
        if exitStatus() == nil {
            kill(-pid, SIGTERM)
            if grace > 0 { _ = waitForExit(deadline: Self.now() + UInt64(grace * 1e9)) }
            if exitStatus() == nil {
                kill(-pid, SIGKILL)
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && sgdr_errno() == EINTR {}
                reaped = ExitStatus(waitStatus: status)
            }
        }
        kill(-pid, SIGKILL)
        if output >= 0 { close(output); output = -1 }
        if errors >= 0 { close(errors); errors = -1 }
    }

    static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGKILL: "SIGKILL"
        case SIGTERM: "SIGTERM"
        case SIGSEGV: "SIGSEGV"
        case SIGABRT: "SIGABRT"
        case SIGINT: "SIGINT"
        case SIGBUS: "SIGBUS"
        case SIGFPE: "SIGFPE"
        case SIGILL: "SIGILL"
        case SIGPIPE: "SIGPIPE"
        case SIGHUP: "SIGHUP"
        default: "signal \(signal)"
        }
    }
}

/// Why a trainer's trial failed, in one line (what the trial's `error` column holds).
public struct ProcessFault: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = description }
}
