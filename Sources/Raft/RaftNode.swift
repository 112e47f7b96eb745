/// The pure Raft core: one member's consensus state machine.
///
/// No I/O, no clock, no threads, no global randomness. The shell drives it with
/// `tick`, `step` and the request methods, then takes a `Ready` and handles it in
/// the order `Ready` documents, then calls `advance`. The shell MUST NOT call any
/// other mutating method between `ready()` and `advance(_:)`.
public struct RaftNode: Sendable {
    let config: RaftConfig
    var random: SeededRandom

    // MARK: Persistent state (§5, Figure 2)
    var term: UInt64 = 0
    var vote: NodeID?
    var log: RaftLog

    // MARK: Volatile state
    var role: Role = .follower
    var leader: NodeID?
    var conf: ConfState
    /// The last committed index whose membership change has been applied to `conf`.
    var confAppliedThrough: UInt64
    /// Index of the latest membership change appended; a new one waits until it commits.
    var pendingConfIndex: UInt64 = 0
    var electionElapsed = 0
    var heartbeatElapsed = 0
    var randomizedElectionTicks = 0
    var votes: [NodeID: Bool] = [:]
    var progress: [NodeID: PeerProgress] = [:]
    var leadTransferee: NodeID?
    var uncommittedBytes = 0
    /// The leader has appended entries not yet offered to followers.
    var broadcastPending = false
    /// The commit index moved: followers learn it even when there is nothing new.
    var commitBroadcastPending = false

    // MARK: ReadIndex (§6.4)
    struct PendingRead: Sendable {
        var context: [UInt8]
        var index: UInt64
        var requester: NodeID
        var acks: Set<NodeID>
    }
    var pendingReads: [PendingRead] = []
    /// Reads that arrived before this leader committed an entry of its term.
    var readsAwaitingTermCommit: [(context: [UInt8], requester: NodeID)] = []

    // MARK: Output for the next Ready
    var messages: [Message] = []
    var readStates: [ReadState] = []
    var traces: [TraceEvent] = []
    var lastSoftState: SoftState
    var lastHardState: HardState

    public init(config: RaftConfig, state: PersistentState, random: SeededRandom) {
        config.validate()
        self.config = config
        self.random = random
        term = state.hardState.term
        vote = state.hardState.vote
        log = RaftLog(snapshot: state.snapshot, entries: state.entries, committed: state.hardState.commit)
        conf = state.snapshot.isEmpty ? ConfState() : state.snapshot.metadata.conf
        confAppliedThrough = state.snapshot.metadata.index
        lastSoftState = SoftState(leader: nil, role: .follower)
        lastHardState = state.hardState
        if state == PersistentState(), !config.initialVoters.isEmpty {
            bootstrap(voters: config.initialVoters)
        }
        applyCommittedConfChanges()
        resetTimers()
    }

    // MARK: - Public requests

    /// One unit of logical time.
    public mutating func tick() {
        if role == .leader {
            tickLeader()
        } else {
            electionElapsed += 1
            if isPromotable, electionElapsed >= randomizedElectionTicks {
                electionElapsed = 0
                startElection(transfer: false)
            }
        }
    }

    /// Starts an election now, regardless of the timer.
    public mutating func campaign() {
        guard role != .leader, isPromotable else { return }
        startElection(transfer: false)
    }

    /// Appends a command. Only a leader accepts; the entry is replicated with the
    /// next `Ready`.
    public mutating func propose(_ data: [UInt8]) throws(ProposalError) -> ProposalTicket {
        try checkCanPropose(bytes: data.count)
        return appendAsLeader(kind: .normal, data: data)
    }

    /// Proposes one membership change; refused while another is uncommitted.
    public mutating func proposeConfChange(_ change: ConfChange) throws(ProposalError) -> ProposalTicket {
        let encoded = change.encoded()
        try checkCanPropose(bytes: encoded.count)
        guard pendingConfIndex <= log.committed else { throw .confChangePending }
        try validate(change)
        let ticket = appendAsLeader(kind: .confChange, data: encoded)
        pendingConfIndex = ticket.index
        return ticket
    }

