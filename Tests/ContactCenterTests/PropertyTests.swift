import Testing
@testable import ContactCenter

/// Random command sequences (seeded and replayable: every failure names its
/// seed) checked against the properties the issue lists.
@Suite struct PropertyTests {
    static let settings = Settings(shortAbandonMs: 5_000, kpiWindowMs: 60_000, closedTasksRetainedMax: 1_000_000)

    /// The floor every run starts from: 3 sites, 5 queues (skills with overflow,
    /// a VIP queue, nurse and supervisor queues), 24 agents with random skills.
    static func setup(_ random: inout TestRandom) -> [ContactCommand] {
        var commands: [ContactCommand] = [.configure(settings)]
        for site in 1...3 { commands.append(.addSite(SiteID(UInt32(site)))) }
        commands.append(.defineQueue(QueueConfig(id: QueueID(1), name: "general", serviceLevelSeconds: 20)))
        commands.append(.defineQueue(QueueConfig(
            id: QueueID(2), name: "skilled", requiredSkills: 0b11, minimumProficiency: 3, serviceLevelSeconds: 30,
            offerTimeoutSeconds: 8,
            overflow: [OverflowRule(afterSeconds: 20, action: .widenSkills(0b1, minimumProficiency: 1)),
                       OverflowRule(afterSeconds: 40, action: .toQueue(QueueID(1)))])))
        commands.append(.defineQueue(QueueConfig(id: QueueID(3), name: "vip", priority: 5, serviceLevelSeconds: 10)))
        commands.append(.defineQueue(QueueConfig(id: QueueID(8), name: "supervisors", audience: .supervisors)))
        commands.append(.defineQueue(QueueConfig(id: QueueID(9), name: "nurse line", audience: .nurses)))
        for raw in 1...24 {
            var roles: RoleSet = .agent
            if random.chance(30) { roles.insert(.nurse) }
            if random.chance(15) { roles.insert(.supervisor) }
            var skills: [SkillID: UInt8] = [:]
            for skill in 0..<3 where random.chance(50) { skills[SkillID(UInt8(skill))] = UInt8(1 + random.below(5)) }
            commands.append(.registerAgent(AgentConfig(
                id: AgentID(UInt64(raw)), site: SiteID(UInt32(1 + random.below(3))), roles: roles, skills: skills,
                voice: 1, chat: UInt8(random.below(4)), sms: UInt8(random.below(2)), email: UInt8(random.below(3)))))
            commands.append(.setPresence(AgentID(UInt64(raw)), .available))
        }
        return commands
    }

    /// One random command, aimed mostly at tasks and agents that exist.
    static func randomCommand(_ random: inout TestRandom, _ state: ContactCenterState, created: [TaskID]) -> ContactCommand {
        func tasks(_ states: [TaskState]) -> [ContactTask] {
            created.compactMap { state.task($0) }.filter { states.contains($0.state) }
        }
        func holderCommand(_ states: [TaskState], _ make: (TaskID, AgentID, UInt64) -> ContactCommand) -> ContactCommand? {
            guard let task = random.pick(tasks(states)) else { return nil }
            var agent = task.agent ?? AgentID(1)
            var token = task.token
            if random.chance(10) { agent = AgentID(UInt64(1 + random.below(24))) }
            if random.chance(10), token > 1 { token -= 1 }
            return make(task.id, agent, token)
        }
        let roll = random.below(100)
        let command: ContactCommand?
        switch roll {
        case 0..<24:
            let queue = [1, 2, 3, 9, 1, 2][random.below(6)]
            let channel = [Channel.voice, .voice, .chat, .sms, .email, .callback][random.below(6)]
            let type = random.chance(6) ? CallType.emergency : CallType.allCases[random.below(CallType.allCases.count)]
            command = .enqueue(NewTask(queue: QueueID(UInt32(queue)), channel: channel, callType: type,
                                       priority: UInt8(random.below(4)), patient: PatientID(UInt64(1 + random.below(20))),
                                       site: SiteID(UInt32(1 + random.below(3))),
                                       callbackAt: channel == .callback && random.chance(30) ? state.now + UInt64(random.below(60_000)) : 0))
        case 24..<40: command = holderCommand([.offered, .accepted]) { .accept($0, $1, token: $2) }
        case 40..<48: command = holderCommand([.accepted]) { .wrapUp($0, $1, token: $2) }
        case 48..<56:
            let disposition = Disposition(resolvedFirstContact: random.chance(60), followUpNeeded: random.chance(20),
                                          csat: random.chance(50) ? UInt8(1 + random.below(5)) : nil)
            command = holderCommand([.wrapUp, .accepted]) { .complete($0, $1, token: $2, disposition) }
        case 56..<58: command = holderCommand([.offered]) { .decline($0, $1, token: $2) }
        case 58..<63: command = random.pick(tasks([.queued, .offered, .callbackScheduled, .accepted])).map { .abandon($0.id) }
        case 63..<67:
            let due = random.chance(50) ? 0 : state.now + UInt64(random.below(30_000))
            command = random.pick(tasks([.queued, .offered])).map { .requestCallback($0.id, dueAt: due) }
        case 67..<69: command = holderCommand([.accepted]) { .transfer($0, $1, token: $2, to: QueueID(random.chance(50) ? 1 : 3)) }
        case 69..<71:
            let target = QueueID(random.chance(70) ? 9 : 8)
            let reason = EscalationReason.allCases[random.below(EscalationReason.allCases.count)]
            command = holderCommand([.offered, .accepted]) { .escalate($0, $1, token: $2, to: target, reason) }
        case 71..<81:
            let presence = [Presence.available, .available, .onBreak, .offline, .notReady][random.below(5)]
            command = .setPresence(AgentID(UInt64(1 + random.below(24))), presence)
        case 81..<82: command = .siteDown(SiteID(UInt32(1 + random.below(3))))
        case 82..<85: command = .siteUp(SiteID(UInt32(1 + random.below(3))))
        default: command = .tick
        }
        return command ?? .tick
    }

