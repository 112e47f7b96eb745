import ContactCenter
@testable import Node
import Testing

/// The recorder against the pure core directly: it keeps tasks the core evicts,
/// stops at its bounds and says so, and adopts a snapshot's tasks honestly.
@Suite struct DrillEvidenceCoreTests {
    /// A core that keeps one closed task, one site, one queue and one agent ready.
    static func core() -> (ContactCenterState, [CommandResult]) {
        var center = ContactCenterState(settings: Settings(closedTasksRetainedMax: 1))
        var results: [CommandResult] = []
        for command: ContactCommand in [
            .addSite(SiteID(1)), .defineQueue(QueueConfig(id: QueueID(1), name: "q")),
            .registerAgent(AgentConfig(id: AgentID(1), site: SiteID(1))), .setPresence(AgentID(1), .available),
        ] {
            results.append(center.apply(CommandEnvelope(at: 1_000, command)))
        }
        return (center, results)
    }

    static func enqueue(_ center: inout ContactCenterState, at: UInt64) -> CommandResult {
        center.apply(CommandEnvelope(at: at, .enqueue(NewTask(queue: QueueID(1), channel: .chat, patient: PatientID(1), site: SiteID(1)))))
    }

    @Test func tasksTheCoreEvictsStayInTheEvidence() throws {
        var (center, _) = Self.core()
        var evidence = DrillEvidence(fromIndex: 1)
        for task in 1...3 {
            let index = UInt64(10 * task)
            let created = Self.enqueue(&center, at: 2_000 + index)
            evidence.record(index: index, events: created.events, center: center)
            let abandoned = center.apply(CommandEnvelope(at: 2_001 + index, .abandon(TaskID(UInt64(task)))))
            #expect(abandoned.isApplied)
            evidence.record(index: index + 1, events: abandoned.events, center: center)
        }
        #expect(center.task(TaskID(1)) == nil && center.task(TaskID(2)) == nil, "the core kept only one closed task")
        #expect(evidence.tasks.count == 3)
        #expect(evidence.tasks.values.allSatisfy { $0.phase == .abandoned && $0.agent == nil })
        #expect(evidence.tasks[TaskID(1)]?.enqueueTimeMs == 2_010 && evidence.tasks[TaskID(1)]?.enqueueIndex == 10)
        // Each chat was offered to the ready agent, then abandoned (the offer let go).
        #expect(evidence.offers.map(\.kind) == Array(repeating: [DrillEvidence.Kind.enqueued, .offered, .abandoned], count: 3).flatMap { $0 })
        #expect(!evidence.truncated)
    }

    @Test func recordingStopsAtItsBoundsAndSaysSo() {
        var (center, _) = Self.core()
        var evidence = DrillEvidence(fromIndex: 1, offersMax: 3, tasksMax: 2)
        for index in UInt64(1)...3 {
            evidence.record(index: index, events: Self.enqueue(&center, at: 2_000 + index).events, center: center)
        }
        // Task 1: enqueued and offered; task 2: enqueued, then the log is full; task 3 is not taken.
        #expect(evidence.offers.count == 3)
        #expect(evidence.tasks.keys.sorted() == [TaskID(1), TaskID(2)])
        #expect(evidence.truncated)
    }

    @Test func adoptedTasksComeFromTheStateAndTheEvidenceStartsAfterIt() {
        var (center, _) = Self.core()
        _ = Self.enqueue(&center, at: 2_000)
        _ = Self.enqueue(&center, at: 2_001)
        var evidence = DrillEvidence(fromIndex: 1)
        evidence.adopt(center, snapshotIndex: 40)
        #expect(evidence.fromIndex == 41)
        #expect(evidence.offers.isEmpty)
        #expect(evidence.tasks[TaskID(1)]?.phase == .offered && evidence.tasks[TaskID(1)]?.agent == AgentID(1))
        #expect(evidence.tasks[TaskID(2)]?.phase == .queued || evidence.tasks[TaskID(2)]?.phase == .offered)
        #expect(evidence.tasks.values.allSatisfy { $0.enqueueIndex == 0 })
        // A snapshot installed later is the truth for the tasks it holds, even
        // ones recorded before (the events in between were not seen).
        var recorded = DrillEvidence(fromIndex: 1)
        var early = Self.core().0
        recorded.record(index: 5, events: Self.enqueue(&early, at: 2_000).events, center: early)
        #expect(recorded.tasks[TaskID(1)]?.phase == .offered)
        let abandonedElsewhere = center.apply(CommandEnvelope(at: 2_002, .abandon(TaskID(1))))
        #expect(abandonedElsewhere.isApplied)
        recorded.adopt(center, snapshotIndex: 60)
        #expect(recorded.fromIndex == 61)
        #expect(recorded.tasks[TaskID(1)]?.phase == .abandoned && recorded.tasks[TaskID(1)]?.enqueueIndex == 5)
        #expect(recorded.offers.map(\.kind) == [.enqueued, .offered], "no events invented for the gap")

        // A later event of an adopted task is recorded as usual.
        let abandoned = center.apply(CommandEnvelope(at: 2_003, .abandon(TaskID(2))))
        #expect(abandoned.isApplied)
        evidence.record(index: 61, events: abandoned.events, center: center)
        #expect(evidence.offers.map(\.kind) == [.abandoned])
        #expect(evidence.tasks[TaskID(2)]?.phase == .abandoned)
    }
}
