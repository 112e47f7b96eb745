/// What the harness fetches from each surviving node after the drill, as plain decoded
/// JSON. The checkers compare these with the history. The runner adapts the node API's
/// answers to these shapes; the checkers need nothing else.
public struct NodeFinalState: Codable, Equatable, Sendable {
    public var node: NodeName
    public var site: SiteName
    /// The last log index applied to the state machine when the state was read.
    public var appliedIndex: UInt64
    /// The node's hash of its whole contact-center state (hex).
    public var stateHash: String
    /// The hash at the head of the audit chain (hex).
    public var auditHead: String
    /// Every task the node knows, terminal ones included.
    public var tasks: [TaskSnapshot]
    public var agents: [AgentSnapshot]
    /// The routing decisions in log order.
    public var offersLog: [OfferEvent]

    public init(
        node: NodeName, site: SiteName, appliedIndex: UInt64, stateHash: String, auditHead: String,
        tasks: [TaskSnapshot], agents: [AgentSnapshot], offersLog: [OfferEvent]
    ) {
        self.node = node
        self.site = site
        self.appliedIndex = appliedIndex
        self.stateHash = stateHash
        self.auditHead = auditHead
        self.tasks = tasks
        self.agents = agents
        self.offersLog = offersLog
    }
}

public struct TaskSnapshot: Codable, Equatable, Sendable {
    public var id: TaskID
    public var state: TaskState
    public var agent: AgentID?
    public var queue: String
    /// Larger is more urgent.
    public var priority: Int
    public var emergency: Bool
    /// When the task first entered the queue (leader-stamped, ms since the epoch). A
    /// failover MUST keep it: it is the caller's place in line.
    public var enqueueTimeMs: UInt64
    /// The log index of the command that created the task (optional evidence).
    public var enqueueIndex: UInt64?
    /// The site whose node took the call; it never changes (optional evidence).
    public var site: SiteName?

    public init(
        id: TaskID, state: TaskState, agent: AgentID? = nil, queue: String, priority: Int, emergency: Bool,
        enqueueTimeMs: UInt64, enqueueIndex: UInt64? = nil, site: SiteName? = nil
    ) {
        self.enqueueIndex = enqueueIndex
        self.site = site
        self.id = id
        self.state = state
        self.agent = agent
        self.queue = queue
        self.priority = priority
        self.emergency = emergency
        self.enqueueTimeMs = enqueueTimeMs
    }

    /// Routing order within a queue: emergency first, then higher priority, then earlier
    /// enqueue time. Smaller ranks are served first; equal ranks in any order.
    public var rank: Rank { Rank(emergency: emergency, priority: priority, enqueueTimeMs: enqueueTimeMs) }

    public struct Rank: Comparable, Sendable, CustomStringConvertible {
        public var emergency: Bool
        public var priority: Int
        public var enqueueTimeMs: UInt64
        public static func < (lhs: Rank, rhs: Rank) -> Bool {
            if lhs.emergency != rhs.emergency { return lhs.emergency }
            if lhs.priority != rhs.priority { return lhs.priority > rhs.priority }
            return lhs.enqueueTimeMs < rhs.enqueueTimeMs
        }
        public var description: String { "\(emergency ? "emergency, " : "")priority \(priority), enqueued \(enqueueTimeMs)" }
    }
}

public struct AgentSnapshot: Codable, Equatable, Sendable {
    public var id: AgentID
    public var site: SiteName
    /// Tasks the agent may hold at once.
    public var capacity: Int

    public init(id: AgentID, site: SiteName, capacity: Int) {
        self.id = id
        self.site = site
        self.capacity = capacity
    }
}

/// One routing decision, in log order.
public struct OfferEvent: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable {
        /// The task entered its queue.
        case enqueued
        /// The router offered it to `agent` with fencing `token`.
        case offered
        /// `agent` accepted it: the agent now holds it.
        case accepted
        /// Back to waiting: an offer expired or was declined, or its holder's site went down
        /// (a voice task becomes a callback at its original place).
        case released
        case completed
        case abandoned
    }

    /// The log index of the command that caused it.
    public var index: UInt64
    public var kind: Kind
    public var task: TaskID
    public var agent: AgentID?
    public var token: UInt64?

    public init(index: UInt64, kind: Kind, task: TaskID, agent: AgentID? = nil, token: UInt64? = nil) {
        self.index = index
        self.kind = kind
        self.task = task
        self.agent = agent
        self.token = token
    }
}
