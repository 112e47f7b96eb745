import Raft

extension Simulator {
    mutating func violate(_ rule: Violation.Rule, _ detail: String) {
        let violation = Violation(rule: rule, tick: tick, detail: detail)
        summary.violations.append(violation)
        log("t=\(tick) VIOLATION: \(violation)")
    }

    func checkLeaders() {}

    /// Election safety (§5.2) and leader completeness (§5.4) at the moment a member
    /// becomes leader.
    mutating func noteRole(_ id: NodeID, _ soft: SoftState) {
        let previous = members[id]!.lastRole
        members[id]!.lastRole = soft.role
        guard soft.role == .leader, previous != .leader, let status = members[id]!.raft?.status else { return }
        if let other = summary.leadersByTerm[status.term], other != id {
            violate(.electionSafety, "\(other) and \(id) both led term \(status.term)")
            return
        }
        summary.leadersByTerm[status.term] = id
        log("t=\(tick) elected: \(id) leads term \(status.term)")
        checkLeaderCompleteness(id, term: status.term)
    }

    mutating func checkLeaderCompleteness(_ id: NodeID, term: UInt64) {
        let durable = members[id]!.durable
        let snapshotIndex = durable.snapshot.metadata.index
        for index in (snapshotIndex + 1)..<(max(highestApplied, snapshotIndex) + 1) {
            guard let committed = appliedByIndex[index] else { continue }
            let offset = Int(index - snapshotIndex - 1)
            guard offset < durable.entries.count, durable.entries[offset].term == committed.term else {
                violate(.leaderCompleteness, "\(id) leads term \(term) without committed entry \(index) (term \(committed.term))")
                return
            }
        }
    }

    /// Log matching, first half (§5.3): one (index, term) names one entry.
    mutating func recordPosition(_ entry: Entry) {
        let position = Position(index: entry.index, term: entry.term)
        let hash = fnv1a(entry.data, seed: UInt64(entry.kind.rawValue))
        if let known = entryHashByPosition[position] {
            if known != hash { violate(.logMatching, "two different entries at index \(entry.index) term \(entry.term)") }
        } else {
            entryHashByPosition[position] = hash
        }
    }

    /// Log matching, second half: logs that agree at an index agree on every entry
    /// before it. Checked over every pair of durable logs.
    mutating func checkLogMatchingFully() {
        let ids = members.keys.sorted().filter { members[$0]!.started }
        for (i, a) in ids.enumerated() {
            for b in ids[(i + 1)...] {
                checkPrefix(a, b)
            }
        }
    }

    private mutating func checkPrefix(_ a: NodeID, _ b: NodeID) {
        let left = members[a]!.durable
        let right = members[b]!.durable
        var termsByIndex: [UInt64: UInt64] = [:]
        for entry in right.entries { termsByIndex[entry.index] = entry.term }
        var agreedAt: UInt64?
        for entry in left.entries.reversed() where termsByIndex[entry.index] == entry.term {
            agreedAt = entry.index
            break
        }
        guard let agreed = agreedAt else { return }
        for entry in left.entries where entry.index <= agreed {
            if let other = termsByIndex[entry.index], other != entry.term {
                violate(.logMatching, "\(a) and \(b) agree at \(agreed) but differ at \(entry.index)")
                return
            }
        }
    }

    /// ReadIndex (§6.4): the read point covers everything committed before the read.
    mutating func completeRead(_ id: NodeID, _ read: ReadState) {
        var reader = ByteReader(read.context)
        guard let sequence = try? reader.readUInt64(), let pending = reads.removeValue(forKey: Int(sequence)) else { return }
        summary.readsServed += 1
        if read.index < pending.committedBeforeIssue {
            violate(.readLinearizability, "read \(sequence) at \(id) got index \(read.index) but \(pending.committedBeforeIssue) was committed before it was issued")
        }
    }
}
