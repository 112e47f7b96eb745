/// Deliberately wrong rules, for tests that prove the checkers can fail.
/// TEST ONLY: a node in production always runs with none.
public enum InjectedBug: Sendable, Hashable {
    /// Grant a vote in a term where this member already voted for another (breaks §5.2).
    case grantTwoVotesPerTerm
    /// Commit an entry of an earlier term by counting replicas (the Figure 8 mistake, §5.4.2).
    case commitPreviousTermByCounting
}

/// How one member runs: its identity, timing in ticks, and the limits it enforces.
public struct RaftConfig: Sendable {
    public var id: NodeID
    /// The cluster's founding voters. Used only when the persistent state is empty:
    /// the member then writes one committed membership entry per founder (see
    /// `RaftNode.bootstrap`). A node that joins later passes an empty set and learns
    /// the membership from the leader.
    public var initialVoters: Set<NodeID>
    /// The base election timeout; each member waits a random number of ticks in
    /// `[electionTicks, 2 * electionTicks)` so that split votes resolve (§5.2).
    public var electionTicks: Int = 10
    /// A leader sends heartbeats every `heartbeatTicks`; MUST be below `electionTicks`.
    public var heartbeatTicks: Int = 1
    /// The most entries in one append message.
    public var entriesPerMessageMax: Int = 512
    /// The most entry bytes in one append message (at least one entry is always sent).
    public var messageBytesMax: Int = 1 << 20
    /// The most append messages in flight to one follower in the replicate state.
    public var inflightMessagesMax: Int = 256
    /// Proposals are refused while the leader holds more uncommitted bytes than this.
    public var uncommittedBytesMax: Int = 64 << 20
    /// The most committed entries handed to the shell in one `Ready`.
    public var committedEntriesPerReadyMax: Int = 8192
    /// The most ReadIndex requests waiting for confirmation at once.
    public var pendingReadsMax: Int = 4096
    /// Ask "would you vote for me?" before disrupting a cluster with a new term (§9.6).
    public var preVote: Bool = true
    /// A leader that hears from no quorum for an election timeout steps down (§6.2).
    public var checkQuorum: Bool = true
    /// TEST ONLY: deliberately wrong rules. Empty in production.
    public var injectedBugs: Set<InjectedBug> = []

    public init(id: NodeID, initialVoters: Set<NodeID>) {
        self.id = id
        self.initialVoters = initialVoters
    }

    func validate() {
        precondition(id.isValid, "RaftConfig.id '\(id)' is not a valid node id")
        precondition(heartbeatTicks >= 1, "RaftConfig.heartbeatTicks \(heartbeatTicks) must be >= 1")
        precondition(
            electionTicks > heartbeatTicks,
            "RaftConfig.electionTicks \(electionTicks) must exceed heartbeatTicks \(heartbeatTicks)")
        precondition(entriesPerMessageMax >= 1, "RaftConfig.entriesPerMessageMax must be >= 1")
        precondition(inflightMessagesMax >= 1, "RaftConfig.inflightMessagesMax must be >= 1")
        precondition(messageBytesMax >= 1, "RaftConfig.messageBytesMax must be >= 1")
    }
}

/// Where a proposal landed: the shell waits for this index to apply, and fails the
/// client if a different term's entry is applied there instead.
public struct ProposalTicket: Sendable, Equatable {
    public var index: UInt64
    public var term: UInt64

    public init(index: UInt64, term: UInt64) {
        self.index = index
        self.term = term
    }
}

/// Why a request to the core was refused. Nothing was appended.
public struct ProposalError: Error, Equatable, CustomStringConvertible {
    private enum Base: Equatable {
        case notLeader(NodeID?)
        case transferInProgress
        case confChangePending
        case uncommittedBytesExceeded
        case tooLarge
        case invalidConfChange(String)
        case invalidRequest(String)
    }

    private let base: Base

    /// This member is not the leader; `leaderHint` is the leader it knows, if any.
    public static func notLeader(leaderHint: NodeID?) -> ProposalError { ProposalError(base: .notLeader(leaderHint)) }
    /// A leadership transfer is under way; retry at the new leader.
    public static let transferInProgress = ProposalError(base: .transferInProgress)
    /// A membership change is not yet committed; one at a time.
    public static let confChangePending = ProposalError(base: .confChangePending)
    /// Too many uncommitted bytes; the cluster is behind. Back off and retry.
    public static let uncommittedBytesExceeded = ProposalError(base: .uncommittedBytesExceeded)
    /// The entry is larger than `CodecLimits.entryBytesMax`.
    public static let tooLarge = ProposalError(base: .tooLarge)
    /// The membership change makes no sense for the current configuration.
    public static func invalidConfChange(_ reason: String) -> ProposalError { ProposalError(base: .invalidConfChange(reason)) }
    /// A request the core cannot act on (bad transfer target, bad snapshot index).
    public static func invalidRequest(_ reason: String) -> ProposalError { ProposalError(base: .invalidRequest(reason)) }

    /// The leader this member knows, when refused for not being leader.
    public var leaderHint: NodeID? {
        if case .notLeader(let hint) = base { return hint }
        return nil
    }

    public var isNotLeader: Bool {
        if case .notLeader = base { return true }
        return false
    }

    public var description: String {
        switch base {
        case .notLeader(let hint): "not the leader" + (hint.map { " (leader is \($0))" } ?? " (no leader known)")
        case .transferInProgress: "leadership transfer in progress"
        case .confChangePending: "a membership change is already pending"
        case .uncommittedBytesExceeded: "too many uncommitted bytes; retry later"
        case .tooLarge: "entry larger than \(CodecLimits.entryBytesMax) bytes"
        case .invalidConfChange(let reason): "invalid membership change: \(reason)"
        case .invalidRequest(let reason): "invalid request: \(reason)"
        }
    }
}
