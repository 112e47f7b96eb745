// MARK: - Snapshot and state hash
//
// Layout (version 1): "LLCC" · version u8 · settings · clock and counters ·
// sites · queues · agents · tasks · closed order · patient histories.
// Canonical: every collection in id order, so equal states give equal bytes,
// and `stateHash` (FNV-1a 64 over these bytes) lets replicas compare
// themselves. Indexes (lanes, ready heaps, timers) are derived and rebuilt.

extension ContactCenterState {
    static let snapshotMagic: [UInt8] = Array("LLCC".utf8)
    public static let snapshotVersion: UInt8 = 1

    public func snapshot() -> [UInt8] {
        var w = WireWriter(capacity: 256 + tasks.count * 128)
        for byte in Self.snapshotMagic { w.u8(byte) }
        w.u8(Self.snapshotVersion)
        w.u64(settings.shortAbandonMs); w.u64(settings.kpiWindowMs); w.u32(settings.closedTasksRetainedMax)
        w.u64(now); w.u64(nextTaskID); w.u64(nextToken); w.u64(windowIndex)
        let siteOrder = sites.sorted { $0.id < $1.id }
        w.count(siteOrder.count)
        for site in siteOrder {
            w.u32(site.id.rawValue); w.bool(site.up); w.u64(site.integratedAt); w.kpi(site.kpi)
        }
        let queueOrder = queues.keys.sorted()
        w.count(queueOrder.count)
        for id in queueOrder {
            w.queueConfig(queues[id]!.config); w.kpi(queues[id]!.kpi)
        }
        let agentOrder = agents.sorted { $0.config.id < $1.config.id }
        w.count(agentOrder.count)
        for agent in agentOrder {
            w.agentConfig(agent.config); w.u8(agent.presence.rawValue); w.u64(agent.idleSince)
        }
        let taskOrder = tasks.keys.sorted()
        w.count(taskOrder.count)
        for id in taskOrder { w.task(tasks[id]!) }
        w.count(closedOrder.count - closedHead)
        for id in closedOrder[closedHead...] { w.u64(id.rawValue) }
        let patients = patientTasks.keys.sorted()
        w.count(patients.count)
        for patient in patients {
            let list = patientTasks[patient]!
            w.u64(patient.rawValue); w.u8(UInt8(list.count))
            for id in list { w.u64(id.rawValue) }
        }
        return w.bytes
    }

    /// A 64-bit digest of the canonical snapshot. Equal on every replica that
    /// applied the same commands.
    public var stateHash: UInt64 { FNV1a64.hash(snapshot()) }

