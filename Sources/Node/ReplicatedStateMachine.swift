import ContactCenter
import Vault

/// The application a node replicates: every node applies the same committed
/// commands in the same order and MUST reach the same state.
///
/// Contract: `apply` is deterministic (no clock, no randomness, no I/O); a command
/// it cannot understand yields an error result, never a crash, because the bytes
/// came from a client. `snapshot` and `restore` round-trip exactly, and `snapshot`
/// depends only on the state (no iteration order of a hash table), so replicas can
/// be compared by its digest.
public protocol ReplicatedStateMachine: Sendable {
    /// Applies the command committed at `index`; returns the result for the client.
    mutating func apply(index: UInt64, command: [UInt8]) -> [UInt8]
    /// The whole state as bytes.
    func snapshot() -> [UInt8]
    /// Replaces the whole state with a snapshot's.
    mutating func restore(_ bytes: [UInt8]) throws
    /// `apply`, also handing the contact-center events of the command, with the
    /// contact-center state after it, to `observer` (the drill evidence recorder).
    /// MUST change the state exactly as `apply` does. Default: plain `apply`.
    mutating func apply(index: UInt64, command: [UInt8], observer: (_ events: [ContactEvent], _ after: ContactCenterState) -> Void) -> [UInt8]

    // The application's hooks for the leader (defaults in ReplicatedStateMachine+Hooks.swift).

    /// True when the leader should stamp commands and ask for periodic and site commands.
    var hasLeaderDuties: Bool { get }
    /// `command` with its time set to `atMs`: the leader stamps every command it
    /// accepts, so replicas never read their own clocks.
    func stamped(_ command: [UInt8], atMs: UInt64) -> [UInt8]
    /// The latest time (ms) any applied command carried; a new leader never
    /// stamps earlier than this.
    var clockMs: UInt64 { get }
    /// A command the leader should propose now, at wall-clock `nowMs` (expire
    /// offers, fire callbacks, roll KPI windows), or nil when nothing is due. The
    /// leader asks about once a second.
    func periodicCommand(nowMs: UInt64) -> [UInt8]?
    /// Commands that bring the recorded sites in line with what the leader sees:
    /// `known` are the sites of the current members, `reachable` those the leader
    /// heard from recently (its own included).
    func siteCommands(known: [String], reachable: Set<String>) -> [[UInt8]]
}

extension ReplicatedStateMachine {
    /// A short digest of the state, equal on replicas that applied the same log
    /// (`StateDigest` of the snapshot). O(state): the node loop leaves it to `MachineWorker`.
    public var stateHash: String { StateDigest.hex(of: snapshot()) }

    public mutating func apply(index: UInt64, command: [UInt8], observer: (_ events: [ContactEvent], _ after: ContactCenterState) -> Void) -> [UInt8] {
        apply(index: index, command: command)
    }
}

/// The digest replicas compare: the first 8 bytes of SHA-256 over the snapshot
/// encoding, as 16 hex digits. Not a security hash (it is shown to anyone who
/// may read cluster health); SHA-256 because OpenSSL hashes a 25 MiB state in
/// tens of milliseconds where a byte loop in Swift took 1.4 s in a debug build.
public enum StateDigest {
    public static func hex(of snapshot: [UInt8]) -> String {
        let digest = Vault.Digest.sha256(snapshot)
        return digest.prefix(8).map { byte in
            let digits = String(byte, radix: 16)
            return byte < 16 ? "0" + digits : digits
        }.joined()
    }

    /// The digest builds before 2026-12-04 wrote into backups: FNV-1a 64 over the
    /// same bytes. `lifeline restore` still accepts it, so older backups restore.
    public static func legacyHex(of snapshot: [UInt8]) -> String {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        snapshot.withUnsafeBufferPointer { bytes in
            for byte in bytes {
                value ^= UInt64(byte)
                value = value &* 0x0000_0100_0000_01B3
            }
        }
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// True when `digest` is the state digest of `snapshot`, current or legacy.
    public static func matches(_ digest: String, snapshot: [UInt8]) -> Bool {
        digest == hex(of: snapshot) || digest == legacyHex(of: snapshot)
    }
}
