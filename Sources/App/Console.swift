import Foundation
import Synchronization
import Sweep
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed write to the process's standard output or standard error.
///
/// A closed pipe (`EPIPE`, e.g. `sgdr-search leaderboard DB | head -1`) ends a command quietly
/// with `SweepCommands.exitBrokenPipe` (141, what a shell reports for `seq` or `yes` there); any
/// other error (`ENOSPC` for `> /dev/full`, `EIO`) ends it with one `Error:` line on stderr, where
/// stderr still works, and status 1.
public struct OutputError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Stream: String, Sendable {
        case stdout = "standard output"
        case stderr = "standard error"
    }

    public var stream: Stream
    /// The `errno` of the failed write(2).
    public var code: Int32

    public init(stream: Stream, code: Int32) {
        self.stream = stream
        self.code = code
    }

    /// The reader went away (a closed pipe or socket): not an error to report.
    public var isBrokenPipe: Bool { code == EPIPE }

    public var description: String { "cannot write to \(stream.rawValue): \(errorText(code))" }
}

/// `strerror`'s text for `code`, e.g. "No space left on device".
func errorText(_ code: Int32) -> String {
    String(cString: strerror(code))
}

/// Writes all of `bytes` to `fd` with write(2): retries after partial writes and EINTR, and waits
/// (poll) when a non-blocking descriptor answers EAGAIN. Returns nil, or the errno that stopped it.
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32? {
    guard var next = bytes.baseAddress else { return nil }
    var left = bytes.count
    while left > 0 {
        let n = write(fd, next, left)
        if n > 0 {
            next += n
            left -= n
        } else if n < 0 && errno == EINTR {
            continue
        } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            _ = poll(&p, 1, -1)
        } else {
            return n < 0 ? errno : EIO
        }
    }
    return nil
}

/// Writes `text` (UTF-8) to the process's stdout or stderr; never traps.
func writeStandard(_ text: String, to stream: OutputError.Stream) throws(OutputError) {
    let fd: Int32 = stream == .stdout ? 1 : 2
    var text = text
    let failure = text.withUTF8 { writeAll(fd, UnsafeRawBufferPointer($0)) }
    if let failure { throw OutputError(stream: stream, code: failure) }
}

/// Makes `text` safe to show on a terminal: every control character (C0, DEL and C1), which
/// could move the cursor, recolour or retitle the terminal, is shown as an escape, `\x1b` for
/// ESC, `\t`, `\r`, `\u{9b}` for C1. Line feeds are kept when `keepingNewlines` (multi-line
/// text), else shown as `\n`. The one escaping function of every message and text output: names,
/// keys, values and paths from a space file, a database or the command line pass through it.
public func escapeControlCharacters(_ text: String, keepingNewlines: Bool = true) -> String {
    func isControl(_ v: UInt32) -> Bool { v < 0x20 || (0x7F...0x9F).contains(v) }
    guard text.unicodeScalars.contains(where: { isControl($0.value) && !(keepingNewlines && $0 == "\n") }) else {
        return text
    }
    var out = String.UnicodeScalarView()
    for s in text.unicodeScalars {
        let v = s.value
        guard isControl(v), !(keepingNewlines && s == "\n") else {
            out.append(s)
            continue
        }
        let escaped: String = switch s {
        case "\n": "\\n"
        case "\r": "\\r"
        case "\t": "\\t"
        default: v < 0x80 ? "\\x" + hex2(v) : "\\u{" + String(v, radix: 16) + "}"
        }
        out.append(contentsOf: escaped.unicodeScalars)
    }
    return String(out)
}

private func hex2(_ v: UInt32) -> String {
    let h = String(v, radix: 16)
    return h.count == 1 ? "0" + h : h
}

/// Where a command writes: stdout, stderr, and whether stderr is a terminal.
///
/// Every write can fail (a full disk, a closed pipe) and throws `OutputError`; nothing traps.
/// `out` and `err` are for text read by a person: control characters in it are escaped (see
/// `escapeControlCharacters`), line feeds kept. `data` writes bytes as they are (CSV, JSON, HTML
/// a program reads), `terminal` the live progress line's own terminal codes.
public final class Console: Sendable {
    public typealias Sink = @Sendable (String) throws(OutputError) -> Void
    private let writeOut: Sink
    private let writeErr: Sink
    public let isTerminal: Bool
    private let width: @Sendable () -> Int?

    /// `width`: the terminal's columns now (nil: unknown); the live progress line is cut to it.
    public init(out: @escaping Sink, err: @escaping Sink, isTerminal: Bool, width: @escaping @Sendable () -> Int? = { nil }) {
        writeOut = out
        writeErr = err
        self.isTerminal = isTerminal
        self.width = width
    }

    /// The terminal's width in columns, read when asked (a resized window counts at once); nil
    /// when unknown (not a terminal).
    public var terminalWidth: Int? { width() }

    /// Text for a person on stdout (tables, summaries), control characters escaped.
    public func out(_ text: String) throws(OutputError) { try writeOut(escapeControlCharacters(text)) }

    /// Messages on stderr (errors, progress), control characters escaped.
    public func err(_ text: String) throws(OutputError) { try writeErr(escapeControlCharacters(text)) }

    /// Output for programs on stdout (CSV, JSON, HTML), exactly as given.
    public func data(_ text: String) throws(OutputError) { try writeOut(text) }

    /// Terminal codes on stderr (the live progress line), exactly as given: escape what it shows.
    public func terminal(_ text: String) throws(OutputError) { try writeErr(text) }

    /// `Error: <message>` as one line on stderr; a failure to write it is ignored (there is
    /// nowhere left to report it).
    public func error(_ message: String) {
        try? err("Error: " + escapeControlCharacters(message, keepingNewlines: false) + "\n")
    }

    /// The process's stdout and stderr: unbuffered write(2) calls, never a trap.
    public static let standard = Console(
        out: { s throws(OutputError) in try writeStandard(s, to: .stdout) },
        err: { s throws(OutputError) in try writeStandard(s, to: .stderr) },
        isTerminal: isatty(2) == 1,
        width: { stderrColumns() })

    /// A console that collects its output, for tests.
    public static func capturing() -> (Console, () -> (out: String, err: String)) {
        final class Captured: Sendable { let text = Mutex((out: "", err: "")) }
        let captured = Captured()
        let console = Console(out: { s in captured.text.withLock { $0.out += s } },
                              err: { s in captured.text.withLock { $0.err += s } }, isTerminal: false)
        return (console, { captured.text.withLock { $0 } })
    }

    /// Ends the process after `failure`: quietly with 141 for a closed pipe, else with one line
    /// on stderr (when it still works) and status 1. Returns the exit status.
    public func exitStatus(after failure: OutputError) -> Int32 {
        if failure.isBrokenPipe { return SweepCommands.exitBrokenPipe }
        if failure.stream == .stdout { error(failure.description) }
        return 1
    }
}

/// The columns of the terminal on stderr (TIOCGWINSZ), or nil (not a terminal, or 0 reported).
func stderrColumns() -> Int? {
    var size = winsize()
    guard ioctl(2, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
    return Int(size.ws_col)
}
