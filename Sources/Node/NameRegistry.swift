import ContactCenter
import Raft

/// The API's names for the contact center's numeric ids: sites, queues, agents
/// and skills by name, patients by the client's opaque reference. Ids are
/// assigned in apply order (1, 2, 3, ...; skills 0...63), so every replica agrees.
public struct NameRegistry: Sendable, Equatable {
    public private(set) var sites: [String: ContactCenter.SiteID] = [:]
    public private(set) var queues: [String: QueueID] = [:]
    public private(set) var agents: [String: AgentID] = [:]
    public private(set) var skills: [String: SkillID] = [:]
    public private(set) var patients: [String: PatientID] = [:]
    var siteNames: [UInt32: String] = [:]
    var queueNames: [UInt32: String] = [:]
    var agentNames: [UInt64: String] = [:]
    var skillNames: [UInt8: String] = [:]
    var patientNames: [UInt64: String] = [:]

    public init() {}

    /// Letters, digits, '-', '_' and '.', 1...64 bytes: safe in URLs, logs and metrics labels.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= LifelineStateMachine.nameBytesMax
            && name.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == 0x2D || byte == 0x5F || byte == 0x2E
            }
    }

    public func site(_ name: String) -> ContactCenter.SiteID? { sites[name] }
    public func queue(_ name: String) -> QueueID? { queues[name] }
    public func agent(_ name: String) -> AgentID? { agents[name] }
    public func patient(_ reference: String) -> PatientID? { patients[reference] }
    public func name(of site: ContactCenter.SiteID) -> String { siteNames[site.rawValue] ?? site.description }
    public func name(of queue: QueueID) -> String { queueNames[queue.rawValue] ?? queue.description }
    public func name(of agent: AgentID) -> String { agentNames[agent.rawValue] ?? agent.description }
    public func name(of skill: SkillID) -> String { skillNames[skill.rawValue] ?? skill.description }
    public func reference(of patient: PatientID) -> String { patientNames[patient.rawValue] ?? patient.description }

    mutating func assignSite(_ name: String) throws(LifelineStateMachine.CommandError) -> ContactCenter.SiteID {
        if let id = sites[name] { return id }
        guard sites.count < ContactCenterState.sitesMax else { throw .init("limit_reached", "at most \(ContactCenterState.sitesMax) sites") }
        let id = ContactCenter.SiteID(UInt32(sites.count + 1))
        sites[name] = id
        siteNames[id.rawValue] = name
        return id
    }

    mutating func assignQueue(_ name: String) throws(LifelineStateMachine.CommandError) -> QueueID {
        if let id = queues[name] { return id }
        guard queues.count < ContactCenterState.queuesMax else { throw .init("limit_reached", "at most \(ContactCenterState.queuesMax) queues") }
        let id = QueueID(UInt32(queues.count + 1))
        queues[name] = id
        queueNames[id.rawValue] = name
        return id
    }

    mutating func assignAgent(_ name: String) throws(LifelineStateMachine.CommandError) -> AgentID {
        if let id = agents[name] { return id }
        guard agents.count < ContactCenterState.agentsMax else { throw .init("limit_reached", "at most \(ContactCenterState.agentsMax) agents") }
        let id = AgentID(UInt64(agents.count + 1))
        agents[name] = id
        agentNames[id.rawValue] = name
        return id
    }

    mutating func assignSkill(_ name: String) throws(LifelineStateMachine.CommandError) -> SkillID {
        if let id = skills[name] { return id }
        guard skills.count < SkillID.countMax else { throw .init("limit_reached", "at most \(SkillID.countMax) skill names") }
        let id = SkillID(UInt8(skills.count))
        skills[name] = id
        skillNames[id.rawValue] = name
        return id
    }

    mutating func assignPatient(_ reference: String) throws(LifelineStateMachine.CommandError) -> PatientID {
        if let id = patients[reference] { return id }
        let id = PatientID(UInt64(patients.count + 1))
        patients[reference] = id
        patientNames[id.rawValue] = reference
        return id
    }

    // MARK: - Snapshot

    func write(to writer: inout ByteWriter) {
        func list(_ names: [(UInt64, String)]) {
            writer.write(UInt32(names.count))
            for (id, name) in names.sorted(by: { $0.0 < $1.0 }) {
                writer.write(id)
                writer.writeString(name)
            }
        }
        list(siteNames.map { (UInt64($0.key), $0.value) })
        list(queueNames.map { (UInt64($0.key), $0.value) })
        list(agentNames.map { ($0.key, $0.value) })
        list(skillNames.map { (UInt64($0.key), $0.value) })
        list(patientNames.map { ($0.key, $0.value) })
    }

    static func read(from reader: inout ByteReader) throws -> NameRegistry {
        func list() throws -> [(UInt64, String)] {
            let count = try reader.readUInt32()
            var names: [(UInt64, String)] = []
            for _ in 0..<count {
                let id = try reader.readUInt64()
                names.append((id, try reader.readString(limit: LifelineStateMachine.nameBytesMax)))
            }
            return names
        }
        var registry = NameRegistry()
        for (id, name) in try list() {
            registry.sites[name] = ContactCenter.SiteID(UInt32(truncatingIfNeeded: id))
            registry.siteNames[UInt32(truncatingIfNeeded: id)] = name
        }
        for (id, name) in try list() {
            registry.queues[name] = QueueID(UInt32(truncatingIfNeeded: id))
            registry.queueNames[UInt32(truncatingIfNeeded: id)] = name
        }
        for (id, name) in try list() {
            registry.agents[name] = AgentID(id)
            registry.agentNames[id] = name
        }
        for (id, name) in try list() {
            registry.skills[name] = SkillID(UInt8(truncatingIfNeeded: id))
            registry.skillNames[UInt8(truncatingIfNeeded: id)] = name
        }
        for (id, name) in try list() {
            registry.patients[name] = PatientID(id)
            registry.patientNames[id] = name
        }
        return registry
    }
}
