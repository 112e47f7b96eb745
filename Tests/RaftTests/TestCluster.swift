@testable import Raft

/// A tiny in-memory cluster for unit tests: messages are delivered by hand or in
/// rounds, storage is the Ready stream, nothing is ever lost unless a test drops it.
struct TestCluster {
    var nodes: [NodeID: RaftNode] = [:]
    var stored: [NodeID: PersistentState] = [:]
    var applied: [NodeID: [Entry]] = [:]
    var inFlight: [Message] = []
    var readStates: [NodeID: [ReadState]] = [:]
    var isolated: Set<NodeID> = []
    var readies: [NodeID: [Ready]] = [:]

    init(_ names: [String], configure: (inout RaftConfig) -> Void = { _ in }) {
        let ids = Set(names.map(NodeID.init))
        for (offset, id) in ids.sorted().enumerated() {
            var config = RaftConfig(id: id, initialVoters: ids)
            configure(&config)
            nodes[id] = RaftNode(config: config, state: PersistentState(), random: SeededRandom(seed: UInt64(offset + 1)))
            stored[id] = PersistentState()
            applied[id] = []
        }
    }

    static func id(_ name: String) -> NodeID { NodeID(name) }

    subscript(_ name: String) -> RaftNode {
        get { nodes[NodeID(name)]! }
        set { nodes[NodeID(name)] = newValue }
    }

    /// Drains every node's Ready, following the shell contract.
    mutating func process() {
        for id in nodes.keys.sorted() {
            while nodes[id]!.hasReady {
                let ready = nodes[id]!.ready()
                var state = stored[id]!
                if let snapshot = ready.snapshot {
                    state.snapshot = snapshot
                    state.entries.removeAll { $0.index <= snapshot.metadata.index }
                    applied[id] = []
                }
                if let first = ready.entries.first {
                    state.entries.removeAll { $0.index >= first.index }
                    state.entries.append(contentsOf: ready.entries)
                }
                if let hard = ready.hardState { state.hardState = hard }
                stored[id] = state
                inFlight.append(contentsOf: ready.messages)
                applied[id]!.append(contentsOf: ready.committedEntries)
                readStates[id, default: []].append(contentsOf: ready.readStates)
                readies[id, default: []].append(ready)
                nodes[id]!.advance(ready)
            }
        }
    }

    /// Delivers messages until none is left (bounded).
    mutating func settle(roundsMax: Int = 100) {
        for _ in 0..<roundsMax {
            process()
            if inFlight.isEmpty { return }
            let batch = inFlight
            inFlight.removeAll()
            for message in batch where !isolated.contains(message.from) && !isolated.contains(message.to) {
                nodes[message.to]?.step(message)
            }
        }
    }

    mutating func tickAll(_ count: Int) {
        for _ in 0..<count {
            for id in nodes.keys.sorted() { nodes[id]!.tick() }
            settle()
        }
    }

    mutating func elect(_ name: String) {
        self[name].campaign()
        settle()
    }

    var leaders: [NodeID] { nodes.values.filter { $0.status.role == .leader }.map(\.status.id) }

    func appliedData(_ name: String) -> [[UInt8]] {
        applied[NodeID(name)]!.filter { $0.kind == .normal }.map(\.data)
    }
}
