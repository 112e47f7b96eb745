/// What a frame carries. Raw values are part of the wire format: never renumber.
public enum FrameType: UInt8, Sendable, Equatable, CaseIterable {
    /// The first frame on a peer connection: the claimed node id and cluster id.
    case hello = 1
    /// One or more encoded Raft messages.
    case raftMessages = 2
    /// A follower forwards a client's request to the leader.
    case forwardRequest = 3
    case forwardResponse = 4
    case ping = 5
    case pong = 6
}

/// One length-prefixed frame:
/// `[4-byte big-endian length of what follows][1 byte version][1 byte type][payload]`.
public struct Frame: Sendable, Equatable {
    public static let version: UInt8 = 1
    /// The largest frame accepted by default (version, type and payload).
    public static let bytesMaxDefault = 16 << 20

    public var type: FrameType
    public var payload: [UInt8]

    public init(type: FrameType, payload: [UInt8]) {
        self.type = type
        self.payload = payload
    }

    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(payload.count + 6)
        let length = UInt32(payload.count + 2)
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: length >> UInt32(shift))) }
        bytes.append(Self.version)
        bytes.append(type.rawValue)
        bytes.append(contentsOf: payload)
        return bytes
    }
}

/// Decodes frames from a byte stream incrementally. The buffer never holds more
/// than one frame of at most `frameBytesMax` plus one read.
public struct FrameReader {
    /// May be raised once the peer is authenticated (e.g. for snapshots).
    public var frameBytesMax: Int
    private var buffer: [UInt8] = []
    private var start = 0

    public init(frameBytesMax: Int = Frame.bytesMaxDefault) {
        self.frameBytesMax = frameBytesMax
    }

    public mutating func append(_ bytes: [UInt8]) {
        if start > 0, start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next whole frame, nil when more bytes are needed; throws on a frame that
    /// breaks the format (the connection MUST then be closed).
    public mutating func next() throws(ConnectionError) -> Frame? {
        guard buffer.count - start >= 4 else { return nil }
        var length = 0
        for offset in 0..<4 { length = length << 8 | Int(buffer[start + offset]) }
        guard length >= 2 else { throw .protocolViolation("frame length \(length) is too short") }
        guard length <= frameBytesMax else { throw .protocolViolation("frame of \(length) bytes over the limit of \(frameBytesMax)") }
        guard buffer.count - start >= 4 + length else { return nil }
        let version = buffer[start + 4]
        guard version == Frame.version else { throw .protocolViolation("unknown frame version \(version)") }
        guard let type = FrameType(rawValue: buffer[start + 5]) else { throw .protocolViolation("unknown frame type \(buffer[start + 5])") }
        let payload = Array(buffer[(start + 6)..<(start + 4 + length)])
        start += 4 + length
        if start > 1 << 16, start * 2 > buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
        return Frame(type: type, payload: payload)
    }
}

extension Connection {
    /// Reads until one whole frame is available.
    public func readFrame(_ reader: inout FrameReader, deadline: Deadline?) throws(ConnectionError) -> Frame {
        while true {
            if let frame = try reader.next() { return frame }
            reader.append(try read(maxBytes: 64 << 10, deadline: deadline))
        }
    }
}
