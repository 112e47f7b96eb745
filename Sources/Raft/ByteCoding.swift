/// Appends fixed-width big-endian integers and length-prefixed byte strings.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func write(_ value: UInt8) {
        bytes.append(value)
    }

    public mutating func write(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }

    public mutating func write(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    public mutating func write(_ value: Bool) {
        bytes.append(value ? 1 : 0)
    }

    /// A 32-bit length, then the bytes.
    public mutating func writeBytes(_ value: [UInt8]) {
        write(UInt32(value.count))
        bytes.append(contentsOf: value)
    }

    public mutating func writeString(_ value: String) {
        writeBytes(Array(value.utf8))
    }
}

/// Why a byte string could not be decoded. Decoding never traps on bad input.
public struct DecodingError: Error, Equatable, CustomStringConvertible {
    public var reason: String
    public var offset: Int

    public init(_ reason: String, offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String { "\(reason) at byte \(offset)" }
}

/// Reads what `ByteWriter` wrote, checking every length against what is left and
/// against the caller's limit.
public struct ByteReader {
    private let bytes: [UInt8]
    public private(set) var offset: Int

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        offset = 0
    }

    public var remaining: Int { bytes.count - offset }
    public var isAtEnd: Bool { offset == bytes.count }

    public mutating func readUInt8() throws(DecodingError) -> UInt8 {
        guard remaining >= 1 else { throw DecodingError("truncated (want 1 byte)", offset: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func readUInt32() throws(DecodingError) -> UInt32 {
        guard remaining >= 4 else { throw DecodingError("truncated (want 4 bytes)", offset: offset) }
        var value: UInt32 = 0
        for i in 0..<4 { value = value << 8 | UInt32(bytes[offset + i]) }
        offset += 4
        return value
    }

    public mutating func readUInt64() throws(DecodingError) -> UInt64 {
        guard remaining >= 8 else { throw DecodingError("truncated (want 8 bytes)", offset: offset) }
        var value: UInt64 = 0
        for i in 0..<8 { value = value << 8 | UInt64(bytes[offset + i]) }
        offset += 8
        return value
    }

    public mutating func readBool() throws(DecodingError) -> Bool {
        let byte = try readUInt8()
        guard byte <= 1 else { throw DecodingError("bad boolean \(byte)", offset: offset - 1) }
        return byte == 1
    }

    /// A length-prefixed byte string of at most `limit` bytes.
    public mutating func readBytes(limit: Int) throws(DecodingError) -> [UInt8] {
        let count = Int(try readUInt32())
        guard count <= limit else {
            throw DecodingError("length \(count) over the limit \(limit)", offset: offset - 4)
        }
        guard remaining >= count else {
            throw DecodingError("truncated (want \(count) bytes, have \(remaining))", offset: offset)
        }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    public mutating func readString(limit: Int) throws(DecodingError) -> String {
        let raw = try readBytes(limit: limit)
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw DecodingError("invalid UTF-8", offset: offset - raw.count)
        }
        return text
    }

    /// Throws unless every byte was consumed: trailing garbage is an error.
    public func expectEnd() throws(DecodingError) {
        guard isAtEnd else { throw DecodingError("\(remaining) trailing bytes", offset: offset) }
    }
}
