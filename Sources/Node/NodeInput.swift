import Raft

/// How a client's write ended. Sendable so the loop can hand it to any thread.
public enum ProposalOutcome: Sendable, Equatable {
    /// The command committed and applied at `index`; `result` is the state machine's answer.
    case applied(index: UInt64, result: [UInt8])
    /// It did not apply (or may not have): `status` and `code` for the API's error.
    case failed(status: Int, code: String, message: String)

    /// The node's inbox is full: nothing was proposed.
    static let inboxFull = ProposalOutcome.failed(status: 503, code: "busy", message: "the node's inbox is full; retry shortly")

    static func noLeader() -> ProposalOutcome {
        .failed(status: 503, code: "no_leader", message: "no leader is known; retry shortly")
    }

    static func superseded(_ index: UInt64) -> ProposalOutcome {
        .failed(status: 503, code: "superseded", message: "a different entry committed at index \(index) after a leader change; the command did not apply")
    }
}

/// Where the answer to a proposal goes: a waiting thread on this node, or the
/// follower that forwarded it.
enum ProposalReply: Sendable {
    case local(Completion<ProposalOutcome>)
    case remote(NodeID, requestID: UInt64)

    var isLocal: Bool {
        if case .local = self { return true }
        return false
    }
}

/// Everything the node loop reads from its one bounded inbox.
/// A read-only question to the replicated state machine; runs on the loop thread.
public typealias ReadQuery = @Sendable (any ReplicatedStateMachine) -> [UInt8]

public enum NodeInput: Sendable {
    /// Raft messages from a peer link.
    case peerMessages([Message])
    /// A peer link lost its connection: tell the core so it probes gently.
    case peerUnreachable(NodeID)
    /// A client's command (at a follower, it is forwarded to the leader).
    case propose(command: [UInt8], completion: Completion<ProposalOutcome>, deadline: UInt64)
    /// A follower's forwarded command arriving at this node (should be the leader).
    case forwardRequest(from: NodeID, requestID: UInt64, command: [UInt8], deadline: UInt64)
    /// The leader's answer to a command this node forwarded.
    case forwardResponse(requestID: UInt64, outcome: ProposalOutcome)
    /// A membership change (leader only).
    case confChange(ConfChange, completion: Completion<ProposalOutcome>, deadline: UInt64)
    /// Ask the leader to hand leadership to `to`.
    case transferLeader(to: NodeID, completion: Completion<ProposalOutcome>)
    /// A linearizable read: `query` runs on the state machine once this node has
    /// applied up to a read index the leader confirmed with a quorum (ReadIndex).
    case read(query: ReadQuery, completion: Completion<ProposalOutcome>, deadline: UInt64)
    /// A read of this node's applied state as it is now (may lag the leader):
    /// for polling, never for decisions.
    case localRead(query: ReadQuery, completion: Completion<ProposalOutcome>)
    /// The drill evidence with the applied index and state it goes with (nil
    /// when `drill.evidence` is off).
    case drillEvidence(completion: Completion<DrillEvidenceImage?>)
    /// A consistent copy of the applied state, for `lifeline backup`.
    case backup(completion: Completion<BackupImage>)
    /// Stop: transfer leadership if leader (bounded), flush, and end the loop.
    case shutdown
}

// MARK: - Forward frame payloads

/// The bytes of a forward request frame: request id, time budget, command.
struct ForwardRequestPayload: Sendable, Equatable {
    var requestID: UInt64
    var budgetMs: UInt64
    var command: [UInt8]

    func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: command.count + 24)
        writer.write(UInt8(1))
        writer.write(requestID)
        writer.write(budgetMs)
        writer.writeBytes(command)
        return writer.bytes
    }

    init(requestID: UInt64, budgetMs: UInt64, command: [UInt8]) {
        self.requestID = requestID
        self.budgetMs = budgetMs
        self.command = command
    }

    init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        guard try reader.readUInt8() == 1 else { throw DecodingError("unknown forward request version", offset: 0) }
        requestID = try reader.readUInt64()
        budgetMs = try reader.readUInt64()
        command = try reader.readBytes(limit: CodecLimits.entryBytesMax)
        try reader.expectEnd()
    }
}

/// The bytes of a forward response frame: request id and outcome.
struct ForwardResponsePayload: Sendable, Equatable {
    var requestID: UInt64
    var outcome: ProposalOutcome

    func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 64)
        writer.write(UInt8(1))
        writer.write(requestID)
        switch outcome {
        case .applied(let index, let result):
            writer.write(UInt8(0))
            writer.write(index)
            writer.writeBytes(result)
        case .failed(let status, let code, let message):
            writer.write(UInt8(1))
            writer.write(UInt32(status))
            writer.writeString(code)
            writer.writeString(message)
        }
        return writer.bytes
    }

    init(requestID: UInt64, outcome: ProposalOutcome) {
        self.requestID = requestID
        self.outcome = outcome
    }

    init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        guard try reader.readUInt8() == 1 else { throw DecodingError("unknown forward response version", offset: 0) }
        requestID = try reader.readUInt64()
        switch try reader.readUInt8() {
        case 0:
            let index = try reader.readUInt64()
            outcome = .applied(index: index, result: try reader.readBytes(limit: CodecLimits.entryBytesMax))
        case 1:
            let status = Int(try reader.readUInt32())
            let code = try reader.readString(limit: 64)
            outcome = .failed(status: status, code: code, message: try reader.readString(limit: 1024))
        default:
            throw DecodingError("unknown forward outcome", offset: 9)
        }
        try reader.expectEnd()
    }
}
