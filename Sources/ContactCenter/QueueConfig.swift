// MARK: - Queue configuration

/// One logical queue, the same at every site.
public struct QueueConfig: Hashable, Sendable {
    public static let nameBytesMax = 64
    public static let overflowRulesMax = 4
    public static let serviceLevelSecondsMax: UInt32 = 86_400

    public var id: QueueID
    /// A label for dashboards. MUST NOT contain PHI (it is config, not data).
    public var name: String
    /// Bit set of `Channel.rawValue`s this queue accepts.
    public var channels: Set<Channel>
    /// Added to each task's own priority (saturating at 255): a VIP queue
    /// outranks a general one for an agent who serves both.
    public var priority: UInt8
    /// Skills an agent MUST have, each at `minimumProficiency` or better.
    public var requiredSkills: UInt64
    public var minimumProficiency: UInt8
    public var audience: QueueAudience
    /// Answer within this many seconds counts toward the service level.
    public var serviceLevelSeconds: UInt32
    /// How long an offer rings before ring-no-answer.
    public var offerTimeoutSeconds: UInt32
    /// Applied in order as the wait in this queue passes each `afterSeconds`.
    public var overflow: [OverflowRule]
    /// nil: open around the clock.
    public var hours: OpenHours?
    public var afterHours: AfterHours

    public init(
        id: QueueID, name: String, channels: Set<Channel> = Set(Channel.allCases), priority: UInt8 = 0,
        requiredSkills: UInt64 = 0, minimumProficiency: UInt8 = 0, audience: QueueAudience = .anyAgent,
        serviceLevelSeconds: UInt32 = 30, offerTimeoutSeconds: UInt32 = 20, overflow: [OverflowRule] = [],
        hours: OpenHours? = nil, afterHours: AfterHours = .callbackAtOpening
    ) {
        self.id = id
        self.name = name
        self.channels = channels
        self.priority = priority
        self.requiredSkills = requiredSkills
        self.minimumProficiency = minimumProficiency
        self.audience = audience
        self.serviceLevelSeconds = serviceLevelSeconds
        self.offerTimeoutSeconds = offerTimeoutSeconds
        self.overflow = overflow
        self.hours = hours
        self.afterHours = afterHours
    }

    var serviceLevelMs: UInt64 { UInt64(serviceLevelSeconds) * 1000 }
    var offerTimeoutMs: UInt64 { UInt64(max(offerTimeoutSeconds, 1)) * 1000 }

    /// The skill requirement at an overflow stage (0 = no rule applied yet).
    func requirement(stage: Int) -> (skills: UInt64, proficiency: UInt8) {
        var skills = requiredSkills
        var proficiency = minimumProficiency
        for rule in overflow.prefix(stage) {
            if case .widenSkills(let wider, let minimum) = rule.action {
                skills = wider
                proficiency = minimum
            }
        }
        return (skills, proficiency)
    }
}

/// After `afterSeconds` in the queue, widen the requirement or move on.
public struct OverflowRule: Hashable, Sendable {
    public enum Action: Hashable, Sendable {
        /// Replace the required skills (usually a subset) and minimum proficiency.
        case widenSkills(UInt64, minimumProficiency: UInt8)
        /// Move the task to another queue, keeping its place (enqueue time, priority).
        case toQueue(QueueID)
    }
    public var afterSeconds: UInt32
    public var action: Action
    public init(afterSeconds: UInt32, action: Action) {
        self.afterSeconds = afterSeconds
        self.action = action
    }
}

/// Opening hours as UTC minutes of the day; `close < open` wraps past midnight.
public struct OpenHours: Hashable, Sendable {
    public static let minutesPerDay: UInt32 = 1440
    public var openMinute: UInt32
    public var closeMinute: UInt32
    public init(openMinute: UInt32, closeMinute: UInt32) {
        self.openMinute = openMinute
        self.closeMinute = closeMinute
    }

    func isOpen(atMs: UInt64) -> Bool {
        let minute = UInt32((atMs / 60_000) % UInt64(Self.minutesPerDay))
        if openMinute == closeMinute { return true }
        if openMinute < closeMinute { return minute >= openMinute && minute < closeMinute }
        return minute >= openMinute || minute < closeMinute
    }

    /// The next opening at or after `atMs`.
    func nextOpening(atMs: UInt64) -> UInt64 {
        let dayMs: UInt64 = UInt64(Self.minutesPerDay) * 60_000
        let dayStart = atMs - atMs % dayMs
        let today = dayStart + UInt64(openMinute) * 60_000
        return today >= atMs ? today : today + dayMs
    }
}

/// What happens to a task that arrives while the queue is closed.
/// Emergency tasks ignore hours: they are always queued.
public enum AfterHours: Hashable, Sendable {
    /// Schedule a callback at the next opening.
    case callbackAtOpening
    /// Send it to another queue (the 24/7 nurse line).
    case overflow(QueueID)
}

// MARK: - Agent configuration

/// An agent as registered by the directory.
public struct AgentConfig: Hashable, Sendable {
    public static let skillsMax = 16
    public static let capacityPerClassMax: UInt8 = 16
    public static let proficiencyMax: UInt8 = 10

    public var id: AgentID
    public var site: SiteID
    public var roles: RoleSet
    /// Skill → proficiency 1...10.
    public var skills: [SkillID: UInt8]
    /// Slots per capacity class, indexed by `CapacityClass.rawValue`: e.g.
    /// one voice call, three chats.
    public var capacity: [UInt8]

    public init(id: AgentID, site: SiteID, roles: RoleSet = .agent, skills: [SkillID: UInt8] = [:],
                voice: UInt8 = 1, chat: UInt8 = 3, sms: UInt8 = 3, email: UInt8 = 2) {
        self.id = id
        self.site = site
        self.roles = roles
        self.skills = skills
        self.capacity = [voice, chat, sms, email]
    }
}

// MARK: - Settings

/// Cluster-wide knobs, replicated (changed by `ContactCommand.configure`).
public struct Settings: Hashable, Sendable {
    public static let windowMsMin: UInt64 = 1000
    public static let closedTasksRetainedCeiling: UInt32 = 10_000_000

    /// Abandons after a wait shorter than this are "short abandons" (misdials),
    /// counted apart and left out of the abandonment rate.
    public var shortAbandonMs: UInt64
    /// KPI window length; windows are tumbling: [k·W, (k+1)·W).
    public var kpiWindowMs: UInt64
    /// Closed tasks kept for history lookups; the oldest closed is dropped first.
    public var closedTasksRetainedMax: UInt32

    public init(shortAbandonMs: UInt64 = 5_000, kpiWindowMs: UInt64 = 900_000, closedTasksRetainedMax: UInt32 = 100_000) {
        self.shortAbandonMs = shortAbandonMs
        self.kpiWindowMs = kpiWindowMs
        self.closedTasksRetainedMax = closedTasksRetainedMax
    }
}
