/// One audit record: who did what to which resources, and whether it was allowed.
///
/// Contract: NO PHI. `resources` are opaque ids (task ids, Lifeline patient ids),
/// `reason` is a policy word ("role nurse may not read notes"), never a value.
///
/// Each event carries the hash of the one before it; its own hash is
/// `SHA-256(prevHash || canonicalBytes())`. See `AuditChain`.
public struct AuditEvent: Hashable, Sendable, Codable {
    public enum Outcome: String, Hashable, Sendable, Codable {
        case allowed, denied
    }

    /// What the caller fills in; the chain assigns `sequence` and `prevHash`.
    public struct Draft: Hashable, Sendable {
        public var timeMs: UInt64
        public var actor: String
        public var role: Role
        public var action: String
        public var resources: [String]
        public var outcome: Outcome
        public var reason: String
        public var breakGlass: Bool

        public init(timeMs: UInt64, actor: String, role: Role, action: String, resources: [String],
                    outcome: Outcome, reason: String = "", breakGlass: Bool = false) {
            self.timeMs = timeMs
            self.actor = actor
            self.role = role
            self.action = action
            self.resources = resources
            self.outcome = outcome
            self.reason = reason
            self.breakGlass = breakGlass
        }
    }

    // MARK: - Limits

    public static let actorBytesMax = 128
    public static let actionBytesMax = 64
    public static let resourcesMax = 16
    public static let resourceBytesMax = 128
    public static let reasonBytesMax = 256

    // MARK: - Fields

    /// 1, 2, 3, … with no gaps.
    public let sequence: UInt64
    /// Command time (leader-stamped), ms since the Unix epoch.
    public let timeMs: UInt64
    public let actor: String
    public let role: Role
    public let action: String
    public let resources: [String]
    public let outcome: Outcome
    public let reason: String
    /// The actor invoked emergency access outside their normal permissions.
    public let breakGlass: Bool
    /// Hash of the previous event (32 zero bytes before the first).
    public let prevHash: [UInt8]

    public init(sequence: UInt64, draft: Draft, prevHash: [UInt8]) {
        self.sequence = sequence
        timeMs = draft.timeMs
        actor = draft.actor
        role = draft.role
        action = draft.action
        resources = draft.resources
        outcome = draft.outcome
        reason = draft.reason
        breakGlass = draft.breakGlass
        self.prevHash = prevHash
    }

    public var draft: Draft {
        Draft(timeMs: timeMs, actor: actor, role: role, action: action, resources: resources,
              outcome: outcome, reason: reason, breakGlass: breakGlass)
    }

    // MARK: - Canonical encoding and hash

    /// The bytes hashed: big-endian integers, strings as u32 length + UTF-8, in
    /// this order: "lifeline.audit.v1", sequence u64, timeMs u64, actor, role,
    /// action, resource count u32, each resource, outcome u8 (1 allowed,
    /// 2 denied), reason, breakGlass u8. Unambiguous: no two events share bytes.
    public func canonicalBytes() -> [UInt8] {
        var writer = BinaryWriter()
        writer.writeString("lifeline.audit.v1")
        writer.write(sequence)
        writer.write(timeMs)
        writer.writeString(actor)
        writer.writeString(role.rawValue)
        writer.writeString(action)
        writer.write(UInt32(truncatingIfNeeded: resources.count))
        for resource in resources { writer.writeString(resource) }
        writer.write(outcome == .allowed ? UInt8(1) : UInt8(2))
        writer.writeString(reason)
        writer.write(breakGlass ? UInt8(1) : UInt8(0))
        return writer.bytes
    }

    /// SHA-256(prevHash || canonicalBytes()).
    public var hash: [UInt8] { Digest.sha256(prevHash + canonicalBytes()) }

    /// Why this event is out of bounds, or nil.
    func limitViolation() -> String? {
        Self.limitViolation(draft) ?? (prevHash.count == Digest.sha256Bytes ? nil : "prevHash is \(prevHash.count) bytes, want \(Digest.sha256Bytes)")
    }

    static func limitViolation(_ draft: Draft) -> String? {
        if draft.actor.isEmpty || draft.actor.utf8.count > actorBytesMax { return "actor must be 1...\(actorBytesMax) bytes" }
        if draft.action.isEmpty || draft.action.utf8.count > actionBytesMax { return "action must be 1...\(actionBytesMax) bytes" }
        if draft.resources.count > resourcesMax { return "more than \(resourcesMax) resources" }
        if draft.resources.contains(where: { $0.utf8.count > resourceBytesMax }) { return "a resource id is over \(resourceBytesMax) bytes" }
        if draft.reason.utf8.count > reasonBytesMax { return "reason is over \(reasonBytesMax) bytes" }
        return nil
    }

    // MARK: - Codable (prevHash as hex)

    enum CodingKeys: String, CodingKey {
        case sequence, timeMs, actor, role, action, resources, outcome, reason, breakGlass, prevHash
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        sequence = try container.decode(UInt64.self, forKey: .sequence)
        timeMs = try container.decode(UInt64.self, forKey: .timeMs)
        actor = try container.decode(String.self, forKey: .actor)
        role = try container.decode(Role.self, forKey: .role)
        action = try container.decode(String.self, forKey: .action)
        resources = try container.decode([String].self, forKey: .resources)
        outcome = try container.decode(Outcome.self, forKey: .outcome)
        reason = try container.decode(String.self, forKey: .reason)
        breakGlass = try container.decode(Bool.self, forKey: .breakGlass)
        let hex = try container.decode(String.self, forKey: .prevHash)
        guard let bytes = Hex.decode(hex), bytes.count == Digest.sha256Bytes else {
            throw DecodingError.dataCorruptedError(forKey: .prevHash, in: container, debugDescription: "prevHash must be 64 hex digits")
        }
        prevHash = bytes
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(sequence, forKey: .sequence)
        try container.encode(timeMs, forKey: .timeMs)
        try container.encode(actor, forKey: .actor)
        try container.encode(role, forKey: .role)
        try container.encode(action, forKey: .action)
        try container.encode(resources, forKey: .resources)
        try container.encode(outcome, forKey: .outcome)
        try container.encode(reason, forKey: .reason)
        try container.encode(breakGlass, forKey: .breakGlass)
        try container.encode(Hex.encode(prevHash), forKey: .prevHash)
    }
}

/// Lowercase hex, for hashes in JSON and token ids.
public enum Hex {
    public static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        let symbols = Array(text.utf8)
        guard symbols.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(symbols.count / 2)
        var index = 0
        while index < symbols.count {
            guard let high = nibble(symbols[index]), let low = nibble(symbols[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    private static func nibble(_ symbol: UInt8) -> UInt8? {
        switch symbol {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): symbol - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): symbol - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
