/// The identity of one Raft member (one Lifeline node).
///
/// A distinct type, not a bare string, so that a node id can never be passed where
/// a site, task or agent id is meant. Ids are short, printable names
/// (`boston-1`, `a`); `isValid` states the rule the CLI and config enforce.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String) {
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    public static func < (lhs: NodeID, rhs: NodeID) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    /// The longest node id accepted, in UTF-8 bytes.
    public static let bytesMax = 63

    /// True when the id is 1...63 characters of `a-z`, `0-9` and `-`, starting with
    /// a letter or digit: safe in a file name, a TLS SAN and a metrics label.
    public var isValid: Bool {
        let bytes = Array(rawValue.utf8)
        guard !bytes.isEmpty, bytes.count <= NodeID.bytesMax, bytes[0] != UInt8(ascii: "-") else {
            return false
        }
        return bytes.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: "-")
        }
    }
}

extension NodeID: Codable {
    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
