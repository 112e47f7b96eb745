import Raft

/// A fault-free cluster in one process, for the `bench raft` benchmark: messages
/// are handed over directly and storage is a counter. It measures the core alone.
public struct InMemoryCluster {
    private var nodes: [RaftNode]
    private var indexByID: [NodeID: Int]
    private var pending: [Message] = []
    public private(set) var committedOnLeader: UInt64 = 0
    public private(set) var messagesDelivered = 0
    private var rounds = 0

    public init(nodeCount: Int, entriesPerMessageMax: Int = 512) {
        let ids = (1...nodeCount).map { NodeID("n\($0)") }
        var nodes: [RaftNode] = []
        for (offset, id) in ids.enumerated() {
            var config = RaftConfig(id: id, initialVoters: Set(ids))
            config.entriesPerMessageMax = entriesPerMessageMax
            nodes.append(RaftNode(config: config, state: PersistentState(), random: SeededRandom(seed: UInt64(offset + 1))))
        }
        self.nodes = nodes
        indexByID = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
        self.nodes[0].campaign()
        settle()
        precondition(self.nodes[0].status.role == .leader, "the benchmark cluster elected no leader")
    }

    /// Proposes `count` entries of `payload` at the leader, then runs the cluster
    /// until nothing is in flight. Returns how many entries the leader applied.
    public mutating func round(count: Int, payload: [UInt8]) -> UInt64 {
        for _ in 0..<count {
            do {
                _ = try nodes[0].propose(payload)
            } catch {
                preconditionFailure("benchmark proposal refused: \(error)")
            }
        }
        let before = committedOnLeader
        settle()
        rounds += 1
        if rounds % 64 == 0 { compactAll() }
        return committedOnLeader - before
    }

    /// Every member snapshots at its applied index, as a real shell does, so the
    /// in-memory log stays bounded.
    private mutating func compactAll() {
        for index in nodes.indices {
            let status = nodes[index].status
            guard status.applied > status.snapshotIndex else { continue }
            do {
                try nodes[index].compact(index: status.applied, data: [])
            } catch {
                preconditionFailure("benchmark compaction refused: \(error)")
            }
        }
    }

    private mutating func settle() {
        var rounds = 0
        repeat {
            rounds += 1
            precondition(rounds < 10_000, "the benchmark cluster did not settle")
            for index in nodes.indices { drain(index) }
            let batch = pending
            pending.removeAll(keepingCapacity: true)
            for message in batch {
                guard let target = indexByID[message.to] else { continue }
                nodes[target].step(message)
                messagesDelivered += 1
            }
        } while !pending.isEmpty || nodes.contains(where: \.hasReady)
    }

    private mutating func drain(_ index: Int) {
        while nodes[index].hasReady {
            let ready = nodes[index].ready()
            pending.append(contentsOf: ready.messages)
            if index == 0 { committedOnLeader += UInt64(ready.committedEntries.count) }
            nodes[index].advance(ready)
        }
    }
}
