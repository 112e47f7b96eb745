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
        var out = JSONWriter()
        return write(object, into: &out) ? out.bytes : nil
    }

    /// `object` with `"at"` first: `{"at":0,...}`, so the leader can stamp the
    /// time without parsing (see `LifelineStateMachine.stamped`).
    static func dataWithTimeFirst(_ object: [String: Any], atMs: UInt64) -> [UInt8]? {
        var rest = object
        rest["at"] = nil
        var out = JSONWriter()
        out.raw("{\"at\":")
        out.number(atMs)
        return writeMembers(rest, into: &out, first: false) ? out.bytes : nil
    }

    /// The members of `dictionary` in key order, and the closing brace.
    private static func writeMembers(_ dictionary: [String: Any], into out: inout JSONWriter, first: Bool) -> Bool {
        for (offset, key) in dictionary.keys.sorted().enumerated() {
            if offset > 0 || !first { out.raw(",") }
            out.string(key)
            out.raw(":")
            guard write(dictionary[key]!, into: &out) else { return false }
        }
        out.raw("}")
        return true
    }

    private static func write(_ value: Any, into out: inout JSONWriter) -> Bool {
        switch value {
        case let text as String:
            out.string(text)
        case let dictionary as [String: Any]:
            out.raw("{")
            return writeMembers(dictionary, into: &out, first: true)
        case let array as [Any]:
            out.raw("[")
            for (offset, element) in array.enumerated() {
                if offset > 0 { out.raw(",") }
                guard write(element, into: &out) else { return false }
            }
            out.raw("]")
        case is NSNull:
            out.raw("null")
        default:
            // Exact Swift types only: `as? Int` or `as? Bool` would also accept an
            // NSNumber and could turn a parsed 1 into `true`.
            if type(of: value) == Bool.self, let flag = value as? Bool {
                out.raw(flag ? "true" : "false")
            } else if type(of: value) == Int.self, let number = value as? Int {
                out.raw(String(number))
            } else if type(of: value) == UInt64.self, let number = value as? UInt64 {
                out.number(number)
            } else if type(of: value) == UInt32.self, let number = value as? UInt32 {
                out.raw(String(number))
            } else if type(of: value) == Int64.self, let number = value as? Int64 {
                out.raw(String(number))
            } else if let text = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed]) {
                out.append(Array(text))
            } else {
                return false
            }
        }
        return true
    }
}
