import ContactCenter
import Foundation

/// The contact center as dashboards see it: per site and per queue, counts and
/// KPIs only (names of sites and queues, never a patient), for `/v1/cluster`
/// and `/metrics`. Label cardinality is bounded by the state's own limits
/// (64 sites, 1,024 queues, six agent statuses).
struct ContactSummary {
    struct Site {
        var name: String
        var up: Bool
        var drained: Bool
        var agentsByStatus: [String: Int]
        var kpis: KPIReport?
    }

    struct Queue {
        var name: String
        var depth: Int
        var longestWaitMs: UInt64
        var serviceLevelSeconds: UInt32
        var kpis: KPIReport?
    }

    var sites: [Site] = []
    var queues: [Queue] = []
    var openTasks = 0

    /// Everything comes from the core's KPI reports (depth, longest wait and
    /// agents by status are kept there), so this is cheap on the loop thread.
    init(_ machine: LifelineStateMachine) {
        let center = machine.center
        for (name, id) in machine.names.sites.sorted(by: { $0.key < $1.key }) {
            let report = center.kpis(site: id)
            var counts = Dictionary(uniqueKeysWithValues: ContactJSON.agentStatuses.values.map { ($0, 0) })
            for (status, count) in report?.agentsByStatus ?? [:] { counts[ContactJSON.agentStatuses[status] ?? "unknown"] = count }
            sites.append(Site(name: name, up: center.isSiteUp(id) ?? false, drained: machine.drained.contains(name),
                              agentsByStatus: counts, kpis: report))
        }
        for id in center.queueIDs {
            guard let config = center.queueConfig(id) else { continue }
            let report = center.kpis(queue: id)
            queues.append(Queue(name: machine.names.name(of: id), depth: report?.depth ?? 0, longestWaitMs: report?.longestWaitMs ?? 0,
                                serviceLevelSeconds: config.serviceLevelSeconds, kpis: report))
        }
        openTasks = center.openTaskCount
    }

    var json: [String: Any] {
        [
            "openTasks": openTasks,
            "sites": sites.map { site -> [String: Any] in
                var object: [String: Any] = ["site": site.name, "up": site.up, "drained": site.drained, "agents": site.agentsByStatus]
                if let kpis = site.kpis { object["kpis"] = ContactJSON.kpis(kpis) }
                return object
            },
            "queues": queues.map { queue -> [String: Any] in
                var object: [String: Any] = [
                    "queue": queue.name, "depth": queue.depth, "longestWaitMs": queue.longestWaitMs,
                    "serviceLevelSeconds": Int(queue.serviceLevelSeconds),
                ]
                if let kpis = queue.kpis { object["kpis"] = ContactJSON.kpis(kpis) }
                return object
            },
        ]
    }
}
