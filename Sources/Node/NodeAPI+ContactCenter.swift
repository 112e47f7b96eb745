import ContactCenter
import Foundation
import Vault

/// The contact center's JSON API: tasks, agents, queues and sites. Writes are
/// contact-center commands through the log (forwarded to the leader from a
/// follower, answered once applied); reads are linearizable (ReadIndex) except
/// the offer long-poll, which polls this node's applied state.
///
/// Patient PHI (name, phone, date of birth, reason) is validated here and never
/// enters a command, the log or a log line: only the patient's opaque reference
/// does. The records' encrypted storage arrives with the records integration.
extension NodeAPI {
    static let longPollMsMax: UInt64 = 30_000
    static let phiBytesMax = 256

    static func addContactCenterRoutes(_ router: inout Router, _ runtime: NodeRuntime) {
        addTaskRoutes(&router, runtime)
        addAgentRoutes(&router, runtime)
        addQueueAndSiteRoutes(&router, runtime)
    }

    // MARK: - Tasks

    static func addTaskRoutes(_ router: inout Router, _ runtime: NodeRuntime) {
        router.add("POST", "/v1/tasks") { request, _ in
            body(request, allowed: ["queue", "channel", "callType", "priority", "patient", "reason", "site", "callbackAt"]) { fields in
                let patientObject = fields.raw("patient")
                let patient = try validatePatient(patientObject)
                var phi = (patientObject as? [String: Any] ?? [:]).filter { ["name", "phone", "dateOfBirth"].contains($0.key) }
                if fields.has("reason") { phi["reason"] = try fields.requiredString("reason", maxBytes: phiBytesMax) }
                var command: [String: Any] = [
                    "queue": try fields.name("queue"),
                    "channel": try fields.requiredString("channel", maxBytes: 16),
                    "callType": fields.has("callType") ? try fields.requiredString("callType", maxBytes: 32) : "general",
                    "priority": try fields.bounded("priority", 0...255, default: 0),
                    "patient": patient,
                    "site": fields.has("site") ? try fields.name("site") : runtime.config.site.rawValue,
                ]
                if fields.has("callbackAt") {
                    guard let due = fields.uint64("callbackAt") else { throw Fields.Failure("invalid_request", "callbackAt: ms since the epoch") }
                    command["callbackAt"] = due
                }
                if let ring = runtime.keyRing {
                    command["record"] = try sealRecord(runtime, ring: ring, patient: patient, phi: phi.compactMapValues { $0 as? String })
                    command["actor"] = request.principal?.subject ?? "tls-client"
                    command["role"] = (request.principal?.role ?? Vault.Role.agent).rawValue
                }
                return contact(runtime, request, "enqueue", command, created: true) { result in
                    var shown: [String: Any] = ["id": result["task"] ?? NSNull()]
                    if let offer = result["offer"] { shown["offer"] = offer }
                    return shown
                }
            }
        }
        router.add("GET", "/v1/tasks/{id}") { request, parameters in
            guard let id = taskID(parameters) else { return invalidTaskID() }
            let principal = request.principal
            // BUG (drill `stale-reads`, on purpose): served from this node's applied
            // state at once, skipping the ReadIndex check: a deposed leader or a
            // lagging follower answers with old state.
            let linearizable = !runtime.config.drill.has(.staleReads)
            return read(runtime, linearizable: linearizable) { machine in
                guard let task = machine.center.task(id) else { return nil }
                // Agents and nurses see only the tasks offered or assigned to them.
                if let principal, principal.role == .agent || principal.role == .nurse,
                   task.agent.map({ machine.names.name(of: $0) }) != principal.subject {
                    return nil
                }
                return ContactJSON.task(task, machine)
            }
        }
        router.add("POST", "/v1/tasks/{id}/abandon") { request, parameters in
            guard let id = taskID(parameters) else { return invalidTaskID() }
            return body(request, allowed: [], emptyAllowed: true) { _ in
                scopedContact(runtime, request, "POST /v1/tasks/{id}/abandon", ["task:\(id.rawValue)"], "abandon", ["task": id.rawValue].merging(scope(request)) { $1 }.merging(holderScope(request)) { $1 })
            }
        }
        router.add("POST", "/v1/tasks/{id}/callback") { request, parameters in
            guard let id = taskID(parameters) else { return invalidTaskID() }
            return body(request, allowed: ["dueAt"], emptyAllowed: true) { fields in
                var command: [String: Any] = ["task": id.rawValue]
                if fields.has("dueAt") {
                    guard let due = fields.uint64("dueAt") else { throw Fields.Failure("invalid_request", "dueAt: ms since the epoch") }
                    command["dueAt"] = due
                }
                return scopedContact(runtime, request, "POST /v1/tasks/{id}/callback", ["task:\(id.rawValue)"], "callback", command.merging(scope(request)) { $1 }.merging(holderScope(request)) { $1 })
            }
        }
        router.add("POST", "/v1/tasks/{id}/escalate") { request, parameters in
            guard let id = taskID(parameters) else { return invalidTaskID() }
            return body(request, allowed: ["agent", "token", "to", "reason"]) { fields in
                let command = try holderFields(&fields, id, extra: ["to", "reason"], principal: request.principal)
                return scopedContact(runtime, request, "POST /v1/tasks/{id}/escalate", ["task:\(id.rawValue)"], "escalate",
                                     command.merging(scope(request, agent: command["agent"] as? String)) { $1 })
            }
        }
        router.add("POST", "/v1/tasks/{id}/transfer") { request, parameters in
            guard let id = taskID(parameters) else { return invalidTaskID() }
            return body(request, allowed: ["agent", "token", "to"]) { fields in
                let command = try holderFields(&fields, id, extra: ["to"], principal: request.principal)
                return scopedContact(runtime, request, "POST /v1/tasks/{id}/transfer", ["task:\(id.rawValue)"], "transfer",
                                     command.merging(scope(request, agent: command["agent"] as? String)) { $1 })
            }
        }
        router.add("POST", "/v1/tasks/{id}/disposition") { request, parameters in
            guard let id = taskID(parameters) else { return invalidTaskID() }
            return body(request, allowed: ["agent", "token", "resolvedFirstContact", "followUpNeeded", "csat"]) { fields in
                let command = try holderFields(&fields, id, extra: ["resolvedFirstContact", "followUpNeeded", "csat"], principal: request.principal)
                return scopedContact(runtime, request, "POST /v1/tasks/{id}/disposition", ["task:\(id.rawValue)"], "complete",
                                     command.merging(scope(request, agent: command["agent"] as? String)) { $1 })
            }
        }
    }

