/// Why a node's database cannot be used. Every message names the file, says what
/// is wrong, and what an operator can do; the file is never changed by a refusal.
public struct StorageError: Error, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case missing
        case notADatabase
        case integrity
        case schemaVersion
        case wrongCluster
        case wrongNode
        case checksum
        case gap
        case io
    }

    public var kind: Kind
    public var path: String
    public var reason: String

    public var description: String { "\(path): \(reason)" }

    static func refuse(_ kind: Kind, _ path: String, _ reason: String) -> StorageError {
        StorageError(kind: kind, path: path, reason: reason + "; refusing to start. Restore this node from a backup or re-add it to the cluster as a new member.")
    }
}
