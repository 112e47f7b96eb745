/// What an ingress node produces for one patient record BEFORE the command
/// enters the log: the sealed fields and, for a patient seen for the first time,
/// the new wrapped data key. Everything in it is safe to replicate and persist.
public struct SealedRecord: Hashable, Sendable, Codable {
    public let patient: PatientID
    /// Non-nil when the ingress node created this patient's data key.
    public let newKey: WrappedKey?
    /// Field name → sealed value. Names are schema words ("dob", "notes"), not PHI.
    public let fields: [String: SealedField]

    public init(patient: PatientID, newKey: WrappedKey?, fields: [String: SealedField]) {
        self.patient = patient
        self.newKey = newKey
        self.fields = fields
    }
}

/// Every patient's wrapped data key, plus shredding tombstones and the time of
/// each patient's last record. A value type that lives in the replicated state.
///
/// Two phases, so the state machine stays deterministic:
/// 1. Ingress (one node, has the key ring): `encrypt` reads the store and the
///    ring, draws random keys and nonces, and returns a `SealedRecord`. It does
///    not mutate the store.
/// 2. Apply (every node, in log order): `apply` stores what the command carries.
///    It needs no keys and no randomness, so every replica ends up identical.
///
/// Race: two ingress nodes may both create a key for a new patient. The first
/// command to apply wins; the second fails `apply` with `.keyConflict`, and its
/// ingress node MUST re-encrypt with the now-stored key and propose again.
public struct PatientKeyStore: Hashable, Sendable, Codable {
    public struct Entry: Hashable, Sendable, Codable {
        public var wrapped: WrappedKey
        /// Command time (leader-stamped, ms since the Unix epoch) of the last record.
        public var lastRecordMs: UInt64
    }

    /// Most fields in one record.
    public static let fieldsPerRecordMax = 64
    /// HIPAA keeps records six years; 2,192 days covers six years with two leap
    /// days, so the default never shreds early.
    public static let retentionMsDefault: UInt64 = 2_192 * 86_400_000

    public private(set) var entries: [PatientID: Entry] = [:]
    /// Patients whose data key was destroyed. Kept so reads say `.shredded`
    /// (not "unknown") and so the id is never silently reused with a new key.
    public private(set) var shredded: Set<PatientID> = []

    public init() {}

    // MARK: - Ingress (one node, before the log)

    /// Seals one field; see `encrypt(fields:patient:ring:)`.
    public func encrypt(field: String, value: [UInt8], patient: PatientID, ring: KeyRing) throws(VaultError) -> SealedRecord {
        try encrypt(fields: [field: value], patient: patient, ring: ring)
    }

    /// Seals `fields` for `patient` under their data key, creating (and wrapping
    /// under the active KEK) a data key if the patient has none yet.
    ///
    /// Does not mutate the store: the returned record MUST go through the log and
    /// `apply` on every node. Throws `.shredded` for a shredded patient.
    public func encrypt(fields: [String: [UInt8]], patient: PatientID, ring: KeyRing) throws(VaultError) -> SealedRecord {
        try patient.validate()
        guard fields.count <= Self.fieldsPerRecordMax else {
            throw VaultError(.tooLarge, "record has \(fields.count) fields, limit \(Self.fieldsPerRecordMax)")
        }
        for name in fields.keys { try SealedField.validate(fieldName: name) }
        guard !shredded.contains(patient) else { throw Self.shreddedError(patient) }
        let dataKey: DataKey
        let newKey: WrappedKey?
        if let entry = entries[patient] {
            dataKey = try ring.unwrap(entry.wrapped, patient: patient)
            newKey = nil
        } else {
            dataKey = try DataKey.generate(version: 1)
            newKey = try ring.wrap(dataKey, patient: patient)
        }
        var sealed: [String: SealedField] = [:]
        for (name, value) in fields {
            sealed[name] = try dataKey.seal(value, field: name, patient: patient)
        }
        return SealedRecord(patient: patient, newKey: newKey, fields: sealed)
    }

    /// A store holding only `patient`'s entry and shred mark: what one ingress
    /// or one read needs, without sharing (and so later copying) the whole store.
    public func restricted(to patient: PatientID) -> PatientKeyStore {
        var subset = PatientKeyStore()
        subset.entries[patient] = entries[patient]
        if shredded.contains(patient) { subset.shredded.insert(patient) }
        return subset
    }

