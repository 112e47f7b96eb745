/// CRC-32C (Castagnoli), the checksum every stored entry and snapshot carries.
/// SQLite's own page checks do not cover a bit flipped inside a row's value.
enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        return crc
    }

    static func update(_ crc: UInt32, _ bytes: [UInt8]) -> UInt32 {
        var value = ~crc
        for byte in bytes { value = table[Int((value ^ UInt32(byte)) & 0xFF)] ^ (value >> 8) }
        return ~value
    }

    static func update(_ crc: UInt32, _ value: UInt64) -> UInt32 {
        update(crc, (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) })
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 { update(0, bytes) }
}
