import App
import ArgumentParser
import Foundation
import Sweep

@main
struct SGDRSearch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sgdr-search",
        abstract: "Find good SGDR learning-rate schedules by running many short, real training runs.",
        subcommands: [Run.self, Resume.self, LeaderboardCommand.self, Best.self, Status.self, ReportCommand.self,
                      Serve.self, Schedule.self, Train.self, Trial.self, Bench.self],
        defaultSubcommand: Run.self)

    /// Parses and runs a subcommand, and ends the process with its status. Every byte goes
    /// through `Console.standard` (write(2), never a trap): SIGPIPE is ignored, so a closed pipe
    /// is a write error like any other, ended quietly with 141; any other failed write ends the
    /// command with one line on stderr (when it still works) and status 1. ArgumentParser's own
    /// errors become one `Error:` line too; its help goes to stdout.
    static func main() {
        signal(SIGPIPE, SIG_IGN)
        // A closed stdin, stdout or stderr (`>&-`) gets /dev/null opened read-only in its place:
        // writes to it fail (EBADF, one error line and status 1) as before, and no file this
        // process opens later (an output file) can take descriptor 1 or 2 and receive messages.
        for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) == -1 && errno == EBADF {
            _ = open("/dev/null", O_RDONLY)
        }
        let console = Console.standard
        do {
            var command = try parseAsRoot()
            try command.run()
            Foundation.exit(0)
        } catch let failure as OutputError {
            Foundation.exit(console.exitStatus(after: failure))
        } catch let code as ExitCode {
            // The command printed its message already.
            Foundation.exit(code.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                // --help, --version: the text on stdout.
                do { try console.data(fullMessage(for: error) + "\n") } catch { Foundation.exit(console.exitStatus(after: error)) }
                Foundation.exit(0)
            }
            console.error(oneLine(error))
            Foundation.exit(code.rawValue)
        }
    }

    /// ArgumentParser's message for `error` as one line: its first line, and where to find help
    /// (`see 'sgdr-search run --help'`) when it names a command.
    static func oneLine(_ error: any Error) -> String {
        let full = fullMessage(for: error)
        var lines = full.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if lines.first?.hasPrefix("Error: ") == true { lines[0].removeFirst("Error: ".count) }
        guard let first = lines.first else { return "invalid arguments; see 'sgdr-search --help'" }
        let help = lines.last.flatMap { $0.firstMatch(of: /See '([^']+)'/).map { String($0.1) } } ?? "sgdr-search --help"
        return "\(first) (see '\(help)')"
    }
}