    // MARK: - Apply (every node, in log order)

    /// Stores a record's key material. Deterministic: no keys, no clock, no
    /// randomness. `atMs` is the command's leader-stamped time.
    ///
    /// Throws `.shredded`, `.keyConflict` (a new key for a patient who has one),
    /// `.unknownPatient` (no key carried and none stored), `.unknownKeyVersion`
    /// (a field sealed under another data key generation). On throw the store is
    /// unchanged.
    public mutating func apply(_ record: SealedRecord, atMs: UInt64) throws(VaultError) {
        let patient = record.patient
        try patient.validate()
        guard record.fields.count <= Self.fieldsPerRecordMax else {
            throw VaultError(.tooLarge, "record has \(record.fields.count) fields, limit \(Self.fieldsPerRecordMax)")
        }
        guard !shredded.contains(patient) else { throw Self.shreddedError(patient) }
        let wrapped: WrappedKey
        switch (entries[patient], record.newKey) {
        case let (existing?, newKey?):
            guard existing.wrapped == newKey else {
                throw VaultError(.keyConflict, "patient \(patient) already has a data key; re-encrypt with it")
            }
            wrapped = existing.wrapped
        case let (existing?, nil):
            wrapped = existing.wrapped
        case let (nil, newKey?):
            wrapped = newKey
        case (nil, nil):
            throw VaultError(.unknownPatient, "patient \(patient) has no data key and the record carries none")
        }
        for (name, field) in record.fields where field.keyVersion != wrapped.dataKeyVersion {
            throw VaultError(.unknownKeyVersion, "field \(name) of patient \(patient) is sealed under data key version \(field.keyVersion), stored key is version \(wrapped.dataKeyVersion)")
        }
        let last = max(entries[patient]?.lastRecordMs ?? 0, atMs)
        entries[patient] = Entry(wrapped: wrapped, lastRecordMs: last)
    }

    /// Puts one patient's entry back as it was (nil: none), undoing an `apply` whose
    /// command was then rejected. Only for that: it bypasses every check.
    public mutating func restore(_ patient: PatientID, entry: Entry?) {
        entries[patient] = entry
    }

    // MARK: - Reading

    /// Decrypts one field of `patient`. `name` MUST be the name it was sealed
    /// under. Errors: `.shredded`, `.unknownPatient`, `.unknownKeyVersion`,
    /// `.authenticationFailed`. Never returns partial plaintext.
    public func decrypt(_ field: SealedField, name: String, patient: PatientID, ring: KeyRing) throws(VaultError) -> [UInt8] {
        let dataKey = try dataKey(for: patient, ring: ring)
        return try dataKey.open(field, name: name, patient: patient)
    }

    /// Decrypts every field of a record (one unwrap). All or nothing.
    public func decrypt(_ record: SealedRecord, ring: KeyRing) throws(VaultError) -> [String: [UInt8]] {
        let dataKey = try dataKey(for: record.patient, ring: ring)
        var plaintext: [String: [UInt8]] = [:]
        for (name, field) in record.fields {
            plaintext[name] = try dataKey.open(field, name: name, patient: record.patient)
        }
        return plaintext
    }

    private func dataKey(for patient: PatientID, ring: KeyRing) throws(VaultError) -> DataKey {
        guard !shredded.contains(patient) else { throw Self.shreddedError(patient) }
        guard let entry = entries[patient] else {
            throw VaultError(.unknownPatient, "no data key for patient \(patient)")
        }
        return try ring.unwrap(entry.wrapped, patient: patient)
    }

    // MARK: - Shredding and retention

    /// Crypto-shredding: destroys the patient's wrapped data key. Every copy of
    /// their ciphertext (log, snapshots, backups) becomes permanently unreadable
    /// once this applies and old snapshots holding the wrapped key age out.
    /// Returns false if the patient had no key (already shredded or unknown).
    @discardableResult
    public mutating func shred(_ patient: PatientID) -> Bool {
        let existed = entries.removeValue(forKey: patient) != nil
        shredded.insert(patient)
        return existed
    }

