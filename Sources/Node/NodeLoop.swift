import Foundation
import Raft
import Synchronization

/// The node's one owner thread (STYLE rule 2): it alone touches the Raft core,
/// the log store and the state machine.
///
/// Each turn: tick from the monotonic clock, drain the bounded inbox, step the
/// core, then handle every Ready in order — persist (one transaction, fsync) →
/// send → apply (answering waiting clients) → advance. Never suspended halfway.
/// Two shortcuts of that order, both in `handleReady`: committed entries that
/// were on disk before the Ready apply before its fsync, and a leader's
/// messages leave before it.
///
/// Not thread-safe; created and used on the loop thread only.
final class NodeLoop {
    let config: NodeConfig
    let log: Log
    let inbox: Inbox<NodeInput>
    let network: any PeerNetwork
    let published: PublishedView
    let store: any RaftLogStore
    var core: RaftNode
    var machine: any ReplicatedStateMachine
    var directory: MemberDirectory

    var applied: UInt64
    /// The term of the entry at `applied` (of the snapshot, before any entry applies).
    var appliedTerm: UInt64
    var snapshotIndex: UInt64
    var lastSoft: SoftState
    /// Proposals waiting for their entry to apply, by log index.
    var pending: [UInt64: (term: UInt64, reply: ProposalReply, deadline: UInt64)] = [:]
    /// Commands this follower forwarded, by request id.
    var forwarded: [UInt64: (completion: Completion<ProposalOutcome>, deadline: UInt64)] = [:]
    var nextRequestID: UInt64 = 1
    /// When the leader accepted each command it is waiting on (for the commit-latency histogram).
    var proposedAt: [UInt64: UInt64] = [:]
    /// Linearizable reads waiting for their read index, then for it to apply.
    var reads: [UInt64: PendingRead] = [:]
    var nextReadID: UInt64 = 1
    /// The application's duties while leader (see NodeLoop+Application.swift).
    var duties = ApplicationDuties()
    var hashDirty = true
    var stateHash = ""
    /// The applied index `stateHash` was computed at (it is refreshed lazily).
    var stateHashIndex: UInt64 = 0
    var lastHashNs: UInt64 = 0
    var lastHashCostNs: UInt64 = 0
    /// Hashing and snapshot encoding run here, on copies of the machine.
    let worker = MachineWorker()
    var hashInFlight = false
    /// The applied index a snapshot is being encoded at, while the worker has it.
    var snapshotInFlight: UInt64?
    /// Size of the last snapshot taken, and entry bytes applied since (see `snapshotIfDue`).
    var lastSnapshotBytes: UInt64 = 0
    var appliedBytesSinceSnapshot: UInt64 = 0
    static let amortizedSnapshotBytesMin: UInt64 = 1 << 20
    var lastExpireNs: UInt64 = 0
    static let expireIntervalNs: UInt64 = 10_000_000
    static let hashIntervalNs: UInt64 = 200_000_000
    /// A minute: at 25,000 queued tasks a hash took about a second on each
    /// node, and a 5 s cap made hashing a fifth of a core on every node
    /// (14 % of the machine during task enqueue, Docs/performance.md).
    static let hashWaitMaxNs: UInt64 = 60_000_000_000
    var stopping = false
    var stopDeadline: UInt64 = 0
    var persistBatches: UInt64 = 0
    /// The hard state last written to disk, and a newer one whose only change is
    /// the commit index, held back (see `handleReady`).
    var persistedHardState: HardState
    var deferredHardState: HardState?
    var persistedEntries: UInt64 = 0
    /// The last log index on disk (entries or snapshot).
    var durableIndex: UInt64
    /// Drill hooks (see NodeLoop+Drill.swift): the evidence recorder when
    /// `drill.evidence` is on, and the `ack-before-commit` bookkeeping.
    var evidence: DrillEvidence?
    var drillAcks = DrillAcks()

    static let ticksPerTurnMax = 10
    static let committedEntriesPerReadyMax = 512
    static let pendingMax = 65_536

