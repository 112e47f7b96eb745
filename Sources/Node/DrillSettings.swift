/// Test-only hooks for the chaos drill harness (`lifeline drill`), from the
/// configuration's optional `drill` block. Everything defaults to off: a node
/// without the block behaves exactly as before.
///
/// These hooks exist so the harness can (a) read the evidence its checkers need
/// (`evidence`), (b) slow the disk (`diskDelay`) and (c) prove its checkers catch
/// real bugs (`bugs`). A node with any of them on MUST NOT serve patients: the
/// bugs break the cluster's guarantees on purpose, and `lifeline serve` says so
/// loudly at startup.
public struct DrillSettings: Sendable, Equatable {
    /// A deliberate bug. Each breaks one guarantee a drill checker verifies.
    public enum Bug: String, Sendable, CaseIterable, Comparable {
        /// The leader acknowledges a task enqueue once the command is in its own
        /// log, before a quorum has it (LostAckChecker).
        case ackBeforeCommit = "ack-before-commit"
        /// `GET /v1/tasks/{id}` answers from local state without a ReadIndex
        /// check, on any node (the linearizability checker).
        case staleReads = "stale-reads"
        /// Contact-center commands are applied at the applying node's own wall
        /// clock instead of the leader's stamp: replicas diverge (ConvergenceChecker).
        case localClock = "local-clock"

        public static func < (lhs: Bug, rhs: Bug) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// Record the routing evidence of applied commands (`GET /v1/drill/evidence`).
    public var evidence: Bool
    /// Allow `POST /v1/drill/disk` to delay every durable write of the Raft log.
    public var diskDelay: Bool
    public var bugs: Set<Bug>

    public init(evidence: Bool = false, diskDelay: Bool = false, bugs: Set<Bug> = []) {
        self.evidence = evidence
        self.diskDelay = diskDelay
        self.bugs = bugs
    }

    public static let off = DrillSettings()

    public var isEnabled: Bool { evidence || diskDelay || !bugs.isEmpty }

    public func has(_ bug: Bug) -> Bool { bugs.contains(bug) }

    /// The one-line startup warning, or nil when every hook is off.
    public var warning: String? {
        guard isEnabled else { return nil }
        var parts: [String] = []
        if evidence { parts.append("evidence") }
        if diskDelay { parts.append("diskDelay") }
        if !bugs.isEmpty { parts.append("bugs: " + bugs.sorted().map(\.rawValue).joined(separator: ", ")) }
        return "WARNING: drill test hooks are enabled (\(parts.joined(separator: "; "))); never run this configuration in production"
    }

    /// The fsync delay `POST /v1/drill/disk` accepts, in milliseconds.
    public static let fsyncDelayMsRange: ClosedRange<UInt64> = 0...10_000
}