    /// Hands leadership to `target` (§3.10 of the dissertation): bring it up to date,
    /// then tell it to campaign at once. Proposals are refused until it ends.
    public mutating func transferLeadership(to target: NodeID) throws(ProposalError) {
        guard role == .leader else { throw .notLeader(leaderHint: leader) }
        guard target != config.id else { throw .invalidRequest("\(target) is already the leader") }
        guard conf.voters.contains(target), let targetProgress = progress[target] else {
            throw .invalidRequest("\(target) is not a voter")
        }
        leadTransferee = target
        electionElapsed = 0
        trace("transfer-started", ["to": target.rawValue])
        if targetProgress.match == log.lastIndex {
            send(Message(kind: .timeoutNow, from: config.id, to: target, term: term))
        } else {
            sendAppend(to: target, sendIfEmpty: true)
        }
    }

    /// Asks for a linearizable read point. The answer arrives as a `ReadState` with
    /// the same context once a quorum confirms this leadership.
    public mutating func readIndex(context: [UInt8]) throws(ProposalError) {
        guard context.count <= CodecLimits.contextBytesMax else { throw .tooLarge }
        if role == .leader {
            try handleReadIndex(context: context, requester: config.id)
        } else {
            guard let leader else { throw .notLeader(leaderHint: nil) }
            send(Message(kind: .readIndex, from: config.id, to: leader, term: term, context: context))
        }
    }

    /// The application snapshotted its state at `index` (<= applied). The core keeps
    /// the snapshot for lagging followers and drops the log before it.
    public mutating func compact(index: UInt64, data: [UInt8]) throws(ProposalError) {
        guard index > log.snapshotIndex else { throw .invalidRequest("snapshot index \(index) is not after \(log.snapshotIndex)") }
        guard index <= log.applied else { throw .invalidRequest("snapshot index \(index) is beyond applied \(log.applied)") }
        log.compact(index: index, data: data, conf: confAt(index))
    }

    /// The shell could not reach `node`. A leader replicates to it with probes
    /// until it answers. A follower whose leader it is (the shell saw the
    /// connection close: a crashed leader's kernel resets it at once) stops
    /// honouring the leader's lease and campaigns within a third of an
    /// election timeout instead of after a whole one.
    ///
    /// Safety does not depend on this: votes do. A link that broke while the
    /// leader lives costs at most a refused pre-vote, because the other
    /// followers still hear the leader and refuse (`stepTerm`'s lease). A
    /// leader that went silent without a reset (power, network) is found by
    /// the election timeout as before.
    public mutating func reportUnreachable(_ node: NodeID) {
        if role == .follower, leader == node, node != config.id {
            leaderLost()
            return
        }
        guard role == .leader, var peer = progress[node] else { return }
        if peer.state == .replicate { peer.becomeProbe() }
        progress[node] = peer
    }

    /// The leader is gone: its lease is over, and the election timer runs out
    /// after a short random wait (random so two followers that both saw it
    /// rarely campaign in the same tick and split the vote).
    mutating func leaderLost() {
        guard electionElapsed < config.electionTicks else { return }
        trace("leader-lost", ["leader": leader?.rawValue ?? ""])
        electionElapsed = config.electionTicks
        let spread = max(2, config.electionTicks / 3)
        randomizedElectionTicks = config.electionTicks + Int.random(in: 1...spread, using: &random)
    }

    // MARK: - Ready

    public var hasReady: Bool {
        if broadcastPending || !messages.isEmpty || !readStates.isEmpty || !traces.isEmpty { return true }
        if log.unstableSnapshot != nil || log.stableThrough < log.lastIndex || log.applied < log.committed { return true }
        return currentHardState != lastHardState || currentSoftState != lastSoftState
    }

    /// Everything the shell must do now; see `Ready` for the order.
    public mutating func ready() -> Ready {
        flushBroadcast()
        var ready = Ready()
        let soft = currentSoftState
        if soft != lastSoftState { ready.softState = soft }
        let hard = currentHardState
        if hard != lastHardState { ready.hardState = hard }
        ready.snapshot = log.unstableSnapshot
        ready.entries = log.unstableEntries
        ready.committedEntries = log.entriesToApply(countMax: config.committedEntriesPerReadyMax)
        ready.messages = messages
        ready.readStates = readStates
        ready.traces = traces
        // A leader's messages are appends, heartbeats, snapshots and refusals:
        // nothing that vouches for this Ready's entries. Only a new term or vote
        // (which a leader never has) must reach the disk first.
        ready.messagesMayPrecedePersist = role == .leader && hard.term == lastHardState.term && hard.vote == lastHardState.vote
        messages.removeAll(keepingCapacity: true)
        readStates.removeAll()
        traces.removeAll()
        return ready
    }