    init(config: NodeConfig, log: Log, inbox: Inbox<NodeInput>, network: any PeerNetwork, published: PublishedView,
         store: any RaftLogStore, machine: any ReplicatedStateMachine) throws {
        self.config = config
        self.log = log
        self.inbox = inbox
        self.network = network
        self.published = published
        self.store = store
        self.machine = machine

        let state = try store.load()
        var directory = MemberDirectory()
        if !state.snapshot.isEmpty {
            let data = try NodeSnapshotData(decoding: state.snapshot.data)
            try self.machine.restore(data.machine)
            directory = data.directory
        }
        // The configuration seeds how to reach everyone; committed membership
        // changes (replayed from the log) and snapshots refine it.
        directory[config.node] = MemberInfo(site: config.site, peerAddress: config.advertisePeer, apiAddress: config.advertiseAPI)
        for peer in config.peers where directory[peer.node] == nil {
            directory[peer.node] = MemberInfo(site: peer.site, peerAddress: peer.peerAddress, apiAddress: peer.apiAddress)
        }
        self.directory = directory
        applied = state.snapshot.metadata.index
        appliedTerm = state.snapshot.metadata.term
        snapshotIndex = state.snapshot.metadata.index
        persistedHardState = state.hardState
        durableIndex = state.entries.last?.index ?? state.snapshot.metadata.index
        lastSnapshotBytes = UInt64(state.snapshot.data.count)

        let voters: Set<NodeID> = config.join ? [] : Set([config.node] + config.peers.map(\.node))
        var raftConfig = RaftConfig(id: config.node, initialVoters: voters)
        raftConfig.heartbeatTicks = config.raft.heartbeatTicks
        raftConfig.electionTicks = config.raft.electionTicks
        // Small enough that one Ready's applies fit a turn's budget (see `handleReady`).
        raftConfig.committedEntriesPerReadyMax = NodeLoop.committedEntriesPerReadyMax
        var seed = SystemRandomNumberGenerator()
        core = RaftNode(config: raftConfig, state: state, random: SeededRandom(seed: seed.next()))
        lastSoft = SoftState(leader: nil, role: .follower)
        log.info("node.loaded", [
            ("term", "\(state.hardState.term)"), ("commit", "\(state.hardState.commit)"),
            ("snapshotIndex", "\(snapshotIndex)"), ("entries", "\(state.entries.count)"),
        ])
        network.setMembers(peersOnly())
        startEvidence()
    }

    // MARK: - The loop

    /// Runs until shutdown completes. Throws only when the disk fails: the caller
    /// MUST then exit, because a node that cannot persist must not send.
    func run() throws {
        let tickNs = config.raft.tickMs * 1_000_000
        var nextTick = MonotonicClock.nowNs() + tickNs
        publishRevoked()
        publish(started: true)
        while true {
            let now = MonotonicClock.nowNs()
            var ticks = 0
            while nextTick <= now {
                if ticks < NodeLoop.ticksPerTurnMax { core.tick() }
                ticks += 1
                nextTick += tickNs
            }
            // Work left over from a turn that ran out of its budget: do not wait.
            let inputs = inbox.drain(timeoutNs: nextTick > now && !core.hasReady ? nextTick - now : 0)
            let workStarted = MonotonicClock.nowNs()
            let appliedBefore = applied
            for input in inputs { handle(input) }
            try handleReady(budgetNs: config.raft.electionMs * 250_000)
            if MonotonicClock.nowNs() >= lastExpireNs + NodeLoop.expireIntervalNs {
                // A scan of every waiter; deadlines are seconds, so every 10 ms is plenty.
                expireWaiters()
                lastExpireNs = MonotonicClock.nowNs()
            }
            performLeaderDuties()
            try collectMachineWork()
            // The state hash serializes the whole machine: O(state), on the worker.
            // Refreshed at most every `hashIntervalNs`, and large states wait
            // longer (20 × its cost, capped at `hashWaitMaxNs`) so hashing takes
            // at most ~5% of a core for hashes up to 3 s. (Drill evidence hashes
            // on demand; this one only feeds `/v1/cluster`.)
            if hashDirty && !hashInFlight && MonotonicClock.nowNs() >= lastHashNs + max(NodeLoop.hashIntervalNs, min(20 * lastHashCostNs, NodeLoop.hashWaitMaxNs)) {
                worker.hash(machine, at: applied)
                hashInFlight = true
                hashDirty = false
            }
            publish(started: true)
            noteSlowTurn(startedNs: workStarted, inputs: inputs.count, applied: applied - appliedBefore)
            if stopping && shouldStopNow() { break }
        }
        try handleReady()
        try flushDeferredHardState()
        failAllWaiters(.failed(status: 503, code: "stopping", message: "the node is shutting down"))
        network.stop()
        store.close()
        log.info("node.stopped", [("applied", "\(applied)")])
    }