    // MARK: - Agents

    static func addAgentRoutes(_ router: inout Router, _ runtime: NodeRuntime) {
        router.add("PUT", "/v1/agents/{id}") { request, parameters in
            guard let name = validName(parameters["id"]) else { return invalidName("agent") }
            return body(request, allowed: ["site", "roles", "skills", "capacity"]) { fields in
                var command = passThrough(&fields, ["site", "roles", "skills", "capacity"])
                command["agent"] = name
                return audited(runtime, request, "workforce.agent_register", ["agent:\(name)"],
                               scopedContact(runtime, request, "PUT /v1/agents/{id}", ["agent:\(name)"], "registerAgent", command.merging(scope(request)) { $1 }))
            }
        }
        router.add("GET", "/v1/agents") { _, _ in
            read(runtime) { machine in
                ["agents": machine.center.agentIDs.compactMap { id in machine.center.agent(id).map { ContactJSON.agent(id, $0, machine) } }]
            }
        }
        router.add("GET", "/v1/agents/{id}") { request, parameters in
            guard let name = validName(parameters["id"]) else { return invalidName("agent") }
            if let refused = notThemselves(runtime, request, agent: name, route: "GET /v1/agents/{id}") { return refused }
            return read(runtime) { machine in
                guard let id = machine.names.agent(name), let view = machine.center.agent(id) else { return nil }
                return ContactJSON.agent(id, view, machine)
            }
        }
        for (path, presence) in [("login", "available"), ("logout", "offline")] {
            router.add("POST", "/v1/agents/{id}/\(path)") { request, parameters in
                guard let name = validName(parameters["id"]) else { return invalidName("agent") }
                if let refused = notThemselves(runtime, request, agent: name, route: "POST /v1/agents/{id}/\(path)") { return refused }
                return body(request, allowed: [], emptyAllowed: true) { _ in
                    scopedContact(runtime, request, "POST /v1/agents/{id}/\(path)", ["agent:\(name)"], "presence",
                                  ["agent": name, "presence": presence].merging(scope(request, agent: name)) { $1 })
                }
            }
        }
        router.add("POST", "/v1/agents/{id}/status") { request, parameters in
            guard let name = validName(parameters["id"]) else { return invalidName("agent") }
            if let refused = notThemselves(runtime, request, agent: name, route: "POST /v1/agents/{id}/status") { return refused }
            return body(request, allowed: ["presence"]) { fields in
                let command: [String: Any] = ["agent": name, "presence": try fields.requiredString("presence", maxBytes: 16)]
                return scopedContact(runtime, request, "POST /v1/agents/{id}/status", ["agent:\(name)"], "presence",
                                     command.merging(scope(request, agent: name)) { $1 })
            }
        }
        router.add("GET", "/v1/agents/{id}/offer") { request, parameters in
            guard let name = validName(parameters["id"]) else { return invalidName("agent") }
            if let refused = notThemselves(runtime, request, agent: name, route: "GET /v1/agents/{id}/offer") { return refused }
            if let refused = notOwnSite(runtime, request, agent: name, route: "GET /v1/agents/{id}/offer") { return refused }
            let waitMs = min(UInt64(request.query["waitMs"] ?? "0") ?? 0, longPollMsMax)
            return longPollOffer(runtime, agent: name, waitMs: waitMs)
        }
        let agentActions: [(path: String, op: String, extra: [String])] = [
            ("accept", "accept", []), ("reject", "decline", []), ("wrap-up", "wrapUp", []),
            ("complete", "complete", ["resolvedFirstContact", "followUpNeeded", "csat"]),
        ]
        for action in agentActions {
            router.add("POST", "/v1/agents/{id}/\(action.path)") { request, parameters in
                guard let name = validName(parameters["id"]) else { return invalidName("agent") }
                if let refused = notThemselves(runtime, request, agent: name, route: "POST /v1/agents/{id}/\(action.path)") { return refused }
                return body(request, allowed: Set(["task", "token"] + action.extra)) { fields in
                    var command = passThrough(&fields, ["task", "token"] + action.extra)
                    command["agent"] = name
                    return scopedContact(runtime, request, "POST /v1/agents/{id}/\(action.path)", ["agent:\(name)"], action.op,
                                         command.merging(scope(request, agent: name)) { $1 })
                }
            }
        }
    }

