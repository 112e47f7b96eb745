// MARK: - Wire encoding
//
// Big-endian fixed-width integers and length-prefixed strings. Private to this
// module (ContactCenter does not import Raft, which has its own codec).

/// Why bytes could not be decoded. Decoding never traps on bad input.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    public var reason: String
    public var offset: Int
    public init(_ reason: String, offset: Int) {
        self.reason = reason
        self.offset = offset
    }
    public var description: String { "\(reason) at byte \(offset)" }
}

struct WireWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }
    mutating func u16(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }
    mutating func u32(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }
    mutating func u64(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }
    mutating func string(_ value: String) {
        let utf8 = Array(value.utf8)
        u32(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }
    mutating func count(_ value: Int) { u32(UInt32(value)) }
}

struct WireReader {
    private let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    private mutating func need(_ count: Int) throws(WireError) {
        guard remaining >= count else { throw WireError("truncated (want \(count) bytes, have \(remaining))", offset: offset) }
    }

    mutating func u8() throws(WireError) -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return bytes[offset]
    }
    mutating func bool() throws(WireError) -> Bool {
        let byte = try u8()
        guard byte <= 1 else { throw WireError("bad boolean \(byte)", offset: offset - 1) }
        return byte == 1
    }
    mutating func u16() throws(WireError) -> UInt16 {
        try need(2)
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }
    mutating func u32() throws(WireError) -> UInt32 {
        try need(4)
        var value: UInt32 = 0
        for i in 0..<4 { value = value << 8 | UInt32(bytes[offset + i]) }
        offset += 4
        return value
    }
    mutating func u64() throws(WireError) -> UInt64 {
        try need(8)
        var value: UInt64 = 0
        for i in 0..<8 { value = value << 8 | UInt64(bytes[offset + i]) }
        offset += 8
        return value
    }
    mutating func string(limit: Int) throws(WireError) -> String {
        let count = Int(try u32())
        guard count <= limit else { throw WireError("string of \(count) bytes over the limit \(limit)", offset: offset - 4) }
        try need(count)
        let raw = Array(bytes[offset..<offset + count])
        guard let text = String(validating: raw, as: UTF8.self) else { throw WireError("invalid UTF-8", offset: offset) }
        offset += count
        return text
    }
    /// A collection count, checked against a limit and against the bytes left
    /// (each element takes at least `elementBytesMin`), so a lying count cannot
    /// make us allocate.
    mutating func count(limit: Int, elementBytesMin: Int = 1) throws(WireError) -> Int {
        let value = Int(try u32())
        guard value <= limit else { throw WireError("count \(value) over the limit \(limit)", offset: offset - 4) }
        guard value * elementBytesMin <= remaining else { throw WireError("count \(value) exceeds the bytes left", offset: offset - 4) }
        return value
    }
    mutating func enumValue<E: RawRepresentable>(_ type: E.Type) throws(WireError) -> E where E.RawValue == UInt8 {
        let raw = try u8()
        guard let value = E(rawValue: raw) else { throw WireError("bad \(E.self) \(raw)", offset: offset - 1) }
        return value
    }
    func expectEnd() throws(WireError) {
        guard remaining == 0 else { throw WireError("\(remaining) trailing bytes", offset: offset) }
    }
}

// MARK: - FNV-1a 64

/// FNV-1a, 64-bit: a fast, stable hash for comparing replicas' states (not a
/// security primitive).
public enum FNV1a64 {
    public static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    public static let prime: UInt64 = 0x0000_0100_0000_01b3

    public static func hash(_ bytes: [UInt8]) -> UInt64 {
        var hash = offsetBasis
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* prime
        }
        return hash
    }
}
