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

    init(_ machine: LifelineStateMachine) {
        let center = machine.center
        var statuses: [String: [String: Int]] = [:]
        for id in center.agentIDs {
            guard let agent = center.agent(id) else { continue }
            let site = machine.names.name(of: agent.config.site)
            statuses[site, default: [:]][ContactJSON.agentStatuses[agent.status] ?? "unknown", default: 0] += 1
        }
        for (name, id) in machine.names.sites.sorted(by: { $0.key < $1.key }) {
            var counts = Dictionary(uniqueKeysWithValues: ContactJSON.agentStatuses.values.map { ($0, 0) })
            for (status, count) in statuses[name] ?? [:] { counts[status] = count }
            sites.append(Site(name: name, up: center.isSiteUp(id) ?? false, drained: machine.drained.contains(name),
                              agentsByStatus: counts, kpis: center.kpis(site: id)))
        }
        var oldestWait: [QueueID: UInt64] = [:]
        for task in center.allTasks where task.state == .queued || task.state == .offered {
            oldestWait[task.queue] = min(oldestWait[task.queue] ?? task.waitFrom, task.waitFrom)
        }
        for id in center.queueIDs {
            guard let config = center.queueConfig(id) else { continue }
            let oldest = oldestWait[id].map { center.now >= $0 ? center.now - $0 : 0 } ?? 0
            queues.append(Queue(name: machine.names.name(of: id), depth: center.queueDepth(id), longestWaitMs: oldest,
                                serviceLevelSeconds: config.serviceLevelSeconds, kpis: center.kpis(queue: id)))
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
