// MARK: - Command handlers
//
// Each handler validates everything first and returns a `Rejection` without
// touching the state; only then does it call `begin(at:)` and mutate.

extension ContactCenterState {
    static let timersPerTickMax = 200_000
    static let offerTimeoutSecondsMax: UInt32 = 3600

    // MARK: Configuration

    mutating func configure(_ new: Settings, at: UInt64) -> Rejection? {
        guard new.kpiWindowMs >= Settings.windowMsMin else {
            return Rejection(.invalidConfig, "kpiWindowMs \(new.kpiWindowMs) under \(Settings.windowMsMin)")
        }
        guard (1...Settings.closedTasksRetainedCeiling).contains(new.closedTasksRetainedMax) else {
            return Rejection(.invalidConfig, "closedTasksRetainedMax \(new.closedTasksRetainedMax) out of range")
        }
        begin(at: at)
        if new.kpiWindowMs != settings.kpiWindowMs {
            for slot in sites.indices { integrate(slot, to: now) }
            for slot in sites.indices { sites[slot].kpi.window = KPICounters() }
            for id in queues.keys { queues[id]!.kpi.window = KPICounters() }
            settings = new
            windowIndex = now / new.kpiWindowMs
            // The new window starts now, not at its boundary: nothing before now belongs to it.
            for slot in sites.indices { sites[slot].integratedAt = max(sites[slot].integratedAt, windowStart) }
            events.append(.kpiWindowStarted(index: windowIndex))
        }
        settings = new
        evictClosed()
        events.append(.settingsChanged)
        return nil
    }

    mutating func addSite(_ site: SiteID, at: UInt64) -> Rejection? {
        guard siteSlots[site] == nil else { return Rejection(.invalidConfig, "\(site) already exists") }
        guard sites.count < Self.sitesMax else { return Rejection(.limitReached, "sites max \(Self.sitesMax)") }
        begin(at: at)
        _ = addSiteSlot(SiteRecord(id: site, up: true, integratedAt: now))
        events.append(.siteAdded(site))
        return nil
    }

    func validate(_ config: QueueConfig) -> Rejection? {
        if config.name.utf8.count > QueueConfig.nameBytesMax { return Rejection(.invalidConfig, "\(config.id) name too long") }
        if config.channels.isEmpty { return Rejection(.invalidConfig, "\(config.id) accepts no channel") }
        if config.overflow.count > QueueConfig.overflowRulesMax { return Rejection(.invalidConfig, "\(config.id) too many overflow rules") }
        if config.serviceLevelSeconds > QueueConfig.serviceLevelSecondsMax { return Rejection(.invalidConfig, "\(config.id) service level too long") }
        if config.offerTimeoutSeconds == 0 || config.offerTimeoutSeconds > Self.offerTimeoutSecondsMax {
            return Rejection(.invalidConfig, "\(config.id) offer timeout out of range")
        }
        if config.minimumProficiency > AgentConfig.proficiencyMax { return Rejection(.invalidConfig, "\(config.id) proficiency over max") }
        var previous: UInt32 = 0
        for rule in config.overflow {
            guard rule.afterSeconds > previous else { return Rejection(.invalidConfig, "\(config.id) overflow times must increase") }
            previous = rule.afterSeconds
            if case .widenSkills(_, let minimum) = rule.action, minimum > AgentConfig.proficiencyMax {
                return Rejection(.invalidConfig, "\(config.id) overflow proficiency over max")
            }
        }
        if let hours = config.hours, hours.openMinute >= OpenHours.minutesPerDay || hours.closeMinute >= OpenHours.minutesPerDay {
            return Rejection(.invalidConfig, "\(config.id) hours out of range")
        }
        return nil
    }

    mutating func defineQueue(_ config: QueueConfig, at: UInt64) -> Rejection? {
        if let rejection = validate(config) { return rejection }
        let replacing = queues[config.id] != nil
        guard replacing || queues.count < Self.queuesMax else { return Rejection(.limitReached, "queues max \(Self.queuesMax)") }
        begin(at: at)
        if replacing {
            // Ranks, stages and lanes of its queued tasks may change: take them
            // out under the old config and put them back under the new. Rare: O(tasks).
            let waiting = tasks.values.filter { $0.queue == config.id && $0.state == .queued }.map(\.id).sorted()
            for id in waiting { leaveQueue(id) }
            queues[config.id]!.config = config
            for id in waiting {
                tasks[id]!.stage = min(tasks[id]!.stage, UInt8(config.overflow.count))
                enterQueue(id)
            }
            rebuildEligibility()
        } else {
            queues[config.id] = QueueRecord(config: config)
        }
        events.append(.queueDefined(config.id))
        return nil
    }

