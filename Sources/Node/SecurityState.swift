import Foundation
import Vault

/// The replicated security state: patients' wrapped data keys and sealed record
/// fields (ciphertext only), revoked tokens, identity verifications recorded on
/// tasks, and the hash-chained audit trail. Part of `LifelineStateMachine`;
/// changed only by committed commands, in log order, on every node.
public struct SecurityState: Sendable, Equatable, Codable {
    public private(set) var keys = PatientKeyStore()
    /// Patient reference → field name → the latest sealed value.
    public private(set) var records: [String: [String: SealedField]] = [:]
    /// Revoked token id → its expiry (Unix seconds); dropped once expired.
    public private(set) var revoked: [String: UInt64] = [:]
    /// Task number (decimal) → how the caller's identity was verified (e.g. "dob+address").
    public private(set) var verifications: [String: String] = [:]
    /// Every audit event not yet archived, oldest first, hash-chained from `anchor`.
    public private(set) var events: [AuditEvent] = []
    /// The last archived event's sequence and hash: the trail in `events`
    /// links to it. Optional so a state that never archived encodes (and
    /// hashes) exactly as before archiving existed.
    public private(set) var archivedThrough: UInt64?
    public private(set) var archivedHash: [UInt8]?
    /// KEK versions retired cluster-wide (`keys retire`), ascending. No new or
    /// re-wrapped data key under one of them is stored. Optional, like the
    /// archive anchor, so a state without any encodes as before.
    public private(set) var retiredKEKVersions: [UInt32]?
    var nextSequence: UInt64 = AuditChain.Head.genesis.nextSequence
    var lastHash: [UInt8] = AuditChain.Head.genesis.lastHash

    public static let verificationsMax = 1_000_000
    public static let methodBytesMax = 64

    public init() {}

    public var head: AuditChain.Head { AuditChain.Head(nextSequence: nextSequence, lastHash: lastHash) }

    /// Where `events` starts: genesis, or just after the last archived event.
    public var anchor: AuditChain.Head {
        guard let archivedThrough, let archivedHash else { return .genesis }
        return AuditChain.Head(nextSequence: archivedThrough + 1, lastHash: archivedHash)
    }

    /// Drops the events up to and including sequence `through`, which an
    /// archiver exported: `hash` MUST be that event's hash as the archiver
    /// computed it, so nothing it did not see is dropped. The remaining trail
    /// then verifies from the new anchor. Returns why it refused, or nil.
    mutating func archive(through: UInt64, hash: [UInt8]) -> String? {
        let start = anchor.nextSequence
        guard through >= start else { return "events through sequence \(through) are already archived; the trail starts at \(start)" }
        guard through < nextSequence, let index = events.firstIndex(where: { $0.sequence == through }) else {
            return "no audit event with sequence \(through); the trail holds \(start)...\(nextSequence - 1)"
        }
        guard events[index].hash == hash else {
            return "event \(through) has another hash than the archive's last event: export again and archive what you exported"
        }
        events.removeFirst(index + 1)
        archivedThrough = through
        archivedHash = hash
        return nil
    }
    public var revokedIDs: Set<String> { Set(revoked.keys) }

    /// Appends one event to the chain.
    mutating func audit(_ draft: AuditEvent.Draft) throws(VaultError) {
        var chain = AuditChain(head: head)
        let event = try chain.append(draft)
        events.append(event)
        nextSequence = chain.head.nextSequence
        lastHash = chain.head.lastHash
    }

    /// Records that KEK `version` is retired, if no stored data key is wrapped
    /// under it. Returns why it refused, or nil. Idempotent.
    mutating func retireKEK(_ version: UInt32) -> String? {
        let inUse = keys.wrappedKeysPerKEKVersion()[version] ?? 0
        guard inUse == 0 else {
            return "\(inUse) patient data key(s) are still wrapped under KEK version \(version); re-wrap them first (POST /v1/keys/rewrap until remaining is 0)"
        }
        var versions = Set(retiredKEKVersions ?? [])
        versions.insert(version)
        retiredKEKVersions = versions.sorted()
        return nil
    }

    func isRetired(_ version: UInt32) -> Bool { retiredKEKVersions?.contains(version) == true }

    /// What storing one patient's record changes, saved so a rejected enqueue can be
    /// undone in place (copying the whole state for every enqueue made ingress cost grow
    /// with the number of patients and audit events).
    struct RecordUndo {
        var patient: String
        var entry: PatientKeyStore.Entry?
        var fields: [String: SealedField]?
        var eventCount: Int
        var nextSequence: UInt64
        var lastHash: [UInt8]
    }

