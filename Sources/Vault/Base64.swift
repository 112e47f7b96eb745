/// Strict base64 (RFC 4648): standard alphabet WITH padding for files, URL-safe
/// alphabet WITHOUT padding for tokens.
///
/// Decoding is canonical: a character outside the alphabet, wrong padding, a
/// length that cannot occur, or non-zero unused trailing bits is an error. So a
/// value has exactly one text form, and a token cannot be altered into another
/// string that decodes to the same bytes.
public enum Base64 {
    private static let standard = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let urlSafe = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    // MARK: - Encoding

    public static func encode(_ bytes: [UInt8], urlSafe: Bool) -> String {
        bytes.withUnsafeBytes { encode($0, urlSafe: urlSafe) }
    }

    static func encode(_ bytes: UnsafeRawBufferPointer, urlSafe useURLSafe: Bool) -> String {
        let alphabet = useURLSafe ? urlSafe : standard
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let remaining = bytes.count - index
            let b0 = UInt32(bytes[index])
            let b1 = remaining > 1 ? UInt32(bytes[index + 1]) : 0
            let b2 = remaining > 2 ? UInt32(bytes[index + 2]) : 0
            let triple = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(triple >> 18 & 63)])
            out.append(alphabet[Int(triple >> 12 & 63)])
            if remaining > 1 { out.append(alphabet[Int(triple >> 6 & 63)]) } else if !useURLSafe { out.append(UInt8(ascii: "=")) }
            if remaining > 2 { out.append(alphabet[Int(triple & 63)]) } else if !useURLSafe { out.append(UInt8(ascii: "=")) }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: - Decoding

    /// The bytes, or nil if `text` is not the canonical encoding of any bytes.
    public static func decode(_ text: some StringProtocol, urlSafe useURLSafe: Bool) -> [UInt8]? {
        var symbols = Array(text.utf8)
        if !useURLSafe {
            guard symbols.count % 4 == 0 else { return nil }
            var padding = 0
            while padding < 2, symbols.last == UInt8(ascii: "=") {
                symbols.removeLast()
                padding += 1
            }
        }
        guard symbols.count % 4 != 1 else { return nil }
        var values: [UInt8] = []
        values.reserveCapacity(symbols.count)
        for symbol in symbols {
            guard let value = sextet(symbol, urlSafe: useURLSafe) else { return nil }
            values.append(value)
        }
        var out: [UInt8] = []
        out.reserveCapacity(values.count * 3 / 4)
        var index = 0
        while index + 4 <= values.count {
            let quad = UInt32(values[index]) << 18 | UInt32(values[index + 1]) << 12
                | UInt32(values[index + 2]) << 6 | UInt32(values[index + 3])
            out.append(UInt8(truncatingIfNeeded: quad >> 16))
            out.append(UInt8(truncatingIfNeeded: quad >> 8))
            out.append(UInt8(truncatingIfNeeded: quad))
            index += 4
        }
        switch values.count - index {
        case 2:
            guard values[index + 1] & 0x0F == 0 else { return nil }
            out.append(values[index] << 2 | values[index + 1] >> 4)
        case 3:
            guard values[index + 2] & 0x03 == 0 else { return nil }
            out.append(values[index] << 2 | values[index + 1] >> 4)
            out.append(values[index + 1] << 4 | values[index + 2] >> 2)
        default:
            break
        }
        return out
    }

    private static func sextet(_ symbol: UInt8, urlSafe: Bool) -> UInt8? {
        switch symbol {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return symbol - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return symbol - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return symbol - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+") where !urlSafe, UInt8(ascii: "-") where urlSafe: return 62
        case UInt8(ascii: "/") where !urlSafe, UInt8(ascii: "_") where urlSafe: return 63
        default: return nil
        }
    }
}