    /// A turn that took half an election timeout held this node's heartbeats and
    /// votes back that long: followers of a slow leader start elections. Logged so
    /// an unexpected leader change can be traced to it (disk, CPU starvation).
    func noteSlowTurn(startedNs: UInt64, inputs: Int, applied: UInt64) {
        let tookNs = MonotonicClock.nowNs() - startedNs
        guard tookNs >= config.raft.electionMs * 500_000 else { return }
        log.warning("node.turn_slow", [("ms", "\(tookNs / 1_000_000)"), ("inputs", "\(inputs)"), ("applied", "\(applied)")])
    }

    // MARK: - Inputs

    func handle(_ input: NodeInput) {
        switch input {
        case .peerMessages(let messages):
            if let from = messages.first?.from { duties.heard[from] = MonotonicClock.nowNs() }
            for message in messages where message.to == config.node {
                core.step(message)
            }
        case .peerUnreachable(let node):
            core.reportUnreachable(node)
        case .propose(let command, let completion, let deadline):
            propose(command, reply: .local(completion), deadline: deadline)
        case .forwardRequest(let from, let requestID, let command, let deadline):
            propose(command, reply: .remote(from, requestID: requestID), deadline: deadline)
        case .forwardResponse(let requestID, let outcome):
            forwarded.removeValue(forKey: requestID)?.completion.complete(outcome)
        case .confChange(let change, let completion, let deadline):
            proposeConfChange(change, completion: completion, deadline: deadline)
        case .transferLeader(let target, let completion):
            guard core.status.role == .leader else {
                completion.complete(notLeader())
                return
            }
            log.info("leader.transfer_requested", [("to", target.rawValue)])
            do {
                try core.transferLeadership(to: target)
            } catch {
                completion.complete(.failed(status: 409, code: "transfer_refused", message: error.description))
                return
            }
            completion.complete(.applied(index: core.status.commit, result: []))
        case .read(let query, let completion, let deadline):
            startRead(query, completion: completion, deadline: deadline)
        case .localRead(let query, let completion):
            completion.complete(.applied(index: applied, result: query(machine)))
        case .drillEvidence(let completion):
            completion.complete(evidence.map {
                DrillEvidenceImage(node: config.node.rawValue, site: config.site.rawValue, appliedIndex: applied, machine: machine, evidence: $0)
            })
        case .backup(let completion):
            completion.complete(BackupImage(
                clusterID: config.clusterID, node: config.node, index: applied, term: appliedTerm,
                createdAtMs: UInt64(Date().timeIntervalSince1970 * 1000), stateHash: machine.stateHash,
                snapshot: NodeSnapshotData(directory: directory, machine: machine.snapshot()).encoded()
            ))
            log.info("backup.taken", [("index", "\(applied)")])
        case .shutdown:
            beginShutdown()
        }
    }

