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

/// `JSONWriter` with the commas of nested objects and arrays tracked, and
/// `JSONEncoder`'s string escaping.
struct CanonicalJSON {
    private var writer = JSONWriter()
    /// Per open container: whether it has a member yet.
    private var first: [Bool] = []

    var bytes: [UInt8] { writer.bytes }

    mutating func open(_ bracket: Character) {
        writer.raw(String(bracket))
        first.append(true)
    }

    mutating func close(_ bracket: Character) {
        writer.raw(String(bracket))
        first.removeLast()
    }

    /// Before an array element: the comma after the previous one.
    mutating func element() {
        if first[first.count - 1] { first[first.count - 1] = false } else { writer.raw(",") }
    }

    mutating func key(_ name: String) {
        element()
        string(name)
        writer.raw(":")
    }

    mutating func number(_ value: UInt64) { writer.number(value) }

    mutating func bool(_ value: Bool) { writer.raw(value ? "true" : "false") }

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

    mutating func string(_ text: String) { writer.string(text, likeJSONEncoder: true) }
}
