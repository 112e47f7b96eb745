import Raft

extension Simulator {
    // MARK: - Faults

    mutating func injectFaults() {
        if chance(perMille: config.crashPerMille) { crashSomeone() }
        if chance(perMille: config.partitionPerMille) { partition() }
        if !blocked.isEmpty, chance(perMille: config.healPerMille) {
            blocked.removeAll()
            event("heal", "network healed")
        }
    }

    mutating func chance(perMille: Int) -> Bool {
        Int.random(in: 0..<1000, using: &random) < perMille
    }

    var running: [NodeID] { members.keys.sorted().filter { members[$0]!.raft != nil } }

    mutating func crashSomeone() {
        let up = running
        let down = members.values.filter { $0.started && $0.raft == nil }.count
        // Keep a majority of the founders' size up so the run keeps making progress.
        guard !up.isEmpty, down < (config.nodeCount - 1) / 2 else { return }
        crash(up.randomElement(using: &random)!, losingReady: false)
    }

    mutating func crash(_ id: NodeID, losingReady: Bool) {
        members[id]!.raft = nil
        members[id]!.restartAtTick = tick + Int.random(in: 5...40, using: &random)
        summary.crashes += 1
        if losingReady { summary.crashesLosingReady += 1 }
        event("crash", "\(id) crashed" + (losingReady ? " before persisting a Ready" : ""))
    }

    mutating func restartDue() {
        for id in members.keys.sorted() where members[id]!.raft == nil {
            if let at = members[id]!.restartAtTick, at <= tick { restart(id) }
        }
    }

    mutating func restart(_ id: NodeID) {
        var member = members[id]!
        member.raft = makeRaft(id, durable: member.durable, founders: founders)
        member.restartAtTick = nil
        member.lastRole = .follower
        if member.durable.snapshot.isEmpty {
            member.appliedIndex = 0
            member.appliedHash = 0
        } else if let app = AppSnapshot(decoding: member.durable.snapshot.data) {
            member.appliedIndex = member.durable.snapshot.metadata.index
            member.appliedHash = app.hash
        }
        members[id] = member
        summary.restarts += 1
        event("restart", "\(id) restarted at term \(member.durable.hardState.term) with \(member.durable.entries.count) entries")
    }

    mutating func partition() {
        let ids = members.keys.sorted().filter { members[$0]!.started }
        guard ids.count >= 2 else { return }
        blocked.removeAll()
        switch Int.random(in: 0..<3, using: &random) {
        case 0:
            let lonely = ids.randomElement(using: &random)!
            for other in ids where other != lonely {
                blocked.insert(Pair(from: lonely, to: other))
                blocked.insert(Pair(from: other, to: lonely))
            }
            event("partition", "\(lonely) isolated")
        case 1:
            let shuffled = ids.shuffled(using: &random)
            let cut = Int.random(in: 1..<shuffled.count, using: &random)
            let left = Set(shuffled[..<cut])
            for a in ids where left.contains(a) {
                for b in ids where !left.contains(b) {
                    blocked.insert(Pair(from: a, to: b))
                    blocked.insert(Pair(from: b, to: a))
                }
            }
            event("partition", "split \(left.sorted().map(\.rawValue).joined(separator: ",")) | rest")
        default:
            let from = ids.randomElement(using: &random)!
            let to = ids.filter { $0 != from }.randomElement(using: &random)!
            blocked.insert(Pair(from: from, to: to))
            event("partition", "asymmetric: \(from) cannot reach \(to)")
        }
        summary.partitions += 1
    }

    mutating func healEverything() {
        blocked.removeAll()
        for id in members.keys.sorted() where members[id]!.raft == nil && members[id]!.started {
            restart(id)
        }
        event("heal", "network healed and every member restarted; checking liveness")
    }

    // MARK: - Client requests

    mutating func clientRequests() {
        if chance(perMille: config.proposePerMille) { proposeSomething() }
        if chance(perMille: config.snapshotPerMille) { snapshotSomeone() }
        if chance(perMille: config.transferPerMille) { transferLeadership() }
        if chance(perMille: config.membershipPerMille) { changeMembership() }
        if chance(perMille: config.readPerMille) { readSomewhere() }
    }