    func propose(_ command: [UInt8], reply: ProposalReply, deadline: UInt64) {
        let status = core.status
        if stopping {
            answer(reply, .failed(status: 503, code: "stopping", message: "the node is shutting down"))
            return
        }
        if status.role == .leader {
            guard pending.count < NodeLoop.pendingMax else {
                answer(reply, .failed(status: 429, code: "busy", message: "too many commands in flight"))
                return
            }
            do {
                let ticket = try core.propose(stamp(command))
                pending[ticket.index] = (ticket.term, reply, deadline)
                noteProposed(command, ticket: ticket)
                proposedAt[ticket.index] = MonotonicClock.nowNs()
                published.metrics.update { $0.proposals += 1 }
            } catch {
                published.metrics.update { $0.proposalsRefused += 1 }
                answer(reply, .failed(status: 503, code: "proposal_refused", message: "\(error)"))
            }
            return
        }
        guard case .local(let completion) = reply else {
            // A forwarded command reached a node that is no longer leader: no second hop.
            answer(reply, notLeader())
            return
        }
        guard let leader = status.leader, leader != config.node else {
            completion.complete(.noLeader())
            return
        }
        guard forwarded.count < NodeLoop.pendingMax else {
            completion.complete(.failed(status: 429, code: "busy", message: "too many commands in flight"))
            return
        }
        let requestID = nextRequestID
        nextRequestID += 1
        let budgetMs = deadline > MonotonicClock.nowNs() ? (deadline - MonotonicClock.nowNs()) / 1_000_000 : 0
        let payload = ForwardRequestPayload(requestID: requestID, budgetMs: budgetMs, command: command)
        guard network.forward(to: leader, payload: payload.encoded()) else {
            completion.complete(.failed(status: 503, code: "leader_unreachable", message: "cannot reach leader \(leader)"))
            return
        }
        forwarded[requestID] = (completion, deadline)
    }

    func proposeConfChange(_ change: ConfChange, completion: Completion<ProposalOutcome>, deadline: UInt64) {
        guard core.status.role == .leader else {
            completion.complete(notLeader())
            return
        }
        do {
            let ticket = try core.proposeConfChange(change)
            pending[ticket.index] = (ticket.term, .local(completion), deadline)
            log.info("members.change_proposed", [("kind", "\(change.kind)"), ("member", change.node.rawValue), ("index", "\(ticket.index)")])
        } catch {
            completion.complete(.failed(status: 409, code: "conf_change_refused", message: "\(error)"))
        }
    }

    func notLeader() -> ProposalOutcome {
        let leader = core.status.leader
        let where_ = leader.flatMap { directory[$0]?.apiAddress }.map { " at \($0)" } ?? ""
        return .failed(status: 421, code: "not_leader", message: "this node is not the leader; leader: \(leader?.rawValue ?? "unknown")\(where_)")
    }

    func answer(_ reply: ProposalReply, _ outcome: ProposalOutcome) {
        switch reply {
        case .local(let completion):
            completion.complete(outcome)
        case .remote(let node, let requestID):
            network.respond(to: node, payload: ForwardResponsePayload(requestID: requestID, outcome: outcome).encoded())
        }
    }

    // MARK: - Ready

    /// Handles every Ready the core has, or, with `budgetNs`, stops between two
    /// Readys once the budget is spent: a follower applying thousands of entries
    /// after a restart held its loop (votes, heartbeat answers) for over a second
    /// (`node.turn_slow` in a drill). The next turn goes on at once.
    func handleReady(budgetNs: UInt64? = nil) throws {
        let started = MonotonicClock.nowNs()
        while core.hasReady {
            if let budgetNs, MonotonicClock.nowNs() - started >= budgetNs { return }
            let ready = core.ready()
            if let soft = ready.softState { noteSoftState(soft) }
            // 1. Persist BEFORE anything leaves this node. A hard state whose term
            //    and vote are unchanged (only the commit index moved) needs no
            //    fsync of its own: a restarted node re-learns the commit index from
            //    the leader, and the applied state is rebuilt from snapshot + log.
            //    It rides along with the next write (entries, vote, snapshot, stop).
            //    Without this, every commit cost a second fsync before the answer.
            var hardState = ready.hardState
            if let hard = hardState, ready.snapshot == nil, ready.entries.isEmpty,
               hard.term == persistedHardState.term, hard.vote == persistedHardState.vote {
                deferredHardState = hard
                hardState = nil
            }
            //    Committed entries that were already on disk before this Ready
            //    (and are not among the entries it writes) apply first: their
            //    answers need not wait for this Ready's fsync. Under load the
            //    leader's answers otherwise waited one fsync of newer entries.
            let applyFirst = ready.snapshot == nil && !ready.committedEntries.isEmpty
                && ready.committedEntries.last!.index <= durableIndex
                && ready.committedEntries.last!.index < (ready.entries.first?.index ?? .max)
            if applyFirst { for entry in ready.committedEntries { apply(entry) } }
            //    A leader's appends leave before its own fsync, so the followers'
            //    fsyncs run alongside it (`Ready.messagesMayPrecedePersist`).
            let sendFirst = ready.messagesMayPrecedePersist
            if sendFirst && !ready.messages.isEmpty { network.send(ready.messages) }
            if ready.snapshot != nil || !ready.entries.isEmpty || hardState != nil {
                try persist(snapshot: ready.snapshot, entries: ready.entries, hardState: hardState ?? deferredHardState)
            }
            if config.drill.has(.ackBeforeCommit) { acknowledgeEarly(ready.entries) }
            // 2. Send.
            if !sendFirst && !ready.messages.isEmpty { network.send(ready.messages) }
            // 3. Apply (what the fsync above made durable, or a snapshot).
            if let snapshot = ready.snapshot { try restore(snapshot) }
            if !applyFirst { for entry in ready.committedEntries { apply(entry) } }
            noteReadStates(ready.readStates)
            serveReads()
            for trace in ready.traces { log.info("raft.\(trace.name)", trace.fields) }
            // 4. Advance.
            core.advance(ready)
            try snapshotIfDue()
        }
    }