    // MARK: - Queues and sites

    static func addQueueAndSiteRoutes(_ router: inout Router, _ runtime: NodeRuntime) {
        let queueKeys = ["channels", "priority", "skills", "minimumProficiency", "audience", "serviceLevelSeconds",
                         "offerTimeoutSeconds", "overflow", "hours", "afterHoursQueue"]
        router.add("PUT", "/v1/queues/{id}") { request, parameters in
            guard let name = validName(parameters["id"]) else { return invalidName("queue") }
            return body(request, allowed: Set(queueKeys), emptyAllowed: true) { fields in
                var command = passThrough(&fields, queueKeys)
                command["queue"] = name
                return audited(runtime, request, "workforce.queue_define", ["queue:\(name)"], contact(runtime, "defineQueue", command))
            }
        }
        router.add("GET", "/v1/queues") { _, _ in
            read(runtime) { machine in ["queues": machine.center.queueIDs.compactMap { ContactJSON.queue($0, machine) }] }
        }
        router.add("GET", "/v1/queues/{id}") { _, parameters in
            guard let name = validName(parameters["id"]) else { return invalidName("queue") }
            return read(runtime) { machine in machine.names.queue(name).flatMap { ContactJSON.queue($0, machine) } }
        }
        router.add("GET", "/v1/sites") { _, _ in
            read(runtime) { machine in
                ["sites": machine.names.sites.sorted { $0.key < $1.key }.map { ContactJSON.site($0.key, $0.value, machine) }]
            }
        }
        for (path, op) in [("drain", "drain"), ("resume", "resume")] {
            router.add("POST", "/v1/sites/{id}/\(path)") { request, parameters in
                guard let name = validName(parameters["id"]) else { return invalidName("site") }
                return body(request, allowed: [], emptyAllowed: true) { _ in
                    audited(runtime, request, "cluster.site_\(op)", ["site:\(name)"],
                            scopedContact(runtime, request, "POST /v1/sites/{id}/\(path)", ["site:\(name)"], op, ["site": name].merging(scope(request)) { $1 }))
                }
            }
        }
    }

    // MARK: - Helpers

