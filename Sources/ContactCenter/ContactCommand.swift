// MARK: - Commands

/// A command with the time the leader stamped on it. The state machine never
/// reads a clock: `at` (milliseconds since the Unix epoch) is its only time.
/// A command stamped earlier than one already applied is applied at the later
/// time: time inside the state never goes backwards.
public struct CommandEnvelope: Hashable, Sendable {
    public var at: UInt64
    public var command: ContactCommand
    public init(at: UInt64, _ command: ContactCommand) {
        self.at = at
        self.command = command
    }
}

/// Everything that can change the contact-center state.
public enum ContactCommand: Hashable, Sendable {
    /// Replace the cluster-wide settings.
    case configure(Settings)
    /// Add a site (up), or rename nothing: sites are just ids.
    case addSite(SiteID)
    /// Add or replace a queue's configuration. Replacing keeps its tasks.
    case defineQueue(QueueConfig)
    /// Add an agent (offline) or replace the configuration of one holding no task.
    case registerAgent(AgentConfig)
    /// The agent logs in (`available`), takes a break, logs out, or is not ready.
    case setPresence(AgentID, Presence)
    /// A new contact arrives at `site`. The result carries the new `TaskID`.
    case enqueue(NewTask)
    /// The agent takes the offered task. `token` MUST be the offer's token.
    case accept(TaskID, AgentID, token: UInt64)
    /// The agent turns the offer down: the task goes back to its place.
    case decline(TaskID, AgentID, token: UInt64)
    /// The conversation ended; the agent is writing notes.
    case wrapUp(TaskID, AgentID, token: UInt64)
    /// The agent closes the task with a disposition.
    case complete(TaskID, AgentID, token: UInt64, Disposition)
    /// The patient hung up / left the chat before being answered.
    case abandon(TaskID)
    /// A waiting patient asks to be called back. `dueAt` 0 (or past) means as
    /// soon as an agent is free, keeping their place in line; later means at that time.
    case requestCallback(TaskID, dueAt: UInt64)
    /// The agent hands the task to another queue.
    case transfer(TaskID, AgentID, token: UInt64, to: QueueID)
    /// The agent escalates to a nurse or supervisor queue, with a reason code.
    case escalate(TaskID, AgentID, token: UInt64, to: QueueID, EscalationReason)
    /// The leader lost the site.
    case siteDown(SiteID)
    /// The site is back.
    case siteUp(SiteID)
    /// The leader's periodic heartbeat (about every second): expires offers,
    /// applies overflow rules, fires due callbacks, rolls KPI windows.
    case tick
}

/// A new contact. Carries no PHI: only an opaque patient reference.
public struct NewTask: Hashable, Sendable {
    public var queue: QueueID
    public var channel: Channel
    public var callType: CallType
    /// 0 (routine) ... 255 (most urgent), added to the queue's priority.
    public var priority: UInt8
    public var patient: PatientID
    /// Where the contact came in (for voice: where the line is anchored).
    public var site: SiteID
    /// 0: route now. Later: a scheduled callback due then (channel MUST be `.callback`).
    public var callbackAt: UInt64

    public init(queue: QueueID, channel: Channel, callType: CallType = .general, priority: UInt8 = 0,
                patient: PatientID, site: SiteID, callbackAt: UInt64 = 0) {
        self.queue = queue
        self.channel = channel
        self.callType = callType
        self.priority = priority
        self.patient = patient
        self.site = site
        self.callbackAt = callbackAt
    }
}

// MARK: - Results

/// What `apply` did: either applied (with events), or rejected with a reason
/// and no change at all.
public struct CommandResult: Hashable, Sendable {
    public var events: [ContactEvent]
    public var rejection: Rejection?
    /// The task the command created or acted on.
    public var task: TaskID?
    /// The offer made to an agent for that task by this command, if any.
    public var offer: Offer?

    public var isApplied: Bool { rejection == nil }

    static func rejected(_ rejection: Rejection) -> CommandResult {
        CommandResult(events: [], rejection: rejection, task: nil, offer: nil)
    }
}

/// Why a command was refused. `detail` names ids only, never PHI.
public struct Rejection: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: UInt8, Sendable, CaseIterable {
        case unknownSite, unknownQueue, unknownAgent, unknownTask
        case siteDown, invalidConfig, illegalTransition, staleToken, notHolder
        case channelNotAccepted, overCapacity, limitReached, agentBusy, invalidDisposition
    }
    public var code: Code
    public var detail: String
    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }
    public var description: String { "\(code): \(detail)" }
}

/// An offer: the agent has `timeout` to accept, quoting `token`.
public struct Offer: Hashable, Sendable {
    public var task: TaskID
    public var agent: AgentID
    /// The fencing token: accept, wrap-up, complete, transfer and escalate MUST quote it.
    public var token: UInt64
    public var expiresAt: UInt64
    /// This patient's earlier interactions (task references, oldest first).
    public var history: [TaskID]
}
