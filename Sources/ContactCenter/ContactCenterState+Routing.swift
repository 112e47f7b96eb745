// MARK: - Routing indexes
//
// Cost model (why no decision scans tasks or agents):
// - queued tasks live in lanes (queue × capacity class × nurse-only × overflow
//   stage), each a heap ordered emergency → priority → enqueue time → id;
// - an agent that frees a slot compares the heads of the lanes its profile may
//   serve: O(lanes of the profile · log n);
// - a task that finds no waiting agent-free moment scans the ready agents'
//   profiles at its site (then the other sites), each a heap ordered by idle
//   time: O(sites · eligible profiles · log n);
// - stale heap entries are skipped and dropped lazily; lanes compact when
//   garbage outweighs live entries.

extension ContactCenterState {
    // MARK: Ranking

    func effectivePriority(_ task: ContactTask) -> UInt8 {
        let queuePriority = queues[task.queue]?.config.priority ?? 0
        return UInt8(min(255, Int(queuePriority) + Int(task.priority)))
    }

    /// Lower ranks first: emergencies, then by priority.
    func rank(_ task: ContactTask) -> UInt32 {
        (task.callType == .emergency ? 0 : 256) + UInt32(255 - effectivePriority(task))
    }

    func laneKey(_ task: ContactTask) -> Lane.Key {
        Lane.Key(queue: task.queue, capacityClass: task.channel.capacityClass.rawValue,
                 nurseOnly: task.needsNurse, stage: task.stage)
    }

    // MARK: Profiles and lanes

    /// The score of `profile` for `lane`, or nil if its agents may not take it.
    func score(profile: Int, lane key: Lane.Key) -> Int? {
        guard let queue = queues[key.queue]?.config else { return nil }
        let requirement = queue.requirement(stage: Int(key.stage))
        var roles = queue.audience.requiredRoles
        if key.nurseOnly { roles.insert(.nurse) }
        return profiles[profile].score(skills: requirement.skills, minimum: requirement.proficiency, roles: roles)
    }

    mutating func profileSlot(for config: AgentConfig) -> Int {
        let key = Profile.key(config)
        if let slot = profileSlots[key] { return slot }
        let slot = profiles.count
        profiles.append(Profile(config))
        profileSlots[key] = slot
        profileLanes.append(lanesFor(profile: slot))
        return slot
    }

    func lanesFor(profile: Int) -> [[LaneScore]] {
        var classLanes = [[LaneScore]](repeating: [], count: CapacityClass.allCases.count)
        for lane in lanes.indices {
            guard let score = score(profile: profile, lane: lanes[lane].key) else { continue }
            classLanes[Int(lanes[lane].key.capacityClass)].append(LaneScore(lane: lane, score: UInt32(score)))
        }
        return classLanes
    }

    /// The lane for a key, created on first use. Creating one scans the agents
    /// once to index those already ready: O(agents), once per lane.
    mutating func laneSlot(for key: Lane.Key) -> Int {
        if let slot = laneSlots[key] { return slot }
        let slot = lanes.count
        var lane = Lane(key: key)
        lane.ready = [MinHeap<ReadyEntry>](repeating: MinHeap(), count: sites.count)
        lane.readyCompactAt = [Int](repeating: Self.readyCompactFloor, count: sites.count)
        lanes.append(lane)
        laneSlots[key] = slot
        var scores = [UInt32?](repeating: nil, count: profiles.count)
        for profile in profiles.indices {
            guard let score = score(profile: profile, lane: key) else { continue }
            profileLanes[profile][Int(key.capacityClass)].append(LaneScore(lane: slot, score: UInt32(score)))
            scores[profile] = UInt32(score)
        }
        let bit: UInt8 = 1 << key.capacityClass
        for agent in agents.indices where agents[agent].readyMask & bit != 0 {
            guard let score = scores[agents[agent].profile] else { continue }
            pushReady(agent, lane: slot, score: score)
        }
        return slot
    }

    static let readyCompactFloor = 64

    mutating func pushReady(_ slot: Int, lane: Int, score: UInt32) {
        let agent = agents[slot]
        let site = agent.siteSlot
        lanes[lane].ready[site].push(ReadyEntry(scoreKey: UInt32.max - score, idleSince: agent.idleSince,
                                                agent: agent.config.id.rawValue, slot: Int32(slot), profile: Int32(agent.profile)))
        if lanes[lane].ready[site].count > lanes[lane].readyCompactAt[site] {
            var seen = Set<Int32>()
            let state = self
            let capacityClass = Int(lanes[lane].key.capacityClass)
            lanes[lane].ready[site].compact {
                state.readyIsLive($0, site: site, capacityClass: capacityClass) && seen.insert($0.slot).inserted
            }
            lanes[lane].readyCompactAt[site] = 2 * lanes[lane].ready[site].count + Self.readyCompactFloor
        }
    }