    mutating func registerAgent(_ config: AgentConfig, at: UInt64) -> Rejection? {
        guard let siteSlot = siteSlots[config.site] else { return Rejection(.unknownSite, "\(config.site)") }
        guard config.skills.count <= AgentConfig.skillsMax else { return Rejection(.invalidConfig, "\(config.id) too many skills") }
        for (skill, level) in config.skills {
            guard skill.rawValue < SkillID.countMax, (1...AgentConfig.proficiencyMax).contains(level) else {
                return Rejection(.invalidConfig, "\(config.id) bad skill \(skill) level \(level)")
            }
        }
        guard config.capacity.count == CapacityClass.allCases.count,
              config.capacity.allSatisfy({ $0 <= AgentConfig.capacityPerClassMax }) else {
            return Rejection(.invalidConfig, "\(config.id) capacity out of range")
        }
        let existing = agentSlots[config.id]
        if let existing, !agents[existing].held.isEmpty { return Rejection(.agentBusy, "\(config.id) holds tasks") }
        guard existing != nil || agents.count < Self.agentsMax else { return Rejection(.limitReached, "agents max \(Self.agentsMax)") }
        begin(at: at)
        let profile = profileSlot(for: config)
        if let slot = existing {
            let old = agents[slot]
            integrate(old.siteSlot, to: now)
            sites[old.siteSlot].statusCounts[Int(old.status.rawValue)] -= 1
            integrate(siteSlot, to: now)
            sites[siteSlot].statusCounts[Int(old.status.rawValue)] += 1
            agents[slot].config = config
            agents[slot].profile = profile
            agents[slot].siteSlot = siteSlot
            agents[slot].readyMask = 0
            if !sites[siteSlot].up { agents[slot].presence = .offline }
            refreshAgent(slot)
        } else {
            var record = AgentRecord(config: config, presence: .offline, idleSince: now)
            record.profile = profile
            record.siteSlot = siteSlot
            record.indexedAt = now
            integrate(siteSlot, to: now)
            sites[siteSlot].statusCounts[Int(AgentStatus.offline.rawValue)] += 1
            agentSlots[config.id] = agents.count
            agents.append(record)
        }
        events.append(.agentRegistered(config.id, config.site))
        return nil
    }

    mutating func setPresence(_ id: AgentID, _ presence: Presence, at: UInt64) -> Rejection? {
        guard let slot = agentSlots[id] else { return Rejection(.unknownAgent, "\(id)") }
        if presence == .available, !sites[agents[slot].siteSlot].up { return Rejection(.siteDown, "\(agents[slot].config.site) is down") }
        if presence == .offline, !agents[slot].held.isEmpty { return Rejection(.agentBusy, "\(id) holds tasks") }
        begin(at: at)
        if presence == .available, agents[slot].presence != .available { agents[slot].idleSince = now }
        agents[slot].presence = presence
        refreshAgent(slot)
        return nil
    }

    // MARK: Tasks

