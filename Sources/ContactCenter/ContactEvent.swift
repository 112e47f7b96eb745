// MARK: - Events

/// What happened, in order, as a result of one command. The shell logs these
/// (ids only, no PHI), pushes offers to desktops and feeds wallboards.
public enum ContactEvent: Hashable, Sendable {
    case settingsChanged
    case siteAdded(SiteID)
    case queueDefined(QueueID)
    case agentRegistered(AgentID, SiteID)
    /// The wallboard status of an agent changed.
    case agentStatusChanged(AgentID, SiteID, from: AgentStatus, to: AgentStatus)
    /// A new task was created (counted as "entered" in its queue and site).
    case taskCreated(TaskID, QueueID, SiteID, Channel, CallType, priority: UInt8)
    /// A task was put in a queue's line (new, transferred, escalated, requeued).
    case taskQueued(TaskID, QueueID)
    case taskOffered(TaskID, AgentID, token: UInt64, expiresAt: UInt64)
    case offerDeclined(TaskID, AgentID, token: UInt64)
    /// Ring-no-answer: the offer timed out; the agent is now not ready.
    case offerExpired(TaskID, AgentID, token: UInt64)
    case taskAccepted(TaskID, AgentID, QueueID, SiteID, waitMs: UInt64, withinTarget: Bool)
    case taskWrapUp(TaskID, AgentID)
    case taskCompleted(TaskID, AgentID, QueueID, SiteID, handleMs: UInt64, Disposition?)
    case taskAbandoned(TaskID, QueueID, SiteID, waitMs: UInt64, short: Bool)
    case callbackScheduled(TaskID, dueAt: UInt64)
    /// A voice task converted to a callback because its site was lost.
    case failoverDrop(TaskID, QueueID, SiteID)
    case callbackDue(TaskID)
    case overflowed(TaskID, from: QueueID, to: QueueID, stage: UInt8)
    case transferred(TaskID, AgentID, from: QueueID, to: QueueID)
    case escalated(TaskID, AgentID, from: QueueID, to: QueueID, EscalationReason)
    case siteWentDown(SiteID)
    case siteCameUp(SiteID)
    case kpiWindowStarted(index: UInt64)
}
