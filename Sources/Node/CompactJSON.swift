import Foundation

/// JSON text for the commands and answers the node builds on every request, with
/// object keys in a fixed order (Swift `String` order), so the same object always
/// gives the same bytes.
///
/// `JSONSerialization` with `.sortedKeys` did the same at a high price: it
/// bridges every dictionary to `NSDictionary` and sorts keys with a
/// locale-aware, case-insensitive comparison. Building, stamping and answering
/// a task enqueue through it was over a third of a leader's CPU.
///
/// Strings, Swift integers, exact `Bool`s, `NSNull`, arrays and string-keyed
/// dictionaries are written here; any other leaf (a `Double`, an `NSNumber`
/// parsed from a request) is written by `JSONSerialization` exactly as before.
/// Nil when a leaf is not JSON (the callers' old fallbacks still apply).
public enum CompactJSON {
    public static func data(_ object: [String: Any]) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        return write(object, into: &out) ? out : nil
    }

    /// `object` with `"at"` first: `{"at":0,...}`, so the leader can stamp the
    /// time without parsing (see `LifelineStateMachine.stamped`).
    static func dataWithTimeFirst(_ object: [String: Any], atMs: UInt64) -> [UInt8]? {
        var rest = object
        rest["at"] = nil
        var out: [UInt8] = Array("{\"at\":\(atMs)".utf8)
        out.reserveCapacity(256)
        for key in rest.keys.sorted() {
            out.append(UInt8(ascii: ","))
            appendString(key, into: &out)
            out.append(UInt8(ascii: ":"))
            guard write(rest[key]!, into: &out) else { return nil }
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    private static func write(_ value: Any, into out: inout [UInt8]) -> Bool {
        switch value {
        case let text as String:
            appendString(text, into: &out)
        case let dictionary as [String: Any]:
            out.append(UInt8(ascii: "{"))
            for (offset, key) in dictionary.keys.sorted().enumerated() {
                if offset > 0 { out.append(UInt8(ascii: ",")) }
                appendString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                guard write(dictionary[key]!, into: &out) else { return false }
            }
            out.append(UInt8(ascii: "}"))
        case let array as [Any]:
            out.append(UInt8(ascii: "["))
            for (offset, element) in array.enumerated() {
                if offset > 0 { out.append(UInt8(ascii: ",")) }
                guard write(element, into: &out) else { return false }
            }
            out.append(UInt8(ascii: "]"))
        case is NSNull:
            out.append(contentsOf: "null".utf8)
        default:
            // Exact Swift types only: `as? Int` or `as? Bool` would also accept an
            // NSNumber and could turn a parsed 1 into `true`.
            if type(of: value) == Bool.self, let flag = value as? Bool {
                out.append(contentsOf: (flag ? "true" : "false").utf8)
            } else if type(of: value) == Int.self, let number = value as? Int {
                out.append(contentsOf: String(number).utf8)
            } else if type(of: value) == UInt64.self, let number = value as? UInt64 {
                out.append(contentsOf: String(number).utf8)
            } else if type(of: value) == UInt32.self, let number = value as? UInt32 {
                out.append(contentsOf: String(number).utf8)
            } else if type(of: value) == Int64.self, let number = value as? Int64 {
                out.append(contentsOf: String(number).utf8)
            } else if let text = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed]) {
                out.append(contentsOf: text)
            } else {
                return false
            }
        }
        return true
    }

    private static func appendString(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = String(byte, radix: 16)
                out.append(contentsOf: ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8)
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