    /// Patients whose last record is older than `retentionMs` at `nowMs`, sorted.
    /// `nowMs` is passed in (the leader's command time); this reads no clock.
    public func patientsPastRetention(nowMs: UInt64, retentionMs: UInt64 = retentionMsDefault) -> [PatientID] {
        guard nowMs > retentionMs else { return [] }
        let cutoff = nowMs - retentionMs
        return entries.filter { $0.value.lastRecordMs < cutoff }.map(\.key).sorted()
    }

    // MARK: - Rotation

    /// Patients whose data key is wrapped under a KEK version other than `activeVersion`.
    public func staleWrappedKeys(activeVersion: UInt32) -> [PatientID] {
        entries.filter { $0.value.wrapped.kekVersion != activeVersion }.map(\.key).sorted()
    }

    /// How many stored data keys each KEK version wraps (shredded patients hold
    /// none). Counts only: what an operator needs before retiring a version.
    public func wrappedKeysPerKEKVersion() -> [UInt32: Int] {
        var counts: [UInt32: Int] = [:]
        for entry in entries.values { counts[entry.wrapped.kekVersion, default: 0] += 1 }
        return counts
    }

    /// Patients whose data key is wrapped under a KEK version `ring` has retired:
    /// their records can never be opened or re-wrapped again. Sorted.
    public func keysUnderRetiredVersions(ring: KeyRing) -> [PatientID] {
        let retired = Set(ring.retired.map(\.version))
        return entries.filter { retired.contains($0.value.wrapped.kekVersion) }.map(\.key).sorted()
    }

    /// Ingress side of rotation: re-wraps up to `limit` stale keys under the ring's
    /// active KEK. The result goes into a replicated command and then `applyRewrap`.
    /// Keys under a retired KEK version (a restored old backup) are skipped: they
    /// cannot be opened, and they must not stop the others from moving.
    public func rewrapped(ring: KeyRing, limit: Int = 1_000) throws(VaultError) -> [PatientID: WrappedKey] {
        var result: [PatientID: WrappedKey] = [:]
        let lost = Set(keysUnderRetiredVersions(ring: ring))
        for patient in staleWrappedKeys(activeVersion: ring.activeVersion).lazy.filter({ !lost.contains($0) }).prefix(limit) {
            guard let entry = entries[patient] else { continue }
            result[patient] = try ring.rewrap(entry.wrapped, patient: patient)
        }
        return result
    }

    /// Apply side of rotation: replaces wrapped keys. Deterministic. A re-wrap for a
    /// patient shredded meanwhile, or for another data key generation, is skipped
    /// (never resurrects a key). Returns how many were replaced.
    @discardableResult
    public mutating func applyRewrap(_ rewrapped: [PatientID: WrappedKey]) -> Int {
        var replaced = 0
        for (patient, wrapped) in rewrapped {
            guard var entry = entries[patient], entry.wrapped.dataKeyVersion == wrapped.dataKeyVersion else { continue }
            entry.wrapped = wrapped
            entries[patient] = entry
            replaced += 1
        }
        return replaced
    }

    private static func shreddedError(_ patient: PatientID) -> VaultError {
        VaultError(.shredded, "patient \(patient) was crypto-shredded; their records can never be decrypted")
    }
}

// MARK: - Canonical Codable

/// Sorted lists instead of dictionaries and sets: the encoding is the same bytes
/// on every replica (JSONEncoder writes a dictionary with non-string keys, or a
/// set, in hash order, which differs between processes).
extension PatientKeyStore {
    private enum CodingKeys: String, CodingKey { case entries, shredded }

    private struct Pair: Codable {
        var patient: PatientID
        var entry: Entry
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let pairs = try container.decode([Pair].self, forKey: .entries)
        entries = Dictionary(pairs.map { ($0.patient, $0.entry) }, uniquingKeysWith: { _, last in last })
        shredded = Set(try container.decode([PatientID].self, forKey: .shredded))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(entries.sorted { $0.key < $1.key }.map { Pair(patient: $0.key, entry: $0.value) }, forKey: .entries)
        try container.encode(shredded.sorted(), forKey: .shredded)
    }
}