    /// Parses the body as a JSON object with only `allowed` keys and runs `make`;
    /// a validation failure is a 400/422 with the field named.
    static func body(_ request: HTTPRequest, allowed: Set<String>, emptyAllowed: Bool = false,
                     _ make: (inout Fields) throws -> HTTPResponse) -> HTTPResponse {
        var object: [String: Any] = [:]
        if !request.body.isEmpty || !emptyAllowed {
            guard let parsed = jsonBody(request) else { return badJSON() }
            object = parsed
        }
        let unknown = Set(object.keys).subtracting(allowed).sorted()
        guard unknown.isEmpty else {
            return .error(400, code: "invalid_request", message: unknown.map { "\($0): unknown key" }.joined(separator: "; "))
        }
        var fields = Fields(object)
        do {
            return try make(&fields)
        } catch let error as Fields.Failure {
            if error.code == "forbidden" { return .error(403, code: "forbidden", message: error.message) }
            return .error(ContactJSON.status(forCode: error.code) == 422 ? 422 : 400, code: error.code, message: error.message)
        } catch {
            return .error(400, code: "invalid_request", message: "\(error)")
        }
    }

    /// A 403 (audited) when the caller may not act as `agent`, else nil.
    static func notThemselves(_ runtime: NodeRuntime, _ request: HTTPRequest, agent: String, route: String) -> HTTPResponse? {
        guard let principal = request.principal, !principal.mayActAs(agent: agent) else { return nil }
        return refuse(runtime, 403, "forbidden", "an agent acts only as themselves", actor: principal.subject, role: principal.role,
                      route: route, resources: ["agent:\(agent)"]).response
    }

    /// `["scopeSite": site]` when the caller is a supervisor acting for someone
    /// else (`agent` nil: on a task, a site or the directory), else empty. Apply
    /// refuses the command when what it names is not at that site
    /// (`LifelineStateMachine.outOfScope`); ops and a supervisor acting as
    /// themselves (they take calls too) carry no scope.
    static func scope(_ request: HTTPRequest, agent: String? = nil) -> [String: Any] {
        guard let principal = request.principal, principal.role == .supervisor, agent != principal.subject else { return [:] }
        return ["scopeSite": principal.site]
    }

    /// `["scopeAgent": subject]` for an agent or nurse: apply lets them abandon or park
    /// (callback) only a task offered or assigned to them (`LifelineStateMachine.notHolder`).
    static func holderScope(_ request: HTTPRequest) -> [String: Any] {
        guard let principal = request.principal, principal.role == .agent || principal.role == .nurse else { return [:] }
        return ["scopeAgent": principal.subject]
    }

    /// `contact`, with a refusal for being outside the supervisor's site (403
    /// from apply) audited like every other denial.
    static func scopedContact(_ runtime: NodeRuntime, _ request: HTTPRequest, _ route: String, _ resources: [String],
                              _ op: String, _ command: [String: Any]) -> HTTPResponse {
        auditedRefusal(runtime, request, route, resources, contact(runtime, op, command))
    }

    /// `response`; when it is a 403, first an `api.denied` audit event for it.
    static func auditedRefusal(_ runtime: NodeRuntime, _ request: HTTPRequest, _ route: String, _ resources: [String],
                               _ response: HTTPResponse) -> HTTPResponse {
        guard response.status == 403, let principal = request.principal else { return response }
        let message = (response.jsonObject?["error"] as? [String: Any])?["message"] as? String ?? "forbidden"
        audit(runtime, actor: principal.subject, role: principal.role, action: "api.denied", resources: [route] + resources,
              outcome: "denied", reason: message)
        return response
    }

    /// A 403 (audited) when a supervisor asks for another site's agent's offers
    /// (a read, so apply cannot check it), else nil.
    static func notOwnSite(_ runtime: NodeRuntime, _ request: HTTPRequest, agent: String, route: String) -> HTTPResponse? {
        guard let principal = request.principal, principal.role == .supervisor, principal.subject != agent else { return nil }
        let box = ValueBox<String>()
        _ = runtime.localRead(timeoutMs: 5_000) { machine in
            guard let machine = machine as? LifelineStateMachine, let id = machine.names.agent(agent), let view = machine.center.agent(id) else { return [] }
            box.set(machine.names.name(of: view.config.site))
            return []
        }
        guard let home = box.get(), home != principal.site else { return nil }
        return refuse(runtime, 403, "forbidden", "agent \(agent) works at \(home); a supervisor of \(principal.site) acts only for agents of \(principal.site)",
                      actor: principal.subject, role: principal.role, route: route, resources: ["agent:\(agent)"]).response
    }

