extension RaftNode {
    mutating func tickLeader() {
        heartbeatElapsed += 1
        electionElapsed += 1
        if electionElapsed >= config.electionTicks {
            electionElapsed = 0
            if config.checkQuorum {
                let active = conf.voters.filter { $0 == config.id || progress[$0]?.recentActive == true }.count
                guard active >= quorum else {
                    trace("check-quorum-failed", ["active": String(active)])
                    becomeFollower(term: term, leader: nil)
                    return
                }
                for member in progress.keys { progress[member]?.recentActive = false }
            }
            if let target = leadTransferee {
                trace("transfer-aborted", ["to": target.rawValue])
                leadTransferee = nil
            }
        }
        for member in progress.keys where progress[member]?.state == .snapshot {
            progress[member]?.snapshotTicks += 1
            // A lost snapshot message would otherwise stall this follower forever.
            if progress[member]!.snapshotTicks >= 2 * config.electionTicks {
                progress[member]?.becomeProbe()
            }
        }
        if heartbeatElapsed >= config.heartbeatTicks {
            heartbeatElapsed = 0
            broadcastHeartbeat(context: [])
        }
    }

    mutating func appendAsLeader(kind: EntryKind, data: [UInt8]) -> ProposalTicket {
        let entry = Entry(term: term, index: log.lastIndex + 1, kind: kind, data: data)
        log.append([entry])
        uncommittedBytes += entry.sizeBytes
        broadcastPending = true
        return ProposalTicket(index: entry.index, term: term)
    }

    /// Sends what followers lack, batching every entry appended since the last call.
    mutating func flushBroadcast() {
        guard broadcastPending, role == .leader else { return }
        broadcastPending = false
        for member in progress.keys.sorted() {
            sendAppend(to: member, sendIfEmpty: commitBroadcastPending)
        }
        commitBroadcastPending = false
    }

    mutating func broadcastHeartbeat(context: [UInt8]) {
        for member in progress.keys.sorted() {
            let commit = min(progress[member]!.match, log.committed)
            send(Message(kind: .heartbeat, from: config.id, to: member, term: term, commit: commit, context: context))
        }
    }

    /// Sends `node` the entries it lacks: one probe, or a window of appends, or the
    /// snapshot when its next entry is compacted away.
    mutating func sendAppend(to node: NodeID, sendIfEmpty: Bool) {
        guard var peer = progress[node] else { return }
        defer { progress[node] = peer }
        var mustSend = sendIfEmpty
        while !peer.isPaused(inflightMax: config.inflightMessagesMax) {
            let prevIndex = peer.next - 1
            guard let prevTerm = log.term(at: prevIndex) else {
                sendSnapshot(to: node, peer: &peer)
                return
            }
            let entries = log.slice(
                from: peer.next, through: log.lastIndex,
                countMax: config.entriesPerMessageMax, bytesMax: config.messageBytesMax)
            if entries.isEmpty, !mustSend { return }
            mustSend = false
            send(Message(
                kind: .append, from: config.id, to: node, term: term, logTerm: prevTerm,
                index: prevIndex, entries: entries, commit: log.committed))
            switch peer.state {
            case .replicate:
                guard let last = entries.last else { return }
                peer.next = last.index + 1
                peer.inflight.append(last.index)
            case .probe:
                peer.probeSent = true
            case .snapshot:
                return
            }
            if peer.next > log.lastIndex { return }
        }
    }

    private mutating func sendSnapshot(to node: NodeID, peer: inout PeerProgress) {
        precondition(!log.snapshot.isEmpty, "follower \(node) needs compacted entries but there is no snapshot; next=\(peer.next)")
        peer.becomeSnapshot(log.snapshotIndex)
        trace("snapshot-sent", ["to": node.rawValue, "index": String(log.snapshotIndex)])
        send(Message(kind: .snapshot, from: config.id, to: node, term: term, snapshot: log.snapshot))
    }

    // MARK: - Responses

    mutating func stepLeader(_ message: Message) {
        switch message.kind {
        case .appendResponse: handleAppendResponse(message)
        case .heartbeatResponse: handleHeartbeatResponse(message)
        default: break
        }
    }