    mutating func enqueue(_ new: NewTask, at: UInt64) -> Result<TaskID, Rejection> {
        guard let queue = queues[new.queue]?.config else { return .failure(Rejection(.unknownQueue, "\(new.queue)")) }
        guard let siteSlot = siteSlots[new.site] else { return .failure(Rejection(.unknownSite, "\(new.site)")) }
        guard sites[siteSlot].up else { return .failure(Rejection(.siteDown, "\(new.site) is down")) }
        guard queue.channels.contains(new.channel) else {
            return .failure(Rejection(.channelNotAccepted, "\(new.queue) does not take \(new.channel)"))
        }
        guard new.callbackAt <= Self.timeMsMax else { return .failure(Rejection(.invalidConfig, "callback time out of range")) }
        let scheduled = new.callbackAt > at
        if scheduled, new.channel != .callback {
            return .failure(Rejection(.invalidConfig, "a scheduled task MUST be a callback"))
        }
        guard openCount < Self.openTasksMax else { return .failure(Rejection(.limitReached, "open tasks max \(Self.openTasksMax)")) }
        begin(at: at)
        let id = TaskID(nextTaskID)
        nextTaskID += 1
        let start = scheduled ? new.callbackAt : now
        tasks[id] = ContactTask(
            id: id, queue: new.queue, site: new.site, patient: new.patient, channel: new.channel,
            callType: new.callType, priority: new.priority, state: .queued, createdAt: now, enqueuedAt: start,
            waitFrom: start, queueEnteredAt: start, stage: 0, hops: 0, agent: nil, token: 0, offerExpiresAt: 0,
            acceptedAt: 0, callbackDueAt: 0, closedAt: 0, transfers: 0, escalations: [], disposition: nil,
            failedOver: false)
        queues[new.queue]!.kpi.add { $0.entered += 1 }
        sites[siteSlot].kpi.add { $0.entered += 1 }
        linkPatient(id, new.patient)
        openBySite[new.site, default: []].insert(id)
        openCount += 1
        events.append(.taskCreated(id, new.queue, new.site, new.channel, new.callType, priority: new.priority))
        if scheduled {
            schedule(id, dueAt: new.callbackAt)
        } else if let hours = queue.hours, new.callType != .emergency, !hours.isOpen(atMs: now) {
            switch queue.afterHours {
            case .callbackAtOpening:
                if new.channel == .voice { tasks[id]!.channel = .callback }
                let opening = hours.nextOpening(atMs: now)
                tasks[id]!.waitFrom = opening
                schedule(id, dueAt: opening)
            case .overflow(let target):
                if let targetQueue = queues[target], targetQueue.config.channels.contains(new.channel) {
                    tasks[id]!.queue = target
                }
                enterQueue(id)
                events.append(.taskQueued(id, tasks[id]!.queue))
            }
        } else {
            enterQueue(id)
            events.append(.taskQueued(id, new.queue))
        }
        return .success(id)
    }

    mutating func linkPatient(_ id: TaskID, _ patient: PatientID) {
        var list = patientTasks[patient] ?? []
        list.append(id)
        if list.count > Self.patientHistoryMax { list.removeFirst(list.count - Self.patientHistoryMax) }
        patientTasks[patient] = list
    }

    /// Parks a task until `dueAt` (state callbackScheduled).
    mutating func schedule(_ id: TaskID, dueAt: UInt64) {
        tasks[id]!.state = .callbackScheduled
        tasks[id]!.callbackDueAt = dueAt
        timers.push(TimerEntry(dueAt: dueAt, kind: .callbackDue, task: id.rawValue))
        events.append(.callbackScheduled(id, dueAt: dueAt))
    }

    /// Checks that `agent` holds `id` under `token` in one of `states`.
    func checkHolder(_ id: TaskID, _ agent: AgentID, _ token: UInt64, _ states: [TaskState]) -> Rejection? {
        guard let task = tasks[id] else { return Rejection(.unknownTask, "\(id)") }
        guard agentSlots[agent] != nil else { return Rejection(.unknownAgent, "\(agent)") }
        guard task.token == token else { return Rejection(.staleToken, "\(id) token \(token) is not the current \(task.token)") }
        guard task.agent == agent else { return Rejection(.notHolder, "\(agent) does not hold \(id)") }
        guard states.contains(task.state) else { return Rejection(.illegalTransition, "\(id) is \(task.state)") }
        return nil
    }

    mutating func accept(_ id: TaskID, _ agent: AgentID, _ token: UInt64, at: UInt64) -> Rejection? {
        if let rejection = checkHolder(id, agent, token, [.offered]) { return rejection }
        begin(at: at)
        let task = tasks[id]!
        let waitMs = now - min(now, task.waitFrom)
        let within = waitMs <= queues[task.queue]!.config.serviceLevelMs
        tasks[id]!.state = .accepted
        tasks[id]!.acceptedAt = now
        let change: (inout KPICounters) -> Void = {
            $0.answered += 1
            $0.answerMsSum += waitMs
            if within { $0.answeredWithinTarget += 1 }
        }
        queues[task.queue]!.kpi.add(change)
        if let site = siteSlots[task.site] { sites[site].kpi.add(change) }
        events.append(.taskAccepted(id, agent, task.queue, task.site, waitMs: waitMs, withinTarget: within))
        return nil
    }

