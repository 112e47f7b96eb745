import Foundation
import Testing
@testable import Vault
#if canImport(Glibc)
import Glibc
#endif

/// Retiring a KEK version: the key leaves the ring, a tombstone stays; what it
/// wrapped (an old backup's data keys) fails with the retirement date; what was
/// re-wrapped still opens; the ring refuses to retire what is still needed.
@Suite struct KeyRetirementTests {
    let live = PatientID("p-live")
    let gone = PatientID("p-gone")
    let later = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func aRetiredVersionNamesItsDateAndRewrappedKeysStillOpen() throws {
        let ring = try Fixture.ring()
        var store = PatientKeyStore()
        var records: [PatientID: SealedRecord] = [:]
        for patient in [live, gone] {
            let record = try store.encrypt(fields: ["name": Array("N".utf8)], patient: patient, ring: ring)
            try store.apply(record, atMs: 1_000)
            records[patient] = record
        }
        let backup = store  // an old backup: both keys under KEK v1
        store.shred(gone)
        let rotated = try ring.rotated(now: Fixture.now)
        store.applyRewrap(try store.rewrapped(ring: rotated))
        #expect(store.wrappedKeysPerKEKVersion() == [2: 1])
        let retired = try rotated.retiring(version: 1, now: later)
        #expect(retired.versions.map(\.version) == [2])
        #expect(retired.retired.map(\.version) == [1])

        #expect(try store.decrypt(records[live]!, ring: retired)["name"] == Array("N".utf8))
        let error = try #require(throws: VaultError.self) { try backup.decrypt(records[gone]!, ring: retired) }
        #expect(error.code == .retiredKeyVersion)
        #expect(error.reason.contains("key version 1 was retired on \(KeyRing.timestamp(later))"), "\(error.reason)")
        // The old backup's keys under v1 are lost and are skipped by re-wrap, not fatal.
        #expect(backup.keysUnderRetiredVersions(ring: retired) == [gone, live])
        #expect(try backup.rewrapped(ring: retired).isEmpty)
        // A rotation after a retirement never reuses the retired number.
        #expect(try retired.rotated(now: later).activeVersion == 3)
    }

    @Test func theActiveNewestUnknownAndAlreadyRetiredVersionsAreRefused() throws {
        let ring = try Fixture.ring()
        var error = try #require(throws: VaultError.self) { try ring.retiring(version: 1, now: later) }
        #expect(error.reason.contains("active version"))
        let rotated = try ring.rotated(now: Fixture.now).rotated(now: Fixture.now)
        error = try #require(throws: VaultError.self) { try rotated.retiring(version: 9, now: later) }
        #expect(error.reason.contains("not in the key ring"))
        let once = try rotated.retiring(version: 1, now: later)
        error = try #require(throws: VaultError.self) { try once.retiring(version: 1, now: later) }
        #expect(error.reason.contains("already retired on \(KeyRing.timestamp(later))"))
        #expect(try once.retiring(version: 2, now: later).versions.map(\.version) == [3])
        // A ring whose active version is not the newest (hand-edited): the newest is refused too.
        let older = KeyRing(clusterID: "c", versions: rotated.versions, activeVersion: 2, tokenSecret: rotated.tokenSecret)
        error = try #require(throws: VaultError.self) { try older.retiring(version: 3, now: later) }
        #expect(error.reason.contains("newest"))
    }

    @Test func theTombstoneSurvivesTheFileWithMode0600() throws {
        let path = KeyRingTests.temporaryPath()
        defer { unlink(path) }
        try Fixture.ring("c-9").create(path: path)
        try KeyRing.load(path: path).rotated(now: Fixture.now).replace(path: path)
        try KeyRing.load(path: path).retiring(version: 1, now: later).replace(path: path)
        let loaded = try KeyRing.load(path: path)
        #expect(loaded.versions.map(\.version) == [2])
        #expect(loaded.retired == [KeyRing.Retired(version: 1, created: KeyRing.timestamp(Fixture.now), retired: KeyRing.timestamp(later))])
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("\"retired\""))
    }

    @Test(arguments: [
        ("retired and present", "[{\"version\":1,\"created\":\"t\",\"retired\":\"u\"}]"),
        ("retired version zero", "[{\"version\":0,\"created\":\"t\",\"retired\":\"u\"}]"),
        ("retired out of order", "[{\"version\":5,\"created\":\"t\",\"retired\":\"u\"},{\"version\":4,\"created\":\"t\",\"retired\":\"u\"}]"),
        ("retired without a date", "[{\"version\":4,\"created\":\"t\"}]"),
        ("retired not a list", "7"),
    ])
    func malformedTombstonesAreRefused(_ name: String, _ tombstones: String) throws {
        var bytes = KeyRingTests.json()
        bytes.removeLast()
        bytes += Array(",\"retired\":\(tombstones)}".utf8)
        let error = try #require(throws: VaultError.self) { try KeyRing.parse(bytes, source: name) }
        #expect(error.code == .keyRing, "\(name)")
    }

    /// A running node takes a reloaded ring only when it is this cluster's ring,
    /// newer or the same, and keeps every key it had (or its tombstone).
    @Test func aReloadAcceptsRotationsAndRetirementsAndRefusesEverythingElse() throws {
        let ring = try Fixture.ring()
        let rotated = try ring.rotated(now: Fixture.now)
        try ring.checkReplacement(ring)
        try ring.checkReplacement(rotated)
        let retired = try rotated.rotated(now: Fixture.now).retiring(version: 1, now: Fixture.now)
        try rotated.checkReplacement(retired)
        func refusal(_ current: KeyRing, _ newer: KeyRing) -> String {
            do {
                try current.checkReplacement(newer)
                return "accepted"
            } catch {
                #expect(error.code == .keyRing)
                return error.reason
            }
        }
        #expect(refusal(ring, try Fixture.ring("other")).contains("belongs to cluster 'other'"))
        #expect(refusal(ring, try Fixture.ring()).contains("another token secret"))
        #expect(refusal(rotated, ring).contains("KEK version 2 is missing from the new ring without a tombstone"))
        #expect(refusal(retired, rotated).contains("KEK version 3 is missing"))
        let untombed = KeyRing(clusterID: ring.clusterID, versions: retired.versions, activeVersion: 3, tokenSecret: ring.tokenSecret)
        #expect(refusal(retired, untombed).contains("lost the tombstone of retired KEK version 1"))
        // Same secret and versions, but a key swapped: not a copy of this ring.
        let forged = KeyRing(clusterID: ring.clusterID, versions: [KeyRing.Version(version: 1, created: "x", key: try SecretBytes(randomCount: 32))],
                             activeVersion: 1, tokenSecret: ring.tokenSecret)
        #expect(refusal(ring, forged).contains("KEK version 1 has another key"))
        // An older copy that kept every version but moved the active one back.
        let backwards = KeyRing(clusterID: ring.clusterID, versions: rotated.versions, activeVersion: 1, tokenSecret: ring.tokenSecret)
        #expect(refusal(rotated, backwards).contains("older than this node's 2"))
    }
}