    /// Copies the present `keys` into a command (their values are checked in apply).
    static func passThrough(_ fields: inout Fields, _ keys: [String]) -> [String: Any] {
        var command: [String: Any] = [:]
        for key in keys { if let value = fields.raw(key) { command[key] = value } }
        return command
    }

    static func holderFields(_ fields: inout Fields, _ task: TaskID, extra: [String], principal: Principal?) throws(Fields.Failure) -> [String: Any] {
        var command = passThrough(&fields, extra)
        command["task"] = task.rawValue
        let agent = try fields.name("agent")
        if let principal, !principal.mayActAs(agent: agent) {
            throw Fields.Failure("forbidden", "an agent acts only as themselves")
        }
        command["agent"] = agent
        command["token"] = try fields.token()
        return command
    }

    /// Seals the patient's PHI fields with their data key (a new one, wrapped by
    /// the active KEK, on first contact) on this node, before anything enters
    /// the log. Returns the sealed record as base64 of its JSON.
    static func sealRecord(_ runtime: NodeRuntime, ring: KeyRing, patient: String, phi: [String: String]) throws -> String {
        let box = ValueBox<PatientKeyStore>()
        guard case .applied = runtime.localRead(timeoutMs: 5_000, { machine in
            // Only this patient's entry leaves the loop: holding the whole store
            // would make the loop copy it on its next write.
            box.set((machine as? LifelineStateMachine)?.security.keys.restricted(to: Vault.PatientID(patient)) ?? PatientKeyStore())
            return []
        }), let keys = box.get() else {
            throw Fields.Failure("busy", "the node could not read its key store in time")
        }
        do {
            let record = try keys.encrypt(fields: phi.mapValues { Array($0.utf8) }, patient: Vault.PatientID(patient), ring: ring)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return Base64.encode(Array(try encoder.encode(record)), urlSafe: false)
        } catch let error as VaultError {
            // The message names the patient reference and the field, never a value.
            throw Fields.Failure(error.code == .shredded ? "shredded" : "sealing_failed", error.reason)
        }
    }

    /// Checks the patient object (`id` a reference; `name`, `phone`, `dateOfBirth`
    /// strings) and returns only the reference. The PHI values are never echoed.
    static func validatePatient(_ value: Any?) throws(Fields.Failure) -> String {
        guard let object = value as? [String: Any] else {
            throw Fields.Failure("invalid_request", "patient: an object {id, name, phone, dateOfBirth} is required")
        }
        var fields = Fields(object)
        let reference = try fields.reference("id")
        for key in ["name", "phone", "dateOfBirth"] { _ = try fields.requiredString(key, maxBytes: phiBytesMax) }
        guard let dateOfBirth = object["dateOfBirth"] as? String, isISODate(dateOfBirth) else {
            throw Fields.Failure("invalid_request", "patient.dateOfBirth: YYYY-MM-DD")
        }
        if let unknown = fields.unread.first { throw Fields.Failure("invalid_request", "patient.\(unknown): unknown key") }
        return reference
    }

