// MARK: - Identifiers
//
// Each id is its own type so a site can never be passed where a task is wanted.
// All are opaque numbers: a PatientID is a reference into a store elsewhere and
// never carries PHI.

/// A site: one call center, one node.
public struct SiteID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public static func < (a: SiteID, b: SiteID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "site-\(rawValue)" }
}

/// A logical queue, shared by every site.
public struct QueueID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public static func < (a: QueueID, b: QueueID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "queue-\(rawValue)" }
}

/// A task (call, chat, SMS, email, callback). Assigned by the state machine:
/// the first task is 1, then 2, 3, ... in apply order, so every replica assigns
/// the same id to the same command.
public struct TaskID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (a: TaskID, b: TaskID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "task-\(rawValue)" }
}

/// An agent (a person at a desk). Chosen by the directory, carried by commands.
public struct AgentID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (a: AgentID, b: AgentID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "agent-\(rawValue)" }
}

/// An opaque patient reference. NEVER PHI: the record lives encrypted elsewhere.
public struct PatientID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (a: PatientID, b: PatientID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "patient-\(rawValue)" }
}

/// A skill (Spanish, pediatrics, billing codes, ...), numbered 0..<64 so a set
/// of skills is one `UInt64` mask and matching is one AND.
public struct SkillID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let countMax = 64
    public var rawValue: UInt8
    public init(_ rawValue: UInt8) { self.rawValue = rawValue }
    public static func < (a: SkillID, b: SkillID) -> Bool { a.rawValue < b.rawValue }
    public var bit: UInt64 { rawValue < 64 ? 1 << UInt64(rawValue) : 0 }
    public var description: String { "skill-\(rawValue)" }
}
