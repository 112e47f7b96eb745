// MARK: - Records

struct SiteRecord: Sendable {
    var id: SiteID
    var up: Bool
    var kpi = KPIRecord()
    /// Agent time is integrated up to here.
    var integratedAt: UInt64
    // Derived (rebuilt on restore):
    var statusCounts = [Int](repeating: 0, count: AgentStatus.allCases.count)
    var depth = 0
    var waits = MinHeap<WaitEntry>()
}

struct QueueRecord: Sendable {
    var config: QueueConfig
    var kpi = KPIRecord()
    // Derived:
    var depth = 0
    var waits = MinHeap<WaitEntry>()
}

struct AgentRecord: Sendable {
    var config: AgentConfig
    var presence: Presence
    var idleSince: UInt64
    // Derived:
    var status: AgentStatus = .offline
    var held: [TaskID] = []
    var load: [UInt8] = [0, 0, 0, 0]
    /// Offered or accepted tasks held.
    var active = 0
    var wrapping = 0
    var profile = 0
    var siteSlot = 0
    /// Capacity classes with a live entry in the ready index.
    var readyMask: UInt8 = 0
    var indexedAt: UInt64 = 0
    var pending = false
}

/// Agents with the same roles and skills share a profile; the routing index
/// groups ready agents by profile so a decision scans profiles, not agents.
struct Profile: Sendable {
    struct Key: Hashable, Sendable {
        var roles: UInt8
        var skills: [UInt16]
    }
    var roles: RoleSet
    var skillMask: UInt64
    var proficiency: [UInt8]

    init(_ config: AgentConfig) {
        roles = config.roles
        var mask: UInt64 = 0
        var levels = [UInt8](repeating: 0, count: SkillID.countMax)
        for (skill, level) in config.skills where skill.rawValue < SkillID.countMax {
            mask |= skill.bit
            levels[Int(skill.rawValue)] = level
        }
        skillMask = mask
        proficiency = levels
    }

    static func key(_ config: AgentConfig) -> Key {
        Key(roles: config.roles.rawValue,
            skills: config.skills.map { UInt16($0.key.rawValue) << 8 | UInt16($0.value) }.sorted())
    }

    /// nil when not eligible; else the summed proficiency over required skills.
    func score(skills: UInt64, minimum: UInt8, roles needed: RoleSet) -> Int? {
        guard roles.isSuperset(of: needed), skills & ~skillMask == 0 else { return nil }
        var total = 0
        var rest = skills
        while rest != 0 {
            let bit = rest.trailingZeroBitCount
            rest &= rest - 1
            let level = proficiency[bit]
            guard level >= minimum else { return nil }
            total += Int(level)
        }
        return total
    }
}

/// Queued tasks that need the same agents: one queue, one capacity class,
/// nurse-only or not, one overflow stage. Also indexes, per site, the ready
/// agents that may take them, best first.
struct Lane: Sendable {
    struct Key: Hashable, Sendable {
        var queue: QueueID
        var capacityClass: UInt8
        var nurseOnly: Bool
        var stage: UInt8
    }
    var key: Key
    var heap = MinHeap<LaneEntry>()
    var live = 0
    /// [siteSlot] → ready eligible agents: best proficiency score, then longest idle.
    var ready: [MinHeap<ReadyEntry>] = []
    /// [siteSlot] → compact the ready heap when it grows past this.
    var readyCompactAt: [Int] = []
}

/// A lane a profile may serve, with the profile's proficiency score for it.
struct LaneScore: Sendable {
    var lane: Int
    var score: UInt32
}

// MARK: - State

/// The contact-center state machine: one logical set of queues for all sites.
///
/// Pure and deterministic: `apply` reads nothing but the command and the
/// state (no clock, no randomness, no I/O), so every replica applying the same
/// log reaches the same `stateHash`. It is a value: copy it freely; one owner
/// mutates it.
///
/// How the shell uses it:
/// - Stamp each command with the leader's time (`CommandEnvelope.at`), encode it
///   (`encoded()`), replicate, and on commit `apply` it on every node, in log order.
/// - The result carries the events (log them, push offers to desktops), the
///   task the command created or acted on, the offer made for it, or a
///   `Rejection` (nothing changed).
/// - `TaskID`s are assigned here, 1, 2, 3, ... in apply order: every replica
///   assigns the same id. Agents, queues and sites are named by the commands.
/// - The leader MUST propose `.tick` periodically (about every second): time
///   only moves with commands, and Tick is what rings offers out, applies
///   overflow rules, fires scheduled callbacks and rolls KPI windows.
/// - Raft snapshots: `snapshot()` / `init(snapshot:)`; compare replicas with `stateHash`.
public struct ContactCenterState: Sendable {
    public static let sitesMax = 64
    public static let queuesMax = 1024
    public static let agentsMax = 200_000
    public static let openTasksMax = 2_000_000
    public static let patientHistoryMax = 16
    /// 9999-12-31T23:59:59.999Z. Later stamps are rejected, so time arithmetic
    /// (deadlines, windows) can never overflow.
    public static let timeMsMax: UInt64 = 253_402_300_799_999

    // MARK: Canonical state (snapshotted)
    var settings = Settings()
    public internal(set) var now: UInt64 = 0
    var nextTaskID: UInt64 = 1
    var nextToken: UInt64 = 1
    var windowIndex: UInt64 = 0
    var sites: [SiteRecord] = []
    var queues: [QueueID: QueueRecord] = [:]
    var agents: [AgentRecord] = []
    var tasks: [TaskID: ContactTask] = [:]
    var closedOrder: [TaskID] = []
    var closedHead = 0

