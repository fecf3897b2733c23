import App
import Foundation
import Report
import Schedules
import Sweep

/// The live page: the report's own sections and style sheet (`renderReportSections`,
/// `reportCSS`), a table of the running trials, a status line and banner, and a small inline
/// script that polls `api/version` and, when it changed, replaces each section's HTML with the
/// one `api/sections` renders (no reload; unchanged sections are left alone). No external
/// script, style sheet or font: the page works offline.
enum DashboardPage {
    static func html(sections: SectionsAnswer?, error: String?, options: Dashboard.Options) -> String {
        let title = sections?.title ?? "sweep"
        var h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
        h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
        h += "<title>\(escapeXML("sgdr-search serve: \(title)"))</title>\n"
        h += "<style>\n\(reportCSS)\(css)</style>\n</head>\n<body>\n"
        h += "<div id=\"live\" data-version=\"\(escapeXML(sections?.version ?? ""))\" data-top=\"\(sections?.top ?? options.top)\" data-poll=\"\(Int(options.pollSeconds * 1000))\">"
        // No sections and no error: the first render is still under way (a large sweep).
        let state = sections.map { $0.finished ? "finished" : "live" } ?? (error == nil ? "loading" : "error")
        let stateText = ["finished": "Sweep finished", "live": "Live", "loading": "Reading the sweep\u{2026}"][state] ?? "Not connected"
        h += "<span id=\"state\" class=\"state \(state)\">\(stateText)</span> "
        h += "<span id=\"status-line\"></span></div>\n"
        h += "<p id=\"banner\" class=\"banner\"\(error == nil ? " hidden=\"hidden\"" : "")>\(escapeXML(error ?? ""))</p>\n"
        // The report's sections, the running trials after its summary.
        for section in ReportSection.allCases {
            let html = sections?.fragments.first { $0.section == section }?.html ?? ""
            h += "<div id=\"frag-\(section.rawValue)\" data-fragment=\"\(section.rawValue)\">\(html)</div>\n"
            if section == .summary {
                h += "<div id=\"frag-running\" data-fragment=\"running\">\(sections?.running ?? "")</div>\n"
            }
        }
        h += "<footer><p>sgdr-search serve: read-only; this page updates itself while the sweep runs. JSON API under <code>/api/</code>.</p></footer>\n"
        h += "<script>\n\(script)</script>\n</body>\n</html>\n"
        return h
    }

    /// The running trials: trial, configuration, owner (host, pid), since when, its lease's last
    /// heartbeat, epochs so far.
    static func runningTable(_ trials: [DashboardData.RunningTrial], count: Int, now: Double) -> String {
        var h = "<section id=\"running\" data-section=\"running\">\n<h2>Running trials</h2>\n"
        guard !trials.isEmpty else { return h + "<p class=\"empty\">No trial is running.</p>\n</section>\n" }
        h += "<p>\(count) trial\(count == 1 ? "" : "s") running"
        if count > trials.count { h += " (the first \(trials.count) shown)" }
        h += ". A trial on another host is not checked from here: one whose host stopped runs again once its lease runs out.</p>\n"
        h += "<div class=\"table-wrap\">\n<table class=\"running\">\n<thead><tr><th>trial</th><th>configuration</th><th>host</th>"
        h += "<th class=\"num\">pid</th><th>process</th><th class=\"num\">running for</th><th class=\"num\">last heartbeat</th><th class=\"num\">epochs</th>"
        h += "<th class=\"num\">last val_acc</th><th class=\"num\">attempt</th></tr></thead>\n<tbody>\n"
        for t in trials {
            let values = t.swept.keys.sorted().map { "\($0)=\(fmt(t.swept[$0]!))" }.joined(separator: " ")
            h += "<tr data-trial=\"\(escapeXML(t.id))\"><td><code>\(escapeXML(t.id))</code></td>"
            h += "<td>\(escapeXML(t.configuration))\(values.isEmpty ? "" : ": " + escapeXML(values))</td>"
            h += "<td>\(escapeXML(t.host ?? "?"))</td><td class=\"num\">\(t.pid.map(String.init) ?? "?")</td>"
            h += "<td>\(escapeXML(t.liveness))</td>"
            if let s = t.startedAt {
                h += "<td class=\"num age\" data-started=\"\(JSONText.number(s))\">\(escapeXML(formatDuration(max(0, now - s))))</td>"
            } else {
                h += "<td class=\"num\">\u{2013}</td>"
            }
            if let beat = t.heartbeatAt {
                h += "<td class=\"num age\" data-started=\"\(JSONText.number(beat))\" data-suffix=\" ago\">\(escapeXML(formatDuration(max(0, now - beat)))) ago</td>"
            } else {
                h += "<td class=\"num\">\u{2013}</td>"
            }
            h += "<td class=\"num\">\(t.epochs)</td><td class=\"num\">\(t.lastValAcc.map { String(format: "%.4f", $0) } ?? "\u{2013}")</td>"
            h += "<td class=\"num\">\(t.attempts)</td></tr>\n"
        }
        h += "</tbody>\n</table>\n</div>\n</section>\n"
        return h
    }

    static let css = """
        #live { position: sticky; top: 0; background: #ffffff; padding: 6px 0; border-bottom: 1px solid #dddddd; z-index: 1; font-size: 14px; }
        .state { display: inline-block; padding: 1px 8px; border-radius: 3px; font-weight: 600; color: #ffffff; background: #0072B2; }
        .state.finished { background: #009E73; }
        .state.error { background: #D55E00; }
        .state.idle, .state.loading { background: #777777; }
        .banner { background: #fde3d6; border-left: 4px solid #D55E00; padding: 6px 10px; }
        .banner[hidden] { display: none; }

        """

    /// Polls `api/version` every `data-poll` ms; on a change fetches `api/sections` and replaces
    /// the fragments whose HTML changed. A failed poll shows the banner and retries; the next
    /// good one clears it.
    static let script = """
        (function () {
          "use strict";
          var live = document.getElementById("live");
          var version = live.getAttribute("data-version");
          var top = live.getAttribute("data-top");
          var every = parseInt(live.getAttribute("data-poll"), 10) || 2000;
          var state = document.getElementById("state");
          var line = document.getElementById("status-line");
          var banner = document.getElementById("banner");
          var shown = {};
          function duration(s) {
            s = Math.max(0, Math.round(s));
            if (s < 60) return s + "s";
            if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
            return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
          }
          function setState(name, text) { state.className = "state " + name; state.textContent = text; }
          function fail(text) {
            banner.textContent = text + "; retrying every " + Math.round(every / 1000) + " s";
            banner.hidden = false;
            setState("error", "Not connected");
          }
          function getJSON(url) {
            return fetch(url, { cache: "no-store" }).then(function (r) {
              return r.json().catch(function () { return { error: "HTTP " + r.status }; }).then(function (j) {
                if (!r.ok) throw new Error(j.error || ("HTTP " + r.status));
                return j;
              });
            }, function (e) { throw new Error("server unreachable (" + e.message + ")"); });
          }
          function apply(s) {
            var parts = [{ id: "running", html: s.running }].concat(s.sections);
            parts.forEach(function (p) {
              var el = document.getElementById("frag-" + p.id);
              if (el && shown[p.id] !== p.html) { el.innerHTML = p.html; shown[p.id] = p.html; }
            });
            version = s.version;
            live.setAttribute("data-version", s.version);
          }
          function poll() {
            getJSON("api/version").then(function (v) {
              var c = v.counts, finished = c.done + c.diverged + c.failed;
              line.textContent = finished + " of " + v.trials + " trials finished, " + c.running + " running, " + c.pending + " pending"
                + (c.interrupted ? ", " + c.interrupted + " interrupted" : "") + " \\u2014 checked " + new Date(v.now * 1000).toLocaleTimeString();
              document.querySelectorAll("[data-started]").forEach(function (td) {
                td.textContent = duration(v.now - parseFloat(td.getAttribute("data-started"))) + (td.getAttribute("data-suffix") || "");
              });
              var done = function () {
                banner.hidden = true;
                if (v.finished) setState("finished", "Sweep finished");
                else if (c.running === 0) setState("idle", "Not running (stopped, or between workers)");
                else setState("live", "Live");
              };
              if (v.version === version) { done(); return; }
              return getJSON("api/sections?top=" + encodeURIComponent(top)).then(function (s) { apply(s); done(); });
            }).catch(function (e) { fail(e.message); }).then(function () { setTimeout(poll, every); });
          }
          setTimeout(poll, every > 500 ? 300 : every);
        })();

        """
}
