import ContactCenter
import Foundation

/// Prometheus text exposition (format 0.0.4), written by hand.
struct PrometheusText {
    private(set) var text = ""
    private var declared: Set<String> = []

    /// Declares a family once (HELP and TYPE); samples of it may follow.
    mutating func family(_ name: String, _ type: String, _ help: String) {
        guard declared.insert(name).inserted else { return }
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
        text += name + Self.labels(labels) + " " + Self.format(value) + "\n"
    }

    mutating func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = [], _ value: Double) {
        family(name, "gauge", help)
        sample(name, labels, value)
    }

    mutating func counter(_ name: String, _ help: String, _ labels: [(String, String)] = [], _ value: UInt64) {
        family(name, "counter", help)
        sample(name, labels, Double(value))
    }

    mutating func histogram(_ name: String, _ help: String, _ labels: [(String, String)], _ histogram: Histogram) {
        family(name, "histogram", help)
        var cumulative: UInt64 = 0
        for (bound, count) in zip(histogram.bounds, histogram.counts) {
            cumulative += count
            sample(name + "_bucket", labels + [("le", Self.format(bound))], Double(cumulative))
        }
        sample(name + "_bucket", labels + [("le", "+Inf")], Double(histogram.count))
        sample(name + "_sum", labels, histogram.sum)
        sample(name + "_count", labels, Double(histogram.count))
    }

    static func labels(_ labels: [(String, String)]) -> String {
        guard !labels.isEmpty else { return "" }
        return "{" + labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",") + "}"
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}

extension NodeAPI {
    static func addMetricsRoute(_ router: inout Router, _ runtime: NodeRuntime) {
        router.add("GET", "/metrics") { _, _ in
            let text = metricsText(runtime)
            return HTTPResponse(status: 200, headers: [("content-type", "text/plain; version=0.0.4; charset=utf-8")], body: Array(text.utf8))
        }
    }

    /// Everything `/metrics` shows: the cluster from this node's view and the
    /// contact center from its applied state.
    static func metricsText(_ runtime: NodeRuntime) -> String {
        let view = runtime.view
        let metrics = runtime.metrics
        var out = PrometheusText()
        let node = [("node", view.node.rawValue)]
        out.gauge("lifeline_raft_term", "Current Raft term.", node, Double(view.term))
        out.gauge("lifeline_raft_is_leader", "1 when this node is the leader.", node, view.role == "leader" ? 1 : 0)
        out.gauge("lifeline_raft_leader", "1 for the leader this node knows (label leader; none when none).",
                  node + [("leader", view.leader?.rawValue ?? "none")], 1)
        out.gauge("lifeline_raft_commit_index", "Highest log index known committed.", node, Double(view.commitIndex))
        out.gauge("lifeline_raft_applied_index", "Highest log index applied to the state.", node, Double(view.appliedIndex))
        out.gauge("lifeline_raft_last_index", "Last index in this node's log.", node, Double(view.lastIndex))
        out.gauge("lifeline_raft_snapshot_index", "Index of the latest snapshot.", node, Double(view.snapshotIndex))
        out.family("lifeline_raft_peer_reachable", "gauge", "1 when the peer link to this member is up.")
        for member in view.members where member.node != view.node {
            out.sample("lifeline_raft_peer_reachable", node + [("peer", member.node.rawValue)], member.reachable ? 1 : 0)
        }
        if view.role == "leader" {
            out.family("lifeline_raft_peer_match_index", "gauge", "Highest index the leader knows the peer stores (leader only).")
            out.family("lifeline_raft_peer_lag_entries", "gauge", "Entries the peer is behind the leader's log (leader only).")
            for member in view.members where member.node != view.node {
                guard let match = member.matchIndex else { continue }
                out.sample("lifeline_raft_peer_match_index", node + [("peer", member.node.rawValue)], Double(match))
                out.sample("lifeline_raft_peer_lag_entries", node + [("peer", member.node.rawValue)], Double(view.lastIndex - min(match, view.lastIndex)))
            }
        }
        out.counter("lifeline_raft_leader_changes_total", "Leader changes this node saw.", node, metrics.leaderChanges)
        out.counter("lifeline_raft_elections_won_total", "Times this node became leader.", node, metrics.electionsWon)
        out.counter("lifeline_snapshots_taken_total", "Snapshots this node took.", node, metrics.snapshotsTaken)
        out.counter("lifeline_snapshots_restored_total", "Snapshots this node installed from the leader.", node, metrics.snapshotsRestored)
        out.counter("lifeline_proposals_total", "Commands this node accepted as leader.", node, metrics.proposals)
        out.counter("lifeline_proposals_refused_total", "Commands refused at the leader (transfer, limits).", node, metrics.proposalsRefused)
        out.counter("lifeline_site_changes_proposed_total", "Site down/up commands this node proposed as leader.", node, metrics.siteChangesProposed)
        out.counter("lifeline_storage_batches_total", "Storage transactions (one fsync each).", node, view.persistBatches)
        out.counter("lifeline_storage_entries_total", "Log entries written to storage.", node, view.persistedEntries)
        out.histogram("lifeline_commit_latency_seconds", "From the leader accepting a command to applying it (leader only).", node, metrics.commitLatency)
        out.histogram("lifeline_storage_persist_seconds", "One storage transaction including its fsync.", node, metrics.persistLatency)
        if let summary = contactSummary(runtime) { contactMetrics(&out, summary) }
        return out.text
    }

