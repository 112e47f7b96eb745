import Raft

/// A linearizable read in flight on the loop.
struct PendingRead {
    var query: ReadQuery
    var completion: Completion<ProposalOutcome>
    var deadline: UInt64
    /// The read index the leader confirmed; nil until its ReadState arrives.
    var index: UInt64?
}

/// Linearizable reads through Raft's ReadIndex: ask the leader (or, as leader,
/// a quorum) for the commit index that is certainly current, wait until this
/// node has applied it, then run the query on the local state. No log entry is
/// written and a follower serves the read itself.
extension NodeLoop {
    static let readsMax = 4_096

    func startRead(_ query: @escaping ReadQuery, completion: Completion<ProposalOutcome>, deadline: UInt64) {
        guard reads.count < NodeLoop.readsMax else {
            completion.complete(.failed(status: 503, code: "busy", message: "too many reads in flight; retry shortly"))
            return
        }
        let id = nextReadID
        nextReadID += 1
        do {
            try core.readIndex(context: readContext(id))
        } catch {
            completion.complete(.failed(status: 503, code: "no_leader", message: "no leader to confirm a linearizable read: \(error)"))
            return
        }
        reads[id] = PendingRead(query: query, completion: completion, deadline: deadline, index: nil)
    }

    /// The context names this node as well as the read, so the leader never
    /// confuses two followers' reads.
    func readContext(_ id: UInt64) -> [UInt8] {
        var writer = ByteWriter(capacity: 32)
        writer.write(config.node)
        writer.write(id)
        return writer.bytes
    }

    func noteReadStates(_ states: [ReadState]) {
        for state in states {
            var reader = ByteReader(state.context)
            guard let node = try? reader.readNodeID(), node == config.node, let id = try? reader.readUInt64() else { continue }
            reads[id]?.index = state.index
        }
    }

    func serveReads() {
        for (id, read) in reads {
            guard let index = read.index, index <= applied else { continue }
            reads[id] = nil
            read.completion.complete(.applied(index: index, result: read.query(machine)))
        }
    }

    func expireReads(now: UInt64) {
        for (id, read) in reads where read.deadline <= now {
            reads[id] = nil
            read.completion.complete(.failed(status: 504, code: "timeout", message: "the read index was not confirmed in time (no quorum?)"))
        }
    }
}