    /// After a queue's requirements changed: recompute which lanes each profile
    /// serves, re-index every ready agent, and let each look again.
    mutating func rebuildEligibility() {
        for profile in profiles.indices { profileLanes[profile] = lanesFor(profile: profile) }
        for lane in lanes.indices {
            lanes[lane].ready = [MinHeap<ReadyEntry>](repeating: MinHeap(), count: sites.count)
            lanes[lane].readyCompactAt = [Int](repeating: Self.readyCompactFloor, count: sites.count)
        }
        for slot in agents.indices where agents[slot].readyMask != 0 {
            agents[slot].readyMask = 0
            refreshAgent(slot)
        }
    }

    mutating func addSiteSlot(_ record: SiteRecord) -> Int {
        let slot = sites.count
        sites.append(record)
        siteSlots[record.id] = slot
        for lane in lanes.indices {
            lanes[lane].ready.append(MinHeap())
            lanes[lane].readyCompactAt.append(Self.readyCompactFloor)
        }
        return slot
    }

    // MARK: Entering and leaving the queue

    /// Puts a task (state already `.queued`) into its lane and the wait and
    /// timer indexes; routing happens in `settle`.
    mutating func enterQueue(_ id: TaskID) {
        guard let task = tasks[id] else { preconditionFailure("enterQueue: no \(id)") }
        precondition(task.state == .queued, "enterQueue: \(id) is \(task.state)")
        let lane = laneSlot(for: laneKey(task))
        lanes[lane].heap.push(LaneEntry(rank: rank(task), enqueuedAt: task.enqueuedAt, task: id.rawValue))
        lanes[lane].live += 1
        queues[task.queue]!.depth += 1
        queues[task.queue]!.waits.push(WaitEntry(waitFrom: task.waitFrom, task: id.rawValue))
        if let site = siteSlots[task.site] {
            sites[site].depth += 1
            sites[site].waits.push(WaitEntry(waitFrom: task.waitFrom, task: id.rawValue))
        }
        if let due = overflowDue(task) {
            timers.push(TimerEntry(dueAt: due, kind: .overflow, task: id.rawValue))
        }
        pendingTasks.append(id)
        if lanes[lane].heap.count > 2 * lanes[lane].live + 64 { compactLane(lane) }
    }

    /// BEFORE a queued task changes state, lane, queue or wait start.
    mutating func leaveQueue(_ id: TaskID) {
        guard let task = tasks[id], task.state == .queued else { preconditionFailure("leaveQueue: \(id) not queued") }
        let lane = laneSlot(for: laneKey(task))
        lanes[lane].live -= 1
        queues[task.queue]!.depth -= 1
        let site = siteSlots[task.site]
        if let site { sites[site].depth -= 1 }
        leftQueues.append((task.queue, site))
    }

    /// Drops stale tops of the wait heaps touched by this command, and compacts
    /// a wait heap once garbage outweighs live entries.
    mutating func pruneWaits() {
        for (queue, site) in leftQueues {
            while let top = queues[queue]!.waits.min, !waitIsLive(top, queue: queue, site: nil) {
                queues[queue]!.waits.popMin()
            }
            if queues[queue]!.waits.count > 2 * queues[queue]!.depth + 64 {
                let state = self
                var seen = Set<UInt64>()
                queues[queue]!.waits.compact { state.waitIsLive($0, queue: queue, site: nil) && seen.insert($0.task).inserted }
            }
            guard let site else { continue }
            let id = sites[site].id
            while let top = sites[site].waits.min, !waitIsLive(top, queue: nil, site: id) {
                sites[site].waits.popMin()
            }
            if sites[site].waits.count > 2 * sites[site].depth + 64 {
                let state = self
                var seen = Set<UInt64>()
                sites[site].waits.compact { state.waitIsLive($0, queue: nil, site: id) && seen.insert($0.task).inserted }
            }
        }
        leftQueues.removeAll(keepingCapacity: true)
    }

    func overflowDue(_ task: ContactTask) -> UInt64? {
        guard let rules = queues[task.queue]?.config.overflow, Int(task.stage) < rules.count else { return nil }
        return task.queueEnteredAt + UInt64(rules[Int(task.stage)].afterSeconds) * 1000
    }

    func isLive(_ entry: LaneEntry, lane: Int) -> Bool {
        guard let task = tasks[TaskID(entry.task)], task.state == .queued else { return false }
        return task.enqueuedAt == entry.enqueuedAt && laneKey(task) == lanes[lane].key && rank(task) == entry.rank
    }

