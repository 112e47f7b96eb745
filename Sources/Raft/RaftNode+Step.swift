extension RaftNode {
    /// The context that marks a vote request as a leadership transfer: it bypasses
    /// the leader lease that otherwise makes members ignore disruptive candidates.
    static let transferContext: [UInt8] = Array("transfer".utf8)

    /// Handles one message from a peer. Messages for another member, from an older
    /// term, or that make no sense in this role are ignored; nothing here traps on
    /// what a peer sends.
    public mutating func step(_ message: Message) {
        guard message.to == config.id, message.from != config.id else { return }
        guard stepTerm(message) else { return }
        switch message.kind {
        case .vote, .preVote:
            handleVoteRequest(message)
        case .readIndex:
            if role == .leader {
                try? handleReadIndex(context: message.context, requester: message.from)
            }
        default:
            switch role {
            case .leader: stepLeader(message)
            case .candidate, .preCandidate: stepCandidate(message)
            case .follower: stepFollower(message)
            }
        }
    }

    /// Term rules (§5.1, §9.6): returns false when the message must be dropped.
    private mutating func stepTerm(_ message: Message) -> Bool {
        if message.term > term {
            if message.kind == .vote || message.kind == .preVote {
                let transfer = message.context == Self.transferContext
                let leaseHeld = config.checkQuorum && leader != nil && electionElapsed < config.electionTicks
                // §4.2.3 of the dissertation: a member that hears from a leader does not
                // help a disruptive candidate (e.g. a removed or partitioned member).
                if leaseHeld, !transfer { return false }
            }
            switch message.kind {
            case .preVote:
                break  // a pre-vote never changes our term
            case .preVoteResponse where !message.reject:
                break  // the granted term is the one we will campaign in
            default:
                let fromLeader = [.append, .heartbeat, .snapshot].contains(message.kind)
                becomeFollower(term: message.term, leader: fromLeader ? message.from : nil)
            }
            return true
        }
        if message.term < term {
            if (config.checkQuorum || config.preVote), message.kind == .append || message.kind == .heartbeat {
                // A stale leader learns our term from this and steps down.
                send(Message(kind: .appendResponse, from: config.id, to: message.from, term: term))
            } else if message.kind == .preVote {
                send(Message(kind: .preVoteResponse, from: config.id, to: message.from, term: term, reject: true))
            }
            return false
        }
        return true
    }

    // MARK: - Votes

    private mutating func handleVoteRequest(_ message: Message) {
        let isPreVote = message.kind == .preVote
        var canVote = vote == message.from || (vote == nil && leader == nil) || (isPreVote && message.term > term)
        if !isPreVote, config.injectedBugs.contains(.grantTwoVotesPerTerm) { canVote = true }
        let upToDate = log.isUpToDate(lastIndex: message.index, lastTerm: message.logTerm)
        let responseKind: MessageKind = isPreVote ? .preVoteResponse : .voteResponse
        if canVote, upToDate {
            send(Message(kind: responseKind, from: config.id, to: message.from, term: message.term))
            if !isPreVote {
                electionElapsed = 0
                vote = message.from
            }
        } else {
            send(Message(kind: responseKind, from: config.id, to: message.from, term: term, reject: true))
        }
    }

    mutating func startElection(transfer: Bool) {
        if config.preVote, !transfer {
            becomePreCandidate()
            requestVotes(kind: .preVote, voteTerm: term + 1, transfer: false)
        } else {
            becomeCandidate()
            requestVotes(kind: .vote, voteTerm: term, transfer: transfer)
        }
    }

    private mutating func requestVotes(kind: MessageKind, voteTerm: UInt64, transfer: Bool) {
        votes = [config.id: true]
        trace(kind == .preVote ? "pre-vote-started" : "election-started")
        if tallyWon() { return }
        for voter in conf.voters.sorted() where voter != config.id {
            send(Message(
                kind: kind, from: config.id, to: voter, term: voteTerm,
                logTerm: log.lastTerm, index: log.lastIndex,
                context: transfer ? Self.transferContext : []))
        }
    }

    private mutating func stepCandidate(_ message: Message) {
        switch message.kind {
        case .append, .heartbeat, .snapshot:
            becomeFollower(term: message.term, leader: message.from)
            stepFollower(message)
        case .preVoteResponse where role == .preCandidate, .voteResponse where role == .candidate:
            guard conf.voters.contains(message.from), votes[message.from] == nil else { return }
            votes[message.from] = !message.reject
            if tallyWon() { return }
            let rejected = votes.values.filter { !$0 }.count
            if rejected >= quorum { becomeFollower(term: term, leader: nil) }
        default:
            break
        }
    }

    /// Moves on when a quorum granted: a pre-candidate campaigns, a candidate leads.
    private mutating func tallyWon() -> Bool {
        guard votes.values.filter({ $0 }).count >= quorum else { return false }
        if role == .preCandidate {
            becomeCandidate()
            requestVotes(kind: .vote, voteTerm: term, transfer: false)
        } else {
            becomeLeader()
        }
        return true
    }

    // MARK: - Follower

    private mutating func stepFollower(_ message: Message) {
        switch message.kind {
        case .append:
            electionElapsed = 0
            leader = message.from
            handleAppend(message)
        case .heartbeat:
            electionElapsed = 0
            leader = message.from
            handleHeartbeat(message)
        case .snapshot:
            electionElapsed = 0
            leader = message.from
            handleSnapshot(message)
        case .timeoutNow:
            guard isPromotable else { return }
            trace("transfer-campaign", ["from": message.from.rawValue])
            startElection(transfer: true)
        case .readIndexResponse:
            readStates.append(ReadState(index: message.index, context: message.context))
        default:
            break
        }
    }

    private mutating func handleAppend(_ message: Message) {
        guard message.index >= log.committed else {
            respondAppend(to: message.from, index: log.committed)
            return
        }
        if let lastNew = log.maybeAppend(prevIndex: message.index, prevTerm: message.logTerm, entries: message.entries) {
            commit(to: min(message.commit, lastNew))
            respondAppend(to: message.from, index: lastNew)
        } else {
            let hint = log.conflictHint(index: min(message.index, log.lastIndex), term: message.logTerm)
            send(Message(
                kind: .appendResponse, from: config.id, to: message.from, term: term,
                index: message.index, reject: true, rejectHint: hint, hintTerm: log.term(at: hint) ?? 0))
        }
    }

    private mutating func handleHeartbeat(_ message: Message) {
        commit(to: min(message.commit, log.lastIndex))
        send(Message(kind: .heartbeatResponse, from: config.id, to: message.from, term: term, context: message.context))
    }

    private mutating func handleSnapshot(_ message: Message) {
        guard let snapshot = message.snapshot else { return }
        let metadata = snapshot.metadata
        if metadata.index <= log.committed {
            respondAppend(to: message.from, index: log.committed)
            return
        }
        if log.matchTerm(metadata.index, metadata.term) {
            // Our log already holds what the snapshot covers: keep the suffix (§7).
            commit(to: metadata.index)
            respondAppend(to: message.from, index: log.lastIndex)
            return
        }
        log.restore(snapshot)
        conf = metadata.conf
        confAppliedThrough = metadata.index
        trace("snapshot-installed", ["index": String(metadata.index), "from": message.from.rawValue])
        respondAppend(to: message.from, index: log.lastIndex)
    }

    private mutating func respondAppend(to node: NodeID, index: UInt64) {
        send(Message(kind: .appendResponse, from: config.id, to: node, term: term, index: index))
    }

    // MARK: - Role changes

    mutating func becomeFollower(term newTerm: UInt64, leader newLeader: NodeID?) {
        if newTerm > term {
            term = newTerm
            vote = nil
        }
        let wasLeader = role == .leader
        role = .follower
        leader = newLeader
        leadTransferee = nil
        pendingReads.removeAll()
        readsAwaitingTermCommit.removeAll()
        broadcastPending = false
        resetTimers()
        if wasLeader { trace("stepped-down") }
        trace("became-follower", ["leader": newLeader?.rawValue ?? "-"])
    }

    private mutating func becomePreCandidate() {
        role = .preCandidate
        leader = nil
        resetTimers()
    }

    private mutating func becomeCandidate() {
        term += 1
        vote = config.id
        role = .candidate
        leader = nil
        resetTimers()
    }

    mutating func becomeLeader() {
        role = .leader
        leader = config.id
        leadTransferee = nil
        resetTimers()
        progress = [:]
        for member in conf.members where member != config.id {
            var peer = PeerProgress(next: log.lastIndex + 1)
            peer.recentActive = true
            progress[member] = peer
        }
        uncommittedBytes = 0
        // Any membership change already in the log must commit before another starts.
        pendingConfIndex = log.lastIndex
        trace("became-leader", ["lastIndex": String(log.lastIndex)])
        // §8: an empty entry of this term lets the leader commit and learn the
        // commit index of earlier terms.
        _ = appendAsLeader(kind: .noop, data: [])
    }
}
