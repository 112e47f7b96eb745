import Raft

/// A whole Raft cluster in one process, driven by one seed: simulated clock,
/// lossy reordering network, crashes that lose what was not persisted, and
/// checkers that run after every step.
///
/// Deterministic: every choice comes from `random`, and every collection is
/// iterated in sorted order.
public struct Simulator {
    // MARK: - Members

    struct Member {
        var id: NodeID
        var raft: RaftNode?
        /// What reached "disk": survives crashes.
        var durable = PersistentState()
        /// The application: how many entries it applied, and a running hash of them.
        var appliedIndex: UInt64 = 0
        var appliedHash: UInt64 = 0
        var restartAtTick: Int?
        var lastRole: Role = .follower
        var isFounder: Bool
        /// A spare becomes started once a membership change adds it.
        var started: Bool
    }

    struct InFlight {
        var deliverAt: Int
        var sequence: Int
        var message: Message
    }

    struct PendingRead {
        var node: NodeID
        var context: [UInt8]
        /// Every entry committed before the read was issued MUST be visible to it.
        var committedBeforeIssue: UInt64
    }

    public let config: SimulationConfig
    var random: SeededRandom
    var members: [NodeID: Member] = [:]
    var network: [InFlight] = []
    var sequence = 0
    var blocked: Set<Pair> = []
    public internal(set) var tick = 0
    public internal(set) var summary: SimulationSummary
    var log: (String) -> Void

    // MARK: - What the checkers remember

    /// The entry (term, data hash) first applied at each index, on any member.
    var appliedByIndex: [UInt64: (term: UInt64, hash: UInt64)] = [:]
    /// The running application hash after applying each index.
    var stateHashByIndex: [UInt64: UInt64] = [:]
    var highestApplied: UInt64 = 0
    /// Every (index, term) seen in a durable log and the hash of its data.
    var entryHashByPosition: [Position: UInt64] = [:]
    var reads: [Int: PendingRead] = [:]
    var readSequence = 0
    /// False once the network heals: no more crashes, drops or duplicates.
    var faultsActive = true

    struct Pair: Hashable { var from: NodeID; var to: NodeID }
    struct Position: Hashable { var index: UInt64; var term: UInt64 }

    public init(config: SimulationConfig, log: @escaping (String) -> Void = { _ in }) {
        self.config = config
        random = SeededRandom(seed: config.seed)
        summary = SimulationSummary(seed: config.seed, nodeCount: config.nodeCount)
        self.log = log
        let founders = Set((1...config.nodeCount).map { NodeID("n\($0)") })
        for id in founders.sorted() {
            members[id] = Member(id: id, raft: makeRaft(id, durable: PersistentState(), founders: founders), isFounder: true, started: true)
        }
        for spare in 0..<config.spareCount {
            let id = NodeID("s\(spare + 1)")
            members[id] = Member(id: id, raft: nil, isFounder: false, started: false)
        }
    }

    var founders: Set<NodeID> { Set(members.values.filter(\.isFounder).map(\.id)) }

    func makeRaft(_ id: NodeID, durable: PersistentState, founders: Set<NodeID>) -> RaftNode {
        // A member that joins later knows no founders: it learns them from the log.
        var raftConfig = RaftConfig(id: id, initialVoters: id.rawValue.hasPrefix("n") ? founders : [])
        raftConfig.injectedBugs = config.injectedBugs
        raftConfig.electionTicks = config.electionTicks
        raftConfig.preVote = config.preVote
        raftConfig.checkQuorum = config.checkQuorum
        raftConfig.entriesPerMessageMax = config.entriesPerMessageMax
        raftConfig.inflightMessagesMax = 8
        let seed = config.seed &* 0x9E37_79B9 &+ UInt64(tick) &+ UInt64(id.rawValue.hashValueStable)
        return RaftNode(config: raftConfig, state: durable, random: SeededRandom(seed: seed))
    }

    // MARK: - Running

