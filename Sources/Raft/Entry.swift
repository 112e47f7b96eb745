/// What an entry of the log carries.
public enum EntryKind: UInt8, Sendable, Equatable {
    /// An application command, opaque to Raft.
    case normal = 1
    /// A membership change: `data` is an encoded `ConfChange`.
    case confChange = 2
    /// The empty entry a new leader appends to commit its term (Raft §8).
    case noop = 3
}

/// One entry of the replicated log.
///
/// Indexes start at 1; index 0 with term 0 is the empty log's sentinel.
public struct Entry: Sendable, Equatable {
    public var term: UInt64
    public var index: UInt64
    public var kind: EntryKind
    public var data: [UInt8]

    public init(term: UInt64, index: UInt64, kind: EntryKind = .normal, data: [UInt8] = []) {
        self.term = term
        self.index = index
        self.kind = kind
        self.data = data
    }

    /// Bytes this entry counts for in message and uncommitted-size limits.
    public var sizeBytes: Int { data.count + 17 }
}
