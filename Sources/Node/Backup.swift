import Foundation
import Raft
import Storage
import Vault

/// A consistent copy of one node's applied state (HIPAA 164.308(a)(7)(ii)(A),
/// the data-backup plan): the replicated state machine and member directory as
/// of one applied index, in a self-checking file. Patient fields inside it are
/// the same AES-GCM ciphertext the log holds; the key ring is NOT in it and must
/// be kept (and restored) separately.
///
/// Layout: magic `LLBACKUP`, version 1, source cluster id, source node id,
/// applied index and term, wall-clock creation time (ms, informational), the
/// state hash, the node snapshot bytes, then SHA-256 of everything before it.
public struct BackupImage: Sendable, Equatable {
    public var clusterID: String
    public var node: NodeID
    public var index: UInt64
    public var term: UInt64
    public var createdAtMs: UInt64
    public var stateHash: String
    /// `NodeSnapshotData` bytes: member directory and state machine.
    public var snapshot: [UInt8]

    static let magic = Array("LLBACKUP".utf8)
    static let version: UInt8 = 1

    public init(clusterID: String, node: NodeID, index: UInt64, term: UInt64, createdAtMs: UInt64, stateHash: String, snapshot: [UInt8]) {
        self.clusterID = clusterID
        self.node = node
        self.index = index
        self.term = term
        self.createdAtMs = createdAtMs
        self.stateHash = stateHash
        self.snapshot = snapshot
    }

    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: snapshot.count + 256)
        for byte in Self.magic { writer.write(byte) }
        writer.write(Self.version)
        writer.writeString(clusterID)
        writer.write(node)
        writer.write(index)
        writer.write(term)
        writer.write(createdAtMs)
        writer.writeString(stateHash)
        writer.writeBytes(snapshot)
        let digest = Digest.sha256(writer.bytes)
        for byte in digest { writer.write(byte) }
        return writer.bytes
    }

    /// Decodes and verifies a backup file's bytes; any damage is a clear error.
    public init(decoding bytes: [UInt8]) throws(BackupError) {
        guard bytes.count > Self.magic.count + Digest.sha256Bytes, Array(bytes.prefix(Self.magic.count)) == Self.magic else {
            throw BackupError("not a Lifeline backup (no LLBACKUP header)")
        }
        let body = Array(bytes.dropLast(Digest.sha256Bytes))
        guard Digest.sha256(body) == Array(bytes.suffix(Digest.sha256Bytes)) else {
            throw BackupError("the backup is damaged: its SHA-256 does not match its contents")
        }
        var reader = ByteReader(body)
        do {
            for _ in Self.magic { _ = try reader.readUInt8() }
            let version = try reader.readUInt8()
            guard version == Self.version else { throw BackupError("backup format version \(version) is not supported (this build reads \(Self.version))") }
            clusterID = try reader.readString(limit: 128)
            node = try reader.readNodeID()
            index = try reader.readUInt64()
            term = try reader.readUInt64()
            createdAtMs = try reader.readUInt64()
            stateHash = try reader.readString(limit: 128)
            snapshot = try reader.readBytes(limit: CodecLimits.snapshotBytesMax)
            try reader.expectEnd()
        } catch let error as BackupError {
            throw error
        } catch {
            throw BackupError("the backup cannot be decoded: \(error)")
        }
    }
}

/// Why a backup could not be read, taken or restored.
public struct BackupError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public enum Backup {
    /// Seeds a NEW node's database (the config's data directory) from `image`:
    /// the state as a Raft snapshot at the backup's index, with the config's
    /// founders (this node and its peers) as the voters and the config's member
    /// addresses as the directory. Every founder of the new cluster restores the
    /// same file. Refuses a database that already holds state, and checks that the
    /// restored machine reproduces the backup's state hash before writing anything.
    public static func restore(_ image: BackupImage, into config: NodeConfig,
                               machine: any ReplicatedStateMachine) throws -> String {
        guard !config.join else {
            throw BackupError("\(config.node) is configured to join an existing cluster; restore seeds the founders of a new cluster")
        }
        let data: NodeSnapshotData
        do {
            data = try NodeSnapshotData(decoding: image.snapshot)
        } catch {
            throw BackupError("the backup's snapshot cannot be decoded: \(error)")
        }
        var check = machine
        do {
            try check.restore(data.machine)
        } catch {
            throw BackupError("this build cannot load the backup's state: \(error)")
        }
        let restored = check.snapshot()
        guard StateDigest.matches(image.stateHash, snapshot: restored) else {
            throw BackupError("the restored state hashes to \(StateDigest.hex(of: restored)), the backup says \(image.stateHash)")
        }
        var directory = MemberDirectory()
        directory[config.node] = MemberInfo(site: config.site, peerAddress: config.advertisePeer, apiAddress: config.advertiseAPI)
        for peer in config.peers {
            directory[peer.node] = MemberInfo(site: peer.site, peerAddress: peer.peerAddress, apiAddress: peer.apiAddress)
        }
        let voters = Set([config.node] + config.peers.map(\.node))
        let snapshot = Snapshot(
            metadata: SnapshotMetadata(index: image.index, term: image.term, conf: ConfState(voters: voters)),
            data: NodeSnapshotData(directory: directory, machine: data.machine).encoded()
        )
        try FileManager.default.createDirectory(atPath: config.dataDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let path = NodeServer.databasePath(config)
        let storage = try RaftStorage.open(path: path, clusterID: config.clusterID, nodeID: config.node, createIfMissing: true)
        let existing = try storage.load()
        guard existing == PersistentState() else {
            throw BackupError("\(path) already holds state (term \(existing.hardState.term), commit \(existing.hardState.commit)); restore only into a new data directory")
        }
        try storage.persist(snapshot: snapshot, entries: [], hardState: HardState(term: image.term, vote: nil, commit: image.index))
        return path
    }
}