    mutating func decline(_ id: TaskID, _ agent: AgentID, _ token: UInt64, at: UInt64) -> Rejection? {
        if let rejection = checkHolder(id, agent, token, [.offered]) { return rejection }
        begin(at: at)
        release(id)
        tasks[id]!.state = .queued
        enterQueue(id)
        let slot = agentSlots[agent]!
        agents[slot].presence = .notReady
        refreshAgent(slot)
        events.append(.offerDeclined(id, agent, token: token))
        return nil
    }

    mutating func wrapUp(_ id: TaskID, _ agent: AgentID, _ token: UInt64, at: UInt64) -> Rejection? {
        if let rejection = checkHolder(id, agent, token, [.accepted]) { return rejection }
        begin(at: at)
        tasks[id]!.state = .wrapUp
        let slot = agentSlots[agent]!
        agents[slot].active -= 1
        agents[slot].wrapping += 1
        refreshAgent(slot)
        events.append(.taskWrapUp(id, agent))
        return nil
    }

    mutating func complete(_ id: TaskID, _ agent: AgentID, _ token: UInt64, _ disposition: Disposition, at: UInt64) -> Rejection? {
        if let rejection = checkHolder(id, agent, token, [.wrapUp]) { return rejection }
        if let csat = disposition.csat, !Disposition.csatRange.contains(csat) {
            return Rejection(.invalidDisposition, "CSAT \(csat) outside \(Disposition.csatRange)")
        }
        begin(at: at)
        finish(id, disposition)
        return nil
    }

    /// Completes a task in wrap-up (disposition nil when its site was lost).
    mutating func finish(_ id: TaskID, _ disposition: Disposition?) {
        let task = tasks[id]!
        let agent = task.agent!
        let handleMs = now - min(now, task.acceptedAt)
        release(id)
        tasks[id]!.state = .completed
        tasks[id]!.disposition = disposition
        let change: (inout KPICounters) -> Void = {
            $0.completed += 1
            $0.handleMsSum += handleMs
            if let disposition {
                $0.dispositioned += 1
                if disposition.resolvedFirstContact { $0.firstContactResolved += 1 }
                if let csat = disposition.csat {
                    $0.csatSum += UInt64(csat)
                    $0.csatCount += 1
                }
            }
        }
        queues[task.queue]!.kpi.add(change)
        if let site = siteSlots[task.site] { sites[site].kpi.add(change) }
        events.append(.taskCompleted(id, agent, task.queue, task.site, handleMs: handleMs, disposition))
        close(id)
    }

    mutating func abandon(_ id: TaskID, at: UInt64) -> Rejection? {
        guard let task = tasks[id] else { return Rejection(.unknownTask, "\(id)") }
        guard [.queued, .offered, .callbackScheduled].contains(task.state) else {
            return Rejection(.illegalTransition, "\(id) is \(task.state); only a waiting task can be abandoned")
        }
        begin(at: at)
        if task.state == .offered { release(id) }
        if task.state == .queued { leaveQueue(id) }
        let waitMs = now > task.waitFrom ? now - task.waitFrom : 0
        let short = waitMs < settings.shortAbandonMs
        tasks[id]!.state = .abandoned
        let change: (inout KPICounters) -> Void = { if short { $0.shortAbandoned += 1 } else { $0.abandoned += 1 } }
        queues[task.queue]!.kpi.add(change)
        if let site = siteSlots[task.site] { sites[site].kpi.add(change) }
        events.append(.taskAbandoned(id, task.queue, task.site, waitMs: waitMs, short: short))
        close(id)
        return nil
    }

