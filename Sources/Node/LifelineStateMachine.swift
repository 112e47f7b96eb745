import ContactCenter
import Foundation
import Raft
import Vault

/// What every node replicates: the contact center (queues, tasks, agents,
/// sites, KPIs) and the raw key-value store that benchmarks and tests write.
///
/// A command is one tag byte and its payload:
/// - `1` + a `KeyValueStateMachine` command;
/// - `2` + a UTF-8 JSON object `{"v":1,"op":...,"at":ms,...}`: a contact-center
///   command in the API's names (queue, agent, site and skill names, patient
///   references). `apply` maps names to the core's numeric ids, assigning new
///   ids in apply order, so every replica assigns the same ones.
///
/// Contact-center commands carry no PHI: patients appear only as the opaque
/// reference the client chose. `at` is set by the leader (`stamped`); `apply`
/// never reads a clock, and never lets time go backwards.
public struct LifelineStateMachine: ReplicatedStateMachine {
    enum Tag: UInt8 {
        case keyValue = 1
        case contact = 2
        case security = 3
    }

    public static let commandVersion = 1
    static let snapshotVersion: UInt8 = 2
    public static let nameBytesMax = 64
    public static let commandBytesMax = 16 * 1024

    public private(set) var keyValue = KeyValueStateMachine()
    public private(set) var center = ContactCenterState()
    public private(set) var names = NameRegistry()
    /// Sites drained for maintenance: down on purpose, so the failure detector
    /// must not bring them back up.
    public private(set) var drained: Set<String> = []
    public internal(set) var clockMs: UInt64 = 0
    /// Sealed patient records and their keys, revocations, verifications, audit trail.
    public internal(set) var security = SecurityState()

    public init() {}

    // MARK: - Building commands

    public static func keyValueCommand(_ command: [UInt8]) -> [UInt8] { [Tag.keyValue.rawValue] + command }

    /// A contact-center command from its JSON fields (`op` and the operation's
    /// fields; `v` and `at` are added). The leader sets `at` when it accepts it.
    public static func contactCommand(_ op: String, _ fields: [String: Any] = [:]) -> [UInt8] {
        jsonCommand(.contact, op, fields)
    }

    /// A security command (`audit`, `revoke`, `verify`, `shred`) on behalf of
    /// `actor` with `role`; the leader sets `at`.
    public static func securityCommand(_ op: String, actor: String, role: Vault.Role, _ fields: [String: Any] = [:]) -> [UInt8] {
        var object = fields
        object["actor"] = actor
        object["role"] = role.rawValue
        return jsonCommand(.security, op, object)
    }

    /// `{"at":0,...}` with the other keys sorted: `at` first, so `stamped` sets
    /// the leader's time without parsing the command again.
    static func jsonCommand(_ tag: Tag, _ op: String, _ fields: [String: Any]) -> [UInt8] {
        var object = fields
        object["v"] = commandVersion
        object["op"] = op
        if let text = CompactJSON.dataWithTimeFirst(object, atMs: 0) { return [tag.rawValue] + text }
        object["at"] = 0
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return [tag.rawValue] + Array(data)
    }

    /// `{"at":` and the digits after it, when `command` (after its tag) starts so.
    static func leadingTime(_ command: [UInt8]) -> Range<Int>? {
        let prefix = Array("{\"at\":".utf8)
        guard command.count > prefix.count + 1, command[1...prefix.count].elementsEqual(prefix) else { return nil }
        let digitsStart = 1 + prefix.count
        var end = digitsStart
        while end < command.count, command[end] >= 0x30, command[end] <= 0x39 { end += 1 }
        guard end > digitsStart, end - digitsStart <= 20, end < command.count,
              command[end] == UInt8(ascii: ",") || command[end] == UInt8(ascii: "}")
        else { return nil }
        return digitsStart..<end
    }

    // MARK: - Leader duties

    public var hasLeaderDuties: Bool { true }

