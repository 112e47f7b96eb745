import ContactCenter
import Foundation

/// Typed, strict access to one JSON object's fields, for API bodies and for
/// contact-center commands in the log. Every mistake names the field.
struct Fields {
    typealias Failure = LifelineStateMachine.CommandError

    let object: [String: Any]
    private(set) var read: Set<String> = []

    init(_ object: [String: Any]) { self.object = object }

    /// Fields the caller did not ask for: unknown keys are refused by the API.
    var unread: [String] { object.keys.filter { !read.contains($0) && $0 != "v" && $0 != "op" && $0 != "at" }.sorted() }

    func has(_ key: String) -> Bool { object[key] != nil && !(object[key] is NSNull) }

    mutating func raw(_ key: String) -> Any? {
        read.insert(key)
        guard let value = object[key], !(value is NSNull) else { return nil }
        return value
    }

    mutating func string(_ key: String) -> String? {
        guard let value = raw(key) else { return nil }
        guard let text = value as? String, !(value is NSNumber) else { return nil }
        return text
    }

    mutating func requiredString(_ key: String, maxBytes: Int) throws(Failure) -> String {
        guard let value = raw(key) else { throw Failure("invalid_request", "\(key): required") }
        guard let text = value as? String, !(value is NSNumber) else { throw Failure("invalid_request", "\(key): must be a string") }
        guard !text.isEmpty, text.utf8.count <= maxBytes else { throw Failure("invalid_request", "\(key): must be 1...\(maxBytes) bytes") }
        return text
    }

    static func isBoolean(_ number: NSNumber) -> Bool { String(cString: number.objCType) == "c" }

    mutating func uint64(_ key: String) -> UInt64? {
        guard let number = raw(key) as? NSNumber, !Fields.isBoolean(number) else { return nil }
        let double = number.doubleValue
        guard double >= 0, double <= 9_007_199_254_740_992, double == double.rounded(.towardZero) else { return nil }
        return number.uint64Value
    }

    mutating func int(_ key: String) -> Int? { uint64(key).map { Int(clamping: $0) } }