    func persist(snapshot: Snapshot?, entries: [Entry], hardState: HardState?) throws {
        let started = MonotonicClock.nowNs()
        // A drill's slow disk counts in the persist latency, as a real one would.
        delayDurableWrite()
        try store.persist(snapshot: snapshot, entries: entries, hardState: hardState)
        let seconds = Double(MonotonicClock.nowNs() - started) / 1e9
        published.metrics.update { $0.persistLatency.observe(seconds: seconds) }
        if let hardState { persistedHardState = hardState }
        if let last = entries.last { durableIndex = last.index } else if let snapshot { durableIndex = max(durableIndex, snapshot.metadata.index) }
        deferredHardState = nil
        persistBatches += 1
        persistedEntries += UInt64(entries.count)
    }

    /// Writes a held-back commit index (before a snapshot and at shutdown).
    func flushDeferredHardState() throws {
        if let deferred = deferredHardState { try persist(snapshot: nil, entries: [], hardState: deferred) }
    }

    func noteSoftState(_ soft: SoftState) {
        if soft.leader != lastSoft.leader {
            // Commands forwarded to the old leader may never be answered (it may
            // be dead): answer them now, so clients retry at once instead of
            // waiting out their deadline. Like a timeout, the command may still apply.
            for (_, waiting) in forwarded {
                waiting.completion.complete(.failed(status: 503, code: "leader_changed",
                                                    message: "the leader changed while the command was forwarded; it may still apply"))
            }
            forwarded.removeAll()
            let won = soft.role == .leader
            published.metrics.update {
                $0.leaderChanges += 1
                if won { $0.electionsWon += 1 }
            }
            log.info("leader.changed", [
                ("leader", soft.leader?.rawValue ?? "none"), ("term", "\(core.status.term)"), ("role", soft.role.rawValue),
            ])
        }
        if soft.role != .leader && lastSoft.role == .leader {
            proposedAt.removeAll()
            // Entries this leader proposed may still commit under the next leader;
            // local waiters keep waiting (their index decides). Forwarded ones too.
            log.info("leader.stepped_down", [("term", "\(core.status.term)")])
        }
        lastSoft = soft
    }

    func apply(_ entry: Entry) {
        guard entry.index > applied else { return }
        var result: [UInt8] = []
        switch entry.kind {
        case .normal:
            result = applyNormal(entry)
            hashDirty = true
            if entry.data.first == LifelineStateMachine.Tag.security.rawValue { publishRevoked() }
        case .noop:
            break
        case .confChange:
            applyConfChange(entry)
        }
        applied = entry.index
        appliedTerm = entry.term
        drillAcks.applied(through: entry.index)
        appliedBytesSinceSnapshot += UInt64(entry.data.count)
        if let started = proposedAt.removeValue(forKey: entry.index) {
            let seconds = Double(MonotonicClock.nowNs() - min(started, MonotonicClock.nowNs())) / 1e9
            published.metrics.update { $0.commitLatency.observe(seconds: seconds) }
        }
        if let waiting = pending.removeValue(forKey: entry.index) {
            answer(waiting.reply, waiting.term == entry.term ? .applied(index: entry.index, result: result) : .superseded(entry.index))
        }
    }