    public func stamped(_ command: [UInt8], atMs: UInt64) -> [UInt8] {
        guard command.first == Tag.contact.rawValue || command.first == Tag.security.rawValue, command.count <= Self.commandBytesMax
        else { return command }
        if let digits = Self.leadingTime(command) {
            var stamped = command
            stamped.replaceSubrange(digits, with: Array(String(atMs).utf8))
            return stamped
        }
        guard var object = (try? JSONSerialization.jsonObject(with: Data(command.dropFirst()))) as? [String: Any]
        else { return command }
        object["at"] = atMs
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return command }
        return [command[0]] + Array(data)
    }

    /// A tick only when one has work: a timer due, or a new KPI window. An idle
    /// cluster does not grow its log.
    public func periodicCommand(nowMs: UInt64) -> [UInt8]? {
        guard !names.sites.isEmpty else { return nil }
        let timerDue = center.nextTimerDue.map { $0 <= nowMs } ?? false
        return timerDue || center.startsNewWindow(at: nowMs) ? Self.contactCommand("tick") : nil
    }

    public func siteCommands(known: [String], reachable: Set<String>) -> [[UInt8]] {
        var commands: [[UInt8]] = []
        for site in known where names.site(site) == nil && NameRegistry.isValidName(site) {
            commands.append(Self.contactCommand("addSite", ["site": site]))
        }
        for (name, id) in names.sites.sorted(by: { $0.key < $1.key }) where !drained.contains(name) {
            guard let up = center.isSiteUp(id) else { continue }
            if up && !reachable.contains(name) {
                commands.append(Self.contactCommand("siteDown", ["site": name]))
            } else if !up && reachable.contains(name) {
                commands.append(Self.contactCommand("siteUp", ["site": name]))
            }
        }
        return commands
    }

    // MARK: - Apply

    public mutating func apply(index: UInt64, command: [UInt8]) -> [UInt8] {
        switch command.first.flatMap(Tag.init(rawValue:)) {
        case .keyValue:
            return keyValue.apply(index: index, command: Array(command.dropFirst()))
        // The outcome first, then `encode`: in `encode(applyContact(...))` Swift
        // evaluates `self` for `encode` before the argument, so a copy of the whole
        // machine was alive while `applyContact` mutated it, and copy-on-write then
        // copied every collection the command touched (the task table, the key
        // store, the audit trail): O(state) per command, half a leader's CPU.
        case .contact:
            let outcome = applyContact(Array(command.dropFirst()))
            return encode(outcome)
        case .security:
            let outcome = applySecurity(Array(command.dropFirst()))
            return encode(outcome)
        case nil:
            return encode(.failure(code: "invalid_command", message: "unknown command tag"))
        }
    }

    /// `apply`, reporting an applied contact-center command's events (and the
    /// state after them) to `observer`. Same state change as `apply`.
    public mutating func apply(index: UInt64, command: [UInt8], observer: (_ events: [ContactEvent], _ after: ContactCenterState) -> Void) -> [UInt8] {
        guard command.first == Tag.contact.rawValue else { return apply(index: index, command: command) }
        let outcome = applyContact(Array(command.dropFirst()))
        if case .applied(let result) = outcome, result.isApplied { observer(result.events, center) }
        return encode(outcome)
    }

    /// What a contact-center command did, as the API shows it.
    public enum Outcome {
        case applied(CommandResult)
        case failure(code: String, message: String)
        /// A security command applied; its (last) audit event has this sequence
        /// number; `details` are counts for the answer (never PHI).
        case securityApplied(sequence: UInt64, details: [String: Int])
    }

    mutating func applyContact(_ payload: [UInt8]) -> Outcome {
        guard payload.count <= Self.commandBytesMax,
              let object = (try? JSONSerialization.jsonObject(with: Data(payload))) as? [String: Any]
        else { return .failure(code: "invalid_command", message: "the command is not a JSON object") }
        var fields = Fields(object)
        guard fields.int("v") == Self.commandVersion else {
            return .failure(code: "invalid_command", message: "unsupported command version")
        }
        guard let op = fields.string("op") else { return .failure(code: "invalid_command", message: "op is missing") }
        let at = max(fields.uint64("at") ?? 0, center.now, clockMs)
        guard at <= ContactCenterState.timeMsMax else { return .failure(code: "invalid_command", message: "at is out of range") }
        let translated: Result<ContactCommand, CommandError>
        // Names are assigned in place and forgotten again if the command fails.
        let mark = names.mark
        var drainedAfter = drained
        do {
            translated = .success(try Self.translate(op, &fields, &names, &drainedAfter))
        } catch {
            translated = .failure(error)
        }
        switch translated {
        case .failure(let error):
            names.rollBack(to: mark)
            return .failure(code: error.code, message: error.message)
        case .success(let command):
            // A supervisor acting for someone else: only on their own site (see `outOfScope`).
            if let scope = fields.string("scopeSite"), let refusal = outOfScope(command, site: scope, registry: names) {
                names.rollBack(to: mark)
                return .failure(code: "forbidden", message: refusal)
            }
            // An agent or nurse ends or parks only a call offered or assigned to them.
            if let holder = fields.string("scopeAgent"), let refusal = notHolder(command, agent: holder, registry: names) {
                names.rollBack(to: mark)
                return .failure(code: "forbidden", message: refusal)
            }
            // A record travels with its enqueue: both apply, or neither. It is stored in
            // place and undone if the enqueue is rejected (a copy of the whole security
            // state per enqueue made ingress slower with every patient and audit event).
            var undo: SecurityState.RecordUndo?
            if case .enqueue = command, let sealed = fields.string("record") {
                do {
                    let record = try Self.decodeRecord(sealed)
                    let point = security.undoPoint(patient: record.patient.rawValue)
                    undo = point
                    do {
                        try Self.storeRecord(record, actor: fields.string("actor"), role: fields.string("role"), at: at, into: &security)
                    } catch {
                        security.rollBack(point)
                        throw error
                    }
                } catch {
                    names.rollBack(to: mark)
                    return .failure(code: "invalid_record", message: "\(error)")
                }
            }
            let result = center.apply(CommandEnvelope(at: at, command))
            // A rejected command changes nothing at all, its time included.
            guard result.isApplied else {
                if let undo { security.rollBack(undo) }
                names.rollBack(to: mark)
                return .applied(result)
            }
            clockMs = max(clockMs, at)
            drained = drainedAfter
            return .applied(result)
        }
    }

    struct CommandError: Error {
        var code: String
        var message: String
        init(_ code: String, _ message: String) {
            self.code = code
            self.message = message
        }
    }

    /// Static on purpose: as an instance method, called with `&names` (a stored
    /// property) it made Swift copy the whole machine for the call, so every
    /// new name copied the name tables it was added to (a fifth of the
    /// cluster's CPU during task enqueue, Docs/performance.md).
    static func translate(_ op: String, _ fields: inout Fields, _ registry: inout NameRegistry, _ drainedAfter: inout Set<String>) throws(CommandError) -> ContactCommand {
        switch op {
        case "tick":
            return .tick
        case "addSite":
            let site = try fields.name("site")
            if registry.site(site) != nil { throw CommandError("conflict", "site \(site) exists") }
            return .addSite(try registry.assignSite(site))
        case "siteDown", "drain":
            let site = try fields.name("site")
            guard let id = registry.site(site) else { throw CommandError("unknown_site", "no site \(site)") }
            if op == "drain" { drainedAfter.insert(site) }
            return .siteDown(id)
        case "siteUp", "resume":
            let site = try fields.name("site")
            guard let id = registry.site(site) else { throw CommandError("unknown_site", "no site \(site)") }
            if op == "resume" { drainedAfter.remove(site) }
            return .siteUp(id)
        case "defineQueue":
            return .defineQueue(try ContactJSON.queueConfig(&fields, &registry))
        case "registerAgent":
            return .registerAgent(try ContactJSON.agentConfig(&fields, &registry))
        case "presence":
            let agent = try fields.agent(registry)
            return .setPresence(agent, try fields.enumeration("presence", ContactJSON.presences))
        case "enqueue":
            let queue = try fields.queue(registry, "queue")
            let site = try fields.name("site")
            guard let siteID = registry.site(site) else { throw CommandError("unknown_site", "no site \(site)") }
            let patient = try registry.assignPatient(try fields.reference("patient"))
            let priority = try fields.bounded("priority", 0...255, default: 0)
            return .enqueue(NewTask(
                queue: queue, channel: try fields.enumeration("channel", ContactJSON.channels),
                callType: try fields.enumeration("callType", ContactJSON.callTypes), priority: UInt8(priority),
                patient: patient, site: siteID, callbackAt: fields.uint64("callbackAt") ?? 0
            ))
        case "accept", "decline", "wrapUp":
            let task = try fields.task()
            let agent = try fields.agent(registry)
            let token = try fields.token()
            switch op {
            case "accept": return .accept(task, agent, token: token)
            case "decline": return .decline(task, agent, token: token)
            default: return .wrapUp(task, agent, token: token)
            }
        case "complete":
            let task = try fields.task()
            let agent = try fields.agent(registry)
            let token = try fields.token()
            return .complete(task, agent, token: token, try ContactJSON.disposition(&fields))
        case "abandon":
            return .abandon(try fields.task())
        case "callback":
            let task = try fields.task()
            return .requestCallback(task, dueAt: fields.uint64("dueAt") ?? 0)
        case "transfer":
            let task = try fields.task()
            let agent = try fields.agent(registry)
            let token = try fields.token()
            return .transfer(task, agent, token: token, to: try fields.queue(registry, "to"))
        case "escalate":
            let task = try fields.task()
            let agent = try fields.agent(registry)
            let token = try fields.token()
            let to = try fields.queue(registry, "to")
            return .escalate(task, agent, token: token, to: to, try fields.enumeration("reason", ContactJSON.escalationReasons))
        default:
            throw CommandError("invalid_command", "unknown op \(op)")
        }
    }

    // MARK: - Site scope

    /// Why a supervisor of `site` may not apply `command`, or nil when they may.
    ///
    /// A supervisor configures and acts for agents of their own site, drains
    /// and resumes only their own site, and acts only on tasks of their site (a
    /// task's site is its ingress site: where the call came in and, for voice,
    /// where the line is anchored; it never changes). Queues are cluster-wide.
    /// Checked here, in apply, against the state the command meets, so no
    /// stale read on the ingress node and no race with a concurrent change can
    /// let a command through. Unknown agents and tasks are left to the core
    /// (404). Deterministic: state and command only.
    /// Why `agent` (an agent or nurse) may not abandon or park this task: it is not
    /// offered or assigned to them. Nil when they may, or the command is another kind.
    func notHolder(_ command: ContactCommand, agent: String, registry: NameRegistry) -> String? {
        switch command {
        case .abandon(let t), .requestCallback(let t, _):
            guard let held = center.task(t) else { return nil }
            return held.agent.map({ registry.name(of: $0) }) == agent ? nil : "task \(t.rawValue) is not offered or assigned to \(agent)"
        default:
            return nil
        }
    }

    func outOfScope(_ command: ContactCommand, site: String, registry: NameRegistry) -> String? {
        func agent(_ id: AgentID) -> String? {
            guard let view = center.agent(id) else { return nil }
            let home = registry.name(of: view.config.site)
            return home == site ? nil : "agent \(registry.name(of: id)) works at \(home); a supervisor of \(site) acts only for agents of \(site)"
        }
        func task(_ id: TaskID) -> String? {
            guard let held = center.task(id) else { return nil }
            let home = registry.name(of: held.site)
            return home == site ? nil : "task \(id.rawValue) belongs to \(home); a supervisor of \(site) acts only on tasks of \(site)"
        }
        switch command {
        case .siteDown(let id), .siteUp(let id):
            let name = registry.name(of: id)
            return name == site ? nil : "a supervisor of \(site) drains and resumes only \(site), not \(name)"
        case .registerAgent(let config):
            let target = registry.name(of: config.site)
            guard target == site else { return "a supervisor of \(site) registers agents only at \(site), not \(target)" }
            return agent(config.id)
        case .setPresence(let id, _):
            return agent(id)
        case .accept(_, let a, _), .decline(_, let a, _), .wrapUp(_, let a, _), .complete(_, let a, _, _),
             .transfer(_, let a, _, _), .escalate(_, let a, _, _, _):
            // The holder's own work: the router gives agents calls from every site (that is
            // failover), so acting for an agent of one's site covers any task they hold.
            return agent(a)
        case .abandon(let t), .requestCallback(let t, _):
            return task(t)
        case .configure, .addSite, .defineQueue, .enqueue, .tick:
            return nil
        }
    }

    // MARK: - Results

    func encode(_ outcome: Outcome) -> [UInt8] {
        let object: [String: Any]
        switch outcome {
        case .failure(let code, let message):
            object = ["ok": false, "error": ["code": code, "message": message]]
        case .securityApplied(let sequence, let details):
            object = details.reduce(into: ["ok": true, "auditSequence": sequence] as [String: Any]) { $0[$1.key] = $1.value }
        case .applied(let result):
            if let rejection = result.rejection {
                object = ["ok": false, "error": ["code": ContactJSON.rejectionCode(rejection.code), "message": rejection.detail]]
            } else {
                var applied: [String: Any] = ["ok": true, "events": result.events.map(ContactJSON.eventName)]
                if let task = result.task { applied["task"] = task.rawValue }
                if let offer = result.offer {
                    applied["offer"] = ["task": offer.task.rawValue, "agent": names.name(of: offer.agent), "token": offer.token, "expiresAt": offer.expiresAt]
                }
                object = applied
            }
        }
        return CompactJSON.data(object) ?? Array("{}".utf8)
    }

    // MARK: - Snapshot

    public func snapshot() -> [UInt8] {
        var writer = ByteWriter(capacity: 1024)
        writer.write(Self.snapshotVersion)
        writer.write(clockMs)
        writer.writeBytes(keyValue.snapshot())
        writer.writeBytes(center.snapshot())
        names.write(to: &writer)
        writer.write(UInt32(drained.count))
        for site in drained.sorted() { writer.writeString(site) }
        writer.writeBytes(security.encoded())
        return writer.bytes
    }

    public mutating func restore(_ bytes: [UInt8]) throws {
        var reader = ByteReader(bytes)
        guard try reader.readUInt8() == Self.snapshotVersion else { throw DecodingError("unknown lifeline snapshot version", offset: 0) }
        let clock = try reader.readUInt64()
        var keyValue = KeyValueStateMachine()
        try keyValue.restore(try reader.readBytes(limit: CodecLimits.snapshotBytesMax))
        let center = try ContactCenterState(snapshot: try reader.readBytes(limit: CodecLimits.snapshotBytesMax))
        let names = try NameRegistry.read(from: &reader)
        let count = try reader.readUInt32()
        var drained: Set<String> = []
        for _ in 0..<count { drained.insert(try reader.readString(limit: Self.nameBytesMax)) }
        let security = try SecurityState.decoded(try reader.readBytes(limit: CodecLimits.snapshotBytesMax))
        try reader.expectEnd()
        self.clockMs = clock
        self.keyValue = keyValue
        self.center = center
        self.names = names
        self.drained = drained
        self.security = security
    }
}
