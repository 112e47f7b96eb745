// MARK: - Channels and call types

/// How the patient reached us. A callback is an outbound voice call and uses
/// the agent's voice slot.
public enum Channel: UInt8, CaseIterable, Sendable, Comparable {
    case voice = 0, chat = 1, sms = 2, email = 3, callback = 4

    public static func < (a: Channel, b: Channel) -> Bool { a.rawValue < b.rawValue }

    /// The capacity slot this channel uses on an agent's desk.
    public var capacityClass: CapacityClass {
        switch self {
        case .voice, .callback: return .voice
        case .chat: return .chat
        case .sms: return .sms
        case .email: return .email
        }
    }

    var bit: UInt8 { 1 << rawValue }
}

/// The four desk slots: voice (calls and callbacks), chat, SMS, email.
public enum CapacityClass: UInt8, CaseIterable, Sendable {
    case voice = 0, chat = 1, sms = 2, email = 3
}

/// What the contact is about. Emergency and clinical go to nurses only.
public enum CallType: UInt8, CaseIterable, Sendable {
    case scheduling = 0, billing = 1, clinical = 2, emergency = 3, prescriptionRefill = 4, general = 5

    /// Nurse triage is a licensed role: these MUST only be offered to nurses.
    public var needsNurse: Bool { self == .clinical || self == .emergency }
}

// MARK: - Roles and status

/// An agent's roles as a small bit set.
public struct RoleSet: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let agent = RoleSet(rawValue: 1)
    public static let nurse = RoleSet(rawValue: 2)
    public static let supervisor = RoleSet(rawValue: 4)
    static let all: RoleSet = [.agent, .nurse, .supervisor]
}

/// What the agent said they are doing (their log-in state). `notReady` is set
/// by the system after a ring-no-answer; `offline` also by `SiteDown`.
public enum Presence: UInt8, CaseIterable, Sendable {
    case available = 0, onBreak = 1, offline = 2, notReady = 3
}

/// What a wallboard shows: work in hand wins over presence.
public enum AgentStatus: UInt8, CaseIterable, Sendable {
    case available = 0, busy = 1, wrapUp = 2, onBreak = 3, offline = 4, notReady = 5
}

/// Who a queue's tasks may be offered to. Escalations target nurse or
/// supervisor queues.
public enum QueueAudience: UInt8, CaseIterable, Sendable {
    case anyAgent = 0, nurses = 1, supervisors = 2

    var requiredRoles: RoleSet {
        switch self {
        case .anyAgent: return []
        case .nurses: return .nurse
        case .supervisors: return .supervisor
        }
    }
}

// MARK: - Task lifecycle

/// queued → offered → accepted → wrapUp → completed, plus abandoned and
/// callbackScheduled. Transfer and escalation are transitions (recorded on the
/// task and as events) that put the task back to `queued` in another queue.
public enum TaskState: UInt8, CaseIterable, Sendable {
    case queued = 0, offered = 1, accepted = 2, wrapUp = 3, completed = 4, abandoned = 5, callbackScheduled = 6

    public var isClosed: Bool { self == .completed || self == .abandoned }
}

/// Why an agent escalated. A code, never free text: free text invites PHI.
public enum EscalationReason: UInt8, CaseIterable, Sendable {
    case clinicalConcern = 0, emergencySymptoms = 1, patientRequest = 2, complaint = 3, beyondAuthority = 4, other = 5
}

/// How a handled task ended.
public struct Disposition: Hashable, Sendable {
    public static let csatRange: ClosedRange<UInt8> = 1...5
    /// Resolved on first contact (no follow-up contact needed).
    public var resolvedFirstContact: Bool
    public var followUpNeeded: Bool
    /// Survey score 1...5, or nil when the patient did not answer the survey.
    public var csat: UInt8?

    public init(resolvedFirstContact: Bool, followUpNeeded: Bool = false, csat: UInt8? = nil) {
        self.resolvedFirstContact = resolvedFirstContact
        self.followUpNeeded = followUpNeeded
        self.csat = csat
    }
}

/// One recorded escalation.
public struct Escalation: Hashable, Sendable {
    public var at: UInt64
    public var by: AgentID
    public var from: QueueID
    public var to: QueueID
    public var reason: EscalationReason
}