    /// The shell has handled `ready`: what it persisted is stable, what it applied
    /// is applied.
    public mutating func advance(_ ready: Ready) {
        if let soft = ready.softState { lastSoftState = soft }
        if let hard = ready.hardState { lastHardState = hard }
        if ready.snapshot != nil { log.unstableSnapshot = nil }
        if let last = ready.entries.last, last.index <= log.lastIndex, log.term(at: last.index) == last.term {
            log.stableThrough = max(log.stableThrough, last.index)
            // The leader's own entries count toward the quorum once on its disk.
            if role == .leader { _ = maybeCommit() }
        }
        if let last = ready.committedEntries.last {
            log.applied = max(log.applied, last.index)
        }
    }

    /// The latest snapshot the core holds (after `compact`, the one the shell MUST
    /// persist before dropping the entries it covers).
    public var latestSnapshot: Snapshot { log.snapshot }

    public var status: RaftStatus {
        RaftStatus(
            id: config.id, term: term, vote: vote, role: role, leader: leader,
            commit: log.committed, applied: log.applied, lastIndex: log.lastIndex,
            snapshotIndex: log.snapshotIndex, conf: conf,
            progress: role == .leader ? progress : [:], leadTransferee: leadTransferee,
            uncommittedBytes: role == .leader ? uncommittedBytes : 0)
    }

    // MARK: - Shared helpers

    /// A founding member starts its log with one committed `addVoter` entry per
    /// founder, at term 1. Every founder writes the same entries, so their logs
    /// match; a member that joins later receives them like any other entries and
    /// so learns who the founders are.
    private mutating func bootstrap(voters: Set<NodeID>) {
        let entries = voters.sorted().enumerated().map { offset, voter in
            Entry(term: 1, index: UInt64(offset) + 1, kind: .confChange, data: ConfChange(kind: .addVoter, node: voter).encoded())
        }
        log.append(entries)
        term = 1
        log.commit(to: log.lastIndex)
    }

    var currentHardState: HardState { HardState(term: term, vote: vote, commit: log.committed) }
    var currentSoftState: SoftState { SoftState(leader: leader, role: role) }

    var isPromotable: Bool { conf.voters.contains(config.id) }

    var quorum: Int { conf.voters.count / 2 + 1 }

    mutating func send(_ message: Message) {
        messages.append(message)
    }

    mutating func trace(_ name: String, _ fields: KeyValuePairs<String, String> = [:]) {
        var all: [(String, String)] = [("term", String(term))]
        all.append(contentsOf: fields.map { ($0.key, $0.value) })
        traces.append(TraceEvent(name, all))
    }

    mutating func resetTimers() {
        electionElapsed = 0
        heartbeatElapsed = 0
        randomizedElectionTicks = config.electionTicks + Int.random(in: 0..<config.electionTicks, using: &random)
    }

    private mutating func checkCanPropose(bytes: Int) throws(ProposalError) {
        guard role == .leader else { throw .notLeader(leaderHint: leader) }
        guard leadTransferee == nil else { throw .transferInProgress }
        guard bytes <= CodecLimits.entryBytesMax else { throw .tooLarge }
        guard uncommittedBytes == 0 || uncommittedBytes + bytes <= config.uncommittedBytesMax else {
            throw .uncommittedBytesExceeded
        }
    }

    private func validate(_ change: ConfChange) throws(ProposalError) {
        switch change.kind {
        case .addVoter:
            guard !conf.voters.contains(change.node) else { throw .invalidConfChange("\(change.node) is already a voter") }
        case .addLearner:
            guard !conf.members.contains(change.node) else { throw .invalidConfChange("\(change.node) is already a member") }
        case .removeNode:
            guard conf.members.contains(change.node) else { throw .invalidConfChange("\(change.node) is not a member") }
            guard conf.voters != [change.node] else { throw .invalidConfChange("cannot remove the last voter") }
        }
    }
}
