import Foundation
import Testing
@testable import Vault

/// Shared fixtures: one ring and a store holding patient p1.
enum Fixture {
    static let now = Date(timeIntervalSince1970: 1_790_000_000)

    static func ring(_ clusterID: String = "test-cluster") throws -> KeyRing {
        try KeyRing.generate(clusterID: clusterID, now: now)
    }

    /// A store with `patient`'s record applied, and that record.
    static func store(patient: PatientID, fields: [String: String], ring: KeyRing, atMs: UInt64 = 1_000) throws -> (PatientKeyStore, SealedRecord) {
        var store = PatientKeyStore()
        let record = try store.encrypt(fields: fields.mapValues { Array($0.utf8) }, patient: patient, ring: ring)
        try store.apply(record, atMs: atMs)
        return (store, record)
    }
}

@Suite struct SealedFieldTests {
    let p1 = PatientID("p-7f3a")
    let p2 = PatientID("p-91bc")

    @Test func roundTripsThroughTheStore() throws {
        let ring = try Fixture.ring()
        let (store, record) = try Fixture.store(patient: p1, fields: ["dob": "1970-01-01", "notes": "chest pain", "empty": ""], ring: ring)
        #expect(record.newKey != nil)
        let plain = try store.decrypt(record, ring: ring)
        #expect(plain["dob"] == Array("1970-01-01".utf8))
        #expect(plain["notes"] == Array("chest pain".utf8))
        #expect(plain["empty"] == [])
        // Ciphertext is not the plaintext, and two seals of one value differ (fresh nonces).
        let again = try store.encrypt(field: "notes", value: Array("chest pain".utf8), patient: p1, ring: ring)
        #expect(again.newKey == nil)
        #expect(again.fields["notes"]!.ciphertext != record.fields["notes"]!.ciphertext)
        #expect(again.fields["notes"]!.ciphertext != Array("chest pain".utf8))
    }

    @Test func encodingRoundTripsAndIsCompact() throws {
        let ring = try Fixture.ring()
        let (_, record) = try Fixture.store(patient: p1, fields: ["notes": "abc"], ring: ring)
        let field = record.fields["notes"]!
        #expect(field.encoded().count == 1 + 4 + 12 + 3 + 16)
        #expect(try SealedField(decoding: field.encoded()) == field)
        #expect(try SealedField(base64: field.base64) == field)
        let json = try JSONEncoder().encode(record)
        #expect(try JSONDecoder().decode(SealedRecord.self, from: json) == record)
    }

    @Test func ciphertextMovedToAnotherPatientFails() throws {
        let ring = try Fixture.ring()
        let (first, record1) = try Fixture.store(patient: p1, fields: ["notes": "for p1"], ring: ring)
        var store = first
        let record2 = try store.encrypt(field: "notes", value: Array("for p2".utf8), patient: p2, ring: ring)
        try store.apply(record2, atMs: 2_000)
        let moved = record1.fields["notes"]!
        let error = try #require(throws: VaultError.self) { try store.decrypt(moved, name: "notes", patient: p2, ring: ring) }
        #expect(error.code == .authenticationFailed)
        #expect(!error.description.contains("for p1"))
        // The moved field still opens where it belongs.
        #expect(try store.decrypt(moved, name: "notes", patient: p1, ring: ring) == Array("for p1".utf8))
    }

    /// Patients have distinct data keys, so the test above would pass even without
    /// AAD. Here one key opens for both ids: only the AAD binding refuses the move.
    @Test func aadBindsPatientFieldAndVersionUnderOneKey() throws {
        let key = try DataKey.generate(version: 1)
        let field = try key.seal(Array("secret".utf8), field: "notes", patient: p1)
        #expect(try key.open(field, name: "notes", patient: p1) == Array("secret".utf8))
        let otherPatient = try #require(throws: VaultError.self) { try key.open(field, name: "notes", patient: p2) }
        #expect(otherPatient.code == .authenticationFailed)
        let otherField = try #require(throws: VaultError.self) { try key.open(field, name: "dob", patient: p1) }
        #expect(otherField.code == .authenticationFailed)
        // Same key bytes labelled version 2, field relabelled to 2: the AAD still refuses.
        let relabelledKey = DataKey(version: 2, secret: key.secret)
        var bytes = field.encoded()
        bytes[4] = 2
        let otherVersion = try #require(throws: VaultError.self) { try relabelledKey.open(try SealedField(decoding: bytes), name: "notes", patient: p1) }
        #expect(otherVersion.code == .authenticationFailed)
    }