    static func isISODate(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2])
        else { return false }
        return (1850...2200).contains(year) && (1...12).contains(month) && (1...31).contains(day)
    }

    static func validName(_ text: String?) -> String? {
        guard let text, NameRegistry.isValidName(text) else { return nil }
        return text
    }

    static func invalidName(_ kind: String) -> HTTPResponse {
        .error(400, code: "invalid_request", message: "\(kind) ids are 1...64 of letters, digits, '-', '_' and '.'")
    }

    static func taskID(_ parameters: [String: String]) -> TaskID? {
        guard let text = parameters["id"], let id = UInt64(text), id > 0 else { return nil }
        return TaskID(id)
    }

    static func invalidTaskID() -> HTTPResponse { .error(400, code: "invalid_request", message: "task ids are positive whole numbers") }

    /// Proposes a contact-center command and shapes the applied result.
    static func contact(_ runtime: NodeRuntime, _ op: String, _ fields: [String: Any], created: Bool = false,
                        shape: (([String: Any]) -> [String: Any])? = nil) -> HTTPResponse {
        commandResponse(runtime.propose(LifelineStateMachine.contactCommand(op, fields)), created: created, shape: shape)
    }

    /// As `contact`, answered without a waiting thread when the server allows
    /// (`request.deferrable`): the route of the busiest write, task enqueue.
    static func contact(_ runtime: NodeRuntime, _ request: HTTPRequest, _ op: String, _ fields: [String: Any], created: Bool = false,
                        shape: (@Sendable ([String: Any]) -> [String: Any])? = nil) -> HTTPResponse {
        proposal(runtime, request, LifelineStateMachine.contactCommand(op, fields)) { outcome in
            commandResponse(outcome, created: created, shape: shape)
        }
    }

    /// A proposal's outcome as the API answers it: the applied result, or the
    /// refusal with its status.
    static func commandResponse(_ outcome: ProposalOutcome, created: Bool, shape: (([String: Any]) -> [String: Any])?) -> HTTPResponse {
        switch outcome {
        case .failed(let status, let code, let message):
            return .error(status, code: code, message: message)
        case .applied(let index, let result):
            guard let object = (try? JSONSerialization.jsonObject(with: Data(result))) as? [String: Any] else {
                return .error(500, code: "internal", message: "the command's result could not be read")
            }
            guard object["ok"] as? Bool == true else {
                let error = object["error"] as? [String: Any] ?? [:]
                let code = error["code"] as? String ?? "rejected"
                return .error(ContactJSON.status(forCode: code), code: code, message: error["message"] as? String ?? "rejected")
            }
            var shown = shape?(object) ?? object.filter { $0.key != "ok" }
            shown["index"] = index
            return json(created ? 201 : 200, shown)
        }
    }

    /// A linearizable read (unless `linearizable` is false: this node's applied
    /// state as it is, for the drill's stale-reads bug only); `query` returns nil
    /// for "not found".
    static func read(_ runtime: NodeRuntime, linearizable: Bool = true,
                     _ query: @escaping @Sendable (LifelineStateMachine) -> [String: Any]?) -> HTTPResponse {
        let run: ReadQuery = { machine in
            guard let machine = machine as? LifelineStateMachine else { return [] }
            guard let object = query(machine) else { return [0] }
            return [1] + ((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map(Array.init) ?? [])
        }
        let outcome = linearizable ? runtime.read(run) : runtime.localRead(run)
        switch outcome {
        case .failed(let status, let code, let message):
            return .error(status, code: code, message: message)
        case .applied(let index, let result):
            guard result.first == 1 else { return .error(404, code: "not_found", message: "no such resource") }
            var response = HTTPResponse.json(200, Array(result.dropFirst()))
            response.headers.append(("x-lifeline-read-index", "\(index)"))
            return response
        }
    }

    /// Waits up to `waitMs` for an offer to `agent`: 200 with the offer, or 204 when
    /// none came. The wait watches this node's applied state (cheap); an offer seen there
    /// is confirmed by a linearizable read before it is shown, so a node cut off from the
    /// leader never shows an offer the cluster has already given to someone else (it
    /// answers 503 instead), and what an agent sees is never older than what a caller
    /// was told.
    static func longPollOffer(_ runtime: NodeRuntime, agent: String, waitMs: UInt64) -> HTTPResponse {
        let deadline = MonotonicClock.deadline(afterMs: waitMs)
        let query: ReadQuery = { machine in
            guard let machine = machine as? LifelineStateMachine else { return [] }
            guard let id = machine.names.agent(agent) else { return [0] }
            guard let offer = machine.center.offers(for: id).first else { return [2] }
            return [1] + ((try? JSONSerialization.data(withJSONObject: ContactJSON.offer(offer, machine), options: [.sortedKeys])).map(Array.init) ?? [])
        }
        while true {
            var outcome = runtime.localRead(query)
            if case .applied(_, let local) = outcome, local.first == 1 { outcome = runtime.read(query) }
            switch outcome {
            case .failed(let status, let code, let message):
                return .error(status, code: code, message: message)
            case .applied(_, let result):
                switch result.first {
                case 0: return .error(404, code: "unknown_agent", message: "no agent \(agent)")
                case 1: return .json(200, Array(result.dropFirst()))
                default: break
                }
            }
            if MonotonicClock.now() >= deadline { return HTTPResponse(status: 204) }
            runtime.waitForViewChange(ms: 25)
        }
    }
}
