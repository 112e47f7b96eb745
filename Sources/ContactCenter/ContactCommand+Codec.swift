// MARK: - Command codec
//
// Layout (version 1): version u8 · at u64 · tag u8 · payload, big-endian.
// The log outlives a release: a tag's layout never changes once shipped; a new
// shape gets a new tag or a new version, and old versions stay decodable.

extension CommandEnvelope {
    public static let wireVersion: UInt8 = 1
    public static let encodedBytesMax = 4096

    public func encoded() -> [UInt8] {
        var w = WireWriter()
        w.u8(Self.wireVersion)
        w.u64(at)
        w.command(command)
        return w.bytes
    }

    /// Decodes what `encoded()` wrote; malformed bytes throw, never trap.
    public init(decoding bytes: [UInt8]) throws(WireError) {
        guard bytes.count <= Self.encodedBytesMax else { throw WireError("command of \(bytes.count) bytes over the limit", offset: 0) }
        var r = WireReader(bytes)
        let version = try r.u8()
        guard version == Self.wireVersion else { throw WireError("unknown command version \(version)", offset: 0) }
        at = try r.u64()
        command = try r.command()
        try r.expectEnd()
    }
}

extension WireWriter {
    mutating func command(_ command: ContactCommand) {
        switch command {
        case .configure(let s):
            u8(0); u64(s.shortAbandonMs); u64(s.kpiWindowMs); u32(s.closedTasksRetainedMax)
        case .addSite(let site): u8(1); u32(site.rawValue)
        case .defineQueue(let config): u8(2); queueConfig(config)
        case .registerAgent(let config): u8(3); agentConfig(config)
        case .setPresence(let agent, let presence): u8(4); u64(agent.rawValue); u8(presence.rawValue)
        case .enqueue(let t):
            u8(5); u32(t.queue.rawValue); u8(t.channel.rawValue); u8(t.callType.rawValue); u8(t.priority)
            u64(t.patient.rawValue); u32(t.site.rawValue); u64(t.callbackAt)
        case .accept(let task, let agent, let token): u8(6); holder(task, agent, token)
        case .decline(let task, let agent, let token): u8(7); holder(task, agent, token)
        case .wrapUp(let task, let agent, let token): u8(8); holder(task, agent, token)
        case .complete(let task, let agent, let token, let disposition):
            u8(9); holder(task, agent, token); self.disposition(disposition)
        case .abandon(let task): u8(10); u64(task.rawValue)
        case .requestCallback(let task, let dueAt): u8(11); u64(task.rawValue); u64(dueAt)
        case .transfer(let task, let agent, let token, let queue): u8(12); holder(task, agent, token); u32(queue.rawValue)
        case .escalate(let task, let agent, let token, let queue, let reason):
            u8(13); holder(task, agent, token); u32(queue.rawValue); u8(reason.rawValue)
        case .siteDown(let site): u8(14); u32(site.rawValue)
        case .siteUp(let site): u8(15); u32(site.rawValue)
        case .tick: u8(16)
        }
    }

    mutating func holder(_ task: TaskID, _ agent: AgentID, _ token: UInt64) {
        u64(task.rawValue); u64(agent.rawValue); u64(token)
    }

    mutating func disposition(_ d: Disposition) {
        u8((d.resolvedFirstContact ? 1 : 0) | (d.followUpNeeded ? 2 : 0) | (d.csat != nil ? 4 : 0))
        u8(d.csat ?? 0)
    }

    mutating func queueConfig(_ c: QueueConfig) {
        u32(c.id.rawValue); string(c.name)
        u8(c.channels.reduce(0) { $0 | $1.bit }); u8(c.priority); u64(c.requiredSkills); u8(c.minimumProficiency)
        u8(c.audience.rawValue); u32(c.serviceLevelSeconds); u32(c.offerTimeoutSeconds)
        u8(UInt8(truncatingIfNeeded: c.overflow.count))
        for rule in c.overflow {
            u32(rule.afterSeconds)
            switch rule.action {
            case .widenSkills(let mask, let minimum): u8(0); u64(mask); u8(minimum)
            case .toQueue(let queue): u8(1); u32(queue.rawValue)
            }
        }
        if let hours = c.hours { u8(1); u32(hours.openMinute); u32(hours.closeMinute) } else { u8(0) }
        switch c.afterHours {
        case .callbackAtOpening: u8(0)
        case .overflow(let queue): u8(1); u32(queue.rawValue)
        }
    }

    mutating func agentConfig(_ c: AgentConfig) {
        u64(c.id.rawValue); u32(c.site.rawValue); u8(c.roles.rawValue)
        let skills = c.skills.sorted { $0.key < $1.key }
        u8(UInt8(truncatingIfNeeded: skills.count))
        for (skill, level) in skills { u8(skill.rawValue); u8(level) }
        for slot in c.capacity { u8(slot) }
    }
}

