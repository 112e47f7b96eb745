/// The names the harness uses for what it observes. Distinct types so that a task id
/// can never be passed where an agent or a node is meant. They are the harness's own
/// view (plain strings on the wire), not the node's internal types: the harness is a
/// client, it never links the Node or ContactCenter targets.

/// A node of the cluster under test, as named in `cluster.json` (`node`).
public struct NodeName: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public var rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
    public static func < (lhs: NodeName, rhs: NodeName) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { rawValue }
}

/// A site (one node runs at each site), as named in a scenario file.
public struct SiteName: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public var rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
    public static func < (lhs: SiteName, rhs: SiteName) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { rawValue }
}

/// A task's external id: the decimal id the cluster assigned (`POST /v1/tasks` answers
/// it). An enqueue that got no answer never learnt its id; the history names it
/// `unknown-<operation id>` and the linearizability checker may attribute an otherwise
/// unexplained task to it.
public struct TaskID: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public var rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
    public static func < (lhs: TaskID, rhs: TaskID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { rawValue }
}

/// An agent, as the node's API names it.
public struct AgentID: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public var rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
    public static func < (lhs: AgentID, rhs: AgentID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { rawValue }
}