    func undoPoint(patient: String) -> RecordUndo {
        RecordUndo(patient: patient, entry: keys.entries[Vault.PatientID(patient)], fields: records[patient], eventCount: events.count,
                   nextSequence: nextSequence, lastHash: lastHash)
    }

    mutating func rollBack(_ undo: RecordUndo) {
        keys.restore(Vault.PatientID(undo.patient), entry: undo.entry)
        records[undo.patient] = undo.fields
        if events.count > undo.eventCount { events.removeLast(events.count - undo.eventCount) }
        nextSequence = undo.nextSequence
        lastHash = undo.lastHash
    }

    /// Stores a sealed record (its data key is created on first use).
    mutating func store(_ record: SealedRecord, atMs: UInt64) throws(VaultError) {
        if let newKey = record.newKey, isRetired(newKey.kekVersion) {
            throw VaultError(.retiredKeyVersion, "the new data key is wrapped under retired KEK version \(newKey.kekVersion): the ingress node's key ring is out of date")
        }
        try keys.apply(record, atMs: atMs)
        var fields = records[record.patient.rawValue] ?? [:]
        for (name, field) in record.fields { fields[name] = field }
        records[record.patient.rawValue] = fields
    }

    mutating func revoke(_ tokenID: String, expiresAt: UInt64, nowSeconds: UInt64) {
        revoked = revoked.filter { $0.value > nowSeconds }
        if expiresAt > nowSeconds { revoked[tokenID] = expiresAt }
    }

    mutating func verify(task: UInt64, method: String) -> Bool {
        guard verifications.count < Self.verificationsMax || verifications[String(task)] != nil else { return false }
        verifications[String(task)] = method
        return true
    }

    public func verification(of task: UInt64) -> String? { verifications[String(task)] }

    /// Destroys the patient's data key: every copy of their ciphertext, in every
    /// snapshot and backup, becomes unreadable. The sealed fields are dropped too.
    mutating func shred(_ patient: String) -> Bool {
        records[patient] = nil
        return keys.shred(Vault.PatientID(patient))
    }

    /// Replaces wrapped data keys with their re-wrapped forms (key rotation).
    /// A re-wrap under a retired KEK version (a node with an old ring) is skipped.
    mutating func rewrap(_ rewrapped: [Vault.PatientID: WrappedKey]) -> Int { keys.applyRewrap(rewrapped.filter { !isRetired($0.value.kekVersion) }) }

    /// Decrypts one patient's record with the node's key ring. Never partial: any
    /// field that fails makes the whole read fail.
    public func readRecord(_ patient: String, ring: KeyRing) throws(VaultError) -> [String: String] {
        try sealedRecord(patient).open(ring: ring)
    }

    /// One patient's sealed fields with only their key entry: small enough to
    /// hand from the loop thread to the one that decrypts.
    public func sealedRecord(_ patient: String) -> SealedPatientRecord {
        SealedPatientRecord(patient: patient, keys: keys.restricted(to: Vault.PatientID(patient)), fields: records[patient] ?? [:])
    }

    // MARK: - Snapshot

    /// Canonical JSON: string-keyed dictionaries with sorted keys and sorted
    /// lists only, so every replica encodes the same state to the same bytes;
    /// what `JSONEncoder` with `.sortedKeys` writes, written directly
    /// (`canonicalJSON`, SecurityState+JSON.swift).
    func encoded() -> [UInt8] {
        canonicalJSON()
    }

    static func decoded(_ bytes: [UInt8]) throws -> SecurityState {
        try JSONDecoder().decode(SecurityState.self, from: Data(bytes))
    }
}

/// A patient's ciphertext and wrapped data key, opened with the key ring.
public struct SealedPatientRecord: Sendable {
    public var patient: String
    var keys: PatientKeyStore
    var fields: [String: SealedField]

    /// All fields or an error: never partial plaintext.
    public func open(ring: KeyRing) throws(VaultError) -> [String: String] {
        guard !fields.isEmpty else {
            // A shredded patient's fields are gone with the key: say so, not "unknown".
            if keys.shredded.contains(Vault.PatientID(patient)) {
                throw VaultError(.shredded, "this patient was crypto-shredded; their records can never be decrypted")
            }
            throw VaultError(.unknownPatient, "no record for this patient")
        }
        let opened = try keys.decrypt(SealedRecord(patient: Vault.PatientID(patient), newKey: nil, fields: fields), ring: ring)
        return opened.mapValues { String(decoding: $0, as: UTF8.self) }
    }
}
