import Raft

/// A small key-value store inside `LifelineStateMachine`: the raw replicated
/// write path (`/v1/kv`) that the node tests and `lifeline bench cluster` use.
///
/// Commands are binary: version byte, op byte, key (u32 length + UTF-8), value
/// (u32 length + bytes). Results are UTF-8 JSON.
public struct KeyValueStateMachine: ReplicatedStateMachine {
    public enum Operation: UInt8, Sendable {
        case put = 1
        case delete = 2
    }

    public static let keyBytesMax = 256
    public static let valueBytesMax = 64 * 1024
    static let formatVersion: UInt8 = 1

    public private(set) var values: [String: [UInt8]] = [:]
    /// Commands applied (including rejected ones), part of the state.
    public private(set) var appliedCommands: UInt64 = 0

    public init() {}

    /// The bytes of a command.
    public static func command(_ operation: Operation, key: String, value: [UInt8] = []) -> [UInt8] {
        var writer = ByteWriter(capacity: 16 + key.utf8.count + value.count)
        writer.write(formatVersion)
        writer.write(operation.rawValue)
        writer.writeString(key)
        writer.writeBytes(value)
        return writer.bytes
    }

    public mutating func apply(index: UInt64, command: [UInt8]) -> [UInt8] {
        appliedCommands += 1
        var reader = ByteReader(command)
        do {
            let version = try reader.readUInt8()
            guard version == KeyValueStateMachine.formatVersion else { return KeyValueStateMachine.failure("unknown command version") }
            let rawOperation = try reader.readUInt8()
            let key = try reader.readString(limit: KeyValueStateMachine.keyBytesMax)
            let value = try reader.readBytes(limit: KeyValueStateMachine.valueBytesMax)
            try reader.expectEnd()
            guard let operation = Operation(rawValue: rawOperation) else { return KeyValueStateMachine.failure("unknown operation") }
            switch operation {
            case .put:
                let existed = values.updateValue(value, forKey: key) != nil
                return Array("{\"ok\":true,\"index\":\(index),\"created\":\(!existed)}".utf8)
            case .delete:
                let existed = values.removeValue(forKey: key) != nil
                return Array("{\"ok\":true,\"index\":\(index),\"deleted\":\(existed)}".utf8)
            }
        } catch {
            return KeyValueStateMachine.failure("malformed command")
        }
    }

    static func failure(_ reason: String) -> [UInt8] {
        Array("{\"ok\":false,\"error\":\(Log.quoted(reason))}".utf8)
    }

    /// Sorted by key so that equal states give equal bytes (and equal hashes).
    public func snapshot() -> [UInt8] {
        var writer = ByteWriter(capacity: 64)
        writer.write(KeyValueStateMachine.formatVersion)
        writer.write(appliedCommands)
        writer.write(UInt32(values.count))
        for key in values.keys.sorted() {
            writer.writeString(key)
            writer.writeBytes(values[key]!)
        }
        return writer.bytes
    }

    public mutating func restore(_ bytes: [UInt8]) throws {
        var reader = ByteReader(bytes)
        let version = try reader.readUInt8()
        guard version == KeyValueStateMachine.formatVersion else { throw DecodingError("unknown key-value snapshot version \(version)", offset: 0) }
        let applied = try reader.readUInt64()
        let count = try reader.readUInt32()
        var restored: [String: [UInt8]] = [:]
        for _ in 0..<count {
            let key = try reader.readString(limit: KeyValueStateMachine.keyBytesMax)
            restored[key] = try reader.readBytes(limit: KeyValueStateMachine.valueBytesMax)
        }
        try reader.expectEnd()
        values = restored
        appliedCommands = applied
    }
}
