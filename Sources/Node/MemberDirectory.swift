import Raft

/// How to reach one member, carried in the context of its `ConfChange` and in snapshots.
public struct MemberInfo: Sendable, Equatable {
    public var site: SiteID
    public var peerAddress: HostPort
    public var apiAddress: HostPort

    public init(site: SiteID, peerAddress: HostPort, apiAddress: HostPort) {
        self.site = site
        self.peerAddress = peerAddress
        self.apiAddress = apiAddress
    }

    /// The bytes placed in `ConfChange.context`.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(UInt8(1))
        writer.writeString(site.rawValue)
        writer.writeString(peerAddress.description)
        writer.writeString(apiAddress.description)
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        guard try reader.readUInt8() == 1 else { throw DecodingError("unknown member info version", offset: 0) }
        let site = try reader.readString(limit: NodeID.bytesMax)
        let peer = try reader.readString(limit: 300)
        let api = try reader.readString(limit: 300)
        try reader.expectEnd()
        guard let peerAddress = HostPort(parsing: peer), let apiAddress = HostPort(parsing: api) else {
            throw DecodingError("bad member address", offset: 0)
        }
        self.init(site: SiteID(site), peerAddress: peerAddress, apiAddress: apiAddress)
    }
}

/// Every member this node knows how to reach: seeded from the configuration,
/// then updated by committed membership changes. Part of the node's snapshot so a
/// member restored from a snapshot still knows where everyone is.
public struct MemberDirectory: Sendable, Equatable {
    public private(set) var members: [NodeID: MemberInfo] = [:]

    public init(members: [NodeID: MemberInfo] = [:]) {
        self.members = members
    }

    public subscript(node: NodeID) -> MemberInfo? {
        get { members[node] }
        set { members[node] = newValue }
    }

    func write(to writer: inout ByteWriter) {
        writer.write(UInt32(members.count))
        for node in members.keys.sorted() {
            writer.write(node)
            writer.writeBytes(members[node]!.encoded())
        }
    }

    static func read(from reader: inout ByteReader) throws(DecodingError) -> MemberDirectory {
        let count = try reader.readUInt32()
        guard count <= UInt32(CodecLimits.membersMax * 2) else { throw DecodingError("too many members", offset: reader.offset) }
        var directory = MemberDirectory()
        for _ in 0..<count {
            let node = try reader.readNodeID()
            directory[node] = try MemberInfo(decoding: try reader.readBytes(limit: 1024))
        }
        return directory
    }
}

/// What a node snapshot holds: the member directory and the application's state.
public struct NodeSnapshotData: Sendable {
    public var directory: MemberDirectory
    public var machine: [UInt8]

    public init(directory: MemberDirectory, machine: [UInt8]) {
        self.directory = directory
        self.machine = machine
    }

    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: machine.count + 256)
        writer.write(UInt8(1))
        directory.write(to: &writer)
        writer.writeBytes(machine)
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        guard try reader.readUInt8() == 1 else { throw DecodingError("unknown node snapshot version", offset: 0) }
        directory = try MemberDirectory.read(from: &reader)
        machine = try reader.readBytes(limit: CodecLimits.snapshotBytesMax)
        try reader.expectEnd()
    }
}