    /// Hands the revocation set to the API threads.
    func publishRevoked() {
        guard let lifeline = machine as? LifelineStateMachine else { return }
        let revoked = lifeline.security.revokedIDs
        published.revoked.write { $0 = revoked }
    }

    func applyConfChange(_ entry: Entry) {
        guard let change = try? ConfChange(decoding: entry.data) else {
            log.error("members.undecodable_change", [("index", "\(entry.index)")])
            return
        }
        switch change.kind {
        case .addVoter, .addLearner:
            if let info = try? MemberInfo(decoding: change.context) { directory[change.node] = info }
        case .removeNode:
            if change.node != config.node { directory[change.node] = nil }
        }
        log.info("members.changed", [("kind", "\(change.kind)"), ("member", change.node.rawValue), ("index", "\(entry.index)")])
        network.setMembers(peersOnly())
        if change.kind == .removeNode && change.node == config.node {
            log.warning("members.removed_self", [("index", "\(entry.index)")])
        }
    }

    func restore(_ snapshot: Snapshot) throws {
        guard snapshot.metadata.index > applied else { return }
        let data = try NodeSnapshotData(decoding: snapshot.data)
        try machine.restore(data.machine)
        var directory = data.directory
        directory[config.node] = MemberInfo(site: config.site, peerAddress: config.advertisePeer, apiAddress: config.advertiseAPI)
        self.directory = directory
        applied = snapshot.metadata.index
        appliedTerm = snapshot.metadata.term
        snapshotIndex = snapshot.metadata.index
        lastSnapshotBytes = UInt64(snapshot.data.count)
        appliedBytesSinceSnapshot = 0
        hashDirty = true
        drillAcks.applied(through: applied)
        if evidence != nil, let lifeline = machine as? LifelineStateMachine {
            evidence!.adopt(lifeline.center, snapshotIndex: applied)
        }
        for index in pending.keys where index <= applied {
            answer(pending.removeValue(forKey: index)!.reply, .superseded(index))
        }
        network.setMembers(peersOnly())
        published.metrics.update { $0.snapshotsRestored += 1 }
        publishRevoked()
        log.info("snapshot.restored", [("index", "\(snapshot.metadata.index)"), ("term", "\(snapshot.metadata.term)")])
    }

    /// Every `snapshotEveryEntries` applied entries: snapshot the machine, let the
    /// core compact, persist the snapshot, then drop the covered log.
    func snapshotIfDue() throws {
        guard applied >= snapshotIndex + config.snapshotEveryEntries else { return }
        // Amortized: a snapshot writes the whole state, so wait until the log
        // since the last one holds at least half its size. Otherwise a large
        // state was rewritten every `snapshotEveryEntries` small commands
        // (256 MB per 10,000 writes of 256 bytes). The log kept is then at most
        // about half the state, plus `snapshotEveryEntries` entries. States
        // under 1 MiB are cheap to write and keep the plain count rule.
        guard lastSnapshotBytes < NodeLoop.amortizedSnapshotBytesMin || appliedBytesSinceSnapshot >= lastSnapshotBytes / 2 else { return }
        guard snapshotInFlight == nil else { return }
        worker.encodeSnapshot(machine, directory: directory, at: applied)
        snapshotInFlight = applied
        // Entries applied from now on count toward the next snapshot.
        appliedBytesSinceSnapshot = 0
    }

    /// Takes what the worker finished: a fresh state hash, or a snapshot to
    /// compact the log with (unless a leader's snapshot replaced the state since).
    func collectMachineWork() throws {
        for result in worker.finished() {
            switch result {
            case .hashed(let index, let hash, let costNs):
                hashInFlight = false
                lastHashNs = MonotonicClock.nowNs()
                lastHashCostNs = costNs
                adoptHash(hash, at: index)
            case .encoded(let index, let data, let hash, _):
                snapshotInFlight = nil
                adoptHash(hash, at: index)
                guard index > core.latestSnapshot.metadata.index else { continue }
                try compact(at: index, data: data)
            }
        }
    }

