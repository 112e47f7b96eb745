/// The log a member holds in memory: the latest snapshot and every entry after it,
/// with the marks that say what the shell has persisted and applied.
///
/// Invariants (checked by `precondition`): entries are contiguous from
/// `snapshot.metadata.index + 1`; `applied <= committed <= lastIndex`.
struct RaftLog: Sendable {
    private(set) var snapshot: Snapshot
    /// Entries after the snapshot; `entries[k].index == firstIndex + k`.
    private(set) var entries: [Entry]
    private(set) var committed: UInt64
    /// The last index whose entry the shell has applied (or the snapshot it restored).
    var applied: UInt64
    /// The last index handed to the shell for persistence and acknowledged by `advance`.
    var stableThrough: UInt64
    /// A snapshot received from the leader that the shell has not yet persisted.
    var unstableSnapshot: Snapshot?

    init(snapshot: Snapshot, entries: [Entry], committed: UInt64) {
        self.snapshot = snapshot
        self.entries = entries
        for (offset, entry) in entries.enumerated() {
            precondition(
                entry.index == snapshot.metadata.index + 1 + UInt64(offset),
                "persisted entries are not contiguous after snapshot \(snapshot.metadata.index): entry \(offset) has index \(entry.index)")
        }
        let last = snapshot.metadata.index + UInt64(entries.count)
        self.committed = min(max(committed, snapshot.metadata.index), last)
        applied = snapshot.metadata.index
        stableThrough = last
    }

    var snapshotIndex: UInt64 { snapshot.metadata.index }
    var firstIndex: UInt64 { snapshot.metadata.index + 1 }
    var lastIndex: UInt64 { snapshot.metadata.index + UInt64(entries.count) }
    var lastTerm: UInt64 { term(at: lastIndex) ?? 0 }

    /// The term of the entry at `index`, or nil when it is compacted or beyond the end.
    func term(at index: UInt64) -> UInt64? {
        if index == snapshot.metadata.index { return snapshot.metadata.term }
        guard index > snapshot.metadata.index, index <= lastIndex else { return nil }
        return entries[Int(index - firstIndex)].term
    }

    func matchTerm(_ index: UInt64, _ term: UInt64) -> Bool {
        self.term(at: index) == term
    }

    /// §5.4.1: a candidate's log is at least as up-to-date as ours.
    func isUpToDate(lastIndex candidateIndex: UInt64, lastTerm candidateTerm: UInt64) -> Bool {
        candidateTerm > lastTerm || (candidateTerm == lastTerm && candidateIndex >= lastIndex)
    }

    func entry(at index: UInt64) -> Entry? {
        guard index >= firstIndex, index <= lastIndex else { return nil }
        return entries[Int(index - firstIndex)]
    }

    /// Entries in `from...through`, at most `countMax` and about `bytesMax` (at least one).
    func slice(from: UInt64, through: UInt64, countMax: Int, bytesMax: Int) -> [Entry] {
        guard from >= firstIndex, from <= through, through <= lastIndex else { return [] }
        var result: [Entry] = []
        var bytes = 0
        var index = from
        while index <= through, result.count < countMax {
            let entry = entries[Int(index - firstIndex)]
            bytes += entry.sizeBytes
            if !result.isEmpty, bytes > bytesMax { break }
            result.append(entry)
            index += 1
        }
        return result
    }

    /// The largest index at or below `index` whose term is at most `term`: the
    /// conflict hint for fast backtracking (etcd-io/raft's findConflictByTerm).
    func conflictHint(index: UInt64, term: UInt64) -> UInt64 {
        var candidate = min(index, lastIndex)
        while candidate > snapshot.metadata.index {
            guard let found = self.term(at: candidate), found > term else { return candidate }
            candidate -= 1
        }
        return candidate
    }

    // MARK: - Changing the log

    /// Appends entries the leader created. They continue the log exactly.
    mutating func append(_ newEntries: [Entry]) {
        guard let first = newEntries.first else { return }
        precondition(first.index == lastIndex + 1, "append at \(first.index) but last index is \(lastIndex)")
        entries.append(contentsOf: newEntries)
    }

    /// A follower's append (§5.3): if our log matches at (`prevIndex`, `prevTerm`),
    /// drops a conflicting suffix, appends what is new, and returns the index of the
    /// last entry the message covered; nil when the logs do not match there.
    mutating func maybeAppend(prevIndex: UInt64, prevTerm: UInt64, entries newEntries: [Entry]) -> UInt64? {
        guard matchTerm(prevIndex, prevTerm) else { return nil }
        let lastNew = prevIndex + UInt64(newEntries.count)
        for (offset, entry) in newEntries.enumerated() {
            precondition(entry.index == prevIndex + 1 + UInt64(offset), "append message entries not contiguous")
            if entry.index <= snapshot.metadata.index { continue }
            if let existing = term(at: entry.index) {
                if existing == entry.term { continue }
                // A correct leader never conflicts with a committed entry (§5.4); the
                // simulator's injected bugs can, and its checkers must see the result.
                truncate(after: entry.index - 1)
            }
            entries.append(contentsOf: newEntries[offset...].filter { $0.index > lastIndex })
            break
        }
        return lastNew
    }

    /// Drops every entry after `index`.
    private mutating func truncate(after index: UInt64) {
        let keep = Int(index - snapshot.metadata.index)
        entries.removeSubrange(keep...)
        stableThrough = min(stableThrough, index)
        committed = min(committed, index)
    }

    mutating func commit(to index: UInt64) {
        guard index > committed else { return }
        precondition(index <= lastIndex, "commit to \(index) beyond last index \(lastIndex)")
        committed = index
    }

    /// Replaces the whole log with a snapshot from the leader (§7).
    mutating func restore(_ newSnapshot: Snapshot) {
        snapshot = newSnapshot
        entries.removeAll()
        committed = newSnapshot.metadata.index
        applied = newSnapshot.metadata.index
        stableThrough = newSnapshot.metadata.index
        unstableSnapshot = newSnapshot
    }

    /// The application's own snapshot at `index`: drop the entries it covers.
    mutating func compact(index: UInt64, data: [UInt8], conf: ConfState) {
        precondition(index > snapshot.metadata.index && index <= applied, "compact at \(index) outside (\(snapshot.metadata.index), \(applied)]")
        let termAtIndex = term(at: index)!
        entries.removeFirst(Int(index - snapshot.metadata.index))
        snapshot = Snapshot(metadata: SnapshotMetadata(index: index, term: termAtIndex, conf: conf), data: data)
    }

    /// Entries not yet handed to the shell for persistence.
    var unstableEntries: [Entry] {
        guard stableThrough < lastIndex else { return [] }
        return Array(entries[Int(stableThrough + 1 - firstIndex)...])
    }

    /// Committed entries not yet applied, at most `countMax`.
    func entriesToApply(countMax: Int) -> [Entry] {
        guard applied < committed else { return [] }
        let from = max(applied + 1, firstIndex)
        let through = min(committed, from + UInt64(countMax) - 1)
        return Array(entries[Int(from - firstIndex)...Int(through - firstIndex)])
    }
}
