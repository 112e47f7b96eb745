// MARK: - Read accessors (for the node shell, dashboards and tests)

/// An agent as a desktop or wallboard sees it.
public struct AgentView: Hashable, Sendable {
    public var config: AgentConfig
    public var presence: Presence
    public var status: AgentStatus
    public var idleSince: UInt64
    /// Tasks offered to, accepted by, or in wrap-up with this agent.
    public var held: [TaskID]
    /// Slots in use per capacity class (offers count: they reserve the slot).
    public var load: [UInt8]
}

extension ContactCenterState {
    public var currentSettings: Settings { settings }

    public func task(_ id: TaskID) -> ContactTask? { tasks[id] }

    /// Every task still held (open and recently closed), by id.
    public var allTasks: [ContactTask] { tasks.values.sorted { $0.id < $1.id } }

    public var taskCount: Int { tasks.count }

    /// The id the next accepted enqueue will be given (ids are handed out in
    /// apply order, 1, 2, 3, ...).
    public var nextTaskNumber: UInt64 { nextTaskID }
    public var openTaskCount: Int { openCount }

    public func agent(_ id: AgentID) -> AgentView? {
        guard let slot = agentSlots[id] else { return nil }
        let record = agents[slot]
        return AgentView(config: record.config, presence: record.presence, status: record.status,
                         idleSince: record.idleSince, held: record.held.sorted(), load: record.load)
    }

    public var agentIDs: [AgentID] { agents.map(\.config.id).sorted() }

    /// The offers an agent's desktop should show now.
    public func offers(for agent: AgentID) -> [Offer] {
        guard let slot = agentSlots[agent] else { return [] }
        return agents[slot].held.sorted().compactMap { id in
            guard let task = tasks[id], task.state == .offered else { return nil }
            return Offer(task: id, agent: agent, token: task.token, expiresAt: task.offerExpiresAt,
                         history: history(of: task.patient).filter { $0 != id })
        }
    }

    /// A patient's linked interactions (task references, oldest first, at most
    /// `patientHistoryMax`). References only: no PHI lives here.
    public func history(of patient: PatientID) -> [TaskID] { patientTasks[patient] ?? [] }

    public func queueConfig(_ id: QueueID) -> QueueConfig? { queues[id]?.config }
    public var queueIDs: [QueueID] { queues.keys.sorted() }

    public func queueDepth(_ id: QueueID) -> Int { queues[id]?.depth ?? 0 }

    public var siteIDs: [SiteID] { sites.map(\.id).sorted() }
    public func isSiteUp(_ id: SiteID) -> Bool? { siteSlots[id].map { sites[$0].up } }

    /// A task's place in its queue's line (1 = next), counting tasks of the
    /// same queue ranked ahead of it. O(tasks in the queue): for dashboards,
    /// never called by `apply`.
    public func position(of id: TaskID) -> Int? {
        guard let task = tasks[id], task.state == .queued else { return nil }
        let key = (rank(task), task.enqueuedAt, id)
        var ahead = 0
        for other in tasks.values where other.queue == task.queue && other.state == .queued {
            if (rank(other), other.enqueuedAt, other.id) < key { ahead += 1 }
        }
        return ahead + 1
    }

    // MARK: KPIs

    public func kpis(queue id: QueueID) -> KPIReport? {
        guard let record = queues[id] else { return nil }
        return KPIReport(total: record.kpi.total, window: record.kpi.window, windowStart: windowStart,
                         depth: record.depth, longestWaitMs: longestWait(record.waits, queue: id, site: nil),
                         agentsByStatus: [:])
    }

    /// Site KPIs; agent time is integrated up to the state's `now`.
    public func kpis(site id: SiteID) -> KPIReport? {
        guard let slot = siteSlots[id] else { return nil }
        var copy = self
        copy.integrate(slot, to: now)
        let record = copy.sites[slot]
        var byStatus: [AgentStatus: Int] = [:]
        for status in AgentStatus.allCases { byStatus[status] = record.statusCounts[Int(status.rawValue)] }
        return KPIReport(total: record.kpi.total, window: record.kpi.window, windowStart: windowStart,
                         depth: record.depth, longestWaitMs: longestWait(record.waits, queue: nil, site: id),
                         agentsByStatus: byStatus)
    }

    /// The oldest live wait. `settle` prunes stale tops after every command,
    /// so this is O(1); the scan is only a fallback.
    func longestWait(_ heap: MinHeap<WaitEntry>, queue: QueueID?, site: SiteID?) -> UInt64 {
        var oldest: UInt64?
        if let top = heap.min, waitIsLive(top, queue: queue, site: site) {
            oldest = top.waitFrom
        } else {
            for entry in heap.items where waitIsLive(entry, queue: queue, site: site) {
                if oldest == nil || entry.waitFrom < oldest! { oldest = entry.waitFrom }
            }
        }
        guard let from = oldest, now > from else { return 0 }
        return now - from
    }
}

// MARK: - Time-based work

extension ContactCenterState {
    /// When the earliest timer (offer expiry, overflow rule, scheduled callback)
    /// falls due, if any: a `tick` stamped at or after it has work to do.
    public var nextTimerDue: UInt64? { timers.min?.dueAt }

    /// True when a command stamped `time` would start a new KPI window.
    public func startsNewWindow(at time: UInt64) -> Bool { time / settings.kpiWindowMs != windowIndex }
}
