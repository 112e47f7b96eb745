import Testing
@testable import ContactCenter

/// Drives a state with a test clock and keeps every command and result.
struct Harness {
    /// 2023-11-14 00:00:00 UTC, a midnight, so hour tests read easily.
    static let midnight: UInt64 = 1_699_920_000_000
    var state: ContactCenterState
    var clock: UInt64
    var log: [(envelope: CommandEnvelope, result: CommandResult)] = []

    init(settings: Settings = Settings(), start: UInt64 = Harness.midnight + 12 * 3_600_000) {
        state = ContactCenterState(settings: settings)
        clock = start
    }

    @discardableResult
    mutating func run(_ command: ContactCommand, after ms: UInt64 = 0) -> CommandResult {
        clock += ms
        let envelope = CommandEnvelope(at: clock, command)
        let result = state.apply(envelope)
        log.append((envelope, result))
        return result
    }

    /// Runs a command that MUST apply.
    @discardableResult
    mutating func must(_ command: ContactCommand, after ms: UInt64 = 0, sourceLocation: SourceLocation = #_sourceLocation) -> CommandResult {
        let result = run(command, after: ms)
        #expect(result.rejection == nil, "\(command) rejected: \(String(describing: result.rejection))", sourceLocation: sourceLocation)
        return result
    }

    mutating func site(_ raw: UInt32) { must(.addSite(SiteID(raw))) }

    mutating func queue(_ config: QueueConfig) { must(.defineQueue(config)) }

    mutating func agent(_ raw: UInt64, site: UInt32 = 1, roles: RoleSet = .agent, skills: [SkillID: UInt8] = [:],
                        voice: UInt8 = 1, chat: UInt8 = 3, login: Bool = true) {
        must(.registerAgent(AgentConfig(id: AgentID(raw), site: SiteID(site), roles: roles, skills: skills, voice: voice, chat: chat)))
        if login { must(.setPresence(AgentID(raw), .available)) }
    }

    @discardableResult
    mutating func enqueue(queue: UInt32 = 1, channel: Channel = .voice, type: CallType = .general, priority: UInt8 = 0,
                          patient: UInt64 = 1, site: UInt32 = 1, after ms: UInt64 = 0) -> TaskID {
        let result = must(.enqueue(NewTask(queue: QueueID(queue), channel: channel, callType: type, priority: priority,
                                           patient: PatientID(patient), site: SiteID(site))), after: ms)
        return result.task ?? TaskID(0)
    }

    func task(_ id: TaskID) -> ContactTask { state.task(id)! }
    func holder(_ id: TaskID) -> AgentID? { state.task(id)?.agent }
    func token(_ id: TaskID) -> UInt64 { state.task(id)!.token }

    /// Accept, wrap up and complete the task its holder holds.
    mutating func handle(_ id: TaskID, disposition: Disposition = Disposition(resolvedFirstContact: true), talkMs: UInt64 = 0) {
        guard let agent = holder(id) else {
            Issue.record("\(id) is not held")
            return
        }
        let token = token(id)
        must(.accept(id, agent, token: token))
        must(.wrapUp(id, agent, token: token), after: talkMs)
        must(.complete(id, agent, token: token, disposition))
    }

    /// A standard floor: sites 1–3, queue 1 general (voice, chat, callback...), no skills.
    static func basic() -> Harness {
        var h = Harness()
        h.site(1); h.site(2); h.site(3)
        h.queue(QueueConfig(id: QueueID(1), name: "general"))
        return h
    }
}