    func currentLeader() -> NodeID? {
        // The leader of the highest term among running members.
        running.filter { members[$0]!.raft!.status.role == .leader }
            .max { members[$0]!.raft!.status.term < members[$1]!.raft!.status.term }
    }

    mutating func proposeSomething() {
        guard let leader = currentLeader() else { return }
        let count = Int.random(in: 1...4, using: &random)
        for _ in 0..<count {
            let size = Int.random(in: 8...64, using: &random)
            let data = (0..<size).map { _ in UInt8.random(in: 0...255, using: &random) }
            if (try? members[leader]!.raft!.propose(data)) != nil { summary.proposalsAccepted += 1 }
        }
        drain(leader)
    }

    mutating func snapshotSomeone() {
        guard let id = running.randomElement(using: &random) else { return }
        let member = members[id]!
        let status = member.raft!.status
        guard member.appliedIndex > status.snapshotIndex + 4, member.appliedIndex == status.applied else { return }
        let data = AppSnapshot(index: member.appliedIndex, hash: member.appliedHash).encoded()
        do {
            try members[id]!.raft!.compact(index: member.appliedIndex, data: data)
            var durable = members[id]!.durable
            // The shell persists its own snapshot, then drops the entries it covers.
            let metadata = SnapshotMetadata(index: member.appliedIndex, term: termOf(id, member.appliedIndex), conf: members[id]!.raft!.status.conf)
            durable.snapshot = Snapshot(metadata: metadata, data: data)
            durable.entries.removeAll { $0.index <= member.appliedIndex }
            members[id]!.durable = durable
            summary.snapshots += 1
            event("snapshot", "\(id) snapshotted at \(member.appliedIndex)")
        } catch {
            preconditionFailure("compact at applied index failed on \(id): \(error)")
        }
    }

    func termOf(_ id: NodeID, _ index: UInt64) -> UInt64 {
        let durable = members[id]!.durable
        if index == durable.snapshot.metadata.index { return durable.snapshot.metadata.term }
        return durable.entries.first { $0.index == index }?.term ?? 0
    }

    mutating func transferLeadership() {
        guard let leader = currentLeader() else { return }
        let voters = members[leader]!.raft!.status.conf.voters.sorted().filter { $0 != leader }
        guard let target = voters.randomElement(using: &random) else { return }
        if (try? members[leader]!.raft!.transferLeadership(to: target)) != nil {
            summary.transfers += 1
            event("transfer", "\(leader) hands leadership to \(target)")
            drain(leader)
        }
    }

    mutating func changeMembership() {
        guard let leader = currentLeader() else { return }
        let conf = members[leader]!.raft!.status.conf
        let spares = members.keys.sorted().filter { !$0.rawValue.hasPrefix("n") && !conf.members.contains($0) }
        let change: ConfChange
        if let learner = conf.learners.sorted().first {
            change = ConfChange(kind: .addVoter, node: learner)
        } else if conf.voters.count > 3, Int.random(in: 0..<2, using: &random) == 0 {
            change = ConfChange(kind: .removeNode, node: conf.voters.sorted().randomElement(using: &random)!)
        } else if let spare = spares.randomElement(using: &random) {
            change = ConfChange(kind: .addLearner, node: spare)
        } else {
            return
        }
        guard (try? members[leader]!.raft!.proposeConfChange(change)) != nil else { return }
        if change.kind == .addLearner, members[change.node]!.raft == nil {
            members[change.node]!.started = true
            members[change.node]!.raft = makeRaft(change.node, durable: members[change.node]!.durable, founders: founders)
        }
        event("membership", "\(leader) proposes \(change.kind) \(change.node)")
        drain(leader)
    }

    mutating func readSomewhere() {
        guard let id = running.randomElement(using: &random) else { return }
        readSequence += 1
        var writer = ByteWriter()
        writer.write(UInt64(readSequence))
        let context = writer.bytes
        if (try? members[id]!.raft!.readIndex(context: context)) != nil {
            reads[readSequence] = PendingRead(node: id, context: context, committedBeforeIssue: highestApplied)
            drain(id)
        }
    }

    mutating func event(_ kind: String, _ text: String) {
        log("t=\(tick) \(kind): \(text)")
    }
}
