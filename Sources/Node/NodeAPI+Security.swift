import ContactCenter
import Foundation
import Vault

/// Bearer tokens on every route, the patient-record read with its rules, token
/// revocation and the audit trail. Active when the node has a key ring.
extension NodeAPI {
    /// Installs the token check on `router`: 401 without a valid, unexpired,
    /// unrevoked token; 403 when the role may not call the route. Each refusal
    /// is an audit event committed through the log before the answer.
    static func installAuthorization(_ router: inout Router, _ runtime: NodeRuntime, ring: KeyRing) {
        let verifier = ring.tokenVerifier
        router.authorize = { request, route in
            if AccessPolicy.open.contains(route) { return .success(nil) }
            guard let header = request.header("authorization"), header.hasPrefix("Bearer "), header.count > 7 else {
                return .failure(refuse(runtime, 401, "unauthenticated", "a bearer token is required (Authorization: Bearer ...)",
                                       actor: "unauthenticated", role: .dashboard, route: route))
            }
            let claims: TokenClaims
            do {
                claims = try verifier.verify(String(header.dropFirst(7)), now: Date(), revoked: runtime.revokedTokens)
            } catch {
                return .failure(refuse(runtime, 401, "unauthenticated", "\(error)", actor: "unauthenticated", role: .dashboard, route: route))
            }
            let principal = Principal(claims)
            guard AccessPolicy.allows(principal.role, route) else {
                return .failure(refuse(runtime, 403, "forbidden", "the \(principal.role.rawValue) role may not call \(route)",
                                       actor: principal.subject, role: principal.role, route: route))
            }
            return .success(principal)
        }
    }

    /// A refusal, audited through the log (best effort when there is no quorum).
    static func refuse(_ runtime: NodeRuntime, _ status: Int, _ code: String, _ message: String,
                       actor: String, role: Role, route: String, resources: [String] = [], breakGlass: Bool = false) -> RefusedRequest {
        audit(runtime, actor: actor, role: role, action: "api.denied", resources: [route] + resources, outcome: "denied", reason: message,
              breakGlass: breakGlass)
        return RefusedRequest(response: .error(status, code: code, message: message))
    }

    /// Commits one audit event; returns false when it could not be committed.
    @discardableResult
    static func audit(_ runtime: NodeRuntime, actor: String, role: Role, action: String, resources: [String],
                      outcome: String = "allowed", reason: String = "", breakGlass: Bool = false) -> Bool {
        let command = LifelineStateMachine.securityCommand("audit", actor: String(actor.prefix(AuditEvent.actorBytesMax)), role: role, [
            "action": action, "resources": Array(resources.prefix(AuditEvent.resourcesMax)).map { String($0.prefix(AuditEvent.resourceBytesMax)) },
            "outcome": outcome, "reason": LifelineStateMachine.clamped(reason), "breakGlass": breakGlass,
        ])
        if case .applied = runtime.propose(command, timeoutMs: 5_000) { return true }
        return false
    }

    /// `response`, after auditing the administrative action it answered when it
    /// succeeded (best effort: the action itself is already committed).
    static func audited(_ runtime: NodeRuntime, _ request: HTTPRequest, _ action: String, _ resources: [String], _ response: HTTPResponse) -> HTTPResponse {
        if (200..<300).contains(response.status), let principal = request.principal {
            audit(runtime, actor: principal.subject, role: principal.role, action: action, resources: resources)
        }
        return response
    }

