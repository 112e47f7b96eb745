import Foundation
import Testing
@testable import Vault
#if canImport(Glibc)
import Glibc
#endif

@Suite struct KeyRingTests {
    let p1 = PatientID("p-1")
    let p2 = PatientID("p-2")

    // MARK: - Envelope

    @Test func wrongKEKCannotUnwrap() throws {
        let ring = try Fixture.ring()
        let other = try Fixture.ring()  // same cluster id, different random keys
        let (store, record) = try Fixture.store(patient: p1, fields: ["notes": "x"], ring: ring)
        let error = try #require(throws: VaultError.self) { try store.decrypt(record, ring: other) }
        #expect(error.code == .authenticationFailed)
    }

    @Test func wrappedKeyMovedToAnotherPatientFails() throws {
        let ring = try Fixture.ring()
        let (store, _) = try Fixture.store(patient: p1, fields: ["notes": "x"], ring: ring)
        let wrapped = store.entries[p1]!.wrapped
        let error = try #require(throws: VaultError.self) { try ring.unwrap(wrapped, patient: p2) }
        #expect(error.code == .authenticationFailed)
    }

    @Test func missingKEKVersionIsAClearError() throws {
        let ring = try Fixture.ring()
        let rotated = try ring.rotated(now: Fixture.now)
        // Data key wrapped under v2; a ring that only knows v1 cannot read it.
        let (store, record) = try Fixture.store(patient: p1, fields: ["notes": "x"], ring: rotated)
        #expect(store.entries[p1]!.wrapped.kekVersion == 2)
        let error = try #require(throws: VaultError.self) { try store.decrypt(record, ring: ring) }
        #expect(error.code == .unknownKeyVersion)
        #expect(error.reason.contains("KEK version 2"))
    }

    @Test func rotationRewrapsWithoutTouchingRecords() throws {
        let ring = try Fixture.ring()
        var (store, record) = try Fixture.store(patient: p1, fields: ["notes": "before rotation"], ring: ring)
        let rotated = try ring.rotated(now: Fixture.now)
        #expect(rotated.activeVersion == 2)
        #expect(rotated.versions.map(\.version) == [1, 2])
        #expect(store.staleWrappedKeys(activeVersion: 2) == [p1])

        let rewrapped = try store.rewrapped(ring: rotated)
        #expect(rewrapped[p1]?.kekVersion == 2)
        #expect(rewrapped[p1]?.dataKeyVersion == 1)
        let replaced = store.applyRewrap(rewrapped)
        #expect(replaced == 1)
        #expect(store.staleWrappedKeys(activeVersion: 2).isEmpty)

        // The old record (ciphertext unchanged) decrypts through the re-wrapped key.
        #expect(try store.decrypt(record, ring: rotated)["notes"] == Array("before rotation".utf8))
        // ... and no longer needs KEK v1: a ring without v1 (simulated) would do.
        let onlyV2 = KeyRing(clusterID: rotated.clusterID, versions: [rotated.versions[1]], activeVersion: 2, tokenSecret: rotated.tokenSecret)
        #expect(try store.decrypt(record, ring: onlyV2)["notes"] == Array("before rotation".utf8))
        // The old ring (v1 only) cannot read the re-wrapped key.
        #expect(throws: VaultError.self) { try store.decrypt(record, ring: ring) }
        record = try store.encrypt(field: "notes", value: [1], patient: p1, ring: rotated)
        #expect(record.newKey == nil)
    }

    @Test func rewrapAfterShredDoesNotResurrect() throws {
        let ring = try Fixture.ring()
        var (store, _) = try Fixture.store(patient: p1, fields: ["notes": "x"], ring: ring)
        let rewrapped = try store.rewrapped(ring: try ring.rotated(now: Fixture.now))
        store.shred(p1)
        let replaced = store.applyRewrap(rewrapped)
        #expect(replaced == 0)
        #expect(store.entries[p1] == nil)
    }

