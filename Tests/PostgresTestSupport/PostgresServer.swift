import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A private PostgreSQL server for the tests: `initdb` into a temporary folder (as the
/// unprivileged `postgres` user when the tests run as root, as in CI), `pg_ctl start` on a free
/// port on 127.0.0.1 with its socket in that folder, password authentication over TCP.
/// `stop()` stops it and removes the folder; every server still running when the process
/// exits is stopped by an `atexit` handler, and a watchdog process stops it when the test
/// process is killed outright, so a failing, crashing or killed test leaves nothing behind.
public final class PostgresServer: @unchecked Sendable {
    public static let user = "sgdr"
    public static let password = "s3cret-Pw"

    /// Why no server can be started here (the tests skip with it).
    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
    }

    public let folder: String
    public let port: Int
    private let bin: String
    public private(set) var running = false
    private var watching = false

    /// The `postgresql://` URL of `database` on this server.
    public func url(_ database: String, password: String = PostgresServer.password, user: String = PostgresServer.user) -> String {
        "postgresql://\(user):\(password)@127.0.0.1:\(port)/\(database)"
    }

    /// The directory of PostgreSQL's server programs (Debian: /usr/lib/postgresql/N/bin), nil
    /// when the `postgresql` package is not installed.
    public static func binDirectory() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        return versions.map { "\(root)/\($0)/bin" }.first { FileManager.default.isExecutableFile(atPath: "\($0)/initdb") }
    }

    /// Starts a new server; throws `Unavailable` when PostgreSQL's server programs are missing.
    public static func start() throws -> PostgresServer {
        guard let bin = binDirectory() else {
            throw Unavailable(description: "PostgreSQL server programs not found under /usr/lib/postgresql (apt-get install postgresql)")
        }
        let server = try PostgresServer(bin: bin)
        try server.startServer()
        return server
    }

    private init(bin: String) throws {
        self.bin = bin
        folder = "/tmp/sgdr-pg-\(UUID().uuidString.prefix(8))"
        port = try Self.freePort()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        if getuid() == 0 {
            guard let pw = getpwnam("postgres") else { throw Unavailable(description: "running as root without a postgres user") }
            chown(folder, pw.pointee.pw_uid, pw.pointee.pw_gid)
        }
        let pwfile = folder + "/pwfile"
        try Data((Self.password + "\n").utf8).write(to: URL(fileURLWithPath: pwfile))
        if getuid() == 0, let pw = getpwnam("postgres") { chown(pwfile, pw.pointee.pw_uid, pw.pointee.pw_gid) }
        try run("initdb", ["-D", folder + "/data", "-U", Self.user, "--pwfile", pwfile, "--auth-local=trust",
                           "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8", "--locale=C"])
        Self.live.withLock { $0[folder] = self }
        Self.installExitHandler
    }

    /// `pg_ctl start`, waiting until it accepts connections.
    public func startServer() throws {
        try run("pg_ctl", ["-D", folder + "/data", "-l", folder + "/log", "-w", "-t", "60", "-o",
                           "-p \(port) -k \(folder) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
                           "start"])
        running = true
        startWatchdog()
    }

    /// A detached shell that stops the server and removes its folder once this process is gone
    /// without doing so itself (killed with SIGKILL, where no `atexit` handler runs). It checks
    /// once a second and ends by itself when the folder is removed.
    private func startWatchdog() {
        guard !watching else { return }
        watching = true
        let stop = (getuid() == 0 ? "/usr/sbin/runuser -u postgres -- " : "")
            + "/usr/bin/env -C /tmp \(bin)/pg_ctl -D \(folder)/data -m immediate stop"
        let script = """
            while kill -0 \(getpid()) 2>/dev/null && [ -d \(folder) ]; do sleep 1; done
            if [ -d \(folder) ]; then \(stop); rm -rf \(folder); fi
            """
        let argv = ["/usr/bin/setsid", "/bin/sh", "-c", script]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in 0...2 { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0) }
        var pid: pid_t = 0
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        // Not waited for: it outlives this process on purpose (init reaps it).
        _ = posix_spawn(&pid, argv[0], &actions, nil, cArgs, environ)
    }

    /// `pg_ctl stop -m fast` (open connections are terminated).
    public func stopServer() throws {
        guard running else { return }
        running = false
        try run("pg_ctl", ["-D", folder + "/data", "-w", "-m", "fast", "stop"])
    }

    /// Stops the server and removes its folder.
    public func stop() {
        try? stopServer()
        try? FileManager.default.removeItem(atPath: folder)
        Self.live.withLock { $0[folder] = nil }
    }

    /// Creates a new, empty database and returns its name.
    public func createDatabase(_ name: String = "t_\(UUID().uuidString.prefix(8).lowercased())") throws -> String {
        try sql("CREATE DATABASE \(name)", database: "postgres")
        return name
    }

    /// Runs SQL in `database` as the superuser (psql over the server's socket); its output,
    /// unaligned, tuples only.
    @discardableResult
    public func sql(_ text: String, database: String) throws -> String {
        try run("psql", ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", folder, "-p", String(port),
                         "-U", Self.user, "-d", database, "-c", text])
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Terminates every other connection to `database` (a dropped connection, as the store sees it).
    public func dropConnections(database: String) throws {
        try sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '\(database)' AND pid <> pg_backend_pid()",
                database: "postgres")
    }

    public var log: String { (try? String(contentsOfFile: folder + "/log", encoding: .utf8)) ?? "" }

    /// Runs one of PostgreSQL's programs (as the postgres user when we are root), its output
    /// into a file of the folder. posix_spawn + waitpid rather than Foundation's Process, whose
    /// wait never returned here once pg_ctl had left the server running in the background.
    @discardableResult
    private func run(_ program: String, _ arguments: [String]) throws -> String {
        // From /tmp: the postgres user may not be allowed into the tests' working directory.
        let command = ["/usr/bin/env", "-C", "/tmp", "\(bin)/\(program)"] + arguments
        var argv = getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] + command : command
        let outputPath = folder + "/\(program).out"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var pid: pid_t = 0
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, cArgs, environ)
        argv.removeAll()
        guard spawned == 0 else {
            throw NSError(domain: "PostgresServer", code: Int(spawned), userInfo: [NSLocalizedDescriptionKey: "cannot run \(program)"])
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let exited = (status & 0x7f) == 0, code = (status >> 8) & 0xff
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        if !exited || code != 0 {
            throw NSError(domain: "PostgresServer", code: Int(code),
                          userInfo: [NSLocalizedDescriptionKey: "\(program) failed: \(text)\n\(log)"])
        }
        return text
    }

    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Int32 in
                guard bind(fd, p, length) == 0 else { return -1 }
                return getsockname(fd, p, &length)
            }
        }
        guard bound == 0 else { throw NSError(domain: "PostgresServer", code: 1) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    // MARK: Stopped at exit

    private static let live = Mutex<[String: PostgresServer]>([:])
    private static let installExitHandler: Void = {
        atexit {
            for server in PostgresServer.live.withLock({ $0 }).values { server.stop() }
        }
    }()
}
