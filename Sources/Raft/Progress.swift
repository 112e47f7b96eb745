/// How the leader is replicating to one follower (etcd-io/raft's progress states).
public enum ProgressState: String, Sendable, Equatable {
    /// One append at a time until the follower's log position is found.
    case probe
    /// The position is known: stream appends, up to the inflight window.
    case replicate
    /// The follower is too far behind; a snapshot is on its way.
    case snapshot
}

/// The leader's view of one member's log.
public struct PeerProgress: Sendable, Equatable {
    /// The highest index known to be replicated on the member.
    public var match: UInt64
    /// The next index to send.
    public var next: UInt64
    public var state: ProgressState
    /// Heard from within the current check-quorum period.
    public var recentActive: Bool
    /// In probe state: an append is out and unanswered.
    var probeSent = false
    /// Last index of each append message in flight, oldest first (replicate state).
    var inflight: [UInt64] = []
    /// The snapshot index being sent (snapshot state).
    var pendingSnapshot: UInt64 = 0
    /// Ticks spent in the snapshot state, to retry a lost snapshot.
    var snapshotTicks = 0

    init(next: UInt64) {
        match = 0
        self.next = next
        state = .probe
        recentActive = false
    }

    mutating func becomeProbe() {
        if state == .snapshot {
            next = max(match + 1, pendingSnapshot + 1)
        } else {
            next = match + 1
        }
        state = .probe
        probeSent = false
        inflight.removeAll(keepingCapacity: true)
        pendingSnapshot = 0
        snapshotTicks = 0
    }

    mutating func becomeReplicate() {
        state = .replicate
        next = match + 1
        probeSent = false
        inflight.removeAll(keepingCapacity: true)
        pendingSnapshot = 0
    }

    mutating func becomeSnapshot(_ index: UInt64) {
        state = .snapshot
        pendingSnapshot = index
        inflight.removeAll(keepingCapacity: true)
        snapshotTicks = 0
    }

    /// Records an acknowledgement of `index`. Returns true if it was news.
    mutating func maybeUpdate(_ index: UInt64) -> Bool {
        var updated = false
        if match < index {
            match = index
            updated = true
            probeSent = false
        }
        next = max(next, index + 1)
        return updated
    }

    /// A rejection of the append after `rejected`; `hint` is the highest index the
    /// follower may share with us. Returns false for a stale rejection.
    mutating func maybeDecrease(rejected: UInt64, hint: UInt64) -> Bool {
        if state == .replicate {
            guard rejected > match else { return false }
            next = match + 1
            return true
        }
        guard next - 1 == rejected else { return false }
        next = max(min(rejected, hint + 1), match + 1)
        probeSent = false
        return true
    }

    /// True when no more appends may be sent now.
    func isPaused(inflightMax: Int) -> Bool {
        switch state {
        case .probe: probeSent
        case .replicate: inflight.count >= inflightMax
        case .snapshot: true
        }
    }

    mutating func freeInflight(through index: UInt64) {
        var drop = 0
        while drop < inflight.count, inflight[drop] <= index { drop += 1 }
        if drop > 0 { inflight.removeFirst(drop) }
    }
}

/// A member's state for operators and tests.
public struct RaftStatus: Sendable, Equatable {
    public var id: NodeID
    public var term: UInt64
    public var vote: NodeID?
    public var role: Role
    public var leader: NodeID?
    public var commit: UInt64
    public var applied: UInt64
    public var lastIndex: UInt64
    public var snapshotIndex: UInt64
    public var conf: ConfState
    /// The leader's view of every member's log; empty on other members.
    public var progress: [NodeID: PeerProgress]
    public var leadTransferee: NodeID?
    /// Bytes the leader appended that are not yet committed (0 on other members).
    public var uncommittedBytes: Int
}