    // MARK: Derived state (rebuilt on restore)
    var siteSlots: [SiteID: Int] = [:]
    var agentSlots: [AgentID: Int] = [:]
    var profiles: [Profile] = []
    var profileSlots: [Profile.Key: Int] = [:]
    var lanes: [Lane] = []
    var laneSlots: [Lane.Key: Int] = [:]
    /// [profile][class] → lanes an agent of that profile may take, with its score.
    var profileLanes: [[[LaneScore]]] = []
    var timers = MinHeap<TimerEntry>()
    var patientTasks: [PatientID: [TaskID]] = [:]
    var openBySite: [SiteID: Set<TaskID>] = [:]
    var openCount = 0

    // MARK: Per-command scratch (empty between commands)
    var pendingTasks: [TaskID] = []
    var pendingAgents: [Int] = []
    /// Queues and site slots a task left during this command (their wait heaps get pruned).
    var leftQueues: [(QueueID, Int?)] = []
    var events: [ContactEvent] = []
    var offers: [Offer] = []

    /// An empty state: no sites, queues or agents.
    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    // MARK: - Apply

    /// Applies one command. Either every effect happens (events returned) or,
    /// when the result carries a rejection, nothing changed at all.
    public mutating func apply(_ envelope: CommandEnvelope) -> CommandResult {
        precondition(pendingTasks.isEmpty && pendingAgents.isEmpty && events.isEmpty,
                     "apply re-entered with scratch left: \(pendingTasks.count) tasks, \(pendingAgents.count) agents")
        guard envelope.at <= Self.timeMsMax else {
            return .rejected(Rejection(.invalidConfig, "time \(envelope.at) ms is past \(Self.timeMsMax)"))
        }
        let at = max(now, envelope.at)
        var task: TaskID?
        let rejection: Rejection?
        switch envelope.command {
        case .configure(let settings): rejection = configure(settings, at: at)
        case .addSite(let site): rejection = addSite(site, at: at)
        case .defineQueue(let config): rejection = defineQueue(config, at: at)
        case .registerAgent(let config): rejection = registerAgent(config, at: at)
        case .setPresence(let agent, let presence): rejection = setPresence(agent, presence, at: at)
        case .enqueue(let new):
            switch enqueue(new, at: at) {
            case .success(let id): task = id; rejection = nil
            case .failure(let error): rejection = error
            }
        case .accept(let id, let agent, let token): task = id; rejection = accept(id, agent, token, at: at)
        case .decline(let id, let agent, let token): task = id; rejection = decline(id, agent, token, at: at)
        case .wrapUp(let id, let agent, let token): task = id; rejection = wrapUp(id, agent, token, at: at)
        case .complete(let id, let agent, let token, let disposition):
            task = id; rejection = complete(id, agent, token, disposition, at: at)
        case .abandon(let id): task = id; rejection = abandon(id, at: at)
        case .requestCallback(let id, let dueAt): task = id; rejection = requestCallback(id, dueAt: dueAt, at: at)
        case .transfer(let id, let agent, let token, let queue):
            task = id; rejection = move(id, agent, token, to: queue, reason: nil, at: at)
        case .escalate(let id, let agent, let token, let queue, let reason):
            task = id; rejection = move(id, agent, token, to: queue, reason: reason, at: at)
        case .siteDown(let site): rejection = siteDown(site, at: at)
        case .siteUp(let site): rejection = siteUp(site, at: at)
        case .tick: rejection = tick(at: at)
        }
        if let rejection {
            precondition(events.isEmpty && pendingTasks.isEmpty && pendingAgents.isEmpty,
                         "rejected \(rejection) after changing state: \(events)")
            return .rejected(rejection)
        }
        settle()
        let result = CommandResult(events: events, rejection: nil, task: task,
                                   offer: offers.first { $0.task == task })
        events.removeAll(keepingCapacity: true)
        offers.removeAll(keepingCapacity: true)
        return result
    }

    /// Moves time forward and rolls KPI windows. Called by a handler only
    /// AFTER it has validated its command (a rejection changes nothing).
    mutating func begin(at: UInt64) {
        precondition(at >= now, "time went backwards: \(at) < \(now)")
        let window = at / settings.kpiWindowMs
        if window != windowIndex {
            let oldEnd = (windowIndex + 1) * settings.kpiWindowMs
            for slot in sites.indices { integrate(slot, to: min(at, oldEnd)) }
            for slot in sites.indices { sites[slot].kpi.window = KPICounters() }
            for id in queues.keys { queues[id]!.kpi.window = KPICounters() }
            windowIndex = window
            events.append(.kpiWindowStarted(index: window))
        }
        now = at
    }

    var windowStart: UInt64 { windowIndex * settings.kpiWindowMs }

    /// Adds agent time by status since `integratedAt` to the site's counters.
    mutating func integrate(_ slot: Int, to end: UInt64) {
        let from = sites[slot].integratedAt
        guard end > from else { return }
        let counts = sites[slot].statusCounts
        let available = UInt64(counts[Int(AgentStatus.available.rawValue)])
        let busy = UInt64(counts[Int(AgentStatus.busy.rawValue)])
        let wrap = UInt64(counts[Int(AgentStatus.wrapUp.rawValue)])
        let totalMs = end - from
        let windowFrom = max(from, windowStart)
        let windowMs = end > windowFrom ? end - windowFrom : 0
        sites[slot].kpi.total.availableMs += available * totalMs
        sites[slot].kpi.total.busyMs += busy * totalMs
        sites[slot].kpi.total.wrapUpMs += wrap * totalMs
        sites[slot].kpi.window.availableMs += available * windowMs
        sites[slot].kpi.window.busyMs += busy * windowMs
        sites[slot].kpi.window.wrapUpMs += wrap * windowMs
        sites[slot].integratedAt = end
    }
}
