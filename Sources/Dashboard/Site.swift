import App
import Dispatch
import Foundation
import Hummingbird
import Report
import Sweep

/// The dashboard's routes. Read-only: every answer is computed from `DashboardData`, which opens
/// the sweep read-only; nothing is ever read from disk by path (the page and its script are
/// compiled in), so no request can reach a file.
///
/// - `GET /`: the page; `GET /api/...`: JSON (docs/DASHBOARD.md). `HEAD` as `GET` without a body.
/// - Any other method: 405 (`Allow: GET, HEAD`); a request with a body: 413; a request line
///   longer than `maxURILength`: 414; an unknown path: 404; a bad query value or an unknown
///   query parameter: 400. Every error is one JSON line `{"error": "..."}`; a sweep that cannot
///   be read is 503 with `database unavailable: ...`.
struct DashboardSite: HTTPResponder {
    typealias Context = BasicRequestContext

    let data: DashboardData
    let options: Dashboard.Options
    let cache = ReadCache()

    static let maxURILength = 2048
    static let maxLimit = 1000, maxTop = 50, maxOffset = 10_000_000

    func respond(to request: Request, context: Context) async throws -> Response {
        let response = await answer(request)
        return request.method == .head ? response.createHeadResponse() : response
    }

    func answer(_ request: Request) async -> Response {
        guard request.method == .get || request.method == .head else {
            var r = Self.error(.methodNotAllowed, "method \(request.method.rawValue) not allowed: this server only reads (GET, HEAD)")
            r.headers[.allow] = "GET, HEAD"
            return r
        }
        if let length = request.headers[.contentLength], length != "0" {
            return Self.error(.contentTooLarge, "request bodies are not accepted (Content-Length: \(length))")
        }
        if request.headers[.transferEncoding] != nil {
            return Self.error(.contentTooLarge, "request bodies are not accepted (Transfer-Encoding)")
        }
        guard request.uri.string.utf8.count <= Self.maxURILength else {
            return Self.error(.uriTooLong, "the request's URI is longer than \(Self.maxURILength) bytes")
        }
        let path = request.uri.path
        var query: [String: String] = [:]
        for (k, v) in request.uri.queryParameters {
            let key = String(k)
            if query[key] != nil { return Self.error(.badRequest, "query parameter \(key) given twice") }
            query[key] = String(v)
        }
        do {
            switch path {
            case "/", "/index.html":
                try Self.allow([], query)
                return await page()
            case "/api/version":
                try Self.allow([], query)
                let v = try await version()
                return Self.json(v.json)
            case "/api/sweep":
                try Self.allow([], query)
                return Self.json(try await read { try data.sweepJSON() })
            case "/api/sections":
                try Self.allow(["top"], query)
                let top = try Self.integer(query, "top", default: options.top, in: 0...Self.maxTop)
                return Self.json(try await sections(top: top).json)
            case "/api/leaderboard":
                try Self.allow(["offset", "limit"], query)
                let offset = try Self.integer(query, "offset", default: 0, in: 0...Self.maxOffset)
                let limit = try Self.integer(query, "limit", default: 100, in: 1...Self.maxLimit)
                return Self.json(try await read { try data.leaderboardJSON(offset: offset, limit: limit) })
            case "/api/trials/running":
                try Self.allow([], query)
                return Self.json(try await read { try data.runningJSON() })
            default:
                let parts = path.split(separator: "/", omittingEmptySubsequences: false)
                if parts.count == 5, parts[0].isEmpty, parts[1] == "api", parts[2] == "trial", parts[4] == "epochs" {
                    try Self.allow([], query)
                    let id = String(parts[3]).removingPercentEncoding ?? ""
                    guard !id.isEmpty, id.count <= 200,
                          id.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) && $0.isASCII || "._-".unicodeScalars.contains($0) }) else {
                        return Self.error(.badRequest, "bad trial id: 1 to 200 letters, digits, '.', '_' or '-' (e.g. sgdr-0003.r0)")
                    }
                    guard let text = try await read({ try data.epochsJSON(trial: id) }) else {
                        return Self.error(.notFound, "no trial \(id) in this sweep")
                    }
                    return Self.json(text)
                }
                return Self.error(.notFound, "no such path: \(path) (the page is /, the API under /api/: see docs/DASHBOARD.md)")
            }
        } catch let e as QueryProblem {
            return Self.error(.badRequest, e.message)
        } catch {
            return Self.error(.serviceUnavailable, "database unavailable: \(Self.oneLine("\(error)"))")
        }
    }

    // MARK: Reads, off the event loops, one at a time

    /// Runs a blocking read on the dashboard's one read queue (reads are serialised: many tabs
    /// or clients cost the database one reader).
    func read<T: Sendable>(on queue: DispatchQueue = ReadCache.queue, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body() })
            }
        }
    }

    /// The version the page polls: the store's, reused for half a second (many clients, one
    /// read), with a time bucket while trials run (their curves grow without changing counts):
    /// 10 s, or 5 times the last render when that is longer.
    func version() async throws -> VersionAnswer {
        let data = self.data, cache = self.cache
        // On its own queue: a poll never waits behind a render of a large sweep's sections.
        return try await read(on: ReadCache.versionQueue) {
            let now = Date().timeIntervalSince1970
            if let (answer, at) = cache.version, ProcessInfo.processInfo.systemUptime - at < 0.5 {
                return answer.with(now: now)
            }
            let v = try data.version()
            var text = v.text
            // At least 10 s, and 5 times the last render: a large sweep is not re-rendered back to back.
            let bucket = max(10, 5 * cache.renderSeconds)
            if v.counts[.running] > 0 { text += "-" + String(Int(now / bucket)) }
            let answer = VersionAnswer(version: text, finished: v.finished, counts: v.counts, total: v.total, now: now)
            cache.version = (answer, ProcessInfo.processInfo.systemUptime)
            return answer
        }
    }

    /// The report's sections and the running trials' table for the current version (rendered
    /// once per version and `top`; at most 51 entries, all of one version).
    func sections(top: Int) async throws -> SectionsAnswer {
        let v = try await version()
        let data = self.data, cache = self.cache
        return try await read {
            if let s = cache.sections[top], s.version == v.version { return s }
            let started = ProcessInfo.processInfo.systemUptime
            defer { cache.renderSeconds = ProcessInfo.processInfo.systemUptime - started }
            let input = try data.reportInput(top: top)
            let running = try data.runningTrials()
            let answer = SectionsAnswer(version: v.version, top: top, finished: v.finished,
                                        fragments: renderReportSections(input, top: top),
                                        running: DashboardPage.runningTable(running.trials, count: running.count, now: v.now),
                                        title: input.name)
            // One entry per `top` asked for, of the current version only.
            cache.sections = cache.sections.filter { $0.value.version == v.version }
            cache.sections[top] = answer
            cache.setLatest(answer)
            return answer
        }
    }

    /// The page. Its first answer must come fast on any sweep (a million trials take seconds to
    /// render): the sections of the current version when they are rendered, or rendered within
    /// `pageWait` seconds; else the last sections rendered (the script brings the new ones), or a
    /// page that says it is reading the sweep, while the render goes on.
    func page() async -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[.contentSecurityPolicy] =
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        headers[.xContentTypeOptions] = "nosniff"
        let html: String
        do {
            let top = options.top
            switch await firstWithin(Self.pageWait, { try await self.sections(top: top) }) {
            case .success(let s)?: html = DashboardPage.html(sections: s, error: nil, options: options)
            case .failure(let error)?: throw error
            // Not rendered in time: the last sections rendered, or the page that says it is reading.
            case nil: html = DashboardPage.html(sections: cache.latest(top: top), error: nil, options: options)
            }
        } catch {
            html = DashboardPage.html(sections: nil, error: "database unavailable: \(Self.oneLine("\(error)"))", options: options)
        }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    /// How long the page waits for sections not rendered yet.
    static let pageWait = 0.8

    /// `work`'s outcome if it comes within `seconds`, else nil (the work goes on: its answer
    /// fills the cache for the next request).
    func firstWithin(_ seconds: Double, _ work: @escaping @Sendable () async throws -> SectionsAnswer) async
        -> Result<SectionsAnswer, any Error>? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Result<SectionsAnswer, any Error>?, Never>) in
            let once = ResumeOnce(continuation)
            Task {
                do { once.resume(.success(try await work())) } catch { once.resume(.failure(error)) }
            }
            Task {
                try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
                once.resume(nil)
            }
        }
    }

    // MARK: Answers

    static func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[.xContentTypeOptions] = "nosniff"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text + "\n")))
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        json("{\"error\":\(JSONText.string(oneLine(message)))}", status: status)
    }

    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }

    struct QueryProblem: Error { var message: String }

    static func allow(_ names: Set<String>, _ query: [String: String]) throws(QueryProblem) {
        for key in query.keys.sorted() where !names.contains(key) {
            let allowed = names.isEmpty ? "this path takes none" : "allowed: " + names.sorted().joined(separator: ", ")
            throw QueryProblem(message: "unknown query parameter \(key) (\(allowed))")
        }
    }

    static func integer(_ query: [String: String], _ name: String, default value: Int, in range: ClosedRange<Int>) throws(QueryProblem) -> Int {
        guard let text = query[name] else { return value }
        guard let n = Int(text), range.contains(n) else {
            throw QueryProblem(message: "\(name) must be an integer in [\(range.lowerBound), \(range.upperBound)] (got \"\(text.prefix(40))\")")
        }
        return n
    }
}

