/// The state a member MUST persist before it sends any message that depends on it.
///
/// A vote granted and then forgotten in a crash lets one member vote twice in a
/// term, which breaks election safety (Raft §5.2, Figure 2 "Persistent state").
public struct HardState: Sendable, Equatable {
    public var term: UInt64
    public var vote: NodeID?
    public var commit: UInt64

    public init(term: UInt64 = 0, vote: NodeID? = nil, commit: UInt64 = 0) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }
}

/// The cluster's membership: who votes and who only replicates.
public struct ConfState: Sendable, Equatable {
    public var voters: Set<NodeID>
    public var learners: Set<NodeID>

    public init(voters: Set<NodeID> = [], learners: Set<NodeID> = []) {
        self.voters = voters
        self.learners = learners
    }

    /// Every member, voters and learners.
    public var members: Set<NodeID> { voters.union(learners) }
}

/// One membership change. Changes are applied one at a time: the leader refuses a
/// second while the first is not yet committed.
public struct ConfChange: Sendable, Equatable {
    public enum Kind: UInt8, Sendable, Equatable {
        /// Add a voter, or promote an existing learner to voter.
        case addVoter = 1
        /// Add a non-voting learner that replicates but does not count for quorum.
        case addLearner = 2
        /// Remove a voter or a learner.
        case removeNode = 3
    }

    public var kind: Kind
    public var node: NodeID
    /// Opaque to Raft; the shell uses it for what it needs to reach the node
    /// (site, addresses).
    public var context: [UInt8]

    public init(kind: Kind, node: NodeID, context: [UInt8] = []) {
        self.kind = kind
        self.node = node
        self.context = context
    }
}
