import Testing
@testable import ContactCenter

/// Each property checker, fed a state with one rule broken, reports it. A
/// checker that cannot fail proves nothing.
@Suite struct CheckerSensitivityTests {
    static func busyRun() -> PropertyTests.Run {
        let run = PropertyTests.run(seed: 5, count: 250)
        precondition(run.problems.isEmpty, "seed 5 should be clean: \(run.problems)")
        return run
    }

    static func slot(_ state: ContactCenterState, _ agent: AgentID) -> Int { state.agentSlots[agent]! }

    @Test func lostTaskCheckerCatchesATaskMissingFromItsLane() {
        let run = Self.busyRun()
        var state = run.harness.state
        #expect(Checkers.lostTasks(state, created: run.created).isEmpty)
        guard let queued = state.allTasks.first(where: { $0.state == .queued }) else {
            Issue.record("no queued task to hide")
            return
        }
        let lane = state.laneSlots[state.laneKey(queued)]!
        state.lanes[lane].heap = MinHeap()
        #expect(Checkers.lostTasks(state, created: run.created).contains { $0.contains("\(queued.id) queued but in no lane") })
    }

    @Test func lostTaskCheckerCatchesAHeldTaskOffItsDesk() {
        let run = Self.busyRun()
        var state = run.harness.state
        guard let held = state.allTasks.first(where: { $0.agent != nil }) else {
            Issue.record("no held task")
            return
        }
        state.agents[Self.slot(state, held.agent!)].held.removeAll { $0 == held.id }
        #expect(!Checkers.lostTasks(state, created: run.created).isEmpty)
        var vanished = run.harness.state
        vanished.tasks[run.created[0]] = nil
        #expect(Checkers.lostTasks(vanished, created: run.created).contains("\(run.created[0]) vanished"))
    }

    @Test func lostTaskCheckerCatchesAnOfferThatCanNeverRingOut() {
        var h = Harness.basic()
        h.agent(1)
        let task = h.enqueue()
        #expect(h.task(task).state == .offered)
        #expect(Checkers.lostTasks(h.state, created: [task]).isEmpty)
        var broken = h.state
        broken.timers = MinHeap()
        #expect(Checkers.lostTasks(broken, created: [task]).contains { $0.contains("could stay reserved") })
    }

    @Test func doubleHoldingCheckerCatchesATaskOnTwoDesks() {
        let run = Self.busyRun()
        var state = run.harness.state
        #expect(Checkers.doubleHolding(state).isEmpty)
        guard let held = state.allTasks.first(where: { $0.agent != nil }) else {
            Issue.record("no held task")
            return
        }
        let other = state.agentIDs.first { $0 != held.agent! }!
        state.agents[Self.slot(state, other)].held.append(held.id)
        #expect(Checkers.doubleHolding(state).contains { $0.contains("held by") })
    }

    @Test func capacityCheckerCatchesAnOverfullDesk() {
        let run = Self.busyRun()
        var state = run.harness.state
        #expect(Checkers.overCapacity(state).isEmpty)
        guard let held = state.allTasks.first(where: { $0.agent != nil }) else {
            Issue.record("no held task")
            return
        }
        state.agents[Self.slot(state, held.agent!)].config.capacity = [0, 0, 0, 0]
        #expect(!Checkers.overCapacity(state).isEmpty)
    }

    @Test func orderCheckerCatchesAnOfferThatSkipsABetterTask() {
        var h = Harness.basic()
        h.agent(1, login: false)
        let routine = h.enqueue(priority: 0, after: 1)
        let urgent = h.enqueue(priority: 9, after: 1)
        // A broken router would have offered the older, lower-priority task:
        var broken = h.state
        broken.offer(routine, to: Self.slot(broken, AgentID(1)))
        broken.pendingTasks.removeAll()
        broken.events.removeAll()
        let skipped = Checkers.orderViolations(broken, events: [.taskOffered(routine, AgentID(1), token: 1, expiresAt: 0)])
        #expect(skipped == ["agent-1 was offered \(routine) while better \(urgent) waits"])
        let result = h.must(.setPresence(AgentID(1), .available))
        #expect(Checkers.orderViolations(h.state, events: result.events).isEmpty)
        #expect(h.holder(urgent) == AgentID(1))
    }

    @Test func readinessCheckerCatchesAnIdleAgentBesideWaitingWork() {
        var h = Harness.basic()
        h.agent(1, login: false)
        _ = h.enqueue()
        #expect(Checkers.readyWhileWorkWaits(h.state).isEmpty)
        var broken = h.state
        broken.agents[Self.slot(broken, AgentID(1))].presence = .available  // logged in without routing
        #expect(!Checkers.readyWhileWorkWaits(broken).isEmpty)
    }

    @Test func snapshotCheckerCatchesALossyRestore() {
        var h = Harness.basic()
        h.agent(1)
        _ = h.enqueue()
        let next = CommandEnvelope(at: h.clock + 60_000, .tick)
        #expect(Checkers.snapshotProblems(h.state, next: next) { try ContactCenterState(snapshot: $0) }.isEmpty)
        let forgetsTokens = Checkers.snapshotProblems(h.state, next: next) {
            var state = try ContactCenterState(snapshot: $0)
            state.nextToken += 1
            return state
        }
        #expect(forgetsTokens.contains("restored hash differs"))
        let forgetsTimers = Checkers.snapshotProblems(h.state, next: next) {
            var state = try ContactCenterState(snapshot: $0)
            state.timers = MinHeap()
            return state
        }
        #expect(forgetsTimers.contains { $0.contains("answers") }, "an index lost on restore shows on the next step")
    }

    @Test func kpiCheckerCatchesAWrongCounter() {
        let run = Self.busyRun()
        #expect(run.reference.mismatches(run.harness.state).isEmpty)
        var state = run.harness.state
        state.queues[QueueID(1)]!.kpi.total.answered += 1
        #expect(run.reference.mismatches(state).contains { $0.hasPrefix("queue-1 total") })
        var drift = run.harness.state
        drift.sites[0].kpi.window.busyMs += 1
        #expect(!run.reference.mismatches(drift).isEmpty)
    }
}