    /// The best live task of a lane, dropping stale entries on the way.
    mutating func laneHead(_ lane: Int) -> LaneEntry? {
        while let top = lanes[lane].heap.min {
            if isLive(top, lane: lane) { return top }
            lanes[lane].heap.popMin()
        }
        return nil
    }

    mutating func compactLane(_ lane: Int) {
        var seen = Set<UInt64>()
        let state = self
        lanes[lane].heap.compact { state.isLive($0, lane: lane) && seen.insert($0.task).inserted }
    }

    /// The longest-waiting live entry of a wait heap.
    func waitIsLive(_ entry: WaitEntry, queue: QueueID?, site: SiteID?) -> Bool {
        guard let task = tasks[TaskID(entry.task)], task.state == .queued, task.waitFrom == entry.waitFrom else { return false }
        if let queue, task.queue != queue { return false }
        if let site, task.site != site { return false }
        return true
    }

    // MARK: Agents

    func isReady(_ agent: AgentRecord, _ capacityClass: Int) -> Bool {
        agent.presence == .available && sites[agent.siteSlot].up
            && agent.load[capacityClass] < agent.config.capacity[capacityClass]
    }

    func displayStatus(_ agent: AgentRecord) -> AgentStatus {
        if agent.active > 0 { return .busy }
        if agent.wrapping > 0 { return .wrapUp }
        switch agent.presence {
        case .available: return .available
        case .onBreak: return .onBreak
        case .offline: return .offline
        case .notReady: return .notReady
        }
    }

    mutating func markPending(_ slot: Int) {
        guard !agents[slot].pending else { return }
        agents[slot].pending = true
        pendingAgents.append(slot)
    }

    /// AFTER any change to an agent's presence, load, idle time or site: brings
    /// its wallboard status and its ready-index entries up to date.
    mutating func refreshAgent(_ slot: Int) {
        let agent = agents[slot]
        let status = displayStatus(agent)
        if status != agent.status {
            integrate(agent.siteSlot, to: now)
            sites[agent.siteSlot].statusCounts[Int(agent.status.rawValue)] -= 1
            sites[agent.siteSlot].statusCounts[Int(status.rawValue)] += 1
            agents[slot].status = status
            events.append(.agentStatusChanged(agent.config.id, agent.config.site, from: agent.status, to: status))
        }
        var mask: UInt8 = 0
        for c in 0..<CapacityClass.allCases.count where isReady(agent, c) { mask |= 1 << UInt8(c) }
        let old = agent.readyMask
        let push = agent.indexedAt != agent.idleSince ? mask : mask & ~old
        agents[slot].readyMask = mask
        agents[slot].indexedAt = agent.idleSince
        if push != 0 {
            for c in 0..<CapacityClass.allCases.count where push & (1 << UInt8(c)) != 0 {
                for entry in profileLanes[agent.profile][c] { pushReady(slot, lane: entry.lane, score: entry.score) }
            }
        }
        if mask & ~old != 0 { markPending(slot) }
    }

    func readyIsLive(_ entry: ReadyEntry, site: Int, capacityClass: Int) -> Bool {
        let slot = Int(entry.slot)
        guard slot < agents.count else { return false }
        let agent = agents[slot]
        return agent.config.id.rawValue == entry.agent && agent.siteSlot == site && agent.profile == Int(entry.profile)
            && agent.readyMask & (1 << UInt8(capacityClass)) != 0 && agent.indexedAt == entry.idleSince
    }

    /// The best ready agent of a lane at a site, dropping stale entries.
    mutating func readyHead(lane: Int, site: Int) -> ReadyEntry? {
        let capacityClass = Int(lanes[lane].key.capacityClass)
        while let top = lanes[lane].ready[site].min {
            if readyIsLive(top, site: site, capacityClass: capacityClass) { return top }
            lanes[lane].ready[site].popMin()
        }
        return nil
    }

    // MARK: Decisions

    /// The agent for a queued task: the task's own site first, then any up
    /// site; within that, best proficiency score, then longest idle.
    /// O(sites · log n): one heap head per site.
    mutating func bestAgent(for id: TaskID) -> Int? {
        guard let task = tasks[id] else { return nil }
        let lane = laneSlot(for: laneKey(task))
        if let own = siteSlots[task.site], sites[own].up, let found = readyHead(lane: lane, site: own) {
            return Int(found.slot)
        }
        var best: ReadyEntry?
        for site in sites.indices where sites[site].up && sites[site].id != task.site {
            guard let found = readyHead(lane: lane, site: site) else { continue }
            if best == nil || found < best! { best = found }
        }
        return best.map { Int($0.slot) }
    }

    /// The best queued task an agent's profile may take in a capacity class.
    mutating func bestTask(agent slot: Int, capacityClass: Int) -> (lane: Int, entry: LaneEntry)? {
        var best: (lane: Int, entry: LaneEntry)?
        for entry in profileLanes[agents[slot].profile][capacityClass] {
            guard let head = laneHead(entry.lane) else { continue }
            if best == nil || head < best!.entry { best = (entry.lane, head) }
        }
        return best
    }