    // MARK: - Files

    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("vault-\(UUID().uuidString).json").path
    }

    @Test func createLoadRoundTripsWithMode0600() throws {
        let path = Self.temporaryPath()
        defer { unlink(path) }
        let ring = try Fixture.ring("c-1")
        try ring.create(path: path)
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        let loaded = try KeyRing.load(path: path)
        #expect(loaded.clusterID == "c-1")
        #expect(loaded.activeVersion == 1)
        #expect(loaded.versions[0].key.constantTimeEquals(ring.versions[0].key))
        #expect(loaded.tokenSecret.constantTimeEquals(ring.tokenSecret))
        // Refuses to overwrite.
        let error = try #require(throws: VaultError.self) { try ring.create(path: path) }
        #expect(error.reason.contains("already exists"))
    }

    @Test func replaceKeepsMode0600AndAddsVersion() throws {
        let path = Self.temporaryPath()
        defer { unlink(path) }
        try Fixture.ring().create(path: path)
        try KeyRing.load(path: path).rotated(now: Fixture.now).replace(path: path)
        let loaded = try KeyRing.load(path: path)
        #expect(loaded.versions.map(\.version) == [1, 2])
        #expect(loaded.activeVersion == 2)
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
    }

    @Test(arguments: [0o644, 0o640, 0o604, 0o660, 0o700 | 0o004])
    func groupOrOtherAccessIsRefused(mode: Int) throws {
        let path = Self.temporaryPath()
        defer { unlink(path) }
        try Fixture.ring().create(path: path)
        #expect(chmod(path, mode_t(mode)) == 0)
        let error = try #require(throws: VaultError.self) { try KeyRing.load(path: path) }
        #expect(error.code == .keyRing)
        #expect(error.reason.contains("mode \(String(mode, radix: 8))"))
        #expect(error.reason.contains("chmod 600"))
        #expect(chmod(path, 0o600) == 0)
        #expect(throws: Never.self) { try KeyRing.load(path: path) }
    }

    @Test func missingFileAndDirectoryAreRefused() throws {
        #expect(throws: VaultError.self) { try KeyRing.load(path: "/nonexistent/ring.json") }
        #expect(throws: VaultError.self) { try KeyRing.load(path: FileManager.default.temporaryDirectory.path) }
    }

    static let goodKey = Base64.encode([UInt8](repeating: 7, count: 32), urlSafe: false)

    static func json(format: String = "1", clusterID: String = "\"c\"", keys: String? = nil, active: String = "1", token: String? = nil) -> [UInt8] {
        let keys = keys ?? "[{\"version\":1,\"created\":\"t\",\"key\":\"\(goodKey)\"}]"
        let token = token ?? "\"\(goodKey)\""
        return Array("{\"format\":\(format),\"clusterID\":\(clusterID),\"keys\":\(keys),\"active\":\(active),\"tokenSecret\":\(token)}".utf8)
    }

    @Test func wellFormedJSONParses() throws {
        let ring = try KeyRing.parse(Self.json(), source: "t")
        #expect(ring.clusterID == "c")
    }

    @Test(arguments: [
        ("not json", Array("{nope".utf8)),
        ("wrong format", KeyRingTests.json(format: "2")),
        ("format as string", KeyRingTests.json(format: "\"1\"")),
        ("empty cluster id", KeyRingTests.json(clusterID: "\"\"")),
        ("no keys", KeyRingTests.json(keys: "[]")),
        ("bad base64", KeyRingTests.json(keys: "[{\"version\":1,\"created\":\"t\",\"key\":\"%%%%\"}]")),
        ("short key", KeyRingTests.json(keys: "[{\"version\":1,\"created\":\"t\",\"key\":\"\(Base64.encode([1, 2, 3], urlSafe: false))\"}]")),
        ("version zero", KeyRingTests.json(keys: "[{\"version\":0,\"created\":\"t\",\"key\":\"\(KeyRingTests.goodKey)\"}]")),
        ("duplicate versions", KeyRingTests.json(keys: "[{\"version\":1,\"created\":\"t\",\"key\":\"\(KeyRingTests.goodKey)\"},{\"version\":1,\"created\":\"t\",\"key\":\"\(KeyRingTests.goodKey)\"}]")),
        ("active missing", KeyRingTests.json(active: "3")),
        ("bad token secret", KeyRingTests.json(token: "\"AAAA\"")),
        ("missing token secret", Array("{\"format\":1,\"clusterID\":\"c\",\"keys\":[],\"active\":1}".utf8)),
    ])
    func malformedFilesAreRefused(_ name: String, _ bytes: [UInt8]) throws {
        let error = try #require(throws: VaultError.self) { try KeyRing.parse(bytes, source: name) }
        #expect(error.code == .keyRing)
        // Errors never echo key material.
        #expect(!error.reason.contains(Self.goodKey))
    }

    @Test func malformedFileOnDiskIsRefused() throws {
        let path = Self.temporaryPath()
        defer { unlink(path) }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        #expect(fd >= 0)
        let bytes = Self.json(format: "7")
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        let error = try #require(throws: VaultError.self) { try KeyRing.load(path: path) }
        #expect(error.reason.contains("format 7"))
    }
}