    mutating func requestCallback(_ id: TaskID, dueAt: UInt64, at: UInt64) -> Rejection? {
        guard let task = tasks[id] else { return Rejection(.unknownTask, "\(id)") }
        guard task.state == .queued || task.state == .offered else {
            return Rejection(.illegalTransition, "\(id) is \(task.state); only a waiting task can ask for a callback")
        }
        guard dueAt <= Self.timeMsMax else { return Rejection(.invalidConfig, "callback time out of range") }
        guard queues[task.queue]!.config.channels.contains(.callback) else {
            return Rejection(.channelNotAccepted, "\(task.queue) does not take callbacks")
        }
        begin(at: at)
        if task.state == .offered {
            release(id)
        } else {
            leaveQueue(id)
        }
        tasks[id]!.channel = .callback
        if dueAt > now {
            tasks[id]!.waitFrom = dueAt
            schedule(id, dueAt: dueAt)
        } else {
            // Keeps its place: enqueue time, priority and wait start unchanged.
            tasks[id]!.state = .queued
            enterQueue(id)
            events.append(.callbackScheduled(id, dueAt: now))
        }
        return nil
    }

    /// Transfer (reason nil) or escalation: the holder hands the task to another queue.
    mutating func move(_ id: TaskID, _ agent: AgentID, _ token: UInt64, to target: QueueID,
                       reason: EscalationReason?, at: UInt64) -> Rejection? {
        let states: [TaskState] = reason == nil ? [.accepted] : [.offered, .accepted]
        if let rejection = checkHolder(id, agent, token, states) { return rejection }
        guard let targetQueue = queues[target]?.config else { return Rejection(.unknownQueue, "\(target)") }
        let task = tasks[id]!
        let channel: Channel = task.channel
        guard targetQueue.channels.contains(channel) else { return Rejection(.channelNotAccepted, "\(target) does not take \(channel)") }
        if reason != nil {
            guard targetQueue.audience != .anyAgent else {
                return Rejection(.invalidConfig, "escalation MUST target a nurse or supervisor queue, \(target) is not")
            }
            guard task.escalations.count < ContactTask.escalationsMax else {
                return Rejection(.limitReached, "\(id) escalated \(ContactTask.escalationsMax) times")
            }
        }
        begin(at: at)
        release(id)
        let from = task.queue
        if let reason {
            tasks[id]!.escalations.append(Escalation(at: now, by: agent, from: from, to: target, reason: reason))
            if reason == .emergencySymptoms { tasks[id]!.callType = .emergency }
            events.append(.escalated(id, agent, from: from, to: target, reason))
        } else {
            tasks[id]!.transfers = tasks[id]!.transfers &+ 1
            events.append(.transferred(id, agent, from: from, to: target))
        }
        tasks[id]!.queue = target
        tasks[id]!.stage = 0
        tasks[id]!.queueEnteredAt = now
        tasks[id]!.waitFrom = now
        tasks[id]!.state = .queued
        enterQueue(id)
        events.append(.taskQueued(id, target))
        return nil
    }

    // MARK: Closing and retention

    mutating func close(_ id: TaskID) {
        let task = tasks[id]!
        precondition(task.state.isClosed, "close: \(id) is \(task.state)")
        tasks[id]!.closedAt = now
        openBySite[task.site]?.remove(id)
        openCount -= 1
        closedOrder.append(id)
        evictClosed()
    }

    /// Drops the oldest closed tasks beyond `closedTasksRetainedMax`.
    mutating func evictClosed() {
        while closedOrder.count - closedHead > Int(settings.closedTasksRetainedMax) {
            let id = closedOrder[closedHead]
            closedHead += 1
            if let patient = tasks[id]?.patient {
                patientTasks[patient]?.removeAll { $0 == id }
                if patientTasks[patient]?.isEmpty == true { patientTasks[patient] = nil }
            }
            tasks[id] = nil
        }
        if closedHead > 1024, closedHead * 2 > closedOrder.count {
            closedOrder.removeFirst(closedHead)
            closedHead = 0
        }
    }

    // MARK: Sites

