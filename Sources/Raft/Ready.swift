/// Volatile state worth telling the shell about when it changes.
public struct SoftState: Sendable, Equatable {
    public var leader: NodeID?
    public var role: Role

    public init(leader: NodeID?, role: Role) {
        self.leader = leader
        self.role = role
    }
}

/// A member's role in the current term.
public enum Role: String, Sendable, Equatable {
    case follower
    case preCandidate = "pre-candidate"
    case candidate
    case leader
}

/// A linearizable read that may now be served: the state machine MUST have
/// applied at least `index` before the read with `context` is answered.
public struct ReadState: Sendable, Equatable {
    public var index: UInt64
    public var context: [UInt8]

    public init(index: UInt64, context: [UInt8]) {
        self.index = index
        self.context = context
    }
}

/// What the core did that an operator may want in the log. The core never logs;
/// the shell turns these into log lines.
public struct TraceEvent: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var fields: [(String, String)]

    public init(_ name: String, _ fields: [(String, String)] = []) {
        self.name = name
        self.fields = fields
    }

    public static func == (lhs: TraceEvent, rhs: TraceEvent) -> Bool {
        lhs.name == rhs.name && lhs.fields.elementsEqual(rhs.fields) { $0 == $1 }
    }

    public var description: String {
        ([name] + fields.map { "\($0.0)=\($0.1)" }).joined(separator: " ")
    }
}

/// Everything the core asks of the shell, in the order the shell MUST do it:
///
/// 1. Persist `snapshot` (if any), then `entries` (an entry at index i replaces
///    the stored entry at i and everything after it), then `hardState` (if any),
///    and make them durable (fsync).
/// 2. Only AFTER that, send `messages`. A vote or an acknowledgement that leaves
///    before its state is on disk can be forgotten in a crash, and a member could
///    then vote twice or a leader count an entry that no longer exists.
///    Exception: when `messagesMayPrecedePersist` is true (a leader whose term
///    and vote are already on disk), the messages MAY be sent before or while
///    step 1 runs. They carry no vote and no acknowledgement, and the leader
///    counts its own log toward the commit quorum only through `advance`
///    (Raft thesis §10.2.1: the leader writes to its disk in parallel).
/// 3. Restore the state machine from `snapshot` (if any), then apply
///    `committedEntries` in order, then serve `readStates` once applied.
/// 4. Call `advance` with this value.
public struct Ready: Sendable {
    public var softState: SoftState?
    public var hardState: HardState?
    public var snapshot: Snapshot?
    public var entries: [Entry]
    public var messages: [Message]
    public var committedEntries: [Entry]
    public var readStates: [ReadState]
    public var traces: [TraceEvent]
    /// The messages may leave before this Ready is persisted (see step 2).
    public var messagesMayPrecedePersist = false

    public init(
        softState: SoftState? = nil,
        hardState: HardState? = nil,
        snapshot: Snapshot? = nil,
        entries: [Entry] = [],
        messages: [Message] = [],
        committedEntries: [Entry] = [],
        readStates: [ReadState] = [],
        traces: [TraceEvent] = []
    ) {
        self.softState = softState
        self.hardState = hardState
        self.snapshot = snapshot
        self.entries = entries
        self.messages = messages
        self.committedEntries = committedEntries
        self.readStates = readStates
        self.traces = traces
    }

    /// True when there is nothing to persist, send, apply or read.
    public var isEmpty: Bool {
        softState == nil && hardState == nil && snapshot == nil && entries.isEmpty
            && messages.isEmpty && committedEntries.isEmpty && readStates.isEmpty
            && traces.isEmpty
    }
}

/// What a member loads from stable storage when it starts: the last persisted
/// hard state, the latest snapshot, and the entries after it.
public struct PersistentState: Sendable, Equatable {
    public var hardState: HardState
    public var snapshot: Snapshot
    public var entries: [Entry]

    public init(hardState: HardState = HardState(), snapshot: Snapshot = Snapshot(), entries: [Entry] = []) {
        self.hardState = hardState
        self.snapshot = snapshot
        self.entries = entries
    }
}
