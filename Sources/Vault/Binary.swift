/// Big-endian writer for Vault's compact encodings and canonical AAD / audit bytes.
struct BinaryWriter {
    private(set) var bytes: [UInt8] = []

    mutating func write(_ value: UInt8) { bytes.append(value) }

    mutating func write(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    mutating func write(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    mutating func writeRaw(_ value: [UInt8]) { bytes.append(contentsOf: value) }

    /// A 32-bit length, then the UTF-8 bytes: unambiguous when concatenated.
    mutating func writeString(_ value: String) {
        let utf8 = Array(value.utf8)
        write(UInt32(truncatingIfNeeded: utf8.count))
        bytes.append(contentsOf: utf8)
    }
}

/// Reads what `BinaryWriter` wrote; every read is bounds-checked and throws
/// `.malformed` instead of trapping.
struct BinaryReader {
    private let bytes: [UInt8]
    private(set) var offset = 0
    private let what: String

    init(_ bytes: [UInt8], what: String) {
        self.bytes = bytes
        self.what = what
    }

    var remaining: Int { bytes.count - offset }

    mutating func readUInt8() throws(VaultError) -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func readUInt32() throws(VaultError) -> UInt32 {
        try need(4)
        var value: UInt32 = 0
        for i in 0..<4 { value = value << 8 | UInt32(bytes[offset + i]) }
        offset += 4
        return value
    }

    mutating func readRaw(_ count: Int) throws(VaultError) -> [UInt8] {
        try need(count)
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    func expectEnd() throws(VaultError) {
        guard remaining == 0 else { throw VaultError(.malformed, "\(what): \(remaining) trailing bytes") }
    }

    private func need(_ count: Int) throws(VaultError) {
        guard count >= 0, remaining >= count else {
            throw VaultError(.malformed, "\(what): truncated at byte \(offset) (want \(count), have \(remaining))")
        }
    }
}
