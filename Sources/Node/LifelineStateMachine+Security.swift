import Foundation
import Vault

/// Security commands (tag 3): the audit trail, token revocation, identity
/// verification and crypto-shredding. Each one that changes something also
/// appends its own audit event, in the same apply.
extension LifelineStateMachine {
    /// Most patients one retention command shreds (its answer says how many remain).
    static let retentionShredsMax: UInt64 = 1_000

    mutating func applySecurity(_ payload: [UInt8]) -> Outcome {
        guard payload.count <= Self.commandBytesMax,
              let object = (try? JSONSerialization.jsonObject(with: Data(payload))) as? [String: Any]
        else { return .failure(code: "invalid_command", message: "the command is not a JSON object") }
        var fields = Fields(object)
        guard fields.int("v") == Self.commandVersion, let op = fields.string("op") else {
            return .failure(code: "invalid_command", message: "unsupported command version or no op")
        }
        let at = max(fields.uint64("at") ?? 0, clockMs)
        guard let actor = fields.string("actor"), !actor.isEmpty, actor.utf8.count <= AuditEvent.actorBytesMax,
              let role = fields.string("role").flatMap(Vault.Role.init(rawValue:))
        else { return .failure(code: "invalid_command", message: "actor and role are required") }
        // Free text is bounded before anything changes, so no audit append below
        // can fail after an op's own change: every op changes `security` in place.
        // (A copy, `var after = security`, made copy-on-write duplicate every
        // collection of the security state: O(patients + events) per audit event.)
        if let reason = fields.string("reason"), reason.utf8.count > AuditEvent.reasonBytesMax {
            return .failure(code: "invalid_request", message: "reason: at most \(AuditEvent.reasonBytesMax) bytes")
        }
        var details: [String: Int] = [:]
        do {
            switch op {
            case "audit":
                let outcome = fields.string("outcome") == "denied" ? AuditEvent.Outcome.denied : .allowed
                try security.audit(AuditEvent.Draft(
                    timeMs: at, actor: actor, role: role, action: fields.string("action") ?? "",
                    resources: ((try? fields.stringList("resources", maxCount: AuditEvent.resourcesMax)) ?? nil) ?? [],
                    outcome: outcome, reason: fields.string("reason") ?? "", breakGlass: (try? fields.bool("breakGlass", default: false)) ?? false
                ))
            case "revoke":
                guard let token = fields.string("tokenID"), !token.isEmpty, token.utf8.count <= 64, let expires = fields.uint64("expiresAt") else {
                    return .failure(code: "invalid_request", message: "tokenID and expiresAt are required")
                }
                security.revoke(token, expiresAt: expires, nowSeconds: at / 1000)
                try security.audit(AuditEvent.Draft(timeMs: at, actor: actor, role: role, action: "token.revoke", resources: ["token:\(token)"], outcome: .allowed))
            case "verify":
                guard let task = fields.uint64("task"), let held = center.task(.init(task)) else {
                    return .failure(code: "unknown_task", message: "no such task")
                }
                if let scope = fields.string("scopeSite"), names.name(of: held.site) != scope {
                    return .failure(code: "forbidden", message: "task \(task) belongs to \(names.name(of: held.site)); a supervisor of \(scope) acts only on tasks of \(scope)")
                }
                guard let method = fields.string("method"), !method.isEmpty, method.utf8.count <= SecurityState.methodBytesMax else {
                    return .failure(code: "invalid_request", message: "method: how the caller was verified, 1...\(SecurityState.methodBytesMax) bytes")
                }
                guard security.verify(task: task, method: method) else { return .failure(code: "limit_reached", message: "too many verifications") }
                try security.audit(AuditEvent.Draft(timeMs: at, actor: actor, role: role, action: "identity.verify", resources: ["task:\(task)"],
                                                 outcome: .allowed, reason: method))
            case "shred":
                guard let patient = fields.string("patient"), NameRegistry.isValidName(patient) else {
                    return .failure(code: "invalid_request", message: "patient: a patient reference")
                }
                _ = security.shred(patient)
                try security.audit(AuditEvent.Draft(timeMs: at, actor: actor, role: role, action: "phi.shred", resources: ["patient:\(patient)"],
                                                 outcome: .allowed, reason: fields.string("reason") ?? ""))
            case "shredPastRetention":
                // Retention, in log order at the leader's time: every patient whose
                // last record is older than the period, at most `limit` per command
                // (sorted, so every replica picks the same ones), each audited.
                guard let days = fields.uint64("retentionDays"), days <= NodeConfig.retentionDaysRange.upperBound,
                      let limit = fields.uint64("limit"), (1...Self.retentionShredsMax).contains(limit) else {
                    return .failure(code: "invalid_request", message: "retentionDays (0...\(NodeConfig.retentionDaysRange.upperBound)) and limit (1...\(Self.retentionShredsMax)) are required")
                }
                let reason = fields.string("reason") ?? ""
                let due = security.keys.patientsPastRetention(nowMs: at, retentionMs: days * 86_400_000)
                let chosen = due.prefix(Int(limit))
                for patient in chosen {
                    _ = security.shred(patient.rawValue)
                    try security.audit(AuditEvent.Draft(timeMs: at, actor: actor, role: role, action: "phi.shred", resources: ["patient:\(patient.rawValue)"],
                                                     outcome: .allowed, reason: Self.clamped("retention \(days) days: \(reason)")))
                }
                try security.audit(AuditEvent.Draft(timeMs: at, actor: actor, role: role, action: "retention.shred", resources: ["retention:\(days)d"],
                                                 outcome: .allowed, reason: Self.clamped("shredded \(chosen.count), remaining \(due.count - chosen.count): \(reason)")))
                details = ["shredded": chosen.count, "remaining": due.count - chosen.count, "retentionDays": Int(days)]
            case "archive":
                guard let through = fields.uint64("through"), let hash = fields.string("hash").flatMap(Hex.decode), hash.count == Digest.sha256Bytes else {
                    return .failure(code: "invalid_request", message: "through (a sequence number) and hash (its event's SHA-256, hex) are required")
                }
                if let refusal = security.archive(through: through, hash: hash) { return .failure(code: "conflict", message: refusal) }
                try security.audit(AuditEvent.Draft(timeMs: at, actor: actor, role: role, action: "audit.archive", resources: ["audit:\(through)"],
                                                 outcome: .allowed, reason: "events through \(through) archived; anchor \(Hex.encode(hash).prefix(16))"))
            case "retireKEK":
                // The live half of 'lifeline keys retire', in log order: no data key
                // may be wrapped under the version when this applies.
                guard let version = fields.uint64("version"), version > 0, version <= UInt64(UInt32.max) else {
                    return .failure(code: "invalid_request", message: "version: a KEK version, 1...\(UInt32.max)")
                }
                if let refusal = security.retireKEK(UInt32(version)) { return .failure(code: "key_in_use", message: refusal) }
                try security.audit(AuditEvent.Draft(timeMs: at, actor: actor, role: role, action: "key.retire", resources: ["kek:\(version)"],
                                                 outcome: .allowed, reason: "no live data key is wrapped under it"))
            case "rewrap":
                // Wrapped keys re-wrapped under the active KEK by the ingress node.
                guard let list = fields.raw("keys") as? [String: String], list.count <= 10_000 else {
                    return .failure(code: "invalid_request", message: "keys: patient -> base64 wrapped key, at most 10,000")
                }
                var rewrapped: [Vault.PatientID: WrappedKey] = [:]
                for (patient, text) in list {
                    guard let wrapped = try? WrappedKey(base64: text) else { return .failure(code: "invalid_request", message: "a wrapped key does not decode") }
                    rewrapped[Vault.PatientID(patient)] = wrapped
                }
                let replaced = security.rewrap(rewrapped)
                try security.audit(AuditEvent.Draft(timeMs: at, actor: actor, role: role, action: "key.rewrap",
                                                 resources: ["kek:\(fields.uint64("kekVersion") ?? 0)"], outcome: .allowed, reason: "\(replaced) data keys"))
            default:
                return .failure(code: "invalid_command", message: "unknown op \(op)")
            }
        } catch {
            return .failure(code: "invalid_request", message: "\(error)")
        }
        clockMs = max(clockMs, at)
        return .securityApplied(sequence: security.nextSequence - 1, details: details)
    }

