// The binary encoding of Raft values for the wire and for disk. Every value
// starts with a format version byte; decoding checks every length and count
// against a named limit, so hostile bytes yield a `DecodingError`, never a trap.

/// Limits that decoding enforces.
public enum CodecLimits {
    /// The format version written first in every encoded value.
    public static let version: UInt8 = 1
    /// The largest entry payload accepted (a command, or a conf change).
    public static let entryBytesMax = 4 << 20
    /// The most entries one message may carry.
    public static let entriesPerMessageMax = 65_536
    /// The largest snapshot accepted in one message.
    public static let snapshotBytesMax = 1 << 30
    /// The most members a configuration may list.
    public static let membersMax = 64
    /// The largest opaque context (ReadIndex, conf change context).
    public static let contextBytesMax = 4096
}

// MARK: - Encoding

extension ByteWriter {
    public mutating func write(_ node: NodeID) {
        writeString(node.rawValue)
    }

    public mutating func write(_ entry: Entry) {
        write(entry.term)
        write(entry.index)
        write(entry.kind.rawValue)
        writeBytes(entry.data)
    }

    public mutating func write(_ conf: ConfState) {
        write(UInt32(conf.voters.count))
        for voter in conf.voters.sorted() { write(voter) }
        write(UInt32(conf.learners.count))
        for learner in conf.learners.sorted() { write(learner) }
    }

    public mutating func write(_ metadata: SnapshotMetadata) {
        write(metadata.index)
        write(metadata.term)
        write(metadata.conf)
    }
}

extension Message {
    /// The versioned binary form of this message.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: sizeBytes + 16)
        writer.write(CodecLimits.version)
        writer.write(kind.rawValue)
        writer.write(from)
        writer.write(to)
        writer.write(term)
        writer.write(logTerm)
        writer.write(index)
        writer.write(commit)
        writer.write(reject)
        writer.write(rejectHint)
        writer.write(hintTerm)
        writer.writeBytes(context)
        writer.write(UInt32(entries.count))
        for entry in entries { writer.write(entry) }
        writer.write(snapshot != nil)
        if let snapshot {
            writer.write(snapshot.metadata)
            writer.writeBytes(snapshot.data)
        }
        return writer.bytes
    }

    /// Decodes what `encoded()` wrote; throws on anything else.
    public init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        let version = try reader.readUInt8()
        guard version == CodecLimits.version else {
            throw DecodingError("unknown message format version \(version)", offset: 0)
        }
        let rawKind = try reader.readUInt8()
        guard let kind = MessageKind(rawValue: rawKind) else {
            throw DecodingError("unknown message kind \(rawKind)", offset: 1)
        }
        self.init(kind: kind, from: try reader.readNodeID(), to: try reader.readNodeID())
        term = try reader.readUInt64()
        logTerm = try reader.readUInt64()
        index = try reader.readUInt64()
        commit = try reader.readUInt64()
        reject = try reader.readBool()
        rejectHint = try reader.readUInt64()
        hintTerm = try reader.readUInt64()
        context = try reader.readBytes(limit: CodecLimits.contextBytesMax)
        let entryCount = Int(try reader.readUInt32())
        guard entryCount <= CodecLimits.entriesPerMessageMax else {
            throw DecodingError("\(entryCount) entries over the limit", offset: reader.offset - 4)
        }
        // Each entry takes at least 21 bytes: never reserve more than the input can hold.
        entries.reserveCapacity(min(entryCount, reader.remaining / 21))
        for _ in 0..<entryCount { entries.append(try reader.readEntry()) }
        if try reader.readBool() {
            let metadata = try reader.readSnapshotMetadata()
            snapshot = Snapshot(metadata: metadata, data: try reader.readBytes(limit: CodecLimits.snapshotBytesMax))
        }
        try reader.expectEnd()
    }
}

extension ConfChange {
    /// The versioned binary form, carried as the data of a `.confChange` entry.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(CodecLimits.version)
        writer.write(kind.rawValue)
        writer.write(node)
        writer.writeBytes(context)
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        let version = try reader.readUInt8()
        guard version == CodecLimits.version else {
            throw DecodingError("unknown conf change format version \(version)", offset: 0)
        }
        let rawKind = try reader.readUInt8()
        guard let kind = ConfChange.Kind(rawValue: rawKind) else {
            throw DecodingError("unknown conf change kind \(rawKind)", offset: 1)
        }
        self.init(kind: kind, node: try reader.readNodeID(), context: try reader.readBytes(limit: CodecLimits.contextBytesMax))
        try reader.expectEnd()
    }
}

extension SnapshotMetadata {
    /// The versioned binary form, for storage.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(CodecLimits.version)
        writer.write(self)
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        let version = try reader.readUInt8()
        guard version == CodecLimits.version else {
            throw DecodingError("unknown snapshot metadata format version \(version)", offset: 0)
        }
        self = try reader.readSnapshotMetadata()
        try reader.expectEnd()
    }
}

// MARK: - Decoding

extension ByteReader {
    public mutating func readNodeID() throws(DecodingError) -> NodeID {
        let start = offset
        let node = NodeID(try readString(limit: NodeID.bytesMax))
        guard node.isValid else { throw DecodingError("invalid node id", offset: start) }
        return node
    }

    public mutating func readEntry() throws(DecodingError) -> Entry {
        let term = try readUInt64()
        let index = try readUInt64()
        let rawKind = try readUInt8()
        guard let kind = EntryKind(rawValue: rawKind) else {
            throw DecodingError("unknown entry kind \(rawKind)", offset: offset - 1)
        }
        return Entry(term: term, index: index, kind: kind, data: try readBytes(limit: CodecLimits.entryBytesMax))
    }

    public mutating func readConfState() throws(DecodingError) -> ConfState {
        var conf = ConfState()
        conf.voters = try readNodeSet()
        conf.learners = try readNodeSet()
        return conf
    }

    public mutating func readSnapshotMetadata() throws(DecodingError) -> SnapshotMetadata {
        SnapshotMetadata(index: try readUInt64(), term: try readUInt64(), conf: try readConfState())
    }

    private mutating func readNodeSet() throws(DecodingError) -> Set<NodeID> {
        let count = Int(try readUInt32())
        guard count <= CodecLimits.membersMax else {
            throw DecodingError("\(count) members over the limit", offset: offset - 4)
        }
        var nodes = Set<NodeID>()
        for _ in 0..<count { nodes.insert(try readNodeID()) }
        return nodes
    }
}
