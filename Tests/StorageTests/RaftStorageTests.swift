import Foundation
import Testing
import Raft
@testable import Storage

@Suite struct RaftStorageTests {
    static func temporaryPath(_ name: String = #function) -> String {
        let directory = NSTemporaryDirectory() + "lifeline-storage-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/\(name.filter { $0.isLetter })-\(UInt32.random(in: 0...UInt32.max)).db"
        return path
    }

    static func open(_ path: String, cluster: String = "c1", node: String = "a") throws -> RaftStorage {
        try RaftStorage.open(path: path, clusterID: cluster, nodeID: NodeID(node), createIfMissing: true)
    }

    static func entries(_ range: ClosedRange<UInt64>, term: UInt64 = 1, tag: UInt8 = 0) -> [Entry] {
        range.map { Entry(term: term, index: $0, data: [tag, UInt8(truncatingIfNeeded: $0)]) }
    }

    @Test func roundTripsEntriesHardStateAndSnapshot() throws {
        let path = Self.temporaryPath()
        do {
            let storage = try Self.open(path)
            try storage.persist(snapshot: nil, entries: Self.entries(1...10), hardState: HardState(term: 3, vote: NodeID("b"), commit: 7))
        }
        let state = try Self.open(path).load()
        #expect(state.entries == Self.entries(1...10))
        #expect(state.hardState == HardState(term: 3, vote: NodeID("b"), commit: 7))
        #expect(state.snapshot.isEmpty)
    }

    @Test func laterEntriesReplaceAConflictingSuffix() throws {
        let path = Self.temporaryPath()
        let storage = try Self.open(path)
        try storage.persist(snapshot: nil, entries: Self.entries(1...10), hardState: nil)
        try storage.persist(snapshot: nil, entries: Self.entries(6...7, term: 2, tag: 9), hardState: nil)
        #expect(try storage.load().entries == Self.entries(1...5) + Self.entries(6...7, term: 2, tag: 9))
    }

    @Test func snapshotsCompactAndLeaderSnapshotsReplaceTheLog() throws {
        let path = Self.temporaryPath()
        let storage = try Self.open(path)
        try storage.persist(snapshot: nil, entries: Self.entries(1...10), hardState: HardState(term: 1, commit: 10))
        let own = Snapshot(metadata: SnapshotMetadata(index: 6, term: 1, conf: ConfState(voters: [NodeID("a")])), data: [1, 2, 3])
        try storage.saveSnapshot(own)
        var state = try storage.load()
        #expect(state.snapshot == own)
        #expect(state.entries == Self.entries(7...10))
        let fromLeader = Snapshot(metadata: SnapshotMetadata(index: 20, term: 4, conf: ConfState(voters: [NodeID("a")])), data: [9])
        try storage.persist(snapshot: fromLeader, entries: [], hardState: HardState(term: 4, commit: 20))
        state = try Self.open(path).load()
        #expect(state.snapshot == fromLeader)
        #expect(state.entries.isEmpty)
    }

    @Test(arguments: [("c2", "a", StorageError.Kind.wrongCluster), ("c1", "b", .wrongNode)])
    func anotherClustersOrNodesDatabaseIsRefusedUntouched(cluster: String, node: String, kind: StorageError.Kind) throws {
        let path = Self.temporaryPath()
        do {
            let storage = try Self.open(path)
            try storage.persist(snapshot: nil, entries: Self.entries(1...3), hardState: nil)
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        do {
            _ = try Self.open(path, cluster: cluster, node: node)
            Issue.record("opened a database of another cluster or node")
        } catch let error as StorageError {
            #expect(error.kind == kind)
            #expect(error.description.hasPrefix(path))
            #expect(error.description.contains("refusing to start"))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    @Test func aWrongSchemaVersionIsRefused() throws {
        let path = Self.temporaryPath()
        do {
            let storage = try Self.open(path)
            try storage.persist(snapshot: nil, entries: Self.entries(1...3), hardState: nil)
        }
        do {
            let database = try SQLiteDatabase(path: path, create: false)
            try database.execute("UPDATE meta SET value = CAST('99' AS BLOB) WHERE key = 'schema_version'")
        }
        #expect { try Self.open(path) } throws: { ($0 as? StorageError)?.kind == .schemaVersion }
    }

    @Test func aTruncatedFileIsRefused() throws {
        let path = Self.temporaryPath()
        do {
            let storage = try Self.open(path)
            for start in stride(from: UInt64(1), through: 400, by: 20) {
                try storage.persist(snapshot: nil, entries: (start...start + 19).map { Entry(term: 1, index: $0, data: [UInt8](repeating: 7, count: 200)) }, hardState: nil)
            }
        }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        #expect(throws: StorageError.self) { try Self.open(path).load() }
    }

    /// A bit flipped inside an entry's value leaves SQLite's page structure intact;
    /// the per-entry checksum is what catches it.
    @Test func aFlippedBitInsideAnEntryIsCaughtByItsChecksum() throws {
        let path = Self.temporaryPath()
        let marker = Array("LIFELINE-STORAGE-TEST-MARKER".utf8)
        do {
            let storage = try Self.open(path)
            try storage.persist(snapshot: nil, entries: [Entry(term: 1, index: 1, data: marker)], hardState: nil)
        }
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let offset = try #require(findSubsequence(marker, in: bytes), "the entry is not in the main database file")
        bytes[offset + 3] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let storage = try Self.open(path)  // SQLite's integrity check passes
        #expect { try storage.load() } throws: { error in
            guard let error = error as? StorageError else { return false }
            return error.kind == .checksum && error.description.contains("entry 1 checksum mismatch")
        }
    }

    @Test func garbageInsteadOfADatabaseIsRefused() throws {
        let path = Self.temporaryPath()
        try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) }).write(to: URL(fileURLWithPath: path))
        #expect(throws: StorageError.self) { try Self.open(path) }
    }

    @Test func aMissingDatabaseIsNotCreatedUnlessAsked() {
        let path = Self.temporaryPath()
        #expect { try RaftStorage.open(path: path, clusterID: "c1", nodeID: NodeID("a"), createIfMissing: false) } throws: {
            ($0 as? StorageError)?.kind == .missing
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}

func findSubsequence(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard needle.count <= haystack.count else { return nil }
    for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
        if Array(haystack[start..<start + needle.count]) == needle { return start }
    }
    return nil
}