    /// Restores what `snapshot()` wrote. Malformed or inconsistent bytes throw.
    public init(snapshot bytes: [UInt8]) throws(WireError) {
        var r = WireReader(bytes)
        for byte in Self.snapshotMagic {
            guard try r.u8() == byte else { throw WireError("not a contact-center snapshot", offset: 0) }
        }
        let version = try r.u8()
        guard version == Self.snapshotVersion else { throw WireError("unknown snapshot version \(version)", offset: 4) }
        let settings = Settings(shortAbandonMs: try r.u64(), kpiWindowMs: try r.u64(), closedTasksRetainedMax: try r.u32())
        guard settings.kpiWindowMs >= Settings.windowMsMin else { throw WireError("bad KPI window", offset: r.offset) }
        self.init(settings: settings)
        now = try r.u64(); nextTaskID = try r.u64(); nextToken = try r.u64(); windowIndex = try r.u64()
        for _ in 0..<(try r.count(limit: Self.sitesMax, elementBytesMin: 13)) {
            let id = SiteID(try r.u32())
            guard siteSlots[id] == nil else { throw WireError("duplicate \(id)", offset: r.offset) }
            var record = SiteRecord(id: id, up: try r.bool(), integratedAt: try r.u64())
            record.kpi = try r.kpi()
            _ = addSiteSlot(record)
        }
        for _ in 0..<(try r.count(limit: Self.queuesMax, elementBytesMin: 30)) {
            let config = try r.queueConfig()
            guard queues[config.id] == nil, validate(config) == nil else { throw WireError("bad or duplicate \(config.id)", offset: r.offset) }
            var record = QueueRecord(config: config)
            record.kpi = try r.kpi()
            queues[config.id] = record
        }
        for _ in 0..<(try r.count(limit: Self.agentsMax, elementBytesMin: 26)) {
            let config = try r.agentConfig()
            let presence = try r.enumValue(Presence.self)
            let idleSince = try r.u64()
            guard let site = siteSlots[config.site], agentSlots[config.id] == nil else {
                throw WireError("agent \(config.id) duplicate or at an unknown site", offset: r.offset)
            }
            var record = AgentRecord(config: config, presence: presence, idleSince: idleSince)
            record.profile = profileSlot(for: config)
            record.siteSlot = site
            record.indexedAt = idleSince
            agentSlots[config.id] = agents.count
            agents.append(record)
        }
        let taskCount = try r.count(limit: Self.openTasksMax + Int(Settings.closedTasksRetainedCeiling), elementBytesMin: 100)
        var closedCount = 0
        for _ in 0..<taskCount {
            let task = try r.task()
            try checkRestored(task, offset: r.offset)
            tasks[task.id] = task
            if task.state.isClosed { closedCount += 1 }
        }
        let orderCount = try r.count(limit: taskCount, elementBytesMin: 8)
        var seenClosed = Set<TaskID>()
        for _ in 0..<orderCount {
            let id = TaskID(try r.u64())
            guard tasks[id]?.state.isClosed == true, seenClosed.insert(id).inserted else {
                throw WireError("closed order names \(id), not a closed task", offset: r.offset)
            }
            closedOrder.append(id)
        }
        guard orderCount == closedCount else { throw WireError("closed order misses tasks", offset: r.offset) }
        for _ in 0..<(try r.count(limit: taskCount, elementBytesMin: 9)) {
            let patient = PatientID(try r.u64())
            let length = Int(try r.u8())
            guard length >= 1, length <= Self.patientHistoryMax, patientTasks[patient] == nil else {
                throw WireError("bad history for \(patient)", offset: r.offset)
            }
            var list: [TaskID] = []
            for _ in 0..<length {
                let id = TaskID(try r.u64())
                guard tasks[id]?.patient == patient else { throw WireError("history names \(id) of another patient", offset: r.offset) }
                list.append(id)
            }
            patientTasks[patient] = list
        }
        try r.expectEnd()
        try rebuildDerived()
    }

    func checkRestored(_ task: ContactTask, offset: Int) throws(WireError) {
        guard tasks[task.id] == nil, task.id.rawValue < nextTaskID else { throw WireError("bad or duplicate \(task.id)", offset: offset) }
        guard let queue = queues[task.queue], siteSlots[task.site] != nil else {
            throw WireError("\(task.id) names an unknown queue or site", offset: offset)
        }
        guard Int(task.stage) <= queue.config.overflow.count, task.token < nextToken else {
            throw WireError("\(task.id) stage or token out of range", offset: offset)
        }
        let held = [TaskState.offered, .accepted, .wrapUp].contains(task.state)
        guard held == (task.agent != nil) else { throw WireError("\(task.id) holder does not match its state", offset: offset) }
        if let agent = task.agent, agentSlots[agent] == nil { throw WireError("\(task.id) held by unknown \(agent)", offset: offset) }
    }

    /// Rebuilds every index from the canonical records (no events, no routing).
    mutating func rebuildDerived() throws(WireError) {
        for id in tasks.keys.sorted() {
            let task = tasks[id]!
            if let agent = task.agent {
                let slot = agentSlots[agent]!
                let capacityClass = Int(task.channel.capacityClass.rawValue)
                agents[slot].held.append(id)
                agents[slot].load[capacityClass] += 1
                guard agents[slot].load[capacityClass] <= agents[slot].config.capacity[capacityClass] else {
                    throw WireError("\(agent) over capacity", offset: 0)
                }
                if task.state == .wrapUp { agents[slot].wrapping += 1 } else { agents[slot].active += 1 }
            }
            switch task.state {
            case .queued: enterQueue(id)
            case .offered: timers.push(TimerEntry(dueAt: task.offerExpiresAt, kind: .offerExpiry, task: id.rawValue))
            case .callbackScheduled: timers.push(TimerEntry(dueAt: task.callbackDueAt, kind: .callbackDue, task: id.rawValue))
            default: break
            }
            if !task.state.isClosed {
                openBySite[task.site, default: []].insert(id)
                openCount += 1
            }
        }
        for slot in agents.indices {
            let status = displayStatus(agents[slot])
            agents[slot].status = status
            sites[agents[slot].siteSlot].statusCounts[Int(status.rawValue)] += 1
            refreshAgent(slot)
            agents[slot].pending = false
        }
        pendingAgents.removeAll()
        pendingTasks.removeAll()
        leftQueues.removeAll()
        events.removeAll()
    }
}