extension WireReader {
    mutating func command() throws(WireError) -> ContactCommand {
        let tagOffset = offset
        switch try u8() {
        case 0: return .configure(Settings(shortAbandonMs: try u64(), kpiWindowMs: try u64(), closedTasksRetainedMax: try u32()))
        case 1: return .addSite(SiteID(try u32()))
        case 2: return .defineQueue(try queueConfig())
        case 3: return .registerAgent(try agentConfig())
        case 4: return .setPresence(AgentID(try u64()), try enumValue(Presence.self))
        case 5:
            return .enqueue(NewTask(queue: QueueID(try u32()), channel: try enumValue(Channel.self),
                                    callType: try enumValue(CallType.self), priority: try u8(),
                                    patient: PatientID(try u64()), site: SiteID(try u32()), callbackAt: try u64()))
        case 6: let h = try holder(); return .accept(h.0, h.1, token: h.2)
        case 7: let h = try holder(); return .decline(h.0, h.1, token: h.2)
        case 8: let h = try holder(); return .wrapUp(h.0, h.1, token: h.2)
        case 9: let h = try holder(); return .complete(h.0, h.1, token: h.2, try disposition())
        case 10: return .abandon(TaskID(try u64()))
        case 11: return .requestCallback(TaskID(try u64()), dueAt: try u64())
        case 12: let h = try holder(); return .transfer(h.0, h.1, token: h.2, to: QueueID(try u32()))
        case 13:
            let h = try holder()
            return .escalate(h.0, h.1, token: h.2, to: QueueID(try u32()), try enumValue(EscalationReason.self))
        case 14: return .siteDown(SiteID(try u32()))
        case 15: return .siteUp(SiteID(try u32()))
        case 16: return .tick
        case let tag: throw WireError("unknown command tag \(tag)", offset: tagOffset)
        }
    }

    mutating func holder() throws(WireError) -> (TaskID, AgentID, UInt64) {
        (TaskID(try u64()), AgentID(try u64()), try u64())
    }

    mutating func disposition() throws(WireError) -> Disposition {
        let flags = try u8()
        guard flags & ~7 == 0 else { throw WireError("bad disposition flags \(flags)", offset: offset - 1) }
        let csat = try u8()
        if flags & 4 == 0, csat != 0 { throw WireError("CSAT without its flag", offset: offset - 1) }
        return Disposition(resolvedFirstContact: flags & 1 != 0, followUpNeeded: flags & 2 != 0,
                           csat: flags & 4 != 0 ? csat : nil)
    }

    mutating func queueConfig() throws(WireError) -> QueueConfig {
        let id = QueueID(try u32())
        let name = try string(limit: QueueConfig.nameBytesMax)
        let mask = try u8()
        guard mask & ~0x1f == 0 else { throw WireError("bad channel mask \(mask)", offset: offset - 1) }
        let channels = Set(Channel.allCases.filter { mask & $0.bit != 0 })
        let priority = try u8()
        let skills = try u64()
        let minimum = try u8()
        let audience = try enumValue(QueueAudience.self)
        let serviceLevel = try u32()
        let timeout = try u32()
        let ruleCount = Int(try u8())
        guard ruleCount <= QueueConfig.overflowRulesMax else { throw WireError("\(ruleCount) overflow rules", offset: offset - 1) }
        var rules: [OverflowRule] = []
        for _ in 0..<ruleCount {
            let after = try u32()
            switch try u8() {
            case 0: rules.append(OverflowRule(afterSeconds: after, action: .widenSkills(try u64(), minimumProficiency: try u8())))
            case 1: rules.append(OverflowRule(afterSeconds: after, action: .toQueue(QueueID(try u32()))))
            case let kind: throw WireError("bad overflow kind \(kind)", offset: offset - 1)
            }
        }
        var hours: OpenHours?
        switch try u8() {
        case 0: hours = nil
        case 1: hours = OpenHours(openMinute: try u32(), closeMinute: try u32())
        case let flag: throw WireError("bad hours flag \(flag)", offset: offset - 1)
        }
        let afterHours: AfterHours
        switch try u8() {
        case 0: afterHours = .callbackAtOpening
        case 1: afterHours = .overflow(QueueID(try u32()))
        case let kind: throw WireError("bad after-hours kind \(kind)", offset: offset - 1)
        }
        return QueueConfig(id: id, name: name, channels: channels, priority: priority, requiredSkills: skills,
                           minimumProficiency: minimum, audience: audience, serviceLevelSeconds: serviceLevel,
                           offerTimeoutSeconds: timeout, overflow: rules, hours: hours, afterHours: afterHours)
    }

    mutating func agentConfig() throws(WireError) -> AgentConfig {
        let id = AgentID(try u64())
        let site = SiteID(try u32())
        let roles = try u8()
        guard roles & ~RoleSet.all.rawValue == 0 else { throw WireError("bad roles \(roles)", offset: offset - 1) }
        let skillCount = Int(try u8())
        guard skillCount <= AgentConfig.skillsMax else { throw WireError("\(skillCount) skills", offset: offset - 1) }
        var skills: [SkillID: UInt8] = [:]
        for _ in 0..<skillCount {
            let skill = SkillID(try u8())
            let level = try u8()
            guard skills.updateValue(level, forKey: skill) == nil else { throw WireError("duplicate \(skill)", offset: offset - 2) }
        }
        let voice = try u8(), chat = try u8(), sms = try u8(), email = try u8()
        return AgentConfig(id: id, site: site, roles: RoleSet(rawValue: roles), skills: skills,
                           voice: voice, chat: chat, sms: sms, email: email)
    }
}
