/// Strict JSON decoding: an unknown key is an error that names its path, so a typo in a
/// scenario file ("fsyncDelayMS") fails loudly instead of silently using a default.

/// Any key, to list what an object actually holds.
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}

extension Decoder {
    /// Throws `DecodingError.dataCorrupted` naming the first key not in `allowed`.
    /// MUST be called at the start of every strict `init(from:)`.
    func rejectUnknownKeys(allowed: Set<String>) throws {
        let container = try container(keyedBy: AnyCodingKey.self)
        for key in container.allKeys.sorted(by: { $0.stringValue < $1.stringValue })
        where !allowed.contains(key.stringValue) {
            throw DecodingError.dataCorrupted(DecodingError.Context(
                codingPath: codingPath + [key],
                debugDescription: "unknown key '\(key.stringValue)'; allowed: \(allowed.sorted().joined(separator: ", "))"
            ))
        }
    }
}

/// Renders a coding path as `steps[3].site`.
func renderPath(_ path: [any CodingKey]) -> String {
    var text = ""
    for key in path {
        if let index = key.intValue {
            text += "[\(index)]"
        } else {
            text += text.isEmpty ? key.stringValue : "." + key.stringValue
        }
    }
    return text.isEmpty ? "(top level)" : text
}

/// Turns a `DecodingError` into a path and a sentence a person can act on.
func describe(_ error: DecodingError) -> (path: String, message: String) {
    switch error {
    case .dataCorrupted(let context):
        return (renderPath(context.codingPath), context.debugDescription)
    case .keyNotFound(let key, let context):
        return (renderPath(context.codingPath + [key]), "missing required key '\(key.stringValue)'")
    case .typeMismatch(let type, let context):
        return (renderPath(context.codingPath), "expected \(type): \(context.debugDescription)")
    case .valueNotFound(let type, let context):
        return (renderPath(context.codingPath), "expected \(type), found null")
    @unknown default:
        return ("(unknown)", "\(error)")
    }
}