struct VersionAnswer: Sendable {
    var version: String
    var finished: Bool
    var counts: TrialCounts
    var total: Int
    var now: Double

    func with(now: Double) -> VersionAnswer {
        var v = self
        v.now = now
        return v
    }

    var json: String {
        let counts = TrialStatus.allCases.map { "\(JSONText.string($0.rawValue)):\(self.counts[$0])" }.joined(separator: ",")
        return "{\"counts\":{\(counts)},\"finished\":\(finished),\"now\":\(JSONText.number(now)),\"stored\":\(self.counts.total),"
            + "\"trials\":\(total),\"version\":\(JSONText.string(version))}"
    }
}

struct SectionsAnswer: Sendable {
    var version: String
    var top: Int
    var finished: Bool
    var fragments: [ReportFragment]
    var running: String
    var title: String
    /// The answer's JSON, written once (a large sweep's sections are megabytes).
    private(set) var json = ""

    init(version: String, top: Int, finished: Bool, fragments: [ReportFragment], running: String, title: String) {
        self.version = version
        self.top = top
        self.finished = finished
        self.fragments = fragments
        self.running = running
        self.title = title
        json = jsonText
    }

    private var jsonText: String {
        let sections = fragments.map { "{\"html\":\(JSONText.string($0.html)),\"id\":\(JSONText.string($0.section.rawValue))}" }
        return "{\"finished\":\(finished),\"running\":\(JSONText.string(running)),\"sections\":[\(sections.joined(separator: ","))],"
            + "\"title\":\(JSONText.string(title)),\"top\":\(top),\"version\":\(JSONText.string(version))}"
    }
}

