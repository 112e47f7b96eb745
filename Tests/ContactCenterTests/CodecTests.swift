import Testing
@testable import ContactCenter

func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace })
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

/// The log and snapshots outlive a release: these bytes MUST NOT change.
@Suite struct CodecTests {
    // MARK: Golden bytes

    @Test func goldenCommandBytes() {
        #expect(CommandEnvelope(at: 1, .tick).encoded() == hex("01 0000000000000001 10"))
        #expect(CommandEnvelope(at: 0x0102_0304_0506_0708, .accept(TaskID(7), AgentID(9), token: 3)).encoded() == hex("""
            01 0102030405060708 06 0000000000000007 0000000000000009 0000000000000003
            """))
        let enqueue = ContactCommand.enqueue(NewTask(queue: QueueID(2), channel: .chat, callType: .billing, priority: 4,
                                                     patient: PatientID(5), site: SiteID(3)))
        #expect(CommandEnvelope(at: 0, enqueue).encoded() == hex("""
            01 0000000000000000 05 00000002 01 01 04 0000000000000005 00000003 0000000000000000
            """))
        let queue = QueueConfig(id: QueueID(1), name: "q", channels: [.voice])
        #expect(CommandEnvelope(at: 0, .defineQueue(queue)).encoded() == hex("""
            01 0000000000000000 02 00000001 00000001 71 01 00 0000000000000000 00 00 0000001e 00000014 00 00 00
            """))
    }

    @Test func goldenEventBytes() {
        #expect(ContactEvent.taskOffered(TaskID(1), AgentID(2), token: 3, expiresAt: 4).encoded() == hex("""
            01 07 0000000000000001 0000000000000002 0000000000000003 0000000000000004
            """))
        #expect(ContactEvent.failoverDrop(TaskID(1), QueueID(2), SiteID(3)).encoded() == hex("01 0f 0000000000000001 00000002 00000003"))
    }

    @Test func goldenEmptySnapshotAndHash() {
        let state = ContactCenterState()
        #expect(state.snapshot() == hex("""
            4c4c4343 01 0000000000001388 00000000000dbba0 000186a0
            0000000000000000 0000000000000001 0000000000000001 0000000000000000
            00000000 00000000 00000000 00000000 00000000 00000000
            """))
        #expect(state.stateHash == 0x1a74_ef8a_7f89_194c, "FNV-1a 64 of the bytes above, computed independently")
    }

    /// Pinned digests of whole runs. Each test process seeds Swift's hashing
    /// differently, so these also catch any dependence on Set or Dictionary
    /// order; and they catch any change to the snapshot layout. A deliberate
    /// format change MUST bump `snapshotVersion` and re-pin.
    @Test func pinnedStateHashesOfKnownRuns() {
        #expect(PropertyTests.run(seed: 1, count: 400).harness.state.stateHash == 0xd734_47bd_b92f_4f29)
        #expect(KPIFormulaTests.workedDay().state.stateHash == 0x4a13_5bbd_61d9_c83c)
    }

    // MARK: Round trips

    static let everyCommand: [ContactCommand] = [
        .configure(Settings(shortAbandonMs: 1, kpiWindowMs: 2_000, closedTasksRetainedMax: 3)),
        .addSite(SiteID(4)),
        .defineQueue(QueueConfig(id: QueueID(5), name: "cardiología", channels: [.voice, .callback], priority: 2,
                                 requiredSkills: 0b101, minimumProficiency: 3, audience: .nurses, serviceLevelSeconds: 45,
                                 offerTimeoutSeconds: 12,
                                 overflow: [OverflowRule(afterSeconds: 30, action: .widenSkills(1, minimumProficiency: 1)),
                                            OverflowRule(afterSeconds: 90, action: .toQueue(QueueID(1)))],
                                 hours: OpenHours(openMinute: 480, closeMinute: 1080), afterHours: .overflow(QueueID(9)))),
        .registerAgent(AgentConfig(id: AgentID(6), site: SiteID(1), roles: [.nurse, .supervisor],
                                   skills: [SkillID(0): 3, SkillID(63): 10], voice: 1, chat: 4, sms: 2, email: 0)),
        .setPresence(AgentID(6), .onBreak),
        .enqueue(NewTask(queue: QueueID(1), channel: .callback, callType: .prescriptionRefill, priority: 200,
                         patient: PatientID(99), site: SiteID(2), callbackAt: 12_345)),
        .accept(TaskID(1), AgentID(2), token: 3), .decline(TaskID(1), AgentID(2), token: 3),
        .wrapUp(TaskID(1), AgentID(2), token: 3),
        .complete(TaskID(1), AgentID(2), token: 3, Disposition(resolvedFirstContact: true, followUpNeeded: true, csat: 4)),
        .complete(TaskID(1), AgentID(2), token: 3, Disposition(resolvedFirstContact: false)),
        .abandon(TaskID(8)), .requestCallback(TaskID(8), dueAt: 77),
        .transfer(TaskID(1), AgentID(2), token: 3, to: QueueID(4)),
        .escalate(TaskID(1), AgentID(2), token: 3, to: QueueID(9), .complaint),
        .siteDown(SiteID(2)), .siteUp(SiteID(2)), .tick,
    ]

    @Test(arguments: everyCommand)
    func commandsRoundTripAndEveryTruncationThrows(command: ContactCommand) throws {
        let envelope = CommandEnvelope(at: 1_700_000_000_123, command)
        let bytes = envelope.encoded()
        #expect(try CommandEnvelope(decoding: bytes) == envelope)
        for length in 0..<bytes.count {
            #expect(throws: WireError.self) { try CommandEnvelope(decoding: Array(bytes[0..<length])) }
        }
        #expect(throws: WireError.self) { try CommandEnvelope(decoding: bytes + [0]) }
    }

    @Test func eventsOfARealRunRoundTrip() throws {
        let run = PropertyTests.run(seed: 11, count: 300)
        let events = run.harness.log.flatMap(\.result.events)
        #expect(events.count > 300)
        for event in events { #expect(try ContactEvent(decoding: event.encoded()) == event) }
    }

    @Test func unknownVersionsAndTagsAreErrors() {
        var bytes = CommandEnvelope(at: 1, .tick).encoded()
        bytes[0] = 2
        #expect(throws: WireError.self) { try CommandEnvelope(decoding: bytes) }
        bytes = CommandEnvelope(at: 1, .tick).encoded()
        bytes[9] = 200
        #expect(throws: WireError.self) { try CommandEnvelope(decoding: bytes) }
        #expect(throws: WireError.self) { try ContactEvent(decoding: [1, 99]) }
        #expect(throws: WireError.self) { try ContactCenterState(snapshot: Array("LLCC".utf8) + [9]) }
    }

    @Test func randomBytesNeverTrap() {
        var random = TestRandom(seed: 42)
        for _ in 0..<20_000 {
            var bytes = (0..<random.below(64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            if random.chance(50), !bytes.isEmpty { bytes[0] = 1 }
            _ = try? CommandEnvelope(decoding: bytes)
            _ = try? ContactEvent(decoding: bytes)
            _ = try? ContactCenterState(snapshot: Array("LLCC".utf8) + [1] + bytes)
        }
    }

    @Test func snapshotTruncationsAndBitFlipsNeverTrap() throws {
        var h = Harness.basic()
        h.agent(1)
        h.agent(2, roles: .nurse)
        _ = h.enqueue()
        _ = h.enqueue(channel: .chat, type: .clinical, patient: 2)
        _ = h.enqueue(patient: 3)
        let bytes = h.state.snapshot()
        let restored = try ContactCenterState(snapshot: bytes)
        #expect(restored.snapshot() == bytes)
        for length in 0..<bytes.count {
            #expect(throws: WireError.self) { try ContactCenterState(snapshot: Array(bytes[0..<length])) }
        }
        for index in bytes.indices {
            var flipped = bytes
            flipped[index] ^= 0x5a
            if let state = try? ContactCenterState(snapshot: flipped) { _ = state.stateHash }
        }
    }
}