    // MARK: Offers

    mutating func offer(_ id: TaskID, to slot: Int) {
        guard let queue = tasks[id].flatMap({ queues[$0.queue] }) else { preconditionFailure("offer: \(id) has no queue") }
        leaveQueue(id)
        let token = nextToken
        nextToken += 1
        let expiresAt = now + queue.config.offerTimeoutMs
        let agentID = agents[slot].config.id
        tasks[id]!.state = .offered
        tasks[id]!.agent = agentID
        tasks[id]!.token = token
        tasks[id]!.offerExpiresAt = expiresAt
        let task = tasks[id]!
        let capacityClass = Int(task.channel.capacityClass.rawValue)
        precondition(agents[slot].load[capacityClass] < agents[slot].config.capacity[capacityClass],
                     "offer: \(agentID) over capacity in class \(capacityClass)")
        agents[slot].held.append(id)
        agents[slot].load[capacityClass] += 1
        agents[slot].active += 1
        timers.push(TimerEntry(dueAt: expiresAt, kind: .offerExpiry, task: id.rawValue))
        events.append(.taskOffered(id, agentID, token: token, expiresAt: expiresAt))
        let history = (patientTasks[task.patient] ?? []).filter { $0 != id }
        offers.append(Offer(task: id, agent: agentID, token: token, expiresAt: expiresAt, history: history))
        refreshAgent(slot)
        let lane = laneSlot(for: laneKey(task))
        _ = laneHead(lane)
    }

    /// Takes a held task off its agent's desk (the task's new state is set by
    /// the caller AFTER this).
    mutating func release(_ id: TaskID) {
        guard let task = tasks[id], let agentID = task.agent, let slot = agentSlots[agentID] else {
            preconditionFailure("release: \(id) is not held")
        }
        let capacityClass = Int(task.channel.capacityClass.rawValue)
        guard let position = agents[slot].held.firstIndex(of: id) else {
            preconditionFailure("release: \(agentID) does not hold \(id)")
        }
        agents[slot].held.remove(at: position)
        agents[slot].load[capacityClass] -= 1
        if task.state == .wrapUp { agents[slot].wrapping -= 1 } else { agents[slot].active -= 1 }
        if agents[slot].held.isEmpty { agents[slot].idleSince = now }
        tasks[id]!.agent = nil
        refreshAgent(slot)
    }

    /// Routes everything this command freed or queued: first the agents that
    /// gained a slot take the best waiting tasks, then newly queued tasks, best
    /// first, look for a ready agent. That order keeps the invariant "a ready
    /// agent has no eligible queued task" (so a queue is always served in order).
    mutating func settle() {
        var rounds = 0
        while !pendingAgents.isEmpty || !pendingTasks.isEmpty {
            rounds += 1
            precondition(rounds <= 4, "settle did not converge: \(pendingAgents.count) agents, \(pendingTasks.count) tasks")
            // Longest idle first, then agent id: an order that does not depend
            // on where agents sit in memory (a restored replica must agree).
            let agentSlotsToRun = pendingAgents.sorted {
                (agents[$0].idleSince, agents[$0].config.id) < (agents[$1].idleSince, agents[$1].config.id)
            }
            pendingAgents.removeAll(keepingCapacity: true)
            for slot in agentSlotsToRun {
                agents[slot].pending = false
                dispatch(slot)
            }
            var queued = pendingTasks.compactMap { id -> (LaneEntry, TaskID)? in
                guard let task = tasks[id], task.state == .queued else { return nil }
                return (LaneEntry(rank: rank(task), enqueuedAt: task.enqueuedAt, task: id.rawValue), id)
            }
            pendingTasks.removeAll(keepingCapacity: true)
            queued.sort { $0.0 < $1.0 }
            var previous: TaskID?
            for (_, id) in queued where id != previous {
                previous = id
                guard tasks[id]?.state == .queued, let slot = bestAgent(for: id) else { continue }
                offer(id, to: slot)
            }
        }
        pruneWaits()
    }

    /// An agent with free slots takes the best eligible waiting tasks.
    mutating func dispatch(_ slot: Int) {
        for capacityClass in 0..<CapacityClass.allCases.count {
            var guardCount = 0
            while isReady(agents[slot], capacityClass), let (_, entry) = bestTask(agent: slot, capacityClass: capacityClass) {
                guardCount += 1
                precondition(guardCount <= Int(AgentConfig.capacityPerClassMax), "dispatch loop for slot \(slot)")
                offer(TaskID(entry.task), to: slot)
            }
        }
    }
}
