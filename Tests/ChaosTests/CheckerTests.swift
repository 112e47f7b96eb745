import Testing
@testable import Chaos

/// Each checker passes the correct synthetic drill and fails a copy carrying exactly the
/// bug it exists for, naming itself and the offending ids.
struct LostAckCheckerTests {
    @Test func correctDrillPasses() {
        let drill = SyntheticDrill.make()
        let verdict = LostAckChecker.check(history: drill.history, survivors: drill.survivors)
        #expect(verdict.result == .pass, "\(verdict)")
    }

    @Test func acknowledgedEnqueueMissingOnASurvivorFails() {
        var drill = SyntheticDrill.make()
        // The bug: the leader acked t-004 before a quorum had it; the survivors never saw it.
        drill.survivors[1].tasks.removeAll { $0.id == TaskID("t-004") }
        let verdict = LostAckChecker.check(history: drill.history, survivors: drill.survivors)
        let enqueue = drill.operation(.enqueue, "t-004")
        #expect(verdict.result == .fail)
        #expect(verdict.checker == "LostAckChecker")
        #expect(verdict.offending.contains("op \(enqueue.id)"))
        #expect(verdict.offending.contains("t-004"))
        #expect(verdict.details.contains { $0.contains("n-b") })
    }

    @Test func acknowledgedEnqueueWhoseIdWentToAnotherCallFails() {
        var drill = SyntheticDrill.make()
        // The bug: the acked entry at index 40 was overwritten; the next leader gave its id
        // to the call it appended at index 41.
        let operation = drill.history.firstIndex { $0.kind == .enqueue && $0.task == TaskID("t-004") }!
        drill.history[operation].value.index = 40
        for node in drill.survivors.indices {
            let task = drill.survivors[node].tasks.firstIndex { $0.id == TaskID("t-004") }!
            drill.survivors[node].tasks[task].enqueueIndex = 40
        }
        #expect(LostAckChecker.check(history: drill.history, survivors: drill.survivors).result == .pass)
        let last = drill.survivors.count - 1
        drill.survivors[last].tasks[drill.survivors[last].tasks.firstIndex { $0.id == TaskID("t-004") }!].enqueueIndex = 41
        let verdict = LostAckChecker.check(history: drill.history, survivors: drill.survivors)
        #expect(verdict.result == .fail)
        #expect(verdict.offending.contains("op \(drill.history[operation].id)"))
        #expect(verdict.details.contains { $0.contains("entered at index 40") && $0.contains("41") })
    }

    @Test func acknowledgedEnqueueWhoseIdWentToAnotherSitesCallFails() {
        var drill = SyntheticDrill.make()
        // The lost entry and its replacement sit at the same index, but the replacement
        // was taken at another site.
        let operation = drill.history.firstIndex { $0.kind == .enqueue && $0.task == TaskID("t-004") }!
        let ingress = try! #require(drill.history[operation].value.site)
        for node in drill.survivors.indices {
            let task = drill.survivors[node].tasks.firstIndex { $0.id == TaskID("t-004") }!
            drill.survivors[node].tasks[task].site = ingress
        }
        #expect(LostAckChecker.check(history: drill.history, survivors: drill.survivors).result == .pass)
        let task = drill.survivors[0].tasks.firstIndex { $0.id == TaskID("t-004") }!
        drill.survivors[0].tasks[task].site = SiteName("elsewhere")
        let verdict = LostAckChecker.check(history: drill.history, survivors: drill.survivors)
        #expect(verdict.result == .fail)
        #expect(verdict.details.contains { $0.contains("taken at \(ingress)") && $0.contains("elsewhere") })
    }

    @Test func acknowledgedCompleteRolledBackFails() {
        var drill = SyntheticDrill.make()
        let index = drill.survivors[0].tasks.firstIndex { $0.id == TaskID("t-002") }!
        drill.survivors[0].tasks[index].state = .accepted
        let verdict = LostAckChecker.check(history: drill.history, survivors: drill.survivors)
        #expect(verdict.result == .fail)
        #expect(verdict.offending.contains("op \(drill.operation(.complete, "t-002").id)"))
    }

    @Test func unknownEnqueueMayBeMissing() {
        var drill = SyntheticDrill.make()
        let index = drill.history.firstIndex { $0.kind == .enqueue && $0.task == TaskID("t-004") }!
        drill.history[index].outcome = .unknown
        for node in drill.survivors.indices { drill.survivors[node].tasks.removeAll { $0.id == TaskID("t-004") } }
        drill.history.removeAll { $0.task == TaskID("t-004") && $0.kind != .enqueue }
        #expect(LostAckChecker.check(history: drill.history, survivors: drill.survivors).result == .pass)
    }
}

