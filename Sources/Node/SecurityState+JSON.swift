import Vault

/// The security state's canonical JSON, written directly: the same bytes as
/// `JSONEncoder` with `.sortedKeys` gives for `SecurityState`'s `Codable`
/// form (which still decodes it), without the encoder's per-value boxing.
/// Snapshots and state hashes encode the whole state: with `JSONEncoder` that
/// was a quarter of the cluster's CPU during task enqueue at tens of thousands
/// of queued tasks (Docs/performance.md). `SecurityStateJSONTests` holds the
/// two byte for byte equal.
extension SecurityState {
    func canonicalJSON() -> [UInt8] {
        var out = CanonicalJSON()
        out.bytes.reserveCapacity(4096 + events.count * 300 + records.count * 200 + keys.entries.count * 140)
        out.open("{")
        // Keys in sorted order, as `.sortedKeys` writes them.
        if let archivedHash {
            out.key("archivedHash")
            out.numbers(archivedHash)
        }
        if let archivedThrough {
            out.key("archivedThrough")
            out.number(archivedThrough)
        }
        out.key("events")
        out.open("[")
        for event in events {
            out.element()
            out.open("{")
            out.key("action"); out.string(event.action)
            out.key("actor"); out.string(event.actor)
            out.key("breakGlass"); out.bool(event.breakGlass)
            out.key("outcome"); out.string(event.outcome.rawValue)
            out.key("prevHash"); out.string(Hex.encode(event.prevHash))
            out.key("reason"); out.string(event.reason)
            out.key("resources"); out.strings(event.resources)
            out.key("role"); out.string(event.role.rawValue)
            out.key("sequence"); out.number(event.sequence)
            out.key("timeMs"); out.number(event.timeMs)
            out.close("}")
        }
        out.close("]")
        out.key("keys")
        out.open("{")
        out.key("entries")
        out.open("[")
        for (patient, entry) in keys.entries.sorted(by: { $0.key < $1.key }) {
            out.element()
            out.open("{")
            out.key("entry")
            out.open("{")
            out.key("lastRecordMs"); out.number(entry.lastRecordMs)
            out.key("wrapped"); out.string(entry.wrapped.base64)
            out.close("}")
            out.key("patient"); out.string(patient.rawValue)
            out.close("}")
        }
        out.close("]")
        out.key("shredded")
        out.strings(keys.shredded.sorted().map(\.rawValue))
        out.close("}")
        out.key("lastHash")
        out.numbers(lastHash)
        out.key("nextSequence")
        out.number(nextSequence)
        out.key("records")
        out.open("{")
        for (patient, fields) in records.sorted(by: { Self.utf8Less($0.key, $1.key) }) {
            out.key(patient)
            out.open("{")
            for (name, field) in fields.sorted(by: { Self.utf8Less($0.key, $1.key) }) {
                out.key(name)
                out.string(field.base64)
            }
            out.close("}")
        }
        out.close("}")
        if let retiredKEKVersions {
            out.key("retiredKEKVersions")
            out.open("[")
            for version in retiredKEKVersions {
                out.element()
                out.number(UInt64(version))
            }
            out.close("]")
        }
        out.key("revoked")
        out.open("{")
        for (token, expiry) in revoked.sorted(by: { Self.utf8Less($0.key, $1.key) }) {
            out.key(token)
            out.number(expiry)
        }
        out.close("}")
        out.key("verifications")
        out.open("{")
        for (task, method) in verifications.sorted(by: { Self.utf8Less($0.key, $1.key) }) {
            out.key(task)
            out.string(method)
        }
        out.close("}")
        out.close("}")
        return out.bytes
    }

    /// The order `.sortedKeys` puts object keys in: by their UTF-8 bytes.
    static func utf8Less(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}

/// A minimal JSON writer with `JSONEncoder`'s escaping: `"`, `\`, `/`,
/// `\b \f \n \r \t`, other control characters as `\u00xx`, the rest as UTF-8.
struct CanonicalJSON {
    var bytes: [UInt8] = []
    /// Per open container: whether it has a member yet.
    private var first: [Bool] = []

    mutating func open(_ bracket: Character) {
        bytes.append(bracket == "{" ? UInt8(ascii: "{") : UInt8(ascii: "["))
        first.append(true)
    }

    mutating func close(_ bracket: Character) {
        bytes.append(bracket == "}" ? UInt8(ascii: "}") : UInt8(ascii: "]"))
        first.removeLast()
    }

    /// Before an array element: the comma after the previous one.
    mutating func element() {
        if first[first.count - 1] { first[first.count - 1] = false } else { bytes.append(UInt8(ascii: ",")) }
    }

    mutating func key(_ name: String) {
        element()
        string(name)
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func number(_ value: UInt64) {
        bytes.append(contentsOf: String(value).utf8)
    }

    mutating func bool(_ value: Bool) {
        bytes.append(contentsOf: value ? Array("true".utf8) : Array("false".utf8))
    }

    mutating func numbers(_ values: [UInt8]) {
        open("[")
        for value in values {
            element()
            number(UInt64(value))
        }
        close("]")
    }

    mutating func strings(_ values: [String]) {
        open("[")
        for value in values {
            element()
            string(value)
        }
        close("]")
    }

    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [0x5C, 0x5C])
            case UInt8(ascii: "/"): bytes.append(contentsOf: [0x5C, 0x2F])
            case 0x08: bytes.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: bytes.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
