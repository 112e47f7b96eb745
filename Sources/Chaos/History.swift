import Foundation
import Synchronization

/// What a client operation did: an enqueue, an agent's offer poll, an accept with its
/// fencing token, a complete, a caller's abandon, or a linearizable read of a task.
public enum OperationKind: String, Codable, Sendable, CaseIterable {
    case enqueue, offer, accept, complete, abandon, read
}

/// How a client operation ended. `unknown` means the client gave up without an answer
/// (timeout, connection lost): it may or may not have taken effect, at any later time.
public enum Outcome: String, Codable, Sendable {
    case ok, failed, unknown
}

/// A task's state as the API reports it. `absent`: the node does not know the task.
public enum TaskState: String, Codable, Sendable, CaseIterable {
    case absent, queued, offered, accepted, completed, abandoned
}

/// The arguments and results of an operation. Which fields are set depends on the kind:
/// - enqueue: `queue`, `priority`, `emergency` (in); `site` = the ingress site.
/// - offer: `agent`, `token` (the offer observed); `site` = the agent's site.
/// - accept: `agent`, `token` (in). complete: `agent` (in). abandon: none.
/// - read: `state`, `agent`, `token` (out).
/// - any failed operation: `error`, a short code without PHI.
public struct OperationValue: Codable, Equatable, Sendable {
    public var queue: String?
    public var priority: Int?
    public var emergency: Bool?
    public var agent: AgentID?
    public var token: UInt64?
    public var state: TaskState?
    public var site: SiteName?
    public var error: String?
    /// enqueue (out, optional): the log index the cluster said the task entered at. A
    /// task found under the same id but entered at another index is a different call.
    public var index: UInt64?

    public init(
        queue: String? = nil, priority: Int? = nil, emergency: Bool? = nil, agent: AgentID? = nil,
        token: UInt64? = nil, state: TaskState? = nil, site: SiteName? = nil, error: String? = nil, index: UInt64? = nil
    ) {
        self.index = index
        self.queue = queue
        self.priority = priority
        self.emergency = emergency
        self.agent = agent
        self.token = token
        self.state = state
        self.site = site
        self.error = error
    }
}

/// One client operation in the drill's history: what was asked, by whom, when it was
/// invoked and when it completed (microseconds since the drill started, harness clock),
/// and how it ended. One JSON object per line in `history.jsonl`.
public struct ClientOperation: Codable, Equatable, Sendable {
    /// Unique within the history, increasing in invocation order.
    public var id: UInt64
    /// The simulated client that issued it ("agent-boston-2", "ivr-denver").
    public var client: String
    public var kind: OperationKind
    public var task: TaskID
    public var invokeUs: UInt64
    /// When the answer arrived, or when the client gave up (`unknown`).
    public var completeUs: UInt64
    public var outcome: Outcome
    public var value: OperationValue

    public init(
        id: UInt64, client: String, kind: OperationKind, task: TaskID, invokeUs: UInt64, completeUs: UInt64,
        outcome: Outcome, value: OperationValue = OperationValue()
    ) {
        precondition(completeUs >= invokeUs, "operation \(id) completes (\(completeUs)) before it is invoked (\(invokeUs))")
        self.id = id
        self.client = client
        self.kind = kind
        self.task = task
        self.invokeUs = invokeUs
        self.completeUs = completeUs
        self.outcome = outcome
        self.value = value
    }

    /// Changes state when applied (everything but offer observations and reads).
    public var isWrite: Bool { kind == .enqueue || kind == .accept || kind == .complete || kind == .abandon }
}

/// Why a history file could not be read.
public struct HistoryError: Error, Equatable, CustomStringConvertible {
    public var line: Int
    public var message: String
    public var description: String { line > 0 ? "history line \(line): \(message)" : "history: \(message)" }
}

// MARK: - Writing

/// Appends operations to a JSON-lines file as clients complete them. Thread-safe: the
/// workload's client threads share one writer. Every line is flushed to the file as it is
/// written, so a harness crash loses at most the line being written.
public final class HistoryWriter: Sendable {
    public static let operationsMax = 10_000_000

    private struct State {
        var handle: FileHandle?
        var count = 0
    }

    public let url: URL
    private let state: Mutex<State>

    /// Creates (or truncates) the file.
    public init(url: URL) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw HistoryError(line: 0, message: "cannot create \(url.path)")
        }
        self.url = url
        self.state = Mutex(State(handle: try FileHandle(forWritingTo: url)))
    }

    /// Appends one operation. Returns false (and writes nothing) past `operationsMax` or after `close`.
    @discardableResult
    public func append(_ operation: ClientOperation) -> Bool {
        var line = Self.encode(operation)
        line.append(0x0a)
        return state.withLock { state in
            guard let handle = state.handle, state.count < Self.operationsMax else { return false }
            handle.write(line)
            state.count += 1
            return true
        }
    }

    public func close() {
        state.withLock { state in
            try? state.handle?.synchronize()
            try? state.handle?.close()
            state.handle = nil
        }
    }

    static func encode(_ operation: ClientOperation) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return try encoder.encode(operation)
        } catch {
            preconditionFailure("a ClientOperation always encodes: \(error)")
        }
    }
}

// MARK: - Reading

public enum History {
    public static let lineBytesMax = 64 * 1024

    /// Parses a JSON-lines history; blank lines are skipped.
    public static func parse(_ data: Data) throws(HistoryError) -> [ClientOperation] {
        var operations: [ClientOperation] = []
        let decoder = JSONDecoder()
        var lineNumber = 0
        for line in data.split(separator: 0x0a, omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x0d }) { continue }
            guard line.count <= lineBytesMax else {
                throw HistoryError(line: lineNumber, message: "longer than \(lineBytesMax) bytes")
            }
            do {
                operations.append(try decoder.decode(ClientOperation.self, from: Data(line)))
            } catch {
                throw HistoryError(line: lineNumber, message: "not an operation: \(error)")
            }
        }
        return operations
    }

    public static func read(contentsOf url: URL) throws(HistoryError) -> [ClientOperation] {
        do {
            return try parse(try Data(contentsOf: url))
        } catch let error as HistoryError {
            throw error
        } catch {
            throw HistoryError(line: 0, message: "cannot read \(url.lastPathComponent): \(error.localizedDescription)")
        }
    }

    /// The SHA-256 of the file's bytes, hex, read in bounded pieces.
    public static func sha256(ofFile url: URL) throws(HistoryError) -> String {
        let pieceBytes = 1024 * 1024
        do {
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            var hasher = SHA256()
            while let piece = try handle.read(upToCount: pieceBytes), !piece.isEmpty {
                hasher.update(piece)
            }
            return SHA256.hex(hasher.finalize())
        } catch {
            throw HistoryError(line: 0, message: "cannot hash \(url.lastPathComponent): \(error.localizedDescription)")
        }
    }
}