struct DoubleAssignmentCheckerTests {
    @Test func correctDrillPasses() {
        let drill = SyntheticDrill.make()
        let verdict = DoubleAssignmentChecker.check(history: drill.history, survivors: drill.survivors)
        #expect(verdict.result == .pass, "\(verdict)")
    }

    @Test func taskAcceptedByASecondAgentWhileHeldFails() {
        var drill = SyntheticDrill.make()
        // The bug: a stale offer's accept is not fenced; b-2 takes t-001 while a-1... holds it.
        let holder = drill.survivors[0].offersLog.first { $0.kind == .accepted && $0.task == TaskID("t-001") }!
        let position = drill.survivors[0].offersLog.firstIndex(of: holder)! + 1
        let intruder = OfferEvent(index: holder.index, kind: .accepted, task: TaskID("t-001"), agent: AgentID("a-2"), token: 99)
        drill.survivors[0].offersLog.insert(intruder, at: position)
        let verdict = DoubleAssignmentChecker.check(history: drill.history, survivors: drill.survivors)
        #expect(verdict.result == .fail)
        #expect(verdict.checker == "DoubleAssignmentChecker")
        #expect(verdict.offending.contains("t-001"))
        #expect(verdict.offending.contains("a-2"))
        #expect(verdict.offending.contains(holder.agent!.rawValue))
    }

    @Test func agentOverCapacityFails() {
        var drill = SyntheticDrill.make()
        // The bug: routing ignores load; a-1 (capacity 1) is given t-001 while holding t-000's... slot.
        var log = drill.survivors[0].offersLog
        let first = log.firstIndex { $0.kind == .accepted && $0.agent == AgentID("b-1") }!
        log.insert(OfferEvent(index: log[first].index, kind: .accepted, task: TaskID("extra"), agent: AgentID("b-1"), token: 500), at: first + 1)
        drill.survivors[0].offersLog = log
        let verdict = DoubleAssignmentChecker.check(history: drill.history, survivors: drill.survivors)
        #expect(verdict.result == .fail)
        #expect(verdict.offending.contains("b-1"))
        #expect(verdict.details.contains { $0.contains("capacity 1") })
    }

    @Test func oneTokenGrantedToTwoAgentsInTheHistoryFails() {
        var drill = SyntheticDrill.make()
        let accept = drill.operation(.accept, "t-003")
        var twin = accept
        twin.id = 10_000
        twin.value.agent = AgentID("b-2")
        drill.history.append(twin)
        let verdict = DoubleAssignmentChecker.check(history: drill.history, survivors: drill.survivors)
        #expect(verdict.result == .fail)
        #expect(verdict.offending.contains("op \(accept.id)"))
        #expect(verdict.offending.contains("op 10000"))
    }
}

struct QueueOrderCheckerTests {
    static func task(_ id: String, emergency: Bool = false, priority: Int = 1, timeMs: UInt64) -> TaskSnapshot {
        TaskSnapshot(id: TaskID(id), state: .completed, agent: AgentID("a-1"), queue: "triage", priority: priority,
                     emergency: emergency, enqueueTimeMs: timeMs)
    }

    /// Two tasks wait together; the log offers them in `offered` order.
    static func node(offered: [String], tasks: [TaskSnapshot]) -> NodeFinalState {
        var log = tasks.enumerated().map { OfferEvent(index: UInt64($0.offset + 1), kind: .enqueued, task: $0.element.id) }
        for id in offered {
            log.append(OfferEvent(index: UInt64(log.count + 1), kind: .offered, task: TaskID(id), agent: AgentID("a-1"), token: UInt64(log.count)))
        }
        return NodeFinalState(node: NodeName("n-a"), site: SiteName("a"), appliedIndex: UInt64(log.count), stateHash: "h",
                              auditHead: "a", tasks: tasks, agents: [], offersLog: log)
    }

    @Test func correctDrillPasses() {
        let drill = SyntheticDrill.make()
        let verdict = QueueOrderChecker.check(history: drill.history, survivors: drill.survivors)
        #expect(verdict.result == .pass, "\(verdict)")
    }

    @Test func rankOrderIsEmergencyThenPriorityThenTime() {
        let tasks = [Self.task("old", timeMs: 1), Self.task("urgent", priority: 5, timeMs: 2), Self.task("emergency", emergency: true, timeMs: 3)]
        let good = QueueOrderChecker.check(history: [], survivors: [Self.node(offered: ["emergency", "urgent", "old"], tasks: tasks)])
        #expect(good.result == .pass, "\(good)")
    }

    @Test func offeringPastAWaitingEmergencyFails() {
        let tasks = [Self.task("routine", timeMs: 1), Self.task("emergency", emergency: true, timeMs: 2)]
        // The bug: the router serves FIFO and ignores the emergency flag.
        let verdict = QueueOrderChecker.check(history: [], survivors: [Self.node(offered: ["routine", "emergency"], tasks: tasks)])
        #expect(verdict.result == .fail)
        #expect(verdict.checker == "QueueOrderChecker")
        #expect(verdict.offending == ["routine", "emergency"])
    }

