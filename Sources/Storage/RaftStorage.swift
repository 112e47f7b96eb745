import CSQLite
import Glibc
import Raft

/// A node's durable Raft state in one SQLite database (WAL): the log, the hard
/// state and the latest snapshot.
///
/// `persist` writes a whole `Ready` in ONE transaction; with `synchronous=FULL`
/// the commit is an fsync, so one fsync serves a batch. Nothing is acknowledged
/// to anyone before `persist` returns. Every entry and the snapshot carry a
/// CRC-32C that `load` verifies.
///
/// Not thread-safe: one owner (the node loop) uses it.
public final class RaftStorage {
    /// The schema this code writes and reads.
    public static let schemaVersion: Int64 = 1

    public let path: String
    private let database: SQLiteDatabase
    /// TEST ONLY: sleep this long in every persist, to model a slow disk in drills.
    public var fsyncDelayMs: Int = 0

    public private(set) var entriesWritten: UInt64 = 0
    public private(set) var transactions: UInt64 = 0
    public private(set) var bytesWritten: UInt64 = 0

    private init(path: String, database: SQLiteDatabase) {
        self.path = path
        self.database = database
    }

    /// Opens (or creates) the database and checks that it belongs to this cluster
    /// and node, has the expected schema and passes SQLite's integrity check.
    public static func open(path: String, clusterID: String, nodeID: NodeID, createIfMissing: Bool) throws(StorageError) -> RaftStorage {
        let exists = access(path, F_OK) == 0
        guard exists || createIfMissing else {
            throw .refuse(.missing, path, "the database does not exist")
        }
        let database: SQLiteDatabase
        do {
            database = try SQLiteDatabase(path: path, create: !exists)
        } catch {
            throw .refuse(.io, path, "cannot open: \(error.message)")
        }
        let storage = RaftStorage(path: path, database: database)
        if exists {
            try storage.checkExisting(clusterID: clusterID, nodeID: nodeID)
        }
        try storage.wrap("configure") {
            try database.execute("PRAGMA journal_mode=WAL")
            try database.execute("PRAGMA synchronous=FULL")
        }
        if !exists {
            try storage.createSchema(clusterID: clusterID, nodeID: nodeID)
        }
        return storage
    }

    private func checkExisting(clusterID: String, nodeID: NodeID) throws(StorageError) {
        // Read-only checks first: a refusal must leave the file as it was.
        let integrity: String
        do {
            let statement = try database.statement("PRAGMA integrity_check")
            integrity = try statement.step() ? statement.text(0) : "no answer"
        } catch {
            throw .refuse(error.code == SQLITE_NOTADB ? .notADatabase : .integrity, path, "not a readable Lifeline database (\(error.message))")
        }
        guard integrity == "ok" else {
            throw .refuse(.integrity, path, "SQLite integrity check failed: \(integrity)")
        }
        let version = try meta("schema_version").flatMap { Int64(String(decoding: $0, as: UTF8.self)) }
        guard version == Self.schemaVersion else {
            throw .refuse(.schemaVersion, path, "schema version \(version.map(String.init) ?? "missing"), this lifeline reads version \(Self.schemaVersion)")
        }
        let storedCluster = try meta("cluster_id").map { String(decoding: $0, as: UTF8.self) }
        guard storedCluster == clusterID else {
            throw .refuse(.wrongCluster, path, "belongs to cluster '\(storedCluster ?? "?")', not '\(clusterID)'")
        }
        let storedNode = try meta("node_id").map { String(decoding: $0, as: UTF8.self) }
        guard storedNode == nodeID.rawValue else {
            throw .refuse(.wrongNode, path, "belongs to node '\(storedNode ?? "?")', not '\(nodeID)'")
        }
    }