    @Test func ciphertextMovedToAnotherFieldFails() throws {
        let ring = try Fixture.ring()
        let (store, record) = try Fixture.store(patient: p1, fields: ["notes": "x", "dob": "y"], ring: ring)
        let error = try #require(throws: VaultError.self) {
            try store.decrypt(record.fields["notes"]!, name: "dob", patient: p1, ring: ring)
        }
        #expect(error.code == .authenticationFailed)
    }

    @Test func relabelledKeyVersionIsRefused() throws {
        let ring = try Fixture.ring()
        let (store, record) = try Fixture.store(patient: p1, fields: ["notes": "x"], ring: ring)
        var bytes = record.fields["notes"]!.encoded()
        bytes[4] ^= 0x02  // key version 1 -> 3
        let relabelled = try SealedField(decoding: bytes)
        let error = try #require(throws: VaultError.self) { try store.decrypt(relabelled, name: "notes", patient: p1, ring: ring) }
        #expect(error.code == .unknownKeyVersion)
    }

    /// Every single-bit flip anywhere in the encoded field is an error, never plaintext.
    @Test func everyBitFlipIsRejected() throws {
        let ring = try Fixture.ring()
        let (store, record) = try Fixture.store(patient: p1, fields: ["notes": "blood pressure 120/80"], ring: ring)
        let bytes = record.fields["notes"]!.encoded()
        for index in bytes.indices {
            for bit in 0..<8 {
                var tampered = bytes
                tampered[index] ^= UInt8(1 << bit)
                #expect(throws: VaultError.self) {
                    let field = try SealedField(decoding: tampered)
                    _ = try store.decrypt(field, name: "notes", patient: p1, ring: ring)
                }
            }
        }
    }

    @Test func truncatedAndOversizedEncodingsAreErrorsNotTraps() throws {
        let ring = try Fixture.ring()
        let (_, record) = try Fixture.store(patient: p1, fields: ["notes": "abc"], ring: ring)
        let bytes = record.fields["notes"]!.encoded()
        for length in 0..<SealedField.overheadBytes {
            #expect(throws: VaultError.self) { try SealedField(decoding: Array(bytes[0..<length])) }
        }
        #expect(throws: VaultError.self) { try SealedField(decoding: [UInt8](repeating: 1, count: SealedField.encodedBytesMax + 1)) }
        #expect(throws: VaultError.self) { try SealedField(base64: "not base64!") }
        var wrongVersion = bytes
        wrongVersion[0] = 2
        #expect(throws: VaultError.self) { try SealedField(decoding: wrongVersion) }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let garbage = (0..<Int.random(in: 0...80, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? SealedField(decoding: garbage)
            _ = try? WrappedKey(decoding: garbage)
        }
    }

    @Test func oversizedValuesAndNamesAreRefused() throws {
        let ring = try Fixture.ring()
        let store = PatientKeyStore()
        let big = [UInt8](repeating: 0x41, count: SealedField.plaintextBytesMax + 1)
        #expect(throws: VaultError.self) { try store.encrypt(field: "notes", value: big, patient: p1, ring: ring) }
        #expect(throws: VaultError.self) { try store.encrypt(field: String(repeating: "n", count: 65), value: [1], patient: p1, ring: ring) }
        #expect(throws: VaultError.self) { try store.encrypt(field: "notes", value: [1], patient: PatientID(""), ring: ring) }
    }

    @Test func base64IsStrictAndRoundTrips() {
        var generator = SystemRandomNumberGenerator()
        for count in 0..<40 {
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            for urlSafe in [false, true] {
                #expect(Base64.decode(Base64.encode(bytes, urlSafe: urlSafe), urlSafe: urlSafe) == bytes)
            }
        }
        #expect(Base64.decode("QQ==", urlSafe: false) == [0x41])
        #expect(Base64.decode("QR==", urlSafe: false) == nil)  // non-zero unused bits
        #expect(Base64.decode("QQ", urlSafe: false) == nil)    // missing padding
        #expect(Base64.decode("QQ", urlSafe: true) == [0x41])
        #expect(Base64.decode("Q", urlSafe: true) == nil)
        #expect(Base64.decode("+/", urlSafe: true) == nil)
    }
}
