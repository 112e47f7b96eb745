// MARK: - Event codec
//
// Layout (version 1): version u8 · tag u8 · payload, big-endian. Same
// stability rule as commands: shipped tags never change shape.

extension ContactEvent {
    public static let wireVersion: UInt8 = 1

    public func encoded() -> [UInt8] {
        var w = WireWriter()
        w.u8(Self.wireVersion)
        w.event(self)
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws(WireError) {
        var r = WireReader(bytes)
        let version = try r.u8()
        guard version == Self.wireVersion else { throw WireError("unknown event version \(version)", offset: 0) }
        self = try r.event()
        try r.expectEnd()
    }
}

extension WireWriter {
    mutating func event(_ event: ContactEvent) {
        switch event {
        case .settingsChanged: u8(0)
        case .siteAdded(let s): u8(1); u32(s.rawValue)
        case .queueDefined(let q): u8(2); u32(q.rawValue)
        case .agentRegistered(let a, let s): u8(3); u64(a.rawValue); u32(s.rawValue)
        case .agentStatusChanged(let a, let s, let from, let to): u8(4); u64(a.rawValue); u32(s.rawValue); u8(from.rawValue); u8(to.rawValue)
        case .taskCreated(let t, let q, let s, let c, let k, let p):
            u8(5); u64(t.rawValue); u32(q.rawValue); u32(s.rawValue); u8(c.rawValue); u8(k.rawValue); u8(p)
        case .taskQueued(let t, let q): u8(6); u64(t.rawValue); u32(q.rawValue)
        case .taskOffered(let t, let a, let token, let expires): u8(7); u64(t.rawValue); u64(a.rawValue); u64(token); u64(expires)
        case .offerDeclined(let t, let a, let token): u8(8); u64(t.rawValue); u64(a.rawValue); u64(token)
        case .offerExpired(let t, let a, let token): u8(9); u64(t.rawValue); u64(a.rawValue); u64(token)
        case .taskAccepted(let t, let a, let q, let s, let wait, let within):
            u8(10); u64(t.rawValue); u64(a.rawValue); u32(q.rawValue); u32(s.rawValue); u64(wait); bool(within)
        case .taskWrapUp(let t, let a): u8(11); u64(t.rawValue); u64(a.rawValue)
        case .taskCompleted(let t, let a, let q, let s, let handle, let d):
            u8(12); u64(t.rawValue); u64(a.rawValue); u32(q.rawValue); u32(s.rawValue); u64(handle)
            if let d { u8(1); disposition(d) } else { u8(0) }
        case .taskAbandoned(let t, let q, let s, let wait, let short):
            u8(13); u64(t.rawValue); u32(q.rawValue); u32(s.rawValue); u64(wait); bool(short)
        case .callbackScheduled(let t, let due): u8(14); u64(t.rawValue); u64(due)
        case .failoverDrop(let t, let q, let s): u8(15); u64(t.rawValue); u32(q.rawValue); u32(s.rawValue)
        case .callbackDue(let t): u8(16); u64(t.rawValue)
        case .overflowed(let t, let from, let to, let stage): u8(17); u64(t.rawValue); u32(from.rawValue); u32(to.rawValue); u8(stage)
        case .transferred(let t, let a, let from, let to): u8(18); u64(t.rawValue); u64(a.rawValue); u32(from.rawValue); u32(to.rawValue)
        case .escalated(let t, let a, let from, let to, let reason):
            u8(19); u64(t.rawValue); u64(a.rawValue); u32(from.rawValue); u32(to.rawValue); u8(reason.rawValue)
        case .siteWentDown(let s): u8(20); u32(s.rawValue)
        case .siteCameUp(let s): u8(21); u32(s.rawValue)
        case .kpiWindowStarted(let index): u8(22); u64(index)
        }
    }
}

extension WireReader {
    mutating func event() throws(WireError) -> ContactEvent {
        let tagOffset = offset
        switch try u8() {
        case 0: return .settingsChanged
        case 1: return .siteAdded(SiteID(try u32()))
        case 2: return .queueDefined(QueueID(try u32()))
        case 3: return .agentRegistered(AgentID(try u64()), SiteID(try u32()))
        case 4:
            return .agentStatusChanged(AgentID(try u64()), SiteID(try u32()),
                                       from: try enumValue(AgentStatus.self), to: try enumValue(AgentStatus.self))
        case 5:
            return .taskCreated(TaskID(try u64()), QueueID(try u32()), SiteID(try u32()), try enumValue(Channel.self),
                                try enumValue(CallType.self), priority: try u8())
        case 6: return .taskQueued(TaskID(try u64()), QueueID(try u32()))
        case 7: return .taskOffered(TaskID(try u64()), AgentID(try u64()), token: try u64(), expiresAt: try u64())
        case 8: return .offerDeclined(TaskID(try u64()), AgentID(try u64()), token: try u64())
        case 9: return .offerExpired(TaskID(try u64()), AgentID(try u64()), token: try u64())
        case 10:
            return .taskAccepted(TaskID(try u64()), AgentID(try u64()), QueueID(try u32()), SiteID(try u32()),
                                 waitMs: try u64(), withinTarget: try bool())
        case 11: return .taskWrapUp(TaskID(try u64()), AgentID(try u64()))
        case 12:
            let t = TaskID(try u64()), a = AgentID(try u64()), q = QueueID(try u32()), s = SiteID(try u32())
            let handle = try u64()
            let d: Disposition?
            switch try u8() {
            case 0: d = nil
            case 1: d = try disposition()
            case let flag: throw WireError("bad disposition flag \(flag)", offset: offset - 1)
            }
            return .taskCompleted(t, a, q, s, handleMs: handle, d)
        case 13:
            return .taskAbandoned(TaskID(try u64()), QueueID(try u32()), SiteID(try u32()), waitMs: try u64(), short: try bool())
        case 14: return .callbackScheduled(TaskID(try u64()), dueAt: try u64())
        case 15: return .failoverDrop(TaskID(try u64()), QueueID(try u32()), SiteID(try u32()))
        case 16: return .callbackDue(TaskID(try u64()))
        case 17: return .overflowed(TaskID(try u64()), from: QueueID(try u32()), to: QueueID(try u32()), stage: try u8())
        case 18: return .transferred(TaskID(try u64()), AgentID(try u64()), from: QueueID(try u32()), to: QueueID(try u32()))
        case 19:
            return .escalated(TaskID(try u64()), AgentID(try u64()), from: QueueID(try u32()), to: QueueID(try u32()),
                              try enumValue(EscalationReason.self))
        case 20: return .siteWentDown(SiteID(try u32()))
        case 21: return .siteCameUp(SiteID(try u32()))
        case 22: return .kpiWindowStarted(index: try u64())
        case let tag: throw WireError("unknown event tag \(tag)", offset: tagOffset)
        }
    }
}