    private func createSchema(clusterID: String, nodeID: NodeID) throws(StorageError) {
        try wrap("create schema") {
            try database.transaction {
                try database.execute("""
                    CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
                    CREATE TABLE entries (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, kind INTEGER NOT NULL, data BLOB NOT NULL, crc INTEGER NOT NULL);
                    CREATE TABLE snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), metadata BLOB NOT NULL, data BLOB NOT NULL, crc INTEGER NOT NULL);
                    """)
                try setMeta("schema_version", Array(String(Self.schemaVersion).utf8))
                try setMeta("cluster_id", Array(clusterID.utf8))
                try setMeta("node_id", Array(nodeID.rawValue.utf8))
            }
        }
    }

    // MARK: - Writing

    /// Makes a Ready's durable parts durable, in one transaction (one fsync):
    /// the snapshot (replacing the whole log), then the entries (each replacing the
    /// stored entry at its index and everything after), then the hard state.
    public func persist(snapshot: Snapshot?, entries: [Entry], hardState: HardState?) throws(StorageError) {
        guard snapshot != nil || !entries.isEmpty || hardState != nil else { return }
        for (offset, entry) in entries.enumerated() {
            precondition(entry.index == entries[0].index + UInt64(offset), "persist: entries not contiguous at \(entry.index)")
        }
        if fsyncDelayMs > 0 { usleep(UInt32(fsyncDelayMs) * 1000) }
        try wrap("persist") {
            try database.transaction {
                if let snapshot {
                    try writeSnapshot(snapshot)
                    try database.execute("DELETE FROM entries")
                }
                if let first = entries.first {
                    let delete = try database.statement("DELETE FROM entries WHERE idx >= ?")
                    delete.bind(1, first.index)
                    try delete.step()
                    let insert = try database.statement("INSERT INTO entries (idx, term, kind, data, crc) VALUES (?, ?, ?, ?, ?)")
                    for entry in entries {
                        insert.reset()
                        insert.bind(1, entry.index)
                        insert.bind(2, entry.term)
                        insert.bind(3, Int64(entry.kind.rawValue))
                        insert.bind(4, entry.data)
                        insert.bind(5, Int64(Self.checksum(entry)))
                        try insert.step()
                        bytesWritten += UInt64(entry.data.count)
                    }
                }
                if let hardState {
                    var writer = ByteWriter()
                    writer.write(hardState.term)
                    writer.writeString(hardState.vote?.rawValue ?? "")
                    writer.write(hardState.commit)
                    try setMeta("hard_state", writer.bytes)
                }
            }
        }
        entriesWritten += UInt64(entries.count)
        transactions += 1
    }

    /// Saves the node's own snapshot and drops the entries it covers, atomically.
    public func saveSnapshot(_ snapshot: Snapshot) throws(StorageError) {
        try wrap("save snapshot") {
            try database.transaction {
                try writeSnapshot(snapshot)
                let delete = try database.statement("DELETE FROM entries WHERE idx <= ?")
                delete.bind(1, snapshot.metadata.index)
                try delete.step()
            }
        }
        transactions += 1
    }

    private func writeSnapshot(_ snapshot: Snapshot) throws(DatabaseError) {
        let metadata = snapshot.metadata.encoded()
        let statement = try database.statement("INSERT OR REPLACE INTO snapshot (id, metadata, data, crc) VALUES (1, ?, ?, ?)")
        statement.bind(1, metadata)
        statement.bind(2, snapshot.data)
        statement.bind(3, Int64(CRC32C.update(CRC32C.checksum(metadata), snapshot.data)))
        try statement.step()
        bytesWritten += UInt64(snapshot.data.count)
    }

    // MARK: - Reading

    /// Everything the Raft core needs to restart, verified: every checksum, and the
    /// entries contiguous after the snapshot.
    public func load() throws(StorageError) -> PersistentState {
        var state = PersistentState()
        if let raw = try meta("hard_state") {
            var reader = ByteReader(raw)
            do {
                let term = try reader.readUInt64()
                let vote = try reader.readString(limit: NodeID.bytesMax)
                let commit = try reader.readUInt64()
                try reader.expectEnd()
                state.hardState = HardState(term: term, vote: vote.isEmpty ? nil : NodeID(vote), commit: commit)
            } catch {
                throw .refuse(.checksum, path, "hard state is corrupt (\(error))")
            }
        }
        state.snapshot = try loadSnapshot()
        state.entries = try loadEntries(after: state.snapshot.metadata.index)
        let last = state.snapshot.metadata.index + UInt64(state.entries.count)
        guard state.hardState.commit <= last else {
            throw .refuse(.gap, path, "hard state says entry \(state.hardState.commit) is committed but the log ends at \(last)")
        }
        return state
    }

