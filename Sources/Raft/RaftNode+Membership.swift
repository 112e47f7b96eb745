extension RaftNode {
    /// Applies every membership change committed since the last call (changes take
    /// effect when committed, one at a time).
    mutating func applyCommittedConfChanges() {
        var changed = false
        while confAppliedThrough < log.committed {
            let index = confAppliedThrough + 1
            confAppliedThrough = index
            guard let entry = log.entry(at: index), entry.kind == .confChange,
                let change = try? ConfChange(decoding: entry.data)
            else { continue }
            apply(change, to: &conf)
            changed = true
            trace("conf-change-applied", ["kind": "\(change.kind)", "node": change.node.rawValue, "index": String(index)])
            if role == .leader { updateProgress(after: change) }
        }
        if changed, role == .leader { _ = maybeCommit() }
    }

    func apply(_ change: ConfChange, to conf: inout ConfState) {
        switch change.kind {
        case .addVoter:
            conf.learners.remove(change.node)
            conf.voters.insert(change.node)
        case .addLearner:
            if !conf.voters.contains(change.node) { conf.learners.insert(change.node) }
        case .removeNode:
            conf.voters.remove(change.node)
            conf.learners.remove(change.node)
        }
    }

    private mutating func updateProgress(after change: ConfChange) {
        switch change.kind {
        case .addVoter, .addLearner:
            if change.node != config.id, progress[change.node] == nil {
                var peer = PeerProgress(next: log.lastIndex + 1)
                peer.recentActive = true
                progress[change.node] = peer
                broadcastPending = true
            }
        case .removeNode:
            progress.removeValue(forKey: change.node)
            if leadTransferee == change.node { leadTransferee = nil }
            if change.node == config.id {
                // The leader removed itself: it no longer counts, so it steps down
                // and the remaining voters elect a leader among themselves.
                trace("removed-self")
                becomeFollower(term: term, leader: nil)
            }
        }
    }

    /// The membership as of `index` (<= the commit index), for a snapshot's metadata.
    func confAt(_ index: UInt64) -> ConfState {
        var result = log.snapshot.isEmpty ? ConfState() : log.snapshot.metadata.conf
        var position = log.snapshotIndex + 1
        while position <= index {
            if let entry = log.entry(at: position), entry.kind == .confChange,
                let change = try? ConfChange(decoding: entry.data)
            {
                apply(change, to: &result)
            }
            position += 1
        }
        return result
    }
}