    /// Runs the whole schedule: faults, then heal, then the liveness check.
    public mutating func run() -> SimulationSummary {
        for _ in 0..<config.faultTicks {
            step(faults: true)
            if !summary.violations.isEmpty { return finish() }
        }
        healEverything()
        let healedAt = tick
        var livenessProposal: ProposalTicket?
        var livenessLeader: NodeID?
        for _ in 0..<config.healTicks {
            step(faults: false)
            if !summary.violations.isEmpty { return finish() }
            if livenessProposal == nil, let leader = currentLeader() {
                livenessProposal = try? members[leader]!.raft!.propose(Array("liveness-\(config.seed)".utf8))
                livenessLeader = leader
            }
            if let ticket = livenessProposal, let leader = livenessLeader,
                let applied = members[leader]?.appliedIndex, applied >= ticket.index
            {
                break
            }
            if tick - healedAt > config.livenessTicksMax {
                let detail = livenessProposal == nil ? "no leader elected" : "proposal at index \(livenessProposal!.index) not applied"
                violate(.liveness, "\(detail) within \(config.livenessTicksMax) ticks of healing; \(memberStates)")
                return finish()
            }
            if livenessProposal != nil, let leader = livenessLeader, members[leader]?.raft?.status.role != .leader {
                livenessProposal = nil  // leadership moved on; propose again at the new leader
            }
        }
        if livenessProposal == nil || (members[livenessLeader!]?.appliedIndex ?? 0) < livenessProposal!.index {
            violate(.liveness, "no committed proposal within \(config.healTicks) ticks of healing")
        }
        checkLogMatchingFully()
        return finish()
    }

    /// One line per member: role, term, log and membership, for failure reports.
    var memberStates: String {
        members.keys.sorted().compactMap { id -> String? in
            guard let status = members[id]!.raft?.status else { return members[id]!.started ? "\(id): down" : nil }
            let progress = status.progress.keys.sorted().map { "\($0):\(status.progress[$0]!.match)/\(status.progress[$0]!.state)" }
            return "\(id): \(status.role) t\(status.term) leader=\(status.leader?.rawValue ?? "-") commit=\(status.commit) last=\(status.lastIndex) voters=\(status.conf.voters.sorted().map(\.rawValue)) learners=\(status.conf.learners.sorted().map(\.rawValue)) \(progress)"
        }.joined(separator: " | ")
    }

    mutating func finish() -> SimulationSummary {
        summary.ticks = tick
        summary.entriesCommitted = highestApplied
        return summary
    }

    /// One tick: random events, timers, deliveries, and the checks.
    public mutating func step(faults: Bool) {
        tick += 1
        faultsActive = faults
        if faults { injectFaults() }
        restartDue()
        clientRequests()
        for id in members.keys.sorted() where members[id]!.raft != nil {
            members[id]!.raft!.tick()
            drain(id)
        }
        deliverDue(faults: faults)
        checkLeaders()
    }

    // MARK: - Ready handling (the shell contract)

    /// Handles every Ready of one member: persist, then send (a leader may send
    /// first), then apply, then advance.
    mutating func drain(_ id: NodeID) {
        var rounds = 0
        while members[id]!.raft?.hasReady == true {
            rounds += 1
            precondition(rounds < 1000, "member \(id) produced Ready values without end at tick \(tick)")
            let ready = members[id]!.raft!.ready()
            // A leader's messages may leave before its fsync, as NodeLoop sends
            // them; a crash then loses the Ready after they left.
            if ready.messagesMayPrecedePersist { for message in ready.messages { send(message) } }
            if crashLosesReady() {
                crash(id, losingReady: true)
                return
            }
            persist(id, ready)
            if !ready.messagesMayPrecedePersist { for message in ready.messages { send(message) } }
            apply(id, ready)
            members[id]!.raft!.advance(ready)
            if let soft = ready.softState { noteRole(id, soft) }
        }
    }

    mutating func crashLosesReady() -> Bool {
        faultsActive && config.crashPerMille > 0 && Int.random(in: 0..<4000, using: &random) < config.crashPerMille
    }

    mutating func persist(_ id: NodeID, _ ready: Ready) {
        var durable = members[id]!.durable
        if let snapshot = ready.snapshot {
            durable.snapshot = snapshot
            durable.entries.removeAll { $0.index <= snapshot.metadata.index }
            if let first = durable.entries.first, first.index != snapshot.metadata.index + 1 {
                durable.entries.removeAll()
            }
        }
        if let first = ready.entries.first {
            durable.entries.removeAll { $0.index >= first.index }
            precondition(
                first.index == durable.snapshot.metadata.index + 1 + UInt64(durable.entries.count),
                "member \(id) persisted entries from \(first.index) leaving a gap after \(durable.snapshot.metadata.index + UInt64(durable.entries.count))")
            durable.entries.append(contentsOf: ready.entries)
            for entry in ready.entries { recordPosition(entry) }
        }
        if let hard = ready.hardState { durable.hardState = hard }
        members[id]!.durable = durable
    }

