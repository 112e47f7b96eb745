import Dispatch
import Synchronization

/// The O(state) work on the replicated state, done off the node loop: the state
/// hash the replicas compare, and the snapshot encoding for log compaction.
///
/// Both serialize the whole machine. On the loop they stopped Raft for as long
/// as that took: a 25 MiB state on a loaded 2-core machine held a leader's
/// heartbeats back long enough for a follower to start an election, and the
/// hash's back-off then kept replicas' hashes apart for minutes. The machine is
/// a value type, so the worker gets a copy for O(1) now (copy-on-write later)
/// and the loop keeps stepping Raft while it works.
///
/// The loop submits at most one job of each kind at a time and collects the
/// results each turn (`finished()`); the worker runs them one at a time, in order.
final class MachineWorker: Sendable {
    enum Result: Sendable {
        /// The state hash at `index` and what it cost.
        case hashed(index: UInt64, hash: String, costNs: UInt64)
        /// The encoded snapshot (`NodeSnapshotData`) at `index`, and the hash of the same state.
        case encoded(index: UInt64, data: [UInt8], hash: String, costNs: UInt64)
    }

    private let queue = DispatchQueue(label: "lifeline.machine-worker", qos: .utility)
    private let results = Mutex<[Result]>([])

    /// Hashes `machine` (the state at `index`).
    func hash(_ machine: any ReplicatedStateMachine, at index: UInt64) {
        queue.async { [self] in
            let started = MonotonicClock.nowNs()
            let hash = machine.stateHash
            let result = Result.hashed(index: index, hash: hash, costNs: MonotonicClock.nowNs() - started)
            self.results.withLock { $0.append(result) }
        }
    }

    /// Encodes `machine` (the state at `index`) with `directory` as a snapshot, and hashes it.
    func encodeSnapshot(_ machine: any ReplicatedStateMachine, directory: MemberDirectory, at index: UInt64) {
        queue.async { [self] in
            let started = MonotonicClock.nowNs()
            let state = machine.snapshot()
            let hash = StateDigest.hex(of: state)
            let data = NodeSnapshotData(directory: directory, machine: state).encoded()
            let result = Result.encoded(index: index, data: data, hash: hash, costNs: MonotonicClock.nowNs() - started)
            self.results.withLock { $0.append(result) }
        }
    }

    /// The results finished since the last call, in the order they finished.
    func finished() -> [Result] {
        results.withLock { finished in
            defer { finished.removeAll() }
            return finished
        }
    }
}