    @Test func failoverThatRestampsEnqueueTimeFails() {
        var drill = SyntheticDrill.make()
        // The bug: rerouting t-005 after the site loss gave it a new enqueue time: the caller
        // went to the back of the line behind t-006.. that arrived after them.
        for node in drill.survivors.indices {
            let index = drill.survivors[node].tasks.firstIndex { $0.id == TaskID("t-005") }!
            drill.survivors[node].tasks[index].enqueueTimeMs += 21_000
        }
        let verdict = QueueOrderChecker.check(history: drill.history, survivors: drill.survivors)
        #expect(verdict.result == .fail)
        #expect(verdict.offending.contains("t-005"))
        #expect(verdict.offending.contains("op \(drill.operation(.enqueue, "t-005").id)"))
    }
}

struct ConvergenceCheckerTests {
    @Test func correctDrillPasses() {
        #expect(ConvergenceChecker.check(survivors: SyntheticDrill.make().survivors).result == .pass)
    }

    @Test func divergedStateHashFails() {
        var drill = SyntheticDrill.make()
        drill.survivors.append(drill.survivors[0])
        drill.survivors[2].node = NodeName("n-d")
        // The bug: one node applied an entry differently.
        drill.survivors[1].stateHash = "deadbeef"
        let verdict = ConvergenceChecker.check(survivors: drill.survivors)
        #expect(verdict.result == .fail)
        #expect(verdict.checker == "ConvergenceChecker")
        #expect(verdict.offending == ["n-b"])
    }

    @Test func divergedAuditHeadFails() {
        var drill = SyntheticDrill.make()
        drill.survivors[0].auditHead = "0000"
        #expect(ConvergenceChecker.check(survivors: drill.survivors).result == .fail)
    }

    @Test func noSurvivorIsInconclusive() {
        #expect(ConvergenceChecker.check(survivors: []).result == .inconclusive)
    }
}

struct RecoveryCheckerTests {
    @Test func correctDrillMeetsItsTargets() {
        let drill = SyntheticDrill.make()
        let measurement = RecoveryChecker.measure(history: drill.history, events: drill.events, survivors: drill.survivors, targets: drill.targets)
        #expect(measurement.rpoEntries == 0)
        // Writes fail until 22.5 s: the first acknowledged write after the 20 s fault ends at 22.505 s.
        #expect(measurement.rtoWriteSeconds.map { abs($0 - 2.505) < 0.001 } == true, "\(measurement)")
        #expect(measurement.rtoOfferSeconds.map { $0 > 2.5 && $0 < 3 } == true, "\(measurement)")
        #expect(RecoveryChecker.check(measurement).result == .pass)
    }

    @Test func slowRecoveryFailsTheRTO() {
        var drill = SyntheticDrill.make()
        // The bug: the election takes 15 s (timeouts not scaled), so writes fail until 35 s.
        for index in drill.history.indices where drill.history[index].invokeUs >= SyntheticDrill.faultUs
            && drill.history[index].invokeUs < 35_000_000 {
            drill.history[index].outcome = .failed
        }
        let measurement = RecoveryChecker.measure(history: drill.history, events: drill.events, survivors: [], targets: drill.targets)
        let verdict = RecoveryChecker.check(measurement)
        #expect(verdict.result == .fail)
        #expect(verdict.checker == "RecoveryChecker")
        #expect(verdict.offending == ["kill c"])
        #expect(measurement.rtoWriteSeconds.map { $0 > 10 } == true)
    }

    @Test func neverRecoveringFails() {
        var drill = SyntheticDrill.make()
        for index in drill.history.indices where drill.history[index].invokeUs >= SyntheticDrill.faultUs {
            drill.history[index].outcome = .unknown
        }
        let measurement = RecoveryChecker.measure(history: drill.history, events: drill.events, survivors: [], targets: drill.targets)
        #expect(measurement.rtoWriteSeconds == nil)
        #expect(RecoveryChecker.check(measurement).details.first?.contains("not recovered") == true)
    }

    @Test func lostAcknowledgedEntryFailsTheRPO() {
        var drill = SyntheticDrill.make()
        for node in drill.survivors.indices { drill.survivors[node].tasks.removeAll { $0.id == TaskID("t-050") } }
        let measurement = RecoveryChecker.measure(history: drill.history, events: drill.events, survivors: drill.survivors, targets: drill.targets)
        // Both its acknowledged enqueue and its acknowledged complete are gone: two entries.
        #expect(measurement.rpoEntries == 2)
        let verdict = RecoveryChecker.check(measurement)
        #expect(verdict.result == .fail)
        #expect(verdict.offending == ["RPO"])
    }
}