    mutating func apply(_ id: NodeID, _ ready: Ready) {
        if let snapshot = ready.snapshot {
            guard let decoded = AppSnapshot(decoding: snapshot.data) else {
                violate(.stateMachineSafety, "\(id) received an undecodable snapshot at \(snapshot.metadata.index)")
                return
            }
            members[id]!.appliedIndex = snapshot.metadata.index
            members[id]!.appliedHash = decoded.hash
            summary.snapshotsInstalled += 1
            if let expected = stateHashByIndex[snapshot.metadata.index], expected != decoded.hash {
                violate(.stateMachineSafety, "\(id) installed a snapshot at \(snapshot.metadata.index) whose state differs from what others applied")
            }
        }
        for entry in ready.committedEntries {
            applyEntry(id, entry)
        }
        for read in ready.readStates { completeRead(id, read) }
        if summary.violations.isEmpty, !ready.traces.isEmpty {
            for trace in ready.traces where trace.name == "conf-change-applied" { summary.confChangesApplied += 1 }
        }
    }

    mutating func applyEntry(_ id: NodeID, _ entry: Entry) {
        let expectedIndex = members[id]!.appliedIndex + 1
        guard entry.index == expectedIndex else {
            violate(.stateMachineSafety, "\(id) applied index \(entry.index) after \(members[id]!.appliedIndex)")
            return
        }
        let dataHash = fnv1a(entry.data, seed: UInt64(entry.kind.rawValue))
        if let first = appliedByIndex[entry.index] {
            if first.term != entry.term || first.hash != dataHash {
                violate(.stateMachineSafety, "\(id) applied term \(entry.term) at index \(entry.index), another member applied term \(first.term)")
                return
            }
        } else {
            appliedByIndex[entry.index] = (entry.term, dataHash)
        }
        let newHash = fnv1a(withUnsafeBytes(of: dataHash) { Array($0) }, seed: members[id]!.appliedHash)
        members[id]!.appliedIndex = entry.index
        members[id]!.appliedHash = newHash
        if let known = stateHashByIndex[entry.index], known != newHash {
            violate(.stateMachineSafety, "\(id) reached a different state at index \(entry.index)")
        }
        stateHashByIndex[entry.index] = newHash
        highestApplied = max(highestApplied, entry.index)
    }

    // MARK: - Network

    mutating func send(_ message: Message) {
        summary.messagesSent += 1
        var message = message
        if config.encodeEveryMessages > 0, summary.messagesSent % config.encodeEveryMessages == 0 {
            summary.messagesEncoded += 1
            do {
                message = try Message(decoding: message.encoded())
            } catch {
                preconditionFailure("a message failed its own codec round trip: \(error); message \(message.kind) from \(message.from)")
            }
        }
        sequence += 1
        // Faults reorder messages; once healed, links deliver in order, as TCP does.
        let delay = faultsActive ? Int.random(in: 0...config.delayTicksMax, using: &random) : 1
        network.append(InFlight(deliverAt: tick + delay, sequence: sequence, message: message))
    }

    mutating func deliverDue(faults: Bool) {
        guard !network.isEmpty else { return }
        var due: [InFlight] = []
        var later: [InFlight] = []
        for item in network {
            if item.deliverAt <= tick { due.append(item) } else { later.append(item) }
        }
        network = later
        due.sort { ($0.deliverAt, $0.sequence) < ($1.deliverAt, $1.sequence) }
        for item in due {
            let message = item.message
            if blocked.contains(Pair(from: message.from, to: message.to)) || members[message.to]?.raft == nil {
                summary.messagesDropped += 1
                continue
            }
            if faults, Int.random(in: 0..<100, using: &random) < config.dropPercent {
                summary.messagesDropped += 1
                continue
            }
            if faults, Int.random(in: 0..<100, using: &random) < config.duplicatePercent {
                summary.messagesDuplicated += 1
                sequence += 1
                network.append(InFlight(deliverAt: tick + 1, sequence: sequence, message: message))
            }
            members[message.to]!.raft!.step(message)
            drain(message.to)
        }
    }
}

extension String {
    /// A hash that is the same in every process (Swift's `hashValue` is seeded per run).
    var hashValueStable: UInt32 {
        var hash: UInt32 = 2_166_136_261
        for byte in utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return hash
    }
}

/// FNV-1a over bytes, continuing from `seed`.
func fnv1a(_ bytes: [UInt8], seed: UInt64) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325 ^ seed
    for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    return hash
}

/// The simulated application's snapshot: applied index and running hash.
struct AppSnapshot {
    var index: UInt64
    var hash: UInt64

    init(index: UInt64, hash: UInt64) {
        self.index = index
        self.hash = hash
    }

    init?(decoding bytes: [UInt8]) {
        var reader = ByteReader(bytes)
        guard let index = try? reader.readUInt64(), let hash = try? reader.readUInt64(), reader.isAtEnd else { return nil }
        self.init(index: index, hash: hash)
    }

    func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(index)
        writer.write(hash)
        return writer.bytes
    }
}
