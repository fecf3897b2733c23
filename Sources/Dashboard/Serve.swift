import App
import Dispatch
import Foundation
import Hummingbird
import Logging

/// `sgdr-search serve DB`: the live dashboard of a sweep, a read-only HTTP server.
public enum Dashboard {
    /// What `serve` was asked for (checked by the command: a host, a port in 0...65535, top in 0...50).
    public struct Options: Sendable {
        public var host: String
        /// 0: any free port (the one chosen is printed).
        public var port: Int
        /// SGDR configurations plotted beside the baselines, as `report --top`.
        public var top: Int
        /// Seconds between the page's polls of `/api/version`.
        public var pollSeconds: Double

        public init(host: String = "127.0.0.1", port: Int = 8080, top: Int = 5, pollSeconds: Double = 2) {
            self.host = host
            self.port = port
            self.top = top
            self.pollSeconds = pollSeconds
        }
    }

    /// Opens the sweep once (a missing or unreadable one: one `Error:` line, exit 1, as the other
    /// read commands), then serves it until SIGINT or SIGTERM (exit 0 after a graceful stop).
    /// A port that cannot be listened on is one `Error:` line and exit 1.
    public static func serve(data: DashboardData, options: Options, console: Console) -> Int32 {
        if let problem = data.check() {
            console.error(problem)
            return 1
        }
        let site = DashboardSite(data: data, options: options)
        // The first render starts now: a large sweep's page is then ready (or nearly) when asked for.
        Task { _ = try? await site.sections(top: options.top) }
        var logger = Logger(label: "sgdr-search serve")
        logger.logLevel = .critical
        let app = Application(
            responder: site,
            configuration: ApplicationConfiguration(address: .hostname(options.host, port: options.port),
                                                    serverName: "sgdr-search", reuseAddress: true,
                                                    availableConnectionsDelegate: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? options.port
                let shownHost = options.host.contains(":") ? "[\(options.host)]" : options.host
                try? console.err("Serving \(data.db) (read-only) at http://\(shownHost):\(port)/ — Ctrl-C stops it\n")
            },
            logger: logger)
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                try await app.runService()
                outcome.set(nil)
            } catch {
                outcome.set(error)
            }
            done.signal()
        }
        done.wait()
        if let error = outcome.error {
            let text = "\(error)"
            if text.contains("errno: 98") || text.contains("Address already in use") {
                console.error("cannot listen on \(options.host):\(options.port): the address is already in use (another server has that port; give another --port, or --port 0 for any free one)")
            } else if text.contains("errno: 99") || text.contains("Cannot assign requested address") {
                console.error("cannot listen on \(options.host):\(options.port): no such address on this machine (--host)")
            } else {
                console.error("cannot serve on \(options.host):\(options.port): \(text)")
            }
            return 1
        }
        try? console.err("Stopped.\n")
        return 0
    }
}

/// The server task's end, handed to the waiting thread.
final class Outcome: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: (any Error)?
    func set(_ error: (any Error)?) { lock.withLock { stored = error } }
    var error: (any Error)? { lock.withLock { stored } }
}