    struct Run {
        var harness: Harness
        var reference: KPIReference
        var created: [TaskID] = []
        var problems: [String] = []
    }

    /// Applies `count` random commands, checking after each one.
    static func run(seed: UInt64, count: Int, fullCheckEvery: Int = 20) -> Run {
        var random = TestRandom(seed: seed)
        var run = Run(harness: Harness(settings: settings), reference: KPIReference(settings: settings))
        func step(_ command: ContactCommand, advance: UInt64) -> CommandResult {
            let result = run.harness.run(command, after: advance)
            run.reference.record(run.harness.log.last!.envelope, result)
            for event in result.events { if case .taskCreated(let id, _, _, _, _, _) = event { run.created.append(id) } }
            return result
        }
        for command in setup(&random) { _ = step(command, advance: 0) }
        for index in 0..<count {
            let command = randomCommand(&random, run.harness.state, created: run.created)
            let advance = UInt64(command == .tick ? random.below(6_000) : random.below(1_500))
            if index % fullCheckEvery == 0 {
                let next = CommandEnvelope(at: run.harness.clock + advance, command)
                run.problems += Checkers.snapshotProblems(run.harness.state, next: next) { try ContactCenterState(snapshot: $0) }
            }
            let hashBefore = index % 5 == 0 ? run.harness.state.stateHash : nil
            let result = step(command, advance: advance)
            let state = run.harness.state
            if let hashBefore, !result.isApplied, state.stateHash != hashBefore {
                run.problems.append("rejected \(command) changed the state")
            }
            run.problems += Checkers.doubleHolding(state)
            run.problems += Checkers.overCapacity(state)
            run.problems += Checkers.orderViolations(state, events: result.events)
            if index % fullCheckEvery == 0 || index == count - 1 {
                run.problems += Checkers.lostTasks(state, created: run.created)
                run.problems += Checkers.readyWhileWorkWaits(state)
                run.problems += run.reference.mismatches(state)
            }
            if !run.problems.isEmpty {
                run.problems.insert("seed \(seed), command #\(index) \(command)", at: 0)
                return run
            }
        }
        return run
    }

    @Test(arguments: 1...24 as ClosedRange<UInt64>)
    func randomSequencesKeepEveryProperty(seed: UInt64) {
        let run = Self.run(seed: seed, count: 700)
        #expect(run.problems.isEmpty, "replay with PropertyTests.run(seed: \(seed), count: 700): \(run.problems.prefix(5))")
        #expect(run.created.count > 50, "seed \(seed): the workload should create tasks")
        let offers = run.harness.log.flatMap(\.result.events).filter { if case .taskOffered = $0 { return true } else { return false } }
        #expect(offers.count > 30, "seed \(seed): the workload should route")
    }

    @Test func aReplayedSeedGivesTheSameState() {
        let a = Self.run(seed: 77, count: 300), b = Self.run(seed: 77, count: 300)
        #expect(a.harness.state.stateHash == b.harness.state.stateHash)
        #expect(a.harness.log.map(\.result) == b.harness.log.map(\.result))
    }
}