    /// An optional whole number in `range`; present but wrong is an error.
    mutating func bounded(_ key: String, _ range: ClosedRange<Int>, default fallback: Int) throws(Failure) -> Int {
        guard has(key) else {
            read.insert(key)
            return fallback
        }
        guard let value = int(key), range.contains(value) else {
            throw Failure("invalid_request", "\(key): must be a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    mutating func bool(_ key: String, default fallback: Bool) throws(Failure) -> Bool {
        guard let value = raw(key) else { return fallback }
        guard let number = value as? NSNumber, Fields.isBoolean(number) else { throw Failure("invalid_request", "\(key): must be true or false") }
        return number.boolValue
    }

    mutating func name(_ key: String) throws(Failure) -> String {
        let text = try requiredString(key, maxBytes: LifelineStateMachine.nameBytesMax)
        guard NameRegistry.isValidName(text) else {
            throw Failure("invalid_request", "\(key): letters, digits, '-', '_' and '.' only")
        }
        return text
    }

    /// A patient reference: an opaque id the client chose (not a name or MRN).
    mutating func reference(_ key: String) throws(Failure) -> String { try name(key) }

    mutating func enumeration<Value>(_ key: String, _ table: [(String, Value)]) throws(Failure) -> Value {
        let text = try requiredString(key, maxBytes: 64)
        guard let match = table.first(where: { $0.0 == text }) else {
            throw Failure("invalid_request", "\(key): one of \(table.map(\.0).joined(separator: ", "))")
        }
        return match.1
    }

    mutating func task() throws(Failure) -> TaskID {
        guard let id = uint64("task"), id > 0 else { throw Failure("invalid_request", "task: a task id is required") }
        return TaskID(id)
    }

    mutating func token() throws(Failure) -> UInt64 {
        guard let token = uint64("token") else { throw Failure("invalid_request", "token: the offer's token is required") }
        return token
    }

    mutating func agent(_ registry: NameRegistry) throws(Failure) -> AgentID {
        let name = try name("agent")
        guard let id = registry.agent(name) else { throw Failure("unknown_agent", "no agent \(name)") }
        return id
    }

    mutating func queue(_ registry: NameRegistry, _ key: String) throws(Failure) -> QueueID {
        let name = try name(key)
        guard let id = registry.queue(name) else { throw Failure("unknown_queue", "no queue \(name)") }
        return id
    }

    mutating func stringList(_ key: String, maxCount: Int) throws(Failure) -> [String]? {
        guard let value = raw(key) else { return nil }
        guard let list = value as? [Any], list.count <= maxCount else { throw Failure("invalid_request", "\(key): a list of at most \(maxCount) strings") }
        var strings: [String] = []
        for item in list {
            guard let text = item as? String, !(item is NSNumber) else { throw Failure("invalid_request", "\(key): a list of strings") }
            strings.append(text)
        }
        return strings
    }
}

/// The contact center's vocabulary in the API's JSON: enum names, configuration
/// objects, and read views of tasks, agents, queues, sites and KPIs.
enum ContactJSON {
    static let channels: [(String, Channel)] = [("voice", .voice), ("chat", .chat), ("sms", .sms), ("email", .email), ("callback", .callback)]
    static let callTypes: [(String, CallType)] = [
        ("scheduling", .scheduling), ("billing", .billing), ("clinical", .clinical), ("emergency", .emergency),
        ("prescriptionRefill", .prescriptionRefill), ("general", .general),
    ]
    static let presences: [(String, Presence)] = [("available", .available), ("onBreak", .onBreak), ("offline", .offline), ("notReady", .notReady)]
    static let audiences: [(String, QueueAudience)] = [("anyAgent", .anyAgent), ("nurses", .nurses), ("supervisors", .supervisors)]
    static let escalationReasons: [(String, EscalationReason)] = [
        ("clinicalConcern", .clinicalConcern), ("emergencySymptoms", .emergencySymptoms), ("patientRequest", .patientRequest),
        ("complaint", .complaint), ("beyondAuthority", .beyondAuthority), ("other", .other),
    ]
    static let roles: [(String, RoleSet)] = [("agent", .agent), ("nurse", .nurse), ("supervisor", .supervisor)]
    static let taskStates: [TaskState: String] = [
        .queued: "queued", .offered: "offered", .accepted: "accepted", .wrapUp: "wrapUp", .completed: "completed",
        .abandoned: "abandoned", .callbackScheduled: "callbackScheduled",
    ]
    static let agentStatuses: [AgentStatus: String] = [
        .available: "available", .busy: "busy", .wrapUp: "wrapUp", .onBreak: "onBreak", .offline: "offline", .notReady: "notReady",
    ]

    static func name<Value: Equatable>(_ value: Value, in table: [(String, Value)]) -> String {
        table.first { $0.1 == value }?.0 ?? "unknown"
    }

    // MARK: - Configuration from JSON (inside apply: names get ids here)

    static func queueConfig(_ fields: inout Fields, _ registry: inout NameRegistry) throws(Fields.Failure) -> QueueConfig {
        let name = try fields.name("queue")
        var channels: Set<Channel> = Set(Channel.allCases)
        if let list = try fields.stringList("channels", maxCount: 5) {
            channels = []
            for text in list {
                guard let channel = Self.channels.first(where: { $0.0 == text })?.1 else {
                    throw .init("invalid_request", "channels: one of \(Self.channels.map(\.0).joined(separator: ", "))")
                }
                channels.insert(channel)
            }
        }
        var skills: UInt64 = 0
        for skill in try fields.stringList("skills", maxCount: 16) ?? [] {
            guard NameRegistry.isValidName(skill) else { throw .init("invalid_request", "skills: names of letters, digits, '-', '_', '.'") }
            skills |= try registry.assignSkill(skill).bit
        }
        var overflow: [OverflowRule] = []
        if let value = fields.raw("overflow") {
            guard let rules = value as? [[String: Any]], rules.count <= 8 else { throw .init("invalid_request", "overflow: a list of at most 8 rules") }
            for rule in rules {
                var ruleFields = Fields(rule)
                let after = try ruleFields.bounded("afterSeconds", 0...86_400, default: -1)
                guard after >= 0 else { throw .init("invalid_request", "overflow[].afterSeconds: required") }
                if ruleFields.has("toQueue") {
                    let target = try ruleFields.name("toQueue")
                    overflow.append(OverflowRule(afterSeconds: UInt32(after), action: .toQueue(try registry.assignQueue(target))))
                } else {
                    var wider: UInt64 = 0
                    for skill in try ruleFields.stringList("widenSkills", maxCount: 16) ?? [] {
                        wider |= try registry.assignSkill(skill).bit
                    }
                    let minimum = try ruleFields.bounded("minimumProficiency", 0...10, default: 0)
                    overflow.append(OverflowRule(afterSeconds: UInt32(after), action: .widenSkills(wider, minimumProficiency: UInt8(minimum))))
                }
            }
        }
        var hours: OpenHours?
        if let value = fields.raw("hours") {
            guard let object = value as? [String: Any] else { throw .init("invalid_request", "hours: {openMinute, closeMinute}") }
            var hourFields = Fields(object)
            let open = try hourFields.bounded("openMinute", 0...1439, default: -1)
            let close = try hourFields.bounded("closeMinute", 0...1440, default: -1)
            guard open >= 0, close >= 0 else { throw .init("invalid_request", "hours: openMinute and closeMinute are required") }
            hours = OpenHours(openMinute: UInt32(open), closeMinute: UInt32(close))
        }
        var afterHours = AfterHours.callbackAtOpening
        if fields.has("afterHoursQueue") {
            afterHours = .overflow(try registry.assignQueue(try fields.name("afterHoursQueue")))
        }
        let audience = fields.has("audience") ? try fields.enumeration("audience", audiences) : .anyAgent
        let id = try registry.assignQueue(name)
        return QueueConfig(
            id: id, name: name, channels: channels, priority: UInt8(try fields.bounded("priority", 0...255, default: 0)),
            requiredSkills: skills, minimumProficiency: UInt8(try fields.bounded("minimumProficiency", 0...10, default: 0)),
            audience: audience, serviceLevelSeconds: UInt32(try fields.bounded("serviceLevelSeconds", 1...86_400, default: 30)),
            offerTimeoutSeconds: UInt32(try fields.bounded("offerTimeoutSeconds", 1...3_600, default: 20)),
            overflow: overflow, hours: hours, afterHours: afterHours
        )
    }

    static func agentConfig(_ fields: inout Fields, _ registry: inout NameRegistry) throws(Fields.Failure) -> AgentConfig {
        let name = try fields.name("agent")
        let site = try fields.name("site")
        guard let siteID = registry.site(site) else { throw .init("unknown_site", "no site \(site)") }
        var roles: RoleSet = []
        for role in try fields.stringList("roles", maxCount: 3) ?? ["agent"] {
            guard let match = Self.roles.first(where: { $0.0 == role }) else { throw .init("invalid_request", "roles: agent, nurse or supervisor") }
            roles.insert(match.1)
        }
        guard !roles.isEmpty else { throw .init("invalid_request", "roles: at least one") }
        var skills: [SkillID: UInt8] = [:]
        if let value = fields.raw("skills") {
            guard let object = value as? [String: Any], object.count <= AgentConfig.skillsMax else {
                throw .init("invalid_request", "skills: {name: proficiency 1...10}, at most \(AgentConfig.skillsMax)")
            }
            var skillFields = Fields(object)
            for skill in object.keys.sorted() {
                guard NameRegistry.isValidName(skill) else { throw .init("invalid_request", "skills: names of letters, digits, '-', '_', '.'") }
                let level = try skillFields.bounded(skill, 1...Int(AgentConfig.proficiencyMax), default: 1)
                skills[try registry.assignSkill(skill)] = UInt8(level)
            }
        }
        var capacity = (voice: 1, chat: 3, sms: 3, email: 2)
        if let value = fields.raw("capacity") {
            guard let object = value as? [String: Any] else { throw .init("invalid_request", "capacity: {voice, chat, sms, email}") }
            var capacityFields = Fields(object)
            let most = Int(AgentConfig.capacityPerClassMax)
            capacity = (try capacityFields.bounded("voice", 0...most, default: 1), try capacityFields.bounded("chat", 0...most, default: 3),
                        try capacityFields.bounded("sms", 0...most, default: 3), try capacityFields.bounded("email", 0...most, default: 2))
            if let unknown = capacityFields.unread.first { throw .init("invalid_request", "capacity.\(unknown): unknown key") }
        }
        return AgentConfig(id: try registry.assignAgent(name), site: siteID, roles: roles, skills: skills,
                           voice: UInt8(capacity.voice), chat: UInt8(capacity.chat), sms: UInt8(capacity.sms), email: UInt8(capacity.email))
    }

    static func disposition(_ fields: inout Fields) throws(Fields.Failure) -> Disposition {
        let csat = try fields.bounded("csat", 0...5, default: 0)
        return Disposition(resolvedFirstContact: try fields.bool("resolvedFirstContact", default: false),
                           followUpNeeded: try fields.bool("followUpNeeded", default: false), csat: csat == 0 ? nil : UInt8(csat))
    }

    // MARK: - Results and views

    static func rejectionCode(_ code: Rejection.Code) -> String {
        switch code {
        case .unknownSite: return "unknown_site"
        case .unknownQueue: return "unknown_queue"
        case .unknownAgent: return "unknown_agent"
        case .unknownTask: return "unknown_task"
        case .siteDown: return "site_down"
        case .invalidConfig: return "invalid_config"
        case .illegalTransition: return "illegal_transition"
        case .staleToken: return "stale_token"
        case .notHolder: return "not_holder"
        case .channelNotAccepted: return "channel_not_accepted"
        case .overCapacity: return "over_capacity"
        case .limitReached: return "limit_reached"
        case .agentBusy: return "agent_busy"
        case .invalidDisposition: return "invalid_disposition"
        }
    }

    /// The HTTP status for an error code from `apply`.
    static func status(forCode code: String) -> Int {
        switch code {
        case "unknown_site", "unknown_queue", "unknown_agent", "unknown_task": return 404
        case "invalid_request", "invalid_command", "invalid_config", "channel_not_accepted", "invalid_disposition": return 422
        case "limit_reached": return 429
        case "forbidden": return 403
        default: return 409
        }
    }

    /// The case name, as the API has always shown it. A switch: printing the
    /// event and cutting at "(" went through reflection, 8 % of the cluster's
    /// CPU during task enqueue (Docs/performance.md).
    static func eventName(_ event: ContactEvent) -> String {
        switch event {
        case .settingsChanged: "settingsChanged"
        case .siteAdded: "siteAdded"
        case .queueDefined: "queueDefined"
        case .agentRegistered: "agentRegistered"
        case .agentStatusChanged: "agentStatusChanged"
        case .taskCreated: "taskCreated"
        case .taskQueued: "taskQueued"
        case .taskOffered: "taskOffered"
        case .offerDeclined: "offerDeclined"
        case .offerExpired: "offerExpired"
        case .taskAccepted: "taskAccepted"
        case .taskWrapUp: "taskWrapUp"
        case .taskCompleted: "taskCompleted"
        case .taskAbandoned: "taskAbandoned"
        case .callbackScheduled: "callbackScheduled"
        case .failoverDrop: "failoverDrop"
        case .callbackDue: "callbackDue"
        case .overflowed: "overflowed"
        case .transferred: "transferred"
        case .escalated: "escalated"
        case .siteWentDown: "siteWentDown"
        case .siteCameUp: "siteCameUp"
        case .kpiWindowStarted: "kpiWindowStarted"
        }
    }

    static func task(_ task: ContactTask, _ machine: LifelineStateMachine) -> [String: Any] {
        let names = machine.names
        var object: [String: Any] = [
            "id": task.id.rawValue, "queue": names.name(of: task.queue), "site": names.name(of: task.site),
            "channel": name(task.channel, in: channels), "callType": name(task.callType, in: callTypes),
            "priority": Int(task.priority), "state": taskStates[task.state] ?? "unknown",
            "patient": names.reference(of: task.patient), "createdAt": task.createdAt, "enqueuedAt": task.enqueuedAt,
            "waitFrom": task.waitFrom, "failedOver": task.failedOver, "transfers": Int(task.transfers),
            "escalations": task.escalations.map { ["at": $0.at, "by": names.name(of: $0.by), "from": names.name(of: $0.from),
                                                   "to": names.name(of: $0.to), "reason": name($0.reason, in: escalationReasons)] },
        ]
        if let agent = task.agent {
            object["agent"] = names.name(of: agent)
            object["token"] = task.token
        }
        if task.state == .offered { object["offerExpiresAt"] = task.offerExpiresAt }
        if task.callbackDueAt > 0 { object["callbackDueAt"] = task.callbackDueAt }
        if task.closedAt > 0 { object["closedAt"] = task.closedAt }
        if let position = machine.center.position(of: task.id) { object["position"] = position }
        if let disposition = task.disposition {
            var shown: [String: Any] = ["resolvedFirstContact": disposition.resolvedFirstContact, "followUpNeeded": disposition.followUpNeeded]
            if let csat = disposition.csat { shown["csat"] = Int(csat) }
            object["disposition"] = shown
        }
        return object
    }

    static func agent(_ id: AgentID, _ view: AgentView, _ machine: LifelineStateMachine) -> [String: Any] {
        let names = machine.names
        return [
            "agent": names.name(of: id), "site": names.name(of: view.config.site),
            "roles": roles.filter { view.config.roles.contains($0.1) }.map(\.0),
            "skills": Dictionary(uniqueKeysWithValues: view.config.skills.map { (names.name(of: $0.key), Int($0.value)) }),
            "presence": name(view.presence, in: presences), "status": agentStatuses[view.status] ?? "unknown",
            "idleSince": view.idleSince, "tasks": view.held.map(\.rawValue),
        ]
    }

    static func offer(_ offer: Offer, _ machine: LifelineStateMachine) -> [String: Any] {
        var object: [String: Any] = [
            "task": offer.task.rawValue, "agent": machine.names.name(of: offer.agent), "token": offer.token,
            "expiresAt": offer.expiresAt, "history": offer.history.map(\.rawValue),
        ]
        if let task = machine.center.task(offer.task) { object["details"] = Self.task(task, machine) }
        return object
    }

    static func kpis(_ report: KPIReport) -> [String: Any] {
        ["total": counters(report.total), "window": counters(report.window)]
    }

    static func counters(_ counters: KPICounters) -> [String: Any] {
        func value(_ number: Double?) -> Any { number.map { ($0 * 10_000).rounded() / 10_000 } ?? NSNull() }
        return [
            "entered": counters.entered, "answered": counters.answered, "abandoned": counters.abandoned,
            "shortAbandoned": counters.shortAbandoned, "failoverDrops": counters.failoverDrops, "completed": counters.completed,
            "averageSpeedOfAnswerMs": value(counters.averageSpeedOfAnswerMs), "abandonmentRate": value(counters.abandonmentRate),
            "serviceLevel": value(counters.serviceLevel), "averageHandleMs": value(counters.averageHandleMs),
            "firstContactResolutionRate": value(counters.firstContactResolutionRate), "averageCSAT": value(counters.averageCSAT),
            "occupancy": value(counters.occupancy),
        ]
    }

    static func queue(_ id: QueueID, _ machine: LifelineStateMachine) -> [String: Any]? {
        guard let config = machine.center.queueConfig(id) else { return nil }
        let names = machine.names
        var object: [String: Any] = [
            "queue": names.name(of: id), "channels": channels.filter { config.channels.contains($0.1) }.map(\.0),
            "priority": Int(config.priority), "audience": name(config.audience, in: audiences),
            "serviceLevelSeconds": Int(config.serviceLevelSeconds), "offerTimeoutSeconds": Int(config.offerTimeoutSeconds),
            "depth": machine.center.queueDepth(id),
            "skills": (0..<64).filter { config.requiredSkills & (1 << UInt64($0)) != 0 }.map { names.name(of: SkillID(UInt8($0))) },
        ]
        if let report = machine.center.kpis(queue: id) {
            object["longestWaitMs"] = report.longestWaitMs
            object["kpis"] = kpis(report)
        }
        return object
    }

    static func site(_ name: String, _ id: ContactCenter.SiteID, _ machine: LifelineStateMachine) -> [String: Any] {
        var object: [String: Any] = ["site": name, "up": machine.center.isSiteUp(id) ?? false, "drained": machine.drained.contains(name)]
        if let report = machine.center.kpis(site: id) { object["kpis"] = kpis(report) }
        return object
    }
}
