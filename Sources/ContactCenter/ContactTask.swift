// MARK: - Task

/// One contact as the state machine holds it. Read-only outside the module.
/// Holds no PHI: the patient is an opaque reference.
public struct ContactTask: Hashable, Sendable {
    public static let escalationsMax = 8
    public static let overflowHopsMax: UInt8 = 4

    public internal(set) var id: TaskID
    public internal(set) var queue: QueueID
    /// Ingress site; for voice, where the line is anchored.
    public internal(set) var site: SiteID
    public internal(set) var patient: PatientID
    public internal(set) var channel: Channel
    public internal(set) var callType: CallType
    /// The task's own priority (the queue's is added when ranking).
    public internal(set) var priority: UInt8
    public internal(set) var state: TaskState
    public internal(set) var createdAt: UInt64
    /// The caller's place in line: kept through callbacks, failover, overflow,
    /// transfer and escalation.
    public internal(set) var enqueuedAt: UInt64
    /// When the current wait for an answer started (speed of answer, abandon wait).
    public internal(set) var waitFrom: UInt64
    /// When the task entered its current queue (the overflow clock).
    public internal(set) var queueEnteredAt: UInt64
    /// Overflow rules of the current queue already applied.
    public internal(set) var stage: UInt8
    /// Overflows to another queue so far (bounded by `overflowHopsMax`).
    public internal(set) var hops: UInt8
    /// The agent holding it (offered, accepted, wrap-up), else nil.
    public internal(set) var agent: AgentID?
    /// The fencing token of the latest offer; 0 before any offer.
    public internal(set) var token: UInt64
    public internal(set) var offerExpiresAt: UInt64
    public internal(set) var acceptedAt: UInt64
    public internal(set) var callbackDueAt: UInt64
    public internal(set) var closedAt: UInt64
    public internal(set) var transfers: UInt8
    public internal(set) var escalations: [Escalation]
    public internal(set) var disposition: Disposition?
    /// True once the task was converted to a callback by `SiteDown`.
    public internal(set) var failedOver: Bool

    /// The capacity class and nurse requirement decide the lane.
    var needsNurse: Bool { callType.needsNurse }
}