extension WireWriter {
    mutating func kpi(_ record: KPIRecord) {
        for value in record.total.fields { u64(value) }
        for value in record.window.fields { u64(value) }
    }

    mutating func task(_ t: ContactTask) {
        u64(t.id.rawValue); u32(t.queue.rawValue); u32(t.site.rawValue); u64(t.patient.rawValue)
        u8(t.channel.rawValue); u8(t.callType.rawValue); u8(t.priority); u8(t.state.rawValue)
        u64(t.createdAt); u64(t.enqueuedAt); u64(t.waitFrom); u64(t.queueEnteredAt)
        u8(t.stage); u8(t.hops)
        if let agent = t.agent { u8(1); u64(agent.rawValue) } else { u8(0) }
        u64(t.token); u64(t.offerExpiresAt); u64(t.acceptedAt); u64(t.callbackDueAt); u64(t.closedAt)
        u8(t.transfers)
        u8(UInt8(t.escalations.count))
        for e in t.escalations { u64(e.at); u64(e.by.rawValue); u32(e.from.rawValue); u32(e.to.rawValue); u8(e.reason.rawValue) }
        if let d = t.disposition { u8(1); disposition(d) } else { u8(0) }
        bool(t.failedOver)
    }
}

extension WireReader {
    mutating func kpi() throws(WireError) -> KPIRecord {
        var record = KPIRecord()
        var fields: [UInt64] = []
        for _ in 0..<KPICounters.fieldCount { fields.append(try u64()) }
        record.total = KPICounters(fields: fields)
        fields.removeAll()
        for _ in 0..<KPICounters.fieldCount { fields.append(try u64()) }
        record.window = KPICounters(fields: fields)
        return record
    }

    mutating func task() throws(WireError) -> ContactTask {
        let id = TaskID(try u64()), queue = QueueID(try u32()), site = SiteID(try u32()), patient = PatientID(try u64())
        let channel = try enumValue(Channel.self), callType = try enumValue(CallType.self)
        let priority = try u8(), state = try enumValue(TaskState.self)
        let createdAt = try u64(), enqueuedAt = try u64(), waitFrom = try u64(), queueEnteredAt = try u64()
        let stage = try u8(), hops = try u8()
        var agent: AgentID?
        switch try u8() {
        case 0: agent = nil
        case 1: agent = AgentID(try u64())
        case let flag: throw WireError("bad agent flag \(flag)", offset: offset - 1)
        }
        let token = try u64(), offerExpiresAt = try u64(), acceptedAt = try u64(), callbackDueAt = try u64(), closedAt = try u64()
        let transfers = try u8()
        let escalationCount = Int(try u8())
        guard escalationCount <= ContactTask.escalationsMax else { throw WireError("\(escalationCount) escalations", offset: offset - 1) }
        var escalations: [Escalation] = []
        for _ in 0..<escalationCount {
            escalations.append(Escalation(at: try u64(), by: AgentID(try u64()), from: QueueID(try u32()),
                                          to: QueueID(try u32()), reason: try enumValue(EscalationReason.self)))
        }
        var disposition: Disposition?
        switch try u8() {
        case 0: disposition = nil
        case 1: disposition = try self.disposition()
        case let flag: throw WireError("bad disposition flag \(flag)", offset: offset - 1)
        }
        let failedOver = try bool()
        return ContactTask(
            id: id, queue: queue, site: site, patient: patient, channel: channel, callType: callType, priority: priority,
            state: state, createdAt: createdAt, enqueuedAt: enqueuedAt, waitFrom: waitFrom, queueEnteredAt: queueEnteredAt,
            stage: stage, hops: hops, agent: agent, token: token, offerExpiresAt: offerExpiresAt, acceptedAt: acceptedAt,
            callbackDueAt: callbackDueAt, closedAt: closedAt, transfers: transfers, escalations: escalations,
            disposition: disposition, failedOver: failedOver)
    }
}