    private mutating func handleAppendResponse(_ message: Message) {
        guard var peer = progress[message.from] else { return }
        peer.recentActive = true
        if message.reject {
            var hint = message.rejectHint
            if message.hintTerm > 0 { hint = log.conflictHint(index: message.rejectHint, term: message.hintTerm) }
            if peer.maybeDecrease(rejected: message.index, hint: hint) {
                if peer.state == .replicate { peer.becomeProbe() }
                progress[message.from] = peer
                sendAppend(to: message.from, sendIfEmpty: true)
            } else {
                progress[message.from] = peer
            }
            return
        }
        guard peer.maybeUpdate(message.index) else {
            progress[message.from] = peer
            return
        }
        switch peer.state {
        case .probe:
            peer.becomeReplicate()
        case .snapshot:
            if peer.match >= peer.pendingSnapshot { peer.becomeReplicate() }
        case .replicate:
            peer.freeInflight(through: message.index)
        }
        progress[message.from] = peer
        if maybeCommit() {
            flushBroadcast()
        } else {
            sendAppend(to: message.from, sendIfEmpty: false)
        }
        if leadTransferee == message.from, peer.match == log.lastIndex {
            send(Message(kind: .timeoutNow, from: config.id, to: message.from, term: term))
        }
    }

    private mutating func handleHeartbeatResponse(_ message: Message) {
        guard var peer = progress[message.from] else { return }
        peer.recentActive = true
        peer.probeSent = false
        if peer.state == .replicate, peer.inflight.count >= config.inflightMessagesMax {
            peer.inflight.removeFirst()
        }
        progress[message.from] = peer
        if peer.match < log.lastIndex { sendAppend(to: message.from, sendIfEmpty: true) }
        if !message.context.isEmpty { acknowledgeRead(context: message.context, from: message.from) }
    }

    // MARK: - Commit

    /// §5.3, §5.4.2: the highest index a quorum of voters holds, committed only if
    /// its entry is of the current term. Returns true when the commit index moved.
    /// The leader holds what it persisted (`advance`), not what it appended: its
    /// appends may leave before its own fsync (`Ready.messagesMayPrecedePersist`).
    mutating func maybeCommit() -> Bool {
        var matches: [UInt64] = []
        matches.reserveCapacity(conf.voters.count)
        for voter in conf.voters {
            matches.append(voter == config.id ? log.stableThrough : progress[voter]?.match ?? 0)
        }
        guard matches.count >= quorum else { return false }
        matches.sort(by: >)
        let candidate = matches[quorum - 1]
        guard candidate > log.committed else { return false }
        let sameTerm = log.term(at: candidate) == term
        guard sameTerm || config.injectedBugs.contains(.commitPreviousTermByCounting) else { return false }
        commit(to: candidate)
        return true
    }

    /// Moves the commit index and does what follows from it on any role.
    mutating func commit(to index: UInt64) {
        let old = log.committed
        guard index > old else { return }
        if role == .leader {
            var released = 0
            var position = old + 1
            while position <= index, let entry = log.entry(at: position) {
                released += entry.sizeBytes
                position += 1
            }
            uncommittedBytes = max(0, uncommittedBytes - released)
            commitBroadcastPending = true
            broadcastPending = true
        }
        log.commit(to: index)
        applyCommittedConfChanges()
        if role == .leader, log.term(at: log.committed) == term, !readsAwaitingTermCommit.isEmpty {
            let waiting = readsAwaitingTermCommit
            readsAwaitingTermCommit.removeAll()
            for read in waiting { try? handleReadIndex(context: read.context, requester: read.requester) }
        }
    }

    // MARK: - ReadIndex

    mutating func handleReadIndex(context: [UInt8], requester: NodeID) throws(ProposalError) {
        guard pendingReads.count + readsAwaitingTermCommit.count < config.pendingReadsMax else {
            throw .invalidRequest("too many pending reads")
        }
        // §6.4: until it commits an entry of its term, a new leader does not know
        // the commit index, so it cannot yet name a safe read point.
        guard log.term(at: log.committed) == term else {
            readsAwaitingTermCommit.append((context, requester))
            return
        }
        if conf.voters == [config.id] {
            deliverRead(PendingRead(context: context, index: log.committed, requester: requester, acks: []))
            return
        }
        pendingReads.append(PendingRead(context: context, index: log.committed, requester: requester, acks: [config.id]))
        broadcastHeartbeat(context: context)
    }

    private mutating func acknowledgeRead(context: [UInt8], from node: NodeID) {
        guard conf.voters.contains(node), let position = pendingReads.firstIndex(where: { $0.context == context }) else { return }
        pendingReads[position].acks.insert(node)
        guard pendingReads[position].acks.count >= quorum else { return }
        // A quorum confirmed leadership after every earlier read was registered too.
        let confirmed = pendingReads[...position]
        pendingReads.removeFirst(position + 1)
        for read in confirmed { deliverRead(read) }
    }

    private mutating func deliverRead(_ read: PendingRead) {
        if read.requester == config.id {
            readStates.append(ReadState(index: read.index, context: read.context))
        } else {
            send(Message(kind: .readIndexResponse, from: config.id, to: read.requester, term: term, index: read.index, context: read.context))
        }
    }
}
