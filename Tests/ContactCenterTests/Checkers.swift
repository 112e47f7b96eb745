import Testing
@testable import ContactCenter

/// splitmix64: a tiny seeded generator so every failing run replays from its seed.
struct TestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    mutating func pick<T>(_ items: [T]) -> T? { items.isEmpty ? nil : items[below(items.count)] }
}

/// Independent re-statements of the rules, used to check the state machine.
/// They read the state only through its records, never through its indexes
/// (except `lostTasks`, whose whole point is to check the indexes).
enum Checkers {
    // MARK: Eligibility, restated

    static func requirement(_ queue: QueueConfig, stage: UInt8) -> (UInt64, UInt8) {
        var skills = queue.requiredSkills, minimum = queue.minimumProficiency
        for rule in queue.overflow.prefix(Int(stage)) {
            if case .widenSkills(let s, let m) = rule.action { skills = s; minimum = m }
        }
        return (skills, minimum)
    }

    static func mayTake(_ agent: AgentConfig, _ task: ContactTask, _ state: ContactCenterState) -> Bool {
        guard let queue = state.queueConfig(task.queue) else { return false }
        if task.callType == .clinical || task.callType == .emergency, !agent.roles.contains(.nurse) { return false }
        if queue.audience == .nurses, !agent.roles.contains(.nurse) { return false }
        if queue.audience == .supervisors, !agent.roles.contains(.supervisor) { return false }
        let (skills, minimum) = requirement(queue, stage: task.stage)
        for bit in 0..<64 where skills & (1 << UInt64(bit)) != 0 {
            guard let level = agent.skills[SkillID(UInt8(bit))], level >= minimum else { return false }
        }
        return agent.capacity[Int(task.channel.capacityClass.rawValue)] > 0
    }

    /// Smaller is served first: emergency, priority (queue's + task's), enqueue time, id.
    static func key(_ task: ContactTask, _ state: ContactCenterState) -> (Int, Int, UInt64, UInt64) {
        let priority = min(255, Int(state.queueConfig(task.queue)?.priority ?? 0) + Int(task.priority))
        return (task.callType == .emergency ? 0 : 1, -priority, task.enqueuedAt, task.id.rawValue)
    }

    // MARK: Properties

    /// No task lost: every created task is still known and sits in exactly the
    /// place its state says (a live lane entry, its agent's desk, a timer).
    static func lostTasks(_ state: ContactCenterState, created: [TaskID]) -> [String] {
        var problems: [String] = []
        var inLanes = Set<UInt64>()
        for lane in state.lanes.indices {
            for entry in state.lanes[lane].heap.items where state.isLive(entry, lane: lane) { inLanes.insert(entry.task) }
        }
        let timed = Set(state.timers.items.filter { $0.kind == .callbackDue && state.timerIsLive($0) }.map(\.task))
        let ringing = Set(state.timers.items.filter { $0.kind == .offerExpiry && state.timerIsLive($0) }.map(\.task))
        var depth: [QueueID: Int] = [:]
        for id in created {
            guard let task = state.task(id) else { problems.append("\(id) vanished"); continue }
            switch task.state {
            case .queued:
                depth[task.queue, default: 0] += 1
                if !inLanes.contains(id.rawValue) { problems.append("\(id) queued but in no lane") }
            case .offered, .accepted, .wrapUp:
                if task.agent.flatMap({ state.agent($0) })?.held.contains(id) != true { problems.append("\(id) \(task.state) but on no desk") }
                if task.state == .offered, !ringing.contains(id.rawValue) { problems.append("\(id) offered with no expiry: its agent could stay reserved") }
            case .callbackScheduled:
                if !timed.contains(id.rawValue) { problems.append("\(id) scheduled but no timer") }
            case .completed, .abandoned:
                break
            }
        }
        for queue in state.queueIDs where state.queueDepth(queue) != depth[queue, default: 0] {
            problems.append("\(queue) depth \(state.queueDepth(queue)) but \(depth[queue, default: 0]) queued")
        }
        return problems
    }

    /// No task held by two agents, and holders agree with tasks.
    static func doubleHolding(_ state: ContactCenterState) -> [String] {
        var holder: [TaskID: AgentID] = [:]
        var problems: [String] = []
        for agent in state.agentIDs {
            for id in state.agent(agent)!.held {
                if let other = holder[id] { problems.append("\(id) held by \(other) and \(agent)") }
                holder[id] = agent
                if state.task(id)?.agent != agent { problems.append("\(agent) holds \(id) but the task names \(String(describing: state.task(id)?.agent))") }
            }
        }
        return problems
    }

    /// No agent over capacity in any class.
    static func overCapacity(_ state: ContactCenterState) -> [String] {
        var problems: [String] = []
        for id in state.agentIDs {
            let agent = state.agent(id)!
            var used = [0, 0, 0, 0]
            for task in agent.held { used[Int(state.task(task)!.channel.capacityClass.rawValue)] += 1 }
            for c in 0..<4 where used[c] > Int(agent.config.capacity[c]) {
                problems.append("\(id) holds \(used[c]) in class \(c), capacity \(agent.config.capacity[c])")
            }
        }
        return problems
    }

    /// Queue order: no offer made by a command skipped a better task the same
    /// agent could take that is still waiting after the command.
    static func orderViolations(_ state: ContactCenterState, events: [ContactEvent]) -> [String] {
        var problems: [String] = []
        let queued = state.allTasks.filter { $0.state == .queued }
        for event in events {
            guard case .taskOffered(let id, let agentID, _, _) = event, let task = state.task(id),
                  let agent = state.agent(agentID)?.config else { continue }
            let offeredKey = key(task, state)
            for other in queued where other.channel.capacityClass == task.channel.capacityClass
                && mayTake(agent, other, state) && key(other, state) < offeredKey {
                problems.append("\(agentID) was offered \(id) while better \(other.id) waits")
            }
        }
        return problems
    }

    /// No agent sits ready while a task it could take waits.
    static func readyWhileWorkWaits(_ state: ContactCenterState) -> [String] {
        let queued = state.allTasks.filter { $0.state == .queued }
        var problems: [String] = []
        for id in state.agentIDs {
            let agent = state.agent(id)!
            guard agent.presence == .available, state.isSiteUp(agent.config.site) == true else { continue }
            for task in queued {
                let c = Int(task.channel.capacityClass.rawValue)
                if agent.load[c] < agent.config.capacity[c], mayTake(agent.config, task, state) {
                    problems.append("\(id) ready while \(task.id) waits")
                }
            }
        }
        return problems
    }

    /// Snapshot → restore → same hash and bytes, and the same next step.
    static func snapshotProblems(_ state: ContactCenterState, next: CommandEnvelope,
                                 restore: ([UInt8]) throws -> ContactCenterState) -> [String] {
        let bytes = state.snapshot()
        guard var restored = try? restore(bytes) else { return ["snapshot did not restore"] }
        var problems: [String] = []
        if restored.stateHash != state.stateHash { problems.append("restored hash differs") }
        var original = state
        let a = original.apply(next), b = restored.apply(next)
        if a != b { problems.append("restored state answers \(next.command) differently") }
        if original.stateHash != restored.stateHash { problems.append("hashes diverge after \(next.command)") }
        return problems
    }
}
