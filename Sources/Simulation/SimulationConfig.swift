import Raft

/// Everything that shapes one simulated run. The same value gives the same run.
public struct SimulationConfig: Sendable, Equatable {
    public var seed: UInt64
    /// Founding voters: 3, 5 or 7.
    public var nodeCount: Int
    /// Ticks with faults, then ticks with the network healed and everyone up.
    public var faultTicks: Int = 220
    public var healTicks: Int = 120
    /// A leader and a new committed proposal MUST appear within this many ticks of healing.
    public var livenessTicksMax: Int = 100
    /// Per-message chances, in percent.
    public var dropPercent: Int = 5
    public var duplicatePercent: Int = 2
    /// Messages arrive 0...delayTicksMax ticks after they are sent (reordering).
    public var delayTicksMax: Int = 2
    /// Per-tick chances, in per-mille.
    public var crashPerMille: Int = 8
    public var restartPerMille: Int = 60
    public var partitionPerMille: Int = 6
    public var healPerMille: Int = 25
    public var proposePerMille: Int = 400
    public var snapshotPerMille: Int = 15
    public var transferPerMille: Int = 6
    public var membershipPerMille: Int = 8
    public var readPerMille: Int = 30
    /// Every n-th message goes through the wire codec (all of them when 1).
    public var encodeEveryMessages: Int = 4
    /// Spare members that membership changes may add.
    public var spareCount: Int = 2
    public var entriesPerMessageMax = 16
    public var electionTicks = 10
    public var preVote = true
    public var checkQuorum = true
    public var injectedBugs: Set<InjectedBug> = []

    /// The settings under which a wrong commit rule shows quickly: one entry per
    /// message (so an old-term entry is acknowledged before the new leader's own),
    /// and many crashes, partitions and drops.
    public mutating func stressCommitRule() {
        entriesPerMessageMax = 1
        crashPerMille = 30
        partitionPerMille = 40
        dropPercent = 20
    }

    public init(seed: UInt64, nodeCount: Int) {
        precondition([3, 5, 7].contains(nodeCount), "nodeCount must be 3, 5 or 7, got \(nodeCount)")
        self.seed = seed
        self.nodeCount = nodeCount
    }

    /// The node count the test suite uses for a seed: mostly 3, some 5 and 7.
    public static func nodeCount(forSeed seed: UInt64) -> Int {
        switch seed % 10 {
        case 0...5: 3
        case 6...8: 5
        default: 7
        }
    }
}

/// A safety or liveness rule the run broke.
public struct Violation: Sendable, Equatable, CustomStringConvertible {
    public enum Rule: String, Sendable, Equatable {
        case electionSafety = "election safety"
        case logMatching = "log matching"
        case leaderCompleteness = "leader completeness"
        case stateMachineSafety = "state machine safety"
        case readLinearizability = "read linearizability"
        case liveness
    }

    public var rule: Rule
    public var tick: Int
    public var detail: String

    public var description: String { "\(rule.rawValue) violated at tick \(tick): \(detail)" }
}

/// What a run did, for the summary line and the tests.
public struct SimulationSummary: Sendable {
    public var seed: UInt64
    public var nodeCount: Int
    public var ticks = 0
    public var leadersByTerm: [UInt64: NodeID] = [:]
    public var entriesCommitted: UInt64 = 0
    public var proposalsAccepted = 0
    public var messagesSent = 0
    public var messagesDropped = 0
    public var messagesDuplicated = 0
    public var messagesEncoded = 0
    public var crashes = 0
    public var crashesLosingReady = 0
    public var restarts = 0
    public var partitions = 0
    public var snapshots = 0
    public var snapshotsInstalled = 0
    public var transfers = 0
    public var confChangesApplied = 0
    public var readsServed = 0
    public var violations: [Violation] = []

    public var replayCommand: String {
        "swift run lifeline simulate --seed \(seed) --nodes \(nodeCount)"
    }

    public var description: String {
        """
        seed \(seed), \(nodeCount) nodes, \(ticks) ticks
          leaders: \(leadersByTerm.count) terms with a leader (\(leadersByTerm.keys.sorted().suffix(8).map { "t\($0)=\(leadersByTerm[$0]!)" }.joined(separator: " ")))
          committed entries: \(entriesCommitted), proposals accepted: \(proposalsAccepted)
          messages: \(messagesSent) sent, \(messagesDropped) dropped, \(messagesDuplicated) duplicated, \(messagesEncoded) through the codec
          faults: \(crashes) crashes (\(crashesLosingReady) losing an unpersisted Ready), \(restarts) restarts, \(partitions) partitions
          snapshots: \(snapshots) taken, \(snapshotsInstalled) installed; transfers: \(transfers); membership changes applied: \(confChangesApplied); reads served: \(readsServed)
          violations: \(violations.isEmpty ? "none" : violations.map(\.description).joined(separator: "; "))
        """
    }
}