    mutating func siteDown(_ site: SiteID, at: UInt64) -> Rejection? {
        guard let slot = siteSlots[site] else { return Rejection(.unknownSite, "\(site)") }
        guard sites[slot].up else { return Rejection(.illegalTransition, "\(site) is already down") }
        begin(at: at)
        sites[slot].up = false
        events.append(.siteWentDown(site))
        let siteAgents = agents.indices.filter { agents[$0].siteSlot == slot }.sorted { agents[$0].config.id < agents[$1].config.id }
        var affected = Set<TaskID>()
        for agent in siteAgents { affected.formUnion(agents[agent].held) }
        for id in openBySite[site] ?? [] where tasks[id]!.channel == .voice { affected.insert(id) }
        for id in affected.sorted() {
            let task = tasks[id]!
            let heldHere = task.agent.flatMap { agentSlots[$0] }.map { agents[$0].siteSlot == slot } ?? false
            if task.channel == .voice, task.site == site, [.queued, .offered, .accepted].contains(task.state) {
                // The line dropped with the site: call the patient back, first in line.
                if task.state == .queued { leaveQueue(id) } else { release(id) }
                tasks[id]!.channel = .callback
                tasks[id]!.failedOver = true
                tasks[id]!.state = .queued
                enterQueue(id)
                queues[task.queue]!.kpi.add { $0.failoverDrops += 1 }
                sites[slot].kpi.add { $0.failoverDrops += 1 }
                events.append(.failoverDrop(id, task.queue, site))
            } else if heldHere, task.state == .wrapUp {
                finish(id, nil)
            } else if heldHere, task.state == .offered || task.state == .accepted {
                release(id)
                tasks[id]!.state = .queued
                enterQueue(id)
                events.append(.taskQueued(id, task.queue))
            }
        }
        for agent in siteAgents {
            agents[agent].presence = .offline
            refreshAgent(agent)
        }
        return nil
    }

    mutating func siteUp(_ site: SiteID, at: UInt64) -> Rejection? {
        guard let slot = siteSlots[site] else { return Rejection(.unknownSite, "\(site)") }
        guard !sites[slot].up else { return Rejection(.illegalTransition, "\(site) is already up") }
        begin(at: at)
        sites[slot].up = true
        events.append(.siteCameUp(site))
        return nil
    }

    // MARK: Tick

    mutating func tick(at: UInt64) -> Rejection? {
        begin(at: at)
        var fired = 0
        while fired < Self.timersPerTickMax, let timer = timers.min, timer.dueAt <= now {
            timers.popMin()
            fired += 1
            let id = TaskID(timer.task)
            guard let task = tasks[id] else { continue }
            switch timer.kind {
            case .offerExpiry:
                guard task.state == .offered, task.offerExpiresAt == timer.dueAt, let agent = task.agent else { continue }
                let slot = agentSlots[agent]!
                release(id)
                tasks[id]!.state = .queued
                enterQueue(id)
                agents[slot].presence = .notReady
                refreshAgent(slot)
                events.append(.offerExpired(id, agent, token: task.token))
            case .overflow:
                guard task.state == .queued, overflowDue(task) == timer.dueAt else { continue }
                applyOverflow(id)
            case .callbackDue:
                guard task.state == .callbackScheduled, task.callbackDueAt == timer.dueAt else { continue }
                tasks[id]!.state = .queued
                tasks[id]!.queueEnteredAt = now
                enterQueue(id)
                events.append(.callbackDue(id))
            }
        }
        if timers.count > 4 * openCount + 1024 {
            let state = self
            timers.compact { state.timerIsLive($0) }
        }
        return nil
    }

    func timerIsLive(_ timer: TimerEntry) -> Bool {
        guard let task = tasks[TaskID(timer.task)] else { return false }
        switch timer.kind {
        case .offerExpiry: return task.state == .offered && task.offerExpiresAt == timer.dueAt
        case .overflow: return task.state == .queued && overflowDue(task) == timer.dueAt
        case .callbackDue: return task.state == .callbackScheduled && task.callbackDueAt == timer.dueAt
        }
    }

    mutating func applyOverflow(_ id: TaskID) {
        let task = tasks[id]!
        let rule = queues[task.queue]!.config.overflow[Int(task.stage)]
        leaveQueue(id)
        switch rule.action {
        case .widenSkills:
            tasks[id]!.stage += 1
        case .toQueue(let target):
            if target != task.queue, task.hops < ContactTask.overflowHopsMax,
               let targetQueue = queues[target], targetQueue.config.channels.contains(task.channel) {
                tasks[id]!.queue = target
                tasks[id]!.stage = 0
                tasks[id]!.hops += 1
                tasks[id]!.queueEnteredAt = now
            } else {
                tasks[id]!.stage += 1
            }
        }
        enterQueue(id)
        events.append(.overflowed(id, from: task.queue, to: tasks[id]!.queue, stage: tasks[id]!.stage))
    }
}