    /// The contact-center summary from this node's applied state, or nil when the loop is busy.
    static func contactSummary(_ runtime: NodeRuntime) -> ContactSummary? {
        let box = ValueBox<ContactSummary>()
        let outcome = runtime.localRead(timeoutMs: 2_000) { machine in
            guard let machine = machine as? LifelineStateMachine else { return [] }
            box.set(ContactSummary(machine))
            return [1]
        }
        guard case .applied = outcome else { return nil }
        return box.get()
    }

    static func contactMetrics(_ out: inout PrometheusText, _ summary: ContactSummary) {
        out.gauge("lifeline_open_tasks", "Tasks not yet completed or abandoned.", [], Double(summary.openTasks))
        out.family("lifeline_site_up", "gauge", "1 when the site is up, 0 when marked down.")
        out.family("lifeline_site_drained", "gauge", "1 when the site is drained for maintenance.")
        out.family("lifeline_agents", "gauge", "Agents by site and status.")
        for site in summary.sites {
            out.sample("lifeline_site_up", [("site", site.name)], site.up ? 1 : 0)
            out.sample("lifeline_site_drained", [("site", site.name)], site.drained ? 1 : 0)
            for (status, count) in site.agentsByStatus.sorted(by: { $0.key < $1.key }) {
                out.sample("lifeline_agents", [("site", site.name), ("status", status)], Double(count))
            }
        }
        out.family("lifeline_queue_depth", "gauge", "Tasks waiting in the queue.")
        out.family("lifeline_queue_longest_wait_seconds", "gauge", "The longest current wait in the queue.")
        out.family("lifeline_queue_service_level_seconds", "gauge", "The queue's answer-within target.")
        for queue in summary.queues {
            out.sample("lifeline_queue_depth", [("queue", queue.name)], Double(queue.depth))
            out.sample("lifeline_queue_longest_wait_seconds", [("queue", queue.name)], Double(queue.longestWaitMs) / 1000)
            out.sample("lifeline_queue_service_level_seconds", [("queue", queue.name)], Double(queue.serviceLevelSeconds))
        }
        for (scope, rows) in [("queue", summary.queues.map { ($0.name, $0.kpis) }), ("site", summary.sites.map { ($0.name, $0.kpis) })] {
            kpiMetrics(&out, scope: scope, rows)
        }
    }

    /// The KPIs of the current window (Docs/kpis.md) and the totals as counters.
    static func kpiMetrics(_ out: inout PrometheusText, scope: String, _ rows: [(String, KPIReport?)]) {
        let prefix = "lifeline_\(scope)_"
        let ratios: [(String, String, (KPICounters) -> Double?)] = [
            ("speed_of_answer_seconds", "Average speed of answer in the current KPI window.", { $0.averageSpeedOfAnswerMs.map { $0 / 1000 } }),
            ("abandonment_ratio", "Abandoned / (answered + abandoned) in the current KPI window.", { $0.abandonmentRate }),
            ("service_level_ratio", "Answered within target / (answered + abandoned) in the current KPI window.", { $0.serviceLevel }),
            ("handle_seconds", "Average handle time in the current KPI window.", { $0.averageHandleMs.map { $0 / 1000 } }),
            ("first_contact_resolution_ratio", "Resolved on first contact / dispositioned in the current KPI window.", { $0.firstContactResolutionRate }),
            ("csat_average", "Average CSAT (1-5) in the current KPI window.", { $0.averageCSAT }),
        ]
        for (suffix, help, value) in ratios {
            out.family(prefix + suffix, "gauge", help)
            for (name, report) in rows {
                guard let report, let number = value(report.window) else { continue }
                out.sample(prefix + suffix, [(scope, name)], number)
            }
        }
        let totals: [(String, String, (KPICounters) -> UInt64)] = [
            ("entered_total", "Tasks that entered.", { $0.entered }), ("answered_total", "Tasks answered.", { $0.answered }),
            ("abandoned_total", "Tasks abandoned.", { $0.abandoned }), ("completed_total", "Tasks completed.", { $0.completed }),
            ("failover_drops_total", "Tasks dropped by a site failure.", { $0.failoverDrops }),
        ]
        for (suffix, help, value) in totals {
            out.family(prefix + suffix, "counter", help)
            for (name, report) in rows {
                guard let report else { continue }
                out.sample(prefix + suffix, [(scope, name)], Double(value(report.total)))
            }
        }
    }
}

/// Carries a value out of a loop query (set on the loop thread, read after).
final class ValueBox<Value>: @unchecked Sendable {
    private var value: Value?
    private let lock = NSLock()
    func set(_ newValue: Value) { lock.lock(); value = newValue; lock.unlock() }
    func get() -> Value? { lock.lock(); defer { lock.unlock() }; return value }
}