    private func loadSnapshot() throws(StorageError) -> Snapshot {
        var result = Snapshot()
        try wrap("load snapshot") {
            let statement = try database.statement("SELECT metadata, data, crc FROM snapshot WHERE id = 1")
            guard try statement.step() else { return }
            let metadataBytes = statement.bytes(0)
            let data = statement.bytes(1)
            let stored = UInt32(truncatingIfNeeded: statement.int64(2))
            let computed = CRC32C.update(CRC32C.checksum(metadataBytes), data)
            guard stored == computed, let metadata = try? SnapshotMetadata(decoding: metadataBytes) else {
                throw DatabaseError(code: -1, message: "snapshot checksum mismatch (stored \(hex(stored)), computed \(hex(computed)))", sql: nil)
            }
            result = Snapshot(metadata: metadata, data: data)
        }
        return result
    }

    private func loadEntries(after snapshotIndex: UInt64) throws(StorageError) -> [Entry] {
        var entries: [Entry] = []
        var problem: String?
        try wrap("load entries") {
            let statement = try database.statement("SELECT idx, term, kind, data, crc FROM entries ORDER BY idx")
            while try statement.step() {
                let index = statement.uint64(0)
                let expected = snapshotIndex + 1 + UInt64(entries.count)
                guard index == expected else {
                    problem = "entry \(index) follows \(expected - 1): the log has a gap"
                    return
                }
                guard let kind = EntryKind(rawValue: UInt8(truncatingIfNeeded: statement.int64(2))) else {
                    problem = "entry \(index) has an unknown kind"
                    return
                }
                let entry = Entry(term: statement.uint64(1), index: index, kind: kind, data: statement.bytes(3))
                let stored = UInt32(truncatingIfNeeded: statement.int64(4))
                let computed = Self.checksum(entry)
                guard stored == computed else {
                    problem = "entry \(index) checksum mismatch (stored \(hex(stored)), computed \(hex(computed)))"
                    return
                }
                entries.append(entry)
            }
        }
        if let problem { throw .refuse(problem.contains("gap") ? .gap : .checksum, path, problem) }
        return entries
    }

    // MARK: - Helpers

    static func checksum(_ entry: Entry) -> UInt32 {
        var crc = CRC32C.update(0, entry.term)
        crc = CRC32C.update(crc, entry.index)
        crc = CRC32C.update(crc, [entry.kind.rawValue])
        return CRC32C.update(crc, entry.data)
    }

    private func meta(_ key: String) throws(StorageError) -> [UInt8]? {
        var value: [UInt8]?
        try wrap("read \(key)") {
            let statement = try database.statement("SELECT value FROM meta WHERE key = ?")
            statement.bind(1, key)
            if try statement.step() { value = statement.bytes(0) }
        }
        return value
    }

    private func setMeta(_ key: String, _ value: [UInt8]) throws(DatabaseError) {
        let statement = try database.statement("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)")
        statement.bind(1, key)
        statement.bind(2, value)
        try statement.step()
    }

    private func wrap(_ what: String, _ body: () throws -> Void) throws(StorageError) {
        do {
            try body()
        } catch let error as StorageError {
            throw error
        } catch {
            guard let error = error as? DatabaseError else {
                throw StorageError(kind: .io, path: path, reason: "\(what) failed: \(error)")
            }
            if error.code == -1 { throw .refuse(.checksum, path, error.message) }
            let kind: StorageError.Kind = (error.code & 0xFF) == SQLITE_CORRUPT || (error.code & 0xFF) == SQLITE_NOTADB ? .integrity : .io
            throw StorageError(kind: kind, path: path, reason: "\(what) failed: \(error)")
        }
    }
}

private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
