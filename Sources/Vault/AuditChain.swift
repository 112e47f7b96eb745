/// A SHA-256 hash chain over audit events: each event carries the previous
/// event's hash, so editing, deleting, inserting or reordering any event breaks
/// every link after it.
///
/// What it protects: rows changed after the fact in storage, a backup or a
/// replica. What it does not: an attacker who rewrites the whole chain from the
/// start — so the head (`Head.lastHash`) SHOULD be anchored elsewhere (the
/// replicated state, a report) and passed to `verify` as `expectedHead`; that is
/// also the only way to detect the LAST events being cut off or edited.
public struct AuditChain: Hashable, Sendable {
    /// Where a chain (or a verified stretch of one) ends.
    public struct Head: Hashable, Sendable {
        /// Sequence the next event gets.
        public var nextSequence: UInt64
        /// Hash of the last event (32 zero bytes before the first).
        public var lastHash: [UInt8]

        public init(nextSequence: UInt64, lastHash: [UInt8]) {
            self.nextSequence = nextSequence
            self.lastHash = lastHash
        }

        /// The start of every chain: sequence 1, zero hash.
        public static let genesis = Head(nextSequence: 1, lastHash: [UInt8](repeating: 0, count: Digest.sha256Bytes))
    }

    /// The first broken link `verify` found.
    public struct Break: Error, Hashable, Sendable, CustomStringConvertible {
        public enum Reason: Hashable, Sendable {
            /// The event's sequence is not the next one (deleted, inserted or reordered).
            case sequence(expected: UInt64, found: UInt64)
            /// The event's prevHash is not the hash of the event before it
            /// (that event, or this one, was edited; or rows were renumbered).
            case prevHash
            /// The last event's hash differs from the anchored head.
            case head
            /// A field is over its limit or prevHash has the wrong length.
            case malformed(String)
        }

        /// Index in the array passed to `verify` of the event that does not
        /// link back. For `.head`, the last index (0 if there are no events).
        public let index: Int
        public let reason: Reason

        public var description: String {
            switch reason {
            case let .sequence(expected, found): "audit chain broken at index \(index): sequence \(found), expected \(expected)"
            case .prevHash: "audit chain broken at index \(index): prevHash does not match the previous event's hash"
            case .head: "audit chain broken at index \(index): last hash does not match the anchored head"
            case .malformed(let why): "audit chain broken at index \(index): \(why)"
            }
        }
    }

    public private(set) var head: Head

    public init(head: Head = .genesis) { self.head = head }

    /// Seals `draft` as the next event. Throws `.tooLarge` for an event over its
    /// limits (the caller MUST shorten it; an audit event is never dropped silently).
    public mutating func append(_ draft: AuditEvent.Draft) throws(VaultError) -> AuditEvent {
        if let why = AuditEvent.limitViolation(draft) { throw VaultError(.tooLarge, "audit event: \(why)") }
        precondition(head.nextSequence < UInt64.max, "audit sequence exhausted at \(head.nextSequence)")
        let event = AuditEvent(sequence: head.nextSequence, draft: draft, prevHash: head.lastHash)
        head = Head(nextSequence: head.nextSequence + 1, lastHash: event.hash)
        return event
    }

    /// Checks `events` as a contiguous stretch starting after `anchor`.
    ///
    /// For each event, in order: limits, sequence == expected, prevHash == hash of
    /// the previous event. Then, if given, the final hash == `expectedHead`.
    /// Returns the head reached, or the FIRST broken link.
    public static func verify(_ events: [AuditEvent], anchor: Head = .genesis, expectedHead: [UInt8]? = nil) -> Result<Head, Break> {
        var expected = anchor
        for (index, event) in events.enumerated() {
            if let why = event.limitViolation() { return .failure(Break(index: index, reason: .malformed(why))) }
            guard event.sequence == expected.nextSequence else {
                return .failure(Break(index: index, reason: .sequence(expected: expected.nextSequence, found: event.sequence)))
            }
            guard event.prevHash == expected.lastHash else {
                return .failure(Break(index: index, reason: .prevHash))
            }
            guard event.sequence < UInt64.max else { return .failure(Break(index: index, reason: .malformed("sequence exhausted"))) }
            expected = Head(nextSequence: event.sequence + 1, lastHash: event.hash)
        }
        if let expectedHead, expectedHead != expected.lastHash {
            return .failure(Break(index: max(0, events.count - 1), reason: .head))
        }
        return .success(expected)
    }
}
