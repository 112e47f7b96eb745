@testable import ContactCenter

/// Recomputes every KPI from scratch out of the command log: counters from
/// events, agent time from status intervals, gauges from the task records.
struct KPIReference {
    struct Interval { var site: SiteID; var status: AgentStatus; var from: UInt64; var to: UInt64? }

    var settings: Settings
    var now: UInt64 = 0
    var targets: [QueueID: UInt64] = [:]
    /// Every counter event with its time, kept whole so windows are recomputed.
    var counted: [(at: UInt64, queue: QueueID, site: SiteID, change: (inout KPICounters) -> Void)] = []
    var intervals: [AgentID: [Interval]] = [:]

    init(settings: Settings) { self.settings = settings }

    mutating func record(_ envelope: CommandEnvelope, _ result: CommandResult) {
        guard result.isApplied else { return }
        now = max(now, envelope.at)
        if case .defineQueue(let config) = envelope.command { targets[config.id] = UInt64(config.serviceLevelSeconds) * 1000 }
        if case .configure(let s) = envelope.command { settings = s }
        for event in result.events { record(event) }
    }

    private mutating func record(_ event: ContactEvent) {
        let at = now
        switch event {
        case .taskCreated(_, let q, let s, _, _, _):
            counted.append((at, q, s, { $0.entered += 1 }))
        case .taskAccepted(_, _, let q, let s, let wait, _):
            let within = wait <= targets[q, default: 0]
            counted.append((at, q, s, { $0.answered += 1; $0.answerMsSum += wait; if within { $0.answeredWithinTarget += 1 } }))
        case .taskAbandoned(_, let q, let s, let wait, _):
            let short = wait < settings.shortAbandonMs
            counted.append((at, q, s, { if short { $0.shortAbandoned += 1 } else { $0.abandoned += 1 } }))
        case .failoverDrop(_, let q, let s):
            counted.append((at, q, s, { $0.failoverDrops += 1 }))
        case .taskCompleted(_, _, let q, let s, let handle, let d):
            counted.append((at, q, s, {
                $0.completed += 1; $0.handleMsSum += handle
                if let d {
                    $0.dispositioned += 1
                    if d.resolvedFirstContact { $0.firstContactResolved += 1 }
                    if let csat = d.csat { $0.csatSum += UInt64(csat); $0.csatCount += 1 }
                }
            }))
        case .agentRegistered(let agent, let site):
            if var list = intervals[agent], let last = list.last, last.to == nil {
                list[list.count - 1].to = at
                list.append(Interval(site: site, status: last.status, from: at))
                intervals[agent] = list
            } else {
                intervals[agent] = [Interval(site: site, status: .offline, from: at)]
            }
        case .agentStatusChanged(let agent, let site, _, let to):
            var list = intervals[agent] ?? []
            if !list.isEmpty { list[list.count - 1].to = at }
            list.append(Interval(site: site, status: to, from: at))
            intervals[agent] = list
        default:
            break
        }
    }

    var windowStart: UInt64 { (now / settings.kpiWindowMs) * settings.kpiWindowMs }

    func counters(queue: QueueID? = nil, site: SiteID? = nil) -> (total: KPICounters, window: KPICounters) {
        var total = KPICounters(), window = KPICounters()
        for item in counted where (queue == nil || item.queue == queue!) && (site == nil || item.site == site!) {
            item.change(&total)
            if item.at >= windowStart { item.change(&window) }
        }
        guard let site else { return (total, window) }
        for list in intervals.values {
            for interval in list where interval.site == site {
                let end = interval.to ?? now
                let windowFrom = max(interval.from, windowStart)
                let totalMs = end - interval.from
                let windowMs = end > windowFrom ? end - windowFrom : 0
                switch interval.status {
                case .available: total.availableMs += totalMs; window.availableMs += windowMs
                case .busy: total.busyMs += totalMs; window.busyMs += windowMs
                case .wrapUp: total.wrapUpMs += totalMs; window.wrapUpMs += windowMs
                default: break
                }
            }
        }
        return (total, window)
    }

    /// Every difference between the state's KPI reports and this recomputation.
    func mismatches(_ state: ContactCenterState) -> [String] {
        var problems: [String] = []
        let queued = state.allTasks.filter { $0.state == .queued }
        for queue in state.queueIDs {
            let report = state.kpis(queue: queue)!
            let expected = counters(queue: queue)
            if report.total != expected.total { problems.append("\(queue) total \(report.total) vs \(expected.total)") }
            if report.window != expected.window { problems.append("\(queue) window \(report.window) vs \(expected.window)") }
            let mine = queued.filter { $0.queue == queue }
            if report.depth != mine.count { problems.append("\(queue) depth \(report.depth) vs \(mine.count)") }
            let longest = mine.map { state.now > $0.waitFrom ? state.now - $0.waitFrom : 0 }.max() ?? 0
            if report.longestWaitMs != longest { problems.append("\(queue) longest wait \(report.longestWaitMs) vs \(longest)") }
        }
        for site in state.siteIDs {
            let report = state.kpis(site: site)!
            let expected = counters(site: site)
            if report.total != expected.total { problems.append("\(site) total \(report.total) vs \(expected.total)") }
            if report.window != expected.window { problems.append("\(site) window \(report.window) vs \(expected.window)") }
            let mine = queued.filter { $0.site == site }
            if report.depth != mine.count { problems.append("\(site) depth \(report.depth) vs \(mine.count)") }
            var byStatus: [AgentStatus: Int] = [:]
            for status in AgentStatus.allCases { byStatus[status] = 0 }
            for id in state.agentIDs where state.agent(id)!.config.site == site { byStatus[state.agent(id)!.status]! += 1 }
            if report.agentsByStatus != byStatus { problems.append("\(site) agents \(report.agentsByStatus) vs \(byStatus)") }
        }
        return problems
    }
}