/// What the last reads answered (`version` touched only on `versionQueue`, `sections` only on
/// `queue`; the rest under a lock).
final class ReadCache: @unchecked Sendable {
    static let queue = DispatchQueue(label: "sgdr-search.dashboard.reads")
    var version: (VersionAnswer, Double)?
    var sections: [Int: SectionsAnswer] = [:]
    /// The version's reads (and `version`): apart from the sections' renders.
    static let versionQueue = DispatchQueue(label: "sgdr-search.dashboard.version")
    /// How long the last sections took to read and render (written by a render, read by the version).
    var renderSeconds: Double {
        get { lock.withLock { lastRender } }
        set { lock.withLock { lastRender = newValue } }
    }
    private var lastRender = 0.0

    /// The last sections rendered for each `top`, of any version (read from any thread).
    private let lock = NSLock()
    private var latestByTop: [Int: SectionsAnswer] = [:]

    func latest(top: Int) -> SectionsAnswer? { lock.withLock { latestByTop[top] } }
    func setLatest(_ answer: SectionsAnswer) { lock.withLock { latestByTop[answer.top] = answer } }
}

/// Resumes a continuation once: the first answer wins, later ones are dropped.
final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, Never>?

    init(_ continuation: CheckedContinuation<T, Never>) { self.continuation = continuation }

    func resume(_ value: T) {
        let c: CheckedContinuation<T, Never>? = lock.withLock {
            defer { continuation = nil }
            return continuation
        }
        c?.resume(returning: value)
    }
}