    static func addSecurityRoutes(_ router: inout Router, _ runtime: NodeRuntime) {
        router.add("GET", "/v1/patients/{id}/record") { request, parameters in
            guard let patient = validName(parameters["id"]) else { return invalidName("patient") }
            return readRecord(runtime, request, patient: patient)
        }
        router.add("POST", "/v1/patients/{id}/shred") { request, parameters in
            guard let patient = validName(parameters["id"]) else { return invalidName("patient") }
            return body(request, allowed: ["reason"]) { fields in
                let reason = try fields.requiredString("reason", maxBytes: AuditEvent.reasonBytesMax)
                let principal = request.principal
                return security(runtime, "shred", principal, ["patient": patient, "reason": reason])
            }
        }
        router.add("POST", "/v1/tasks/{id}/verify") { request, parameters in
            guard let id = taskID(parameters) else { return invalidTaskID() }
            return body(request, allowed: ["method"]) { fields in
                let method = try fields.requiredString("method", maxBytes: SecurityState.methodBytesMax)
                if let principal = request.principal, principal.role != .supervisor {
                    guard holds(runtime, task: id, subject: principal.subject) else {
                        return refuse(runtime, 403, "forbidden", "only the agent holding the task may record the caller's verification",
                                      actor: principal.subject, role: principal.role, route: "POST /v1/tasks/{id}/verify", resources: ["task:\(id.rawValue)"]).response
                    }
                }
                let command: [String: Any] = ["task": id.rawValue, "method": method]
                return auditedRefusal(runtime, request, "POST /v1/tasks/{id}/verify", ["task:\(id.rawValue)"],
                                      security(runtime, "verify", request.principal, command.merging(scope(request)) { $1 }))
            }
        }
        router.add("POST", "/v1/keys/rewrap") { request, _ in
            guard let ring = runtime.keyRing else { return .error(503, code: "no_key_ring", message: "this node has no key ring configured") }
            let box = ValueBox<Result<[Vault.PatientID: WrappedKey], VaultError>>()
            _ = runtime.localRead(timeoutMs: 10_000) { machine in
                guard let machine = machine as? LifelineStateMachine else { return [] }
                box.set(Result { () throws(VaultError) in try machine.security.keys.rewrapped(ring: ring, limit: 5_000) })
                return []
            }
            switch box.get() {
            case .success(let rewrapped):
                let keys = Dictionary(uniqueKeysWithValues: rewrapped.map { ($0.key.rawValue, $0.value.base64) })
                if !keys.isEmpty {
                    let response = security(runtime, "rewrap", request.principal, ["keys": keys, "kekVersion": ring.activeVersion])
                    guard response.status == 200 else { return response }
                }
                let (stale, lost) = staleCount(runtime, ring)
                return json(200, ["rewrapped": keys.count, "kekVersion": ring.activeVersion, "remaining": max(0, stale - lost),
                                  "unrecoverable": lost, "hint": "call again until remaining is 0"])
            case .failure(let error):
                return .error(409, code: "rewrap_failed", message: error.reason)
            case nil:
                return .error(503, code: "busy", message: "the node did not answer in time")
            }
        }
        router.add("POST", "/v1/keys/reload") { request, _ in
            guard let principal = request.principal else { return .error(503, code: "no_key_ring", message: "this node has no key ring configured") }
            return reloadKeyRing(runtime, actor: principal.subject, role: principal.role)
        }
        router.add("POST", "/v1/keys/retire") { request, _ in
            body(request, allowed: ["version"]) { fields in
                guard let version = fields.uint64("version"), version > 0, version <= UInt64(UInt32.max) else {
                    throw Fields.Failure("invalid_request", "version: the KEK version being retired")
                }
                if let ring = runtime.keyRing, ring.activeVersion == UInt32(version) {
                    return .error(409, code: "key_in_use", message: "KEK version \(version) is this node's active version; give it the rotated ring first")
                }
                return security(runtime, "retireKEK", request.principal, ["version": version])
            }
        }
        router.add("GET", "/v1/keys/usage") { _, _ in
            guard let ring = runtime.keyRing else { return .error(503, code: "no_key_ring", message: "this node has no key ring configured") }
            // Counts and versions only: no patient, no key material.
            return read(runtime) { machine in
                let counts = machine.security.keys.wrappedKeysPerKEKVersion()
                return [
                    "clusterID": ring.clusterID, "node": runtime.config.node.rawValue, "activeVersion": ring.activeVersion,
                    "ringVersions": ring.versions.map(\.version), "retiredVersions": ring.retired.map(\.version),
                    "wrappedDataKeys": Dictionary(uniqueKeysWithValues: counts.map { (String($0.key), $0.value) }),
                    "shreddedPatients": machine.security.keys.shredded.count,
                    "retiredInCluster": machine.security.retiredKEKVersions ?? [],
                ]
            }
        }
        router.add("GET", "/v1/patients/retention") { request, _ in
            guard let days = retentionDays(request.query["olderThanDays"], runtime) else { return invalidRetention() }
            let now = UInt64(Date().timeIntervalSince1970 * 1000)
            return read(runtime) { machine in
                let due = machine.security.keys.patientsPastRetention(nowMs: now, retentionMs: days * 86_400_000).map(\.rawValue)
                return ["olderThanDays": days, "retentionDays": runtime.config.retention, "patients": due]
            }
        }
        router.add("POST", "/v1/patients/retention") { request, _ in
            body(request, allowed: ["reason", "olderThanDays", "limit"]) { fields in
                let reason = try fields.requiredString("reason", maxBytes: AuditEvent.reasonBytesMax)
                let given = fields.raw("olderThanDays") == nil ? nil : fields.uint64("olderThanDays").map(String.init) ?? "invalid"
                guard let days = retentionDays(given, runtime) else {
                    throw Fields.Failure("invalid_request", "olderThanDays: a whole number of days, 0...\(NodeConfig.retentionDaysRange.upperBound)")
                }
                guard fields.raw("limit") == nil || fields.uint64("limit").map({ (1...LifelineStateMachine.retentionShredsMax).contains($0) }) == true else {
                    throw Fields.Failure("invalid_request", "limit: 1...\(LifelineStateMachine.retentionShredsMax) patients per call")
                }
                let limit = fields.uint64("limit") ?? LifelineStateMachine.retentionShredsMax
                return security(runtime, "shredPastRetention", request.principal, ["retentionDays": days, "limit": limit, "reason": reason])
            }
        }
        router.add("POST", "/v1/tokens") { request, _ in
            guard let ring = runtime.keyRing, let principal = request.principal else {
                return .error(503, code: "no_key_ring", message: "this node has no key ring configured")
            }
            return body(request, allowed: ["subject", "role", "site", "ttlSeconds"]) { fields in
                let subject = try fields.requiredString("subject", maxBytes: 128)
                let roleName = try fields.requiredString("role", maxBytes: 16)
                guard let role = Role(rawValue: roleName) else {
                    throw Fields.Failure("invalid_request", "role: one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                let site = try fields.requiredString("site", maxBytes: 128)
                guard fields.raw("ttlSeconds") == nil || fields.uint64("ttlSeconds") != nil else {
                    throw Fields.Failure("invalid_request", "ttlSeconds: 1...\(TokenVerifier.ttlSecondsMax)")
                }
                let ttl = fields.uint64("ttlSeconds") ?? 8 * 3_600
                // Supervisors sign on the agents and nurses of their own site only.
                if principal.role == .supervisor, !([.agent, .nurse].contains(role) && site == principal.site) {
                    return refuse(runtime, 403, "forbidden", "a supervisor issues agent and nurse tokens for their own site (\(principal.site)) only",
                                  actor: principal.subject, role: principal.role, route: "POST /v1/tokens", resources: ["subject:\(subject)"]).response
                }
                let issued: (token: String, claims: TokenClaims)
                do {
                    issued = try ring.tokenSigner.issue(subject: subject, role: role, site: site, now: Date(), ttlSeconds: ttl)
                } catch {
                    throw Fields.Failure("invalid_request", "\(error)")
                }
                // Committed before the token leaves the node: no unaudited issuance.
                guard audit(runtime, actor: principal.subject, role: principal.role, action: "token.issue",
                            resources: ["token:\(issued.claims.tokenID)", "subject:\(subject)"],
                            reason: "role \(role.rawValue), site \(site), expires \(issued.claims.expiresAt)") else {
                    return .error(503, code: "audit_unavailable", message: "the issuance could not be audited (no quorum); no token was issued")
                }
                return json(201, ["token": issued.token, "tokenID": issued.claims.tokenID, "subject": subject, "role": role.rawValue,
                                  "site": site, "issuedAt": issued.claims.issuedAt, "expiresAt": issued.claims.expiresAt])
            }
        }
        router.add("POST", "/v1/tokens/{id}/revoke") { request, parameters in
            guard let token = parameters["id"], !token.isEmpty, token.utf8.count <= 64, token.allSatisfy({ $0.isHexDigit }) else {
                return .error(400, code: "invalid_request", message: "token ids are hex (the token's jti)")
            }
            return body(request, allowed: ["expiresAt"], emptyAllowed: true) { fields in
                // Kept until it would have expired anyway (at most the longest TTL).
                let until = fields.uint64("expiresAt") ?? UInt64(Date().timeIntervalSince1970) + TokenVerifier.ttlSecondsMax
                return security(runtime, "revoke", request.principal, ["tokenID": token, "expiresAt": until])
            }
        }
        router.add("GET", "/v1/audit") { request, _ in
            let from = UInt64(request.query["from"] ?? "") ?? 0
            let to = UInt64(request.query["to"] ?? "") ?? UInt64.max
            // Optional filters: only break-glass accesses; only one action.
            let breakGlassOnly = request.query["breakGlass"] == "true"
            let action = request.query["action"]
            return read(runtime) { machine in
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                let events = machine.security.events.filter {
                    $0.timeMs >= from && $0.timeMs <= to && (!breakGlassOnly || $0.breakGlass) && (action == nil || $0.action == action)
                }.compactMap { event -> Any? in
                    (try? encoder.encode(event)).flatMap { try? JSONSerialization.jsonObject(with: $0) }
                }
                return ["events": events, "head": ["nextSequence": machine.security.nextSequence, "lastHash": Hex.encode(machine.security.lastHash)],
                        "anchor": anchorJSON(machine.security.anchor)]
            }
        }
        router.add("GET", "/v1/audit/verify") { _, _ in
            read(runtime) { machine in
                let anchor = anchorJSON(machine.security.anchor)
                switch AuditChain.verify(machine.security.events, anchor: machine.security.anchor, expectedHead: machine.security.lastHash) {
                case .success(let head):
                    return ["ok": true, "events": machine.security.events.count, "lastHash": Hex.encode(head.lastHash), "anchor": anchor]
                case .failure(let broken):
                    return ["ok": false, "events": machine.security.events.count, "brokenAt": broken.index, "reason": broken.description, "anchor": anchor]
                }
            }
        }
        router.add("POST", "/v1/audit/archive") { request, _ in
            body(request, allowed: ["through", "hash"]) { fields in
                guard let through = fields.uint64("through"), through > 0 else {
                    throw Fields.Failure("invalid_request", "through: the sequence number of the last archived event")
                }
                guard let hash = fields.string("hash"), hash.utf8.count == 2 * Digest.sha256Bytes, Hex.decode(hash) != nil else {
                    throw Fields.Failure("invalid_request", "hash: that event's SHA-256, 64 hex digits")
                }
                return security(runtime, "archive", request.principal, ["through": through, "hash": hash])
            }
        }
    }

    /// Reloads this node's key ring file (`POST /v1/keys/reload`, SIGHUP): the
    /// answer names the versions before and after; a refusal (409) keeps the
    /// running ring. Both are logged and audited as `key.reload`.
    static func reloadKeyRing(_ runtime: NodeRuntime, actor: String, role: Role) -> HTTPResponse {
        let node = runtime.config.node.rawValue
        do {
            let reload = try runtime.reloadKeyRing()
            let ring = reload.current
            let summary = "active \(ring.activeVersion), versions \(ring.versions.map(\.version)), retired \(ring.retired.map(\.version))"
            runtime.log.info("keys.reloaded", [("changed", "\(reload.changed)"), ("active", "\(ring.activeVersion)"),
                                               ("versions", "\(ring.versions.map(\.version))"), ("retired", "\(ring.retired.map(\.version))")])
            audit(runtime, actor: actor, role: role, action: "key.reload", resources: ["node:\(node)", "kek:\(ring.activeVersion)"],
                  reason: reload.changed ? "was active \(reload.previous.activeVersion); now \(summary)" : "unchanged: \(summary)")
            return json(200, ["node": node, "changed": reload.changed, "previousActiveVersion": reload.previous.activeVersion,
                              "activeVersion": ring.activeVersion, "ringVersions": ring.versions.map(\.version),
                              "retiredVersions": ring.retired.map(\.version)])
        } catch {
            runtime.log.warning("keys.reload_refused", [("reason", error.reason)])
            audit(runtime, actor: actor, role: role, action: "key.reload", resources: ["node:\(node)"], outcome: "denied", reason: error.reason)
            let code = runtime.keyRing == nil ? "no_key_ring" : "reload_refused"
            return .error(runtime.keyRing == nil ? 503 : 409, code: code, message: "\(error.reason); the node keeps its running key ring")
        }
    }

    /// `olderThanDays` as given (0 allowed: everything recorded before now), or
    /// the node's configured retention; nil when it is not a number in range.
    static func retentionDays(_ text: String?, _ runtime: NodeRuntime) -> UInt64? {
        guard let text else { return runtime.config.retention }
        guard let days = UInt64(text), days <= NodeConfig.retentionDaysRange.upperBound else { return nil }
        return days
    }

    static func invalidRetention() -> HTTPResponse {
        .error(400, code: "invalid_request", message: "olderThanDays: a whole number of days, 0...\(NodeConfig.retentionDaysRange.upperBound)")
    }

    /// Where the in-state audit trail starts (genesis: sequence 1, zero hash).
    static func anchorJSON(_ anchor: AuditChain.Head) -> [String: Any] {
        ["nextSequence": anchor.nextSequence, "lastHash": Hex.encode(anchor.lastHash)]
    }

    /// How many wrapped data keys are still under an older KEK, and how many of
    /// those are under a retired one (lost: they can never be re-wrapped).
    static func staleCount(_ runtime: NodeRuntime, _ ring: KeyRing) -> (stale: Int, lost: Int) {
        let box = ValueBox<(stale: Int, lost: Int)>()
        _ = runtime.localRead(timeoutMs: 5_000) { machine in
            guard let keys = (machine as? LifelineStateMachine)?.security.keys else { return [] }
            box.set((keys.staleWrappedKeys(activeVersion: ring.activeVersion).count, keys.keysUnderRetiredVersions(ring: ring).count))
            return []
        }
        return box.get() ?? (0, 0)
    }

    /// Proposes a security command as `principal`; its result as the response.
    static func security(_ runtime: NodeRuntime, _ op: String, _ principal: Principal?, _ fields: [String: Any]) -> HTTPResponse {
        let command = LifelineStateMachine.securityCommand(op, actor: principal?.subject ?? "tls-client", role: principal?.role ?? .ops, fields)
        return commandResponse(runtime.propose(command), created: false, shape: nil)
    }

    /// True when `subject` holds task `id` (offered, accepted or in wrap-up).
    static func holds(_ runtime: NodeRuntime, task id: TaskID, subject: String) -> Bool {
        let box = ValueBox<Bool>()
        _ = runtime.localRead(timeoutMs: 5_000) { machine in
            guard let machine = machine as? LifelineStateMachine, let task = machine.center.task(id), let agent = task.agent else {
                box.set(false)
                return []
            }
            box.set(machine.names.name(of: agent) == subject && [.offered, .accepted, .wrapUp].contains(task.state))
            return []
        }
        return box.get() ?? false
    }

    /// The record read: an agent or nurse for a task of theirs about this patient
    /// whose caller they verified; a supervisor of the task's site with a reason;
    /// anyone of those with `breakGlass=true` and a reason (allowed, flagged).
    /// The `phi.read` event is committed before any plaintext leaves the node.
    static func readRecord(_ runtime: NodeRuntime, _ request: HTTPRequest, patient: String) -> HTTPResponse {
        guard let ring = runtime.keyRing else { return .error(503, code: "no_key_ring", message: "this node has no key ring configured") }
        let principal = request.principal
        let reason = request.query["reason"] ?? ""
        let breakGlass = request.query["breakGlass"] == "true"
        let task = UInt64(request.query["task"] ?? "").map { TaskID($0) }
        let route = "GET /v1/patients/{id}/record"
        // The loop decides and hands over the ciphertext; decryption happens here.
        let box = ValueBox<(allowed: Bool, why: String, sealed: SealedPatientRecord?)>()
        _ = runtime.localRead(timeoutMs: 5_000) { machine in
            guard let machine = machine as? LifelineStateMachine else { return [] }
            let verdict = recordAccess(machine, principal: principal, patient: patient, task: task, reason: reason, breakGlass: breakGlass)
            box.set((verdict.allowed, verdict.why, verdict.allowed ? machine.security.sealedRecord(patient) : nil))
            return []
        }
        guard let decision = box.get() else { return .error(503, code: "busy", message: "the node did not answer in time") }
        let actor = principal?.subject ?? "tls-client"
        let role = principal?.role ?? .ops
        guard decision.allowed else {
            return refuse(runtime, 403, "forbidden", decision.why, actor: actor, role: role, route: route, resources: ["patient:\(patient)"],
                          breakGlass: breakGlass).response
        }
        switch decision.sealed.map({ sealed in Result { () throws(VaultError) in try sealed.open(ring: ring) } }) {
        case .success(let fields):
            guard audit(runtime, actor: actor, role: role, action: "phi.read", resources: ["patient:\(patient)"] + (task.map { ["task:\($0.rawValue)"] } ?? []),
                        reason: reason, breakGlass: breakGlass) else {
                return .error(503, code: "audit_unavailable", message: "the read could not be audited (no quorum); no record is shown")
            }
            return json(200, ["patient": patient, "fields": fields, "breakGlass": breakGlass])
        case .failure(let error):
            audit(runtime, actor: actor, role: role, action: "phi.read", resources: ["patient:\(patient)"], outcome: "denied",
                  reason: reason.isEmpty ? error.reason : "\(error.reason) (stated reason: \(reason))", breakGlass: breakGlass)
            // All or nothing: no field of a record whose key cannot be opened leaves.
            let status = error.code == .unknownPatient ? 404 : 409
            let code = switch error.code {
            case .shredded: "shredded"
            case .unknownPatient: "not_found"
            case .retiredKeyVersion: "key_retired"
            case .unknownKeyVersion: "key_missing"
            default: "unreadable"
            }
            return .error(status, code: code, message: error.reason)
        case nil:
            return .error(500, code: "internal", message: "no decision")
        }
    }

    static func recordAccess(_ machine: LifelineStateMachine, principal: Principal?, patient: String, task: TaskID?,
                             reason: String, breakGlass: Bool) -> (allowed: Bool, why: String) {
        guard let principal else { return (true, "") }
        if breakGlass {
            return reason.isEmpty ? (false, "break-glass needs a reason") : (true, "")
        }
        switch principal.role {
        case .agent, .nurse:
            guard let task, let held = machine.center.task(task), machine.names.reference(of: held.patient) == patient,
                  let agent = held.agent, machine.names.name(of: agent) == principal.subject,
                  [.offered, .accepted, .wrapUp].contains(held.state)
            else { return (false, "a record is shown only for a task of yours about this patient (task=N)") }
            guard machine.security.verification(of: task.rawValue) != nil else {
                return (false, "record how the caller was verified first (POST /v1/tasks/\(task.rawValue)/verify)")
            }
            return (true, "")
        case .supervisor:
            guard !reason.isEmpty else { return (false, "a supervisor states a reason (reason=...)") }
            let sites = machine.center.history(of: machine.names.patient(patient) ?? .init(0)).compactMap { machine.center.task($0) }
                .map { machine.names.name(of: $0.site) }
            guard sites.contains(principal.site) else { return (false, "this patient has no task at your site; use break-glass with a reason") }
            return (true, "")
        default:
            return (false, "the \(principal.role.rawValue) role never sees patient records")
        }
    }
}
