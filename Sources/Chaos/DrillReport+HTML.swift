import Foundation

/// report.html: one self-contained page (inline CSS, inline SVG, no scripts, no external
/// resources) that an auditor can open years later, offline.
extension DrillReport {
    public func html() -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>Lifeline DR drill \(escape(drillID)): \(escape(scenario))</title>
        <style>\(Self.css)</style>
        </head>
        <body>
        <header>
        <h1>DR drill: \(escape(scenario)) <span class="badge \(passed ? "pass" : "fail")">\(passed ? "PASS" : "FAIL")</span></h1>
        <p class="lede">\(escape(scenarioDescription))</p>
        \(summaryTable())
        </header>
        <section>
        <h2>Timeline</h2>
        <p class="note">Per second: operations completed ok, errors (failed or no answer), and p99 latency. Shaded bands are faults, from the step that starts each to the step that ends it.</p>
        \(TimelineChart(report: self).svg())
        </section>
        <section>
        <h2>Recovery objectives</h2>
        \(recoveryTable())
        \(faultTable())
        \(callCenterTable())
        </section>
        <section>
        <h2>Checkers</h2>
        \(verdictTable())
        </section>
        <section>
        <h2>Evidence</h2>
        <table class="kv">
        <tr><th>History file</th><td><code>\(escape(historyFile))</code> (\(operations) operations)</td></tr>
        <tr><th>SHA-256</th><td><code>\(escape(historySHA256))</code></td></tr>
        <tr><th>Verify</th><td><code>sha256sum \(escape(historyFile))</code> must print the hash above.</td></tr>
        </table>
        <h3>Steps as executed</h3>
        \(stepsTable())
        </section>
        <footer>Lifeline \(escape(version)) · drill \(escape(drillID)) · \(escape(date)) · HIPAA §164.308(a)(7)(ii)(D) contingency plan testing</footer>
        </body>
        </html>
        """
    }

    // MARK: - Tables

    private func summaryTable() -> String {
        let latency = "\(cluster.latency.defaultMs) ms one-way (±\(cluster.latency.jitterMs) ms)"
            + cluster.latency.pairs.map { ", \($0.sites.map(\.rawValue).joined(separator: "–")) \($0.ms) ms" }.joined()
        let workload = String(
            format: "%.0f enqueues/s, %.0f reads/s, %d agents/site", cluster.workload.enqueuePerSecond,
            cluster.workload.readsPerSecond, cluster.workload.agentsPerSite
        )
        return """
            <table class="kv">
            <tr><th>Drill</th><td><code>\(escape(drillID))</code></td><th>Date</th><td>\(escape(date))</td></tr>
            <tr><th>Scenario</th><td>\(escape(scenario))</td><th>Seed</th><td><code>\(seed)</code></td></tr>
            <tr><th>Sites</th><td>\(escape(cluster.sites.map(\.rawValue).joined(separator: ", ")))</td><th>Version</th><td>\(escape(version))</td></tr>
            <tr><th>WAN</th><td>\(escape(latency))</td><th>Workload</th><td>\(escape(workload))</td></tr>
            <tr><th>Duration</th><td>\(Int(durationSeconds)) s</td><th>Operations</th><td>\(operations)</td></tr>
            </table>
            """
    }

    private func recoveryTable() -> String {
        func seconds(_ value: Double?) -> String { value.map { String(format: "%.2f s", $0) } ?? "not recovered" }
        let offerPass = recovery.rtoOfferSeconds.map { $0 <= recovery.targets.rtoSeconds } ?? false
        let writePass = recovery.rtoWriteSeconds.map { $0 <= recovery.targets.effectiveWriteRtoSeconds } ?? false
        return """
            <table class="grid">
            <tr><th>Objective</th><th>Measured</th><th>Target</th><th>Result</th></tr>
            <tr><td>RTO: fault → first task offered at a surviving site</td><td>\(seconds(recovery.rtoOfferSeconds))</td><td>≤ \(String(format: "%.0f", recovery.targets.rtoSeconds)) s</td><td>\(badge(offerPass))</td></tr>
            <tr><td>RTO: fault → writes succeeding again</td><td>\(seconds(recovery.rtoWriteSeconds))</td><td>≤ \(String(format: "%.0f", recovery.targets.effectiveWriteRtoSeconds)) s</td><td>\(badge(writePass))</td></tr>
            <tr><td>RPO: acknowledged entries lost</td><td>\(recovery.rpoEntries)</td><td>≤ \(recovery.targets.rpoEntries)</td><td>\(badge(recovery.rpoPassed))</td></tr>
            </table>
            """
    }

    private func faultTable() -> String {
        func ms(_ value: Double?) -> String { value.map { String(format: "%.2f s", $0 / 1_000) } ?? "—" }
        let rows = recovery.faults.enumerated().map { index, fault in
            let dip = index < kpi.count ? kpi[index] : nil
            let dipText = dip.map { String(format: "%.0f%% (%.1f → %.1f ok/s)", $0.dipPercent, $0.baselinePerSecond, $0.minimumPerSecond) } ?? "—"
            let back = dip?.recoveredAfterSeconds.map { String(format: "%.1f s", $0) } ?? "—"
            return "<tr><td>\(escape(fault.label))</td><td>\(String(format: "%.1f s", Double(fault.atUs) / 1_000_000))</td><td>\(ms(fault.offerRecoveryMs))</td><td>\(ms(fault.writeRecoveryMs))</td><td>\(dipText)</td><td>\(back)</td></tr>"
        }
        guard !rows.isEmpty else { return "<p class=\"note\">No faults in this drill.</p>" }
        return """
            <h3>Per fault</h3>
            <table class="grid">
            <tr><th>Fault</th><th>At</th><th>First offer at a survivor</th><th>Writes again</th><th>Throughput dip</th><th>Back to 90%</th></tr>
            \(rows.joined(separator: "\n"))
            </table>
            """
    }

    private func callCenterTable() -> String {
        guard !callCenter.isEmpty else { return "" }
        func seconds(_ ms: Double?) -> String { ms.map { String(format: "%.1f s", $0 / 1_000) } ?? "—" }
        func percent(_ rate: Double?) -> String { rate.map { String(format: "%.1f%%", $0 * 100) } ?? "—" }
        func count(_ value: Int?) -> String { value.map(String.init) ?? "—" }
        let rows = callCenter.map { impact in
            "<tr><td>\(escape(impact.label))</td><td>\(seconds(impact.speedOfAnswerBeforeMs)) → \(seconds(impact.speedOfAnswerWorstMs))</td>"
                + "<td>\(percent(impact.abandonmentBefore)) → \(percent(impact.abandonmentWorst))</td><td>\(impact.failoverDrops)</td>"
                + "<td>\(count(impact.openTasksBefore)) → \(count(impact.openTasksPeak))</td></tr>"
        }
        return """
            <h3>Callers: the call-center figures around each fault</h3>
            <p class="note">From the cluster's own KPIs (all sites, its rolling window), sampled every second: before the fault → worst until the next fault.</p>
            <table class="grid">
            <tr><th>Fault</th><th>Average speed of answer</th><th>Abandonment</th><th>Failover drops</th><th>Open tasks</th></tr>
            \(rows.joined(separator: "\n"))
            </table>
            """
    }

    private func verdictTable() -> String {
        let rows = verdicts.map { verdict in
            let badgeClass = verdict.result == .pass ? "pass" : verdict.result == .fail ? "fail" : "warn"
            let offending = verdict.offending.isEmpty ? "" : "<div class=\"ids\">\(verdict.offending.map { "<code>\(escape($0))</code>" }.joined(separator: " "))</div>"
            let details = verdict.details.isEmpty ? "" : "<ul>\(verdict.details.map { "<li>\(escape($0))</li>" }.joined())</ul>"
            return "<tr><td><strong>\(escape(verdict.checker))</strong></td><td><span class=\"badge \(badgeClass)\">\(verdict.result.rawValue.uppercased())</span></td><td>\(escape(verdict.summary))\(offending)\(details)</td></tr>"
        }
        return """
            <table class="grid">
            <tr><th>Checker</th><th>Verdict</th><th>Finding</th></tr>
            \(rows.joined(separator: "\n"))
            </table>
            """
    }

    private func stepsTable() -> String {
        let rows = events.map { event in
            "<tr><td>\(String(format: "%.1f s", Double(event.atUs) / 1_000_000))</td><td class=\"\(event.kind.rawValue)\">\(event.kind.rawValue)</td><td>\(escape(event.label))</td><td>\(escape(event.sites.map(\.rawValue).joined(separator: ", ")))</td></tr>"
        }
        return """
            <table class="grid">
            <tr><th>At</th><th>Kind</th><th>Step</th><th>Sites</th></tr>
            \(rows.joined(separator: "\n"))
            </table>
            """
    }

    private func badge(_ passed: Bool) -> String {
        "<span class=\"badge \(passed ? "pass" : "fail")\">\(passed ? "PASS" : "FAIL")</span>"
    }

    static let css = """
        body{font:14px/1.45 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1d2733;margin:0 auto;max-width:1160px;padding:24px 32px;background:#fff}
        h1{font-size:24px;margin:0 0 6px}h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid #e3e8ef;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
        .lede{color:#445;margin:0 0 14px;max-width:900px}.note{color:#5a6675;font-size:13px;margin:4px 0 10px}
        table{border-collapse:collapse;width:100%;margin:6px 0}th,td{text-align:left;padding:6px 10px;vertical-align:top}
        table.kv th{color:#5a6675;font-weight:600;width:110px;white-space:nowrap}table.kv td{border-bottom:1px solid #eef1f5}
        table.grid th{background:#f3f6fa;border-bottom:1px solid #d5dce6;font-weight:600}table.grid td{border-bottom:1px solid #eef1f5}
        code{font:12px/1.3 ui-monospace,Menlo,Consolas,monospace;background:#f3f6fa;padding:1px 4px;border-radius:3px;word-break:break-all}
        .badge{display:inline-block;font-size:12px;font-weight:700;letter-spacing:.04em;padding:2px 8px;border-radius:10px;vertical-align:middle}
        .badge.pass{background:#dff5e3;color:#17692c}.badge.fail{background:#fde2e1;color:#a4201b}.badge.warn{background:#fff1d6;color:#8a5a00}
        .ids{margin-top:4px}.ids code{margin-right:4px}ul{margin:4px 0 0 18px;padding:0;color:#445;font-size:13px}
        td.fault{color:#b5471b;font-weight:600}td.recovery{color:#17692c;font-weight:600}td.note{color:#5a6675}
        svg{display:block;width:100%;height:auto;border:1px solid #e3e8ef;border-radius:6px;background:#fcfdfe}
        footer{margin-top:32px;color:#8a94a3;font-size:12px;border-top:1px solid #eef1f5;padding-top:10px}
        """
}

/// HTML-escapes text (report contents never hold PHI, but ids and labels are still data).
func escape(_ text: String) -> String {
    var escaped = ""
    escaped.reserveCapacity(text.count)
    for character in text {
        switch character {
        case "&": escaped += "&amp;"
        case "<": escaped += "&lt;"
        case ">": escaped += "&gt;"
        case "\"": escaped += "&quot;"
        case "'": escaped += "&#39;"
        default: escaped.append(character)
        }
    }
    return escaped
}
