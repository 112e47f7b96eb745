import Foundation
import Testing
@testable import Vault

@Suite struct PatientKeyStoreTests {
    let p1 = PatientID("p-1")
    let p2 = PatientID("p-2")

    @Test func shreddingMakesOldCiphertextUnreadable() throws {
        let ring = try Fixture.ring()
        var (store, record) = try Fixture.store(patient: p1, fields: ["notes": "x", "dob": "y"], ring: ring)
        let existed = store.shred(p1)
        #expect(existed)
        // The ciphertext is still in hand (log, backup), but the key is gone.
        for (name, field) in record.fields {
            let error = try #require(throws: VaultError.self) { try store.decrypt(field, name: name, patient: p1, ring: ring) }
            #expect(error.code == .shredded)
        }
        #expect(throws: VaultError.self) { try store.decrypt(record, ring: ring) }
        // New writes for the id are refused at ingress and at apply (no resurrection).
        let ingress = try #require(throws: VaultError.self) { try store.encrypt(field: "notes", value: [1], patient: p1, ring: ring) }
        #expect(ingress.code == .shredded)
        let apply = try #require(throws: VaultError.self) { try store.apply(record, atMs: 5) }
        #expect(apply.code == .shredded)
        let again = store.shred(p1)
        #expect(!again)
    }

    @Test func unknownPatientIsAClearError() throws {
        let ring = try Fixture.ring()
        let (store, record) = try Fixture.store(patient: p1, fields: ["notes": "x"], ring: ring)
        let error = try #require(throws: VaultError.self) {
            try store.decrypt(record.fields["notes"]!, name: "notes", patient: p2, ring: ring)
        }
        #expect(error.code == .unknownPatient)
    }

    /// Two ingress nodes both create a data key for a new patient: the first
    /// command to apply wins, the second is refused deterministically.
    @Test func racingNewKeysConflict() throws {
        let ring = try Fixture.ring()
        var store = PatientKeyStore()
        let fromBoston = try store.encrypt(field: "notes", value: [1], patient: p1, ring: ring)
        let fromDenver = try store.encrypt(field: "notes", value: [2], patient: p1, ring: ring)
        try store.apply(fromBoston, atMs: 1)
        let before = store
        let error = try #require(throws: VaultError.self) { try store.apply(fromDenver, atMs: 2) }
        #expect(error.code == .keyConflict)
        #expect(store == before)
        // Denver re-encrypts with the stored key, and that applies.
        let retry = try store.encrypt(field: "notes", value: [2], patient: p1, ring: ring)
        #expect(retry.newKey == nil)
        try store.apply(retry, atMs: 3)
        #expect(try store.decrypt(retry, ring: ring)["notes"] == [2])
    }

    @Test func applyWithoutAKeyForANewPatientIsRefused() throws {
        let ring = try Fixture.ring()
        let (_, record) = try Fixture.store(patient: p1, fields: ["notes": "x"], ring: ring)
        var empty = PatientKeyStore()
        let stripped = SealedRecord(patient: p1, newKey: nil, fields: record.fields)
        let error = try #require(throws: VaultError.self) { try empty.apply(stripped, atMs: 1) }
        #expect(error.code == .unknownPatient)
    }

    @Test func replicasThatApplyTheSameRecordsAreEqual() throws {
        let ring = try Fixture.ring()
        var ingress = PatientKeyStore()
        var replicaA = PatientKeyStore()
        var replicaB = PatientKeyStore()
        for (index, patient) in [p1, p2, p1].enumerated() {
            let record = try ingress.encrypt(field: "notes", value: [UInt8(index)], patient: patient, ring: ring)
            try ingress.apply(record, atMs: UInt64(index))
            try replicaA.apply(record, atMs: UInt64(index))
            try replicaB.apply(record, atMs: UInt64(index))
        }
        #expect(replicaA == replicaB)
        #expect(replicaA == ingress)
        let json = try JSONEncoder().encode(replicaA)
        #expect(try JSONDecoder().decode(PatientKeyStore.self, from: json) == replicaA)
    }

    @Test func retentionListsOnlyPatientsPastTheCutoff() throws {
        let ring = try Fixture.ring()
        let day: UInt64 = 86_400_000
        var store = PatientKeyStore()
        let old = try store.encrypt(field: "notes", value: [1], patient: p1, ring: ring)
        try store.apply(old, atMs: 10 * day)
        let recent = try store.encrypt(field: "notes", value: [1], patient: p2, ring: ring)
        try store.apply(recent, atMs: 1_000 * day)
        let now = 10 * day + PatientKeyStore.retentionMsDefault + 1
        #expect(store.patientsPastRetention(nowMs: now) == [p1])
        #expect(store.patientsPastRetention(nowMs: now - 2).isEmpty)  // exactly at the cutoff: kept
        #expect(store.patientsPastRetention(nowMs: 0).isEmpty)
        // A new record for p1 resets its clock.
        let again = try store.encrypt(field: "notes", value: [2], patient: p1, ring: ring)
        try store.apply(again, atMs: 2_000 * day)
        #expect(store.patientsPastRetention(nowMs: now).isEmpty)
        // A custom retention.
        #expect(store.patientsPastRetention(nowMs: 2_000 * day, retentionMs: 500 * day) == [p2])
    }

    @Test func fieldsSealedUnderAnotherDataKeyVersionAreRefusedAtApply() throws {
        let ring = try Fixture.ring()
        let (applied, record) = try Fixture.store(patient: p1, fields: ["notes": "x"], ring: ring)
        var store = applied
        var bytes = record.fields["notes"]!.encoded()
        bytes[4] = 9
        let relabelled = SealedRecord(patient: p1, newKey: nil, fields: ["notes": try SealedField(decoding: bytes)])
        let error = try #require(throws: VaultError.self) { try store.apply(relabelled, atMs: 2) }
        #expect(error.code == .unknownKeyVersion)
        #expect(store == applied)
    }
}