    func adoptHash(_ hash: String, at index: UInt64) {
        guard index >= stateHashIndex else { return }
        stateHash = hash
        stateHashIndex = index
    }

    /// Lets the core compact at `index`, persists the snapshot, then drops the covered log.
    func compact(at index: UInt64, data: [UInt8]) throws {
        try flushDeferredHardState()
        try core.compact(index: index, data: data)
        let snapshot = core.latestSnapshot
        // Saves the snapshot and drops the entries it covers, in one transaction;
        // the entries after it stay.
        delayDurableWrite()
        try store.saveSnapshot(snapshot)
        snapshotIndex = snapshot.metadata.index
        lastSnapshotBytes = UInt64(data.count)
        published.metrics.update { $0.snapshotsTaken += 1 }
        log.info("snapshot.taken", [("index", "\(snapshot.metadata.index)"), ("bytes", "\(data.count)")])
    }

    // MARK: - Waiters and shutdown

    func expireWaiters() {
        let now = MonotonicClock.nowNs()
        expireReads(now: now)
        for (id, waiting) in forwarded where waiting.deadline <= now {
            forwarded[id] = nil
            waiting.completion.complete(.failed(status: 504, code: "timeout", message: "the leader did not answer in time; the command may still apply"))
        }
        for (index, waiting) in pending where waiting.deadline <= now {
            // A follower gives up on its client at the deadline: stop tracking.
            // A local waiter is answered (a blocked thread has timed out by now
            // and ignores it; a deferred HTTP response is written with it).
            pending[index] = nil
            if waiting.reply.isLocal {
                answer(waiting.reply, .failed(status: 504, code: "timeout", message: "the command did not apply in time; it may still apply"))
            }
        }
    }

    func failAllWaiters(_ outcome: ProposalOutcome) {
        for (_, waiting) in pending { answer(waiting.reply, outcome) }
        pending.removeAll()
        for (_, waiting) in forwarded { waiting.completion.complete(outcome) }
        forwarded.removeAll()
    }

    func beginShutdown() {
        guard !stopping else { return }
        stopping = true
        let status = core.status
        stopDeadline = MonotonicClock.nowNs() + 2 * config.raft.electionMs * 1_000_000
        log.info("node.stopping", [("role", status.role.rawValue)])
        guard status.role == .leader else { return }
        // Hand leadership to the most caught-up voter so the cluster does not wait
        // out an election timeout.
        let best = status.progress
            .filter { $0.key != config.node && status.conf.voters.contains($0.key) }
            .max { $0.value.match < $1.value.match }
        if let best {
            log.info("leader.transfer_on_shutdown", [("to", best.key.rawValue)])
            try? core.transferLeadership(to: best.key)
        }
    }

    func shouldStopNow() -> Bool {
        let status = core.status
        if status.role != .leader { return true }
        if status.conf.voters.count <= 1 { return true }
        return MonotonicClock.nowNs() >= stopDeadline
    }

    // MARK: - Publishing

    func peersOnly() -> [NodeID: MemberInfo] {
        var members = directory.members
        members[config.node] = nil
        return members
    }

    func publish(started: Bool) {
        let status = core.status
        var view = ClusterView(node: config.node, site: config.site, clusterID: config.clusterID)
        view.role = status.role.rawValue
        view.term = status.term
        view.leader = status.leader
        view.commitIndex = status.commit
        view.appliedIndex = applied
        view.lastIndex = status.lastIndex
        view.snapshotIndex = snapshotIndex
        view.stateHash = stateHash
        view.stateHashIndex = stateHashIndex
        view.started = started
        view.stopping = stopping
        view.persistBatches = persistBatches
        view.persistedEntries = persistedEntries
        let members = status.conf.voters.union(status.conf.learners).sorted()
        view.members = members.map { node in
            let info = directory[node]
            let reachable = node == config.node || network.isConnected(node)
            let match: UInt64? = node == config.node ? status.lastIndex : status.progress[node]?.match
            return MemberView(
                node: node, site: info?.site, isVoter: status.conf.voters.contains(node), reachable: reachable,
                matchIndex: match, apiAddress: info?.apiAddress, peerAddress: info?.peerAddress
            )
        }
        published.mutex.withLock { $0 = view }
    }
}