    /// `text` cut to the audit reason limit (bytes) on a character boundary.
    static func clamped(_ text: String) -> String {
        guard text.utf8.count > AuditEvent.reasonBytesMax else { return text }
        var result = ""
        for character in text {
            guard result.utf8.count + character.utf8.count <= AuditEvent.reasonBytesMax else { break }
            result.append(character)
        }
        return result
    }

    /// Applies a sealed record carried by an enqueue: the data key (created on
    /// first use), the ciphertext, and a `phi.write` audit event.
    static func decodeRecord(_ base64: String) throws -> SealedRecord {
        guard let bytes = Base64.decode(base64, urlSafe: false),
              let record = try? JSONDecoder().decode(SealedRecord.self, from: Data(bytes)) else {
            throw VaultError(.malformed, "the sealed record cannot be decoded")
        }
        return record
    }

    static func storeRecord(_ base64: String, actor: String?, role: String?, at: UInt64, into state: inout SecurityState) throws {
        try storeRecord(try decodeRecord(base64), actor: actor, role: role, at: at, into: &state)
    }

    static func storeRecord(_ record: SealedRecord, actor: String?, role: String?, at: UInt64, into state: inout SecurityState) throws {
        try state.store(record, atMs: at)
        try state.audit(AuditEvent.Draft(
            timeMs: at, actor: actor ?? "unknown", role: role.flatMap(Vault.Role.init(rawValue:)) ?? .agent, action: "phi.write",
            resources: ["patient:\(record.patient.rawValue)"] + record.fields.keys.sorted().map { "field:\($0)" }, outcome: .allowed
        ))
    }
}
