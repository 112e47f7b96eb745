/// The kinds of message members exchange. The raw values are part of the wire
/// format: never renumber a case.
public enum MessageKind: UInt8, Sendable, Equatable, CaseIterable {
    /// Leader → follower: entries after (`logTerm`, `index`), and the leader's commit.
    case append = 1
    /// Follower → leader: `index` is the last matching index, or on `reject` the
    /// index that did not match with `rejectHint`/`hintTerm` for fast backtracking.
    case appendResponse = 2
    /// Candidate-to-be → all: would you vote for me at `term` (not yet incremented)?
    case preVote = 3
    case preVoteResponse = 4
    /// Candidate → all: vote for me at `term`, my last entry is (`logTerm`, `index`).
    case vote = 5
    case voteResponse = 6
    /// Leader → follower: I am still leader; `commit` is capped at the follower's match.
    case heartbeat = 7
    /// `context` echoes the heartbeat's, for ReadIndex confirmation.
    case heartbeatResponse = 8
    /// Leader → follower: install `snapshot`.
    case snapshot = 9
    /// Leader → transfer target: campaign now, ignoring the election timer.
    case timeoutNow = 10
    /// Follower → leader: confirm a linearizable read point for `context`.
    case readIndex = 11
    /// Leader → follower: the read point `index` for `context`.
    case readIndexResponse = 12
}

/// One message between members. One flat struct for every kind, as in
/// etcd-io/raft: fields a kind does not use stay at their zero values.
public struct Message: Sendable, Equatable {
    public var kind: MessageKind
    public var from: NodeID
    public var to: NodeID
    public var term: UInt64
    /// The term of the entry at `index` (append, vote: the sender's last entry).
    public var logTerm: UInt64
    public var index: UInt64
    public var entries: [Entry]
    public var commit: UInt64
    public var reject: Bool
    /// On a rejected append: the follower's guess of the highest index that may match.
    public var rejectHint: UInt64
    /// On a rejected append: the term of the follower's entry at `rejectHint`.
    public var hintTerm: UInt64
    public var snapshot: Snapshot?
    /// Opaque bytes round-tripped by heartbeats for ReadIndex, and the
    /// "leadership transfer" marker on vote requests.
    public var context: [UInt8]

    public init(
        kind: MessageKind,
        from: NodeID,
        to: NodeID,
        term: UInt64 = 0,
        logTerm: UInt64 = 0,
        index: UInt64 = 0,
        entries: [Entry] = [],
        commit: UInt64 = 0,
        reject: Bool = false,
        rejectHint: UInt64 = 0,
        hintTerm: UInt64 = 0,
        snapshot: Snapshot? = nil,
        context: [UInt8] = []
    ) {
        self.kind = kind
        self.from = from
        self.to = to
        self.term = term
        self.logTerm = logTerm
        self.index = index
        self.entries = entries
        self.commit = commit
        self.reject = reject
        self.rejectHint = rejectHint
        self.hintTerm = hintTerm
        self.snapshot = snapshot
        self.context = context
    }

    /// Approximate bytes on the wire, for batching limits.
    public var sizeBytes: Int {
        64 + entries.reduce(0) { $0 + $1.sizeBytes } + (snapshot?.data.count ?? 0) + context.count
    }
}
