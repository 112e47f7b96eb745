import ContactCenter

/// The application a node replicates: every node applies the same committed
/// commands in the same order and MUST reach the same state.
///
/// Contract: `apply` is deterministic (no clock, no randomness, no I/O); a command
/// it cannot understand yields an error result, never a crash, because the bytes
/// came from a client. `snapshot` and `restore` round-trip exactly, and `stateHash`
/// depends only on the state, so replicas can be compared.
public protocol ReplicatedStateMachine: Sendable {
    /// Applies the command committed at `index`; returns the result for the client.
    mutating func apply(index: UInt64, command: [UInt8]) -> [UInt8]
    /// The whole state as bytes.
    func snapshot() -> [UInt8]
    /// Replaces the whole state with a snapshot's.
    mutating func restore(_ bytes: [UInt8]) throws
    /// A short digest of the state, equal on replicas that applied the same log.
    var stateHash: String { get }
    /// `apply`, also handing the contact-center events of the command, with the
    /// contact-center state after it, to `observer` (the drill evidence recorder).
    /// MUST change the state exactly as `apply` does. Default: plain `apply`.
    mutating func apply(index: UInt64, command: [UInt8], observer: (_ events: [ContactEvent], _ after: ContactCenterState) -> Void) -> [UInt8]
}

extension ReplicatedStateMachine {
    public mutating func apply(index: UInt64, command: [UInt8], observer: (_ events: [ContactEvent], _ after: ContactCenterState) -> Void) -> [UInt8] {
        apply(index: index, command: command)
    }
}

/// FNV-1a 64: a fast, stable digest to compare replicas. Not a security hash.
public struct FNV1a64: Sendable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func add(_ bytes: [UInt8]) {
        for byte in bytes {
            value ^= UInt64(byte)
            value = value &* 0x0000_0100_0000_01B3
        }
    }

    public var hex: String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
