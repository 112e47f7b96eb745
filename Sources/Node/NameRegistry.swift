import ContactCenter
import Raft

/// The API's names for the contact center's numeric ids: sites, queues, agents
/// and skills by name, patients by the client's opaque reference. Ids are
/// assigned in apply order (1, 2, 3, ...; skills 0...63), so every replica agrees.
public struct NameRegistry: Sendable, Equatable {
    /// One kind of name: name → number and back, numbers handed out in order.
    struct Table: Sendable, Equatable {
        private(set) var ids: [String: UInt64] = [:]
        private(set) var names: [UInt64: String] = [:]
        /// The first number handed out (skills start at 0, the rest at 1).
        let first: UInt64
        /// Most names this table takes (nil: no limit).
        let limit: Int?
        let kind: String

        init(kind: String, first: UInt64 = 1, limit: Int?) {
            self.kind = kind
            self.first = first
            self.limit = limit
        }

        /// The name's number, assigning the next one to a new name.
        mutating func assign(_ name: String) throws(LifelineStateMachine.CommandError) -> UInt64 {
            if let id = ids[name] { return id }
            if let limit, ids.count >= limit { throw .init("limit_reached", "at most \(limit) \(kind)") }
            let id = first + UInt64(ids.count)
            insert(id, name)
            return id
        }

        mutating func insert(_ id: UInt64, _ name: String) {
            ids[name] = id
            names[id] = name
        }

        /// Forgets the names assigned after the table held `count` (numbers are
        /// handed out in order, so they are the highest).
        mutating func rollBack(toCount count: Int) {
            while ids.count > count, let name = names.removeValue(forKey: first + UInt64(ids.count - 1)) {
                ids[name] = nil
            }
        }

        func write(to writer: inout ByteWriter) {
            writer.write(UInt32(names.count))
            for (id, name) in names.sorted(by: { $0.key < $1.key }) {
                writer.write(id)
                writer.writeString(name)
            }
        }

        mutating func read(from reader: inout ByteReader) throws {
            let count = try reader.readUInt32()
            for _ in 0..<count {
                let id = try reader.readUInt64()
                insert(id, try reader.readString(limit: LifelineStateMachine.nameBytesMax))
            }
        }
    }

    var siteTable = Table(kind: "sites", limit: ContactCenterState.sitesMax)
    var queueTable = Table(kind: "queues", limit: ContactCenterState.queuesMax)
    var agentTable = Table(kind: "agents", limit: ContactCenterState.agentsMax)
    var skillTable = Table(kind: "skill names", first: 0, limit: SkillID.countMax)
    var patientTable = Table(kind: "patients", limit: nil)

    public init() {}

    /// Letters, digits, '-', '_' and '.', 1...64 bytes: safe in URLs, logs and metrics labels.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= LifelineStateMachine.nameBytesMax
            && name.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == 0x2D || byte == 0x5F || byte == 0x2E
            }
    }

    /// Every site by name.
    public var sites: [String: ContactCenter.SiteID] { siteTable.ids.mapValues { ContactCenter.SiteID(UInt32(truncatingIfNeeded: $0)) } }

    public func site(_ name: String) -> ContactCenter.SiteID? { siteTable.ids[name].map { ContactCenter.SiteID(UInt32(truncatingIfNeeded: $0)) } }
    public func queue(_ name: String) -> QueueID? { queueTable.ids[name].map { QueueID(UInt32(truncatingIfNeeded: $0)) } }
    public func agent(_ name: String) -> AgentID? { agentTable.ids[name].map(AgentID.init) }
    public func patient(_ reference: String) -> PatientID? { patientTable.ids[reference].map(PatientID.init) }
    public func name(of site: ContactCenter.SiteID) -> String { siteTable.names[UInt64(site.rawValue)] ?? site.description }
    public func name(of queue: QueueID) -> String { queueTable.names[UInt64(queue.rawValue)] ?? queue.description }
    public func name(of agent: AgentID) -> String { agentTable.names[agent.rawValue] ?? agent.description }
    public func name(of skill: SkillID) -> String { skillTable.names[UInt64(skill.rawValue)] ?? skill.description }
    public func reference(of patient: PatientID) -> String { patientTable.names[patient.rawValue] ?? patient.description }

    mutating func assignSite(_ name: String) throws(LifelineStateMachine.CommandError) -> ContactCenter.SiteID {
        ContactCenter.SiteID(UInt32(truncatingIfNeeded: try siteTable.assign(name)))
    }

    mutating func assignQueue(_ name: String) throws(LifelineStateMachine.CommandError) -> QueueID {
        QueueID(UInt32(truncatingIfNeeded: try queueTable.assign(name)))
    }

    mutating func assignAgent(_ name: String) throws(LifelineStateMachine.CommandError) -> AgentID {
        AgentID(try agentTable.assign(name))
    }

    mutating func assignSkill(_ name: String) throws(LifelineStateMachine.CommandError) -> SkillID {
        SkillID(UInt8(truncatingIfNeeded: try skillTable.assign(name)))
    }

    mutating func assignPatient(_ reference: String) throws(LifelineStateMachine.CommandError) -> PatientID {
        PatientID(try patientTable.assign(reference))
    }

    // MARK: - Undo

    /// How many names each table held, for `rollBack(to:)`.
    struct Mark {
        fileprivate var counts: [Int]
    }

    /// A command assigns names in place; when it is then rejected, `rollBack(to:)`
    /// forgets what it assigned. (A copy of the registry per command, kept only on
    /// success, copied every patient's name on each new patient: O(patients) per enqueue.)
    var mark: Mark {
        Mark(counts: [siteTable.ids.count, queueTable.ids.count, agentTable.ids.count, skillTable.ids.count, patientTable.ids.count])
    }

    mutating func rollBack(to mark: Mark) {
        siteTable.rollBack(toCount: mark.counts[0])
        queueTable.rollBack(toCount: mark.counts[1])
        agentTable.rollBack(toCount: mark.counts[2])
        skillTable.rollBack(toCount: mark.counts[3])
        patientTable.rollBack(toCount: mark.counts[4])
    }

    // MARK: - Snapshot

    /// Five lists of (id, name) sorted by id: sites, queues, agents, skills, patients.
    func write(to writer: inout ByteWriter) {
        for table in [siteTable, queueTable, agentTable, skillTable, patientTable] { table.write(to: &writer) }
    }

    static func read(from reader: inout ByteReader) throws -> NameRegistry {
        var registry = NameRegistry()
        try registry.siteTable.read(from: &reader)
        try registry.queueTable.read(from: &reader)
        try registry.agentTable.read(from: &reader)
        try registry.skillTable.read(from: &reader)
        try registry.patientTable.read(from: &reader)
        return registry
    }
}
