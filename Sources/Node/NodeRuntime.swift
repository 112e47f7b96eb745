import Foundation
import Raft
import Synchronization
import Vault

/// A running node: the loop thread, its inbox and its published view. The HTTP
/// API and the peer network talk to it only through this (Sendable) facade.
public final class NodeRuntime: Sendable {
    public let config: NodeConfig
    public let log: Log
    public let inbox: Inbox<NodeInput>
    let published: PublishedView
    /// The cluster key ring, when configured: patient fields are sealed with it.
    /// `reloadKeyRing` replaces it while the node runs.
    public var keyRing: KeyRing? { ring.withLock { $0 } }
    private let ring: Mutex<KeyRing?>
    private let finished = Completion<String?>()

    public static let inboxCapacity = 16_384
    public static let writeTimeoutMsDefault: UInt64 = 10_000

    public init(config: NodeConfig, log: Log, keyRing: KeyRing? = nil) {
        self.config = config
        self.log = log
        ring = Mutex(keyRing)
        inbox = Inbox(capacity: NodeRuntime.inboxCapacity)
        published = PublishedView(ClusterView(node: config.node, site: config.site, clusterID: config.clusterID))
    }

    /// What a key ring reload did.
    public struct KeyRingReload: Sendable {
        public let previous: KeyRing
        public let current: KeyRing
        public var changed: Bool {
            previous.activeVersion != current.activeVersion || previous.versions.map(\.version) != current.versions.map(\.version)
                || previous.retired != current.retired
        }
    }

    /// Reads the configured key ring file again and puts it in place of the
    /// running one when `KeyRing.checkReplacement` accepts it (a rotated ring,
    /// a retirement's tombstone). Any refusal keeps the running ring.
    public func reloadKeyRing() throws(VaultError) -> KeyRingReload {
        guard let path = config.keyRing else { throw VaultError(.keyRing, "this node has no key ring configured") }
        let loaded = try KeyRing.load(path: path)
        return try ring.withLock { current throws(VaultError) -> KeyRingReload in
            guard let previous = current else { throw VaultError(.keyRing, "this node started without a key ring") }
            try previous.checkReplacement(loaded)
            current = loaded
            return KeyRingReload(previous: previous, current: loaded)
        }
    }

    /// Starts the loop thread. `openStore` runs on that thread (the store is
    /// confined to it). Returns after the store loaded, or throws its error.
    public func start(network: any PeerNetwork, machine: any ReplicatedStateMachine,
                      openStore: @escaping @Sendable () throws -> any RaftLogStore) throws {
        let loaded = Completion<String?>()
        let thread = Thread { [self] in
            let loop: NodeLoop
            do {
                let store = try openStore()
                loop = try NodeLoop(config: config, log: log, inbox: inbox, network: network, published: published,
                                    store: store, machine: machine)
            } catch {
                loaded.complete("\(error)")
                finished.complete("\(error)")
                return
            }
            loaded.complete(nil)
            do {
                try loop.run()
                finished.complete(nil)
            } catch {
                log.error("node.loop_failed", [("reason", "\(error)")])
                finished.complete("\(error)")
            }
        }
        thread.name = "raft-loop"
        thread.stackSize = 8 << 20
        thread.start()
        if let failure = loaded.wait(timeoutMs: 600_000) ?? "the store did not open in time" {
            throw NodeStartError(message: failure)
        }
    }

    /// Asks the loop to stop (leader transfers first) and waits up to `timeoutMs`.
    /// Returns the loop's failure, or nil when it stopped cleanly.
    public func stop(timeoutMs: UInt64) -> String?? {
        inbox.push(.shutdown)
        return finished.wait(timeoutMs: timeoutMs)
    }

    /// Waits until the loop ends on its own (a disk failure) or `timeoutMs` passes.
    public func waitUntilFinished(timeoutMs: UInt64) -> String?? {
        finished.wait(timeoutMs: timeoutMs)
    }

    public var isFinished: Bool { finished.isCompleted }

    /// Token ids revoked by committed commands (checked on every API call).
    public var revokedTokens: Set<String> { published.revoked.read { $0 } }

    /// The loop's counters and latency histograms.
    public var metrics: NodeMetrics.Values { published.metrics.current }

    /// What the loop published last.
    public var view: ClusterView { published.mutex.withLock { $0 } }

    // MARK: - Client calls (any thread)

    /// Proposes an application command and waits until it applies (at the leader,
    /// through forwarding when this node is a follower) or `timeoutMs` passes.
    public func propose(_ command: [UInt8], timeoutMs: UInt64 = writeTimeoutMsDefault) -> ProposalOutcome {
        submit(timeoutMs: timeoutMs, late: "the command did not apply in time; it may still apply") { completion, deadline in
            .propose(command: command, completion: completion, deadline: deadline)
        }
    }

    /// Proposes an application command and returns at once: `then` receives the
    /// outcome on the node loop's thread (so it must be quick and never block)
    /// when the command applies, fails, or is still unapplied `timeoutMs` from
    /// now (504, it may still apply); on the caller's thread, at once, when the
    /// inbox is full.
    public func propose(_ command: [UInt8], timeoutMs: UInt64 = writeTimeoutMsDefault,
                        then: @escaping @Sendable (ProposalOutcome) -> Void) {
        let deadline = MonotonicClock.nowNs() + timeoutMs * 1_000_000
        if !inbox.push(.propose(command: command, completion: Completion(then: then), deadline: deadline)) { then(.inboxFull) }
    }

    /// Pushes the input `make` builds (with a fresh completion and the deadline
    /// `timeoutMs` from now) and waits for its answer; 503 when the inbox is full,
    /// 504 with `late` when no answer comes in time.
    func submit(timeoutMs: UInt64, late: String,
                _ make: (Completion<ProposalOutcome>, _ deadline: UInt64) -> NodeInput) -> ProposalOutcome {
        let completion = Completion<ProposalOutcome>()
        let deadline = MonotonicClock.nowNs() + timeoutMs * 1_000_000
        guard inbox.push(make(completion, deadline)) else {
            return .inboxFull
        }
        return completion.wait(timeoutMs: timeoutMs) ?? .failed(status: 504, code: "timeout", message: late)
    }

    /// Proposes a membership change at the leader and waits until it applies.
    public func changeMembers(_ change: ConfChange, timeoutMs: UInt64 = writeTimeoutMsDefault) -> ProposalOutcome {
        submit(timeoutMs: timeoutMs, late: "the change did not apply in time; it may still apply") { completion, deadline in
            .confChange(change, completion: completion, deadline: deadline)
        }
    }

    /// Asks the leader to transfer leadership to `target`, then waits until this
    /// node sees `target` lead or `timeoutMs` passes.
    public func transferLeader(to target: NodeID, timeoutMs: UInt64 = writeTimeoutMsDefault) -> ProposalOutcome {
        let completion = Completion<ProposalOutcome>()
        guard inbox.push(.transferLeader(to: target, completion: completion)) else {
            return .inboxFull
        }
        let deadline = MonotonicClock.deadline(afterMs: timeoutMs)
        guard let started = completion.wait(timeoutMs: timeoutMs) else {
            return .failed(status: 504, code: "timeout", message: "the loop did not answer in time")
        }
        guard case .applied = started else { return started }
        while MonotonicClock.now() < deadline {
            let view = self.view
            if view.leader == target { return .applied(index: view.commitIndex, result: []) }
            waitForViewChange(ms: 10)
        }
        return .failed(status: 504, code: "timeout", message: "\(target) did not take over in time")
    }

    /// Runs `query` on the state machine linearizably (ReadIndex: the answer
    /// reflects every write acknowledged before the call), or fails with 503/504.
    public func read(timeoutMs: UInt64 = writeTimeoutMsDefault, _ query: @escaping ReadQuery) -> ProposalOutcome {
        submit(timeoutMs: timeoutMs, late: "the read did not complete in time") { completion, deadline in
            .read(query: query, completion: completion, deadline: deadline)
        }
    }

    /// Runs `query` on this node's applied state as it is now (no round trip to
    /// the leader; may be slightly behind it).
    public func localRead(timeoutMs: UInt64 = writeTimeoutMsDefault, _ query: @escaping ReadQuery) -> ProposalOutcome {
        submit(timeoutMs: timeoutMs, late: "the loop did not answer in time") { completion, _ in
            .localRead(query: query, completion: completion)
        }
    }

    /// A consistent copy of this node's applied state (see `BackupImage`), or nil
    /// when the loop does not answer within `timeoutMs`.
    public func backup(timeoutMs: UInt64 = writeTimeoutMsDefault) -> BackupImage? {
        let completion = Completion<BackupImage>()
        guard inbox.push(.backup(completion: completion)) else { return nil }
        return completion.wait(timeoutMs: timeoutMs)
    }

    /// The drill evidence taken at one point of the loop, `.some(nil)` when
    /// `drill.evidence` is off, nil when the loop does not answer in time.
    func drillEvidence(timeoutMs: UInt64 = writeTimeoutMsDefault) -> DrillEvidenceImage?? {
        let completion = Completion<DrillEvidenceImage?>()
        guard inbox.push(.drillEvidence(completion: completion)) else { return nil }
        return completion.wait(timeoutMs: timeoutMs)
    }

    /// The delay before each durable write of the Raft log (drill `diskDelay`).
    public var fsyncDelayMs: UInt64 { published.fsyncDelayMs.load(ordering: .relaxed) }

    public func setFsyncDelay(ms: UInt64) {
        precondition(DrillSettings.fsyncDelayMsRange.contains(ms), "fsync delay \(ms) ms outside \(DrillSettings.fsyncDelayMsRange)")
        published.fsyncDelayMs.store(ms, ordering: .relaxed)
    }

    /// Sleeps briefly between polls of the published view (bounded by callers' deadlines).
    func waitForViewChange(ms: UInt64) {
        var request = timespec(tv_sec: 0, tv_nsec: Int(ms) * 1_000_000)
        nanosleep(&request, nil)
    }
}

/// The node could not start (store failed to open or load).
public struct NodeStartError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { "node did not start: \(message)" }
}

/// The loop's latest view, shared with the HTTP threads (a `Mutex` cannot be
/// copied, so it lives in one object both hold).
final class PublishedView: Sendable {
    let mutex: Mutex<ClusterView>
    /// Counters and histograms for `/metrics`, updated by the loop.
    let metrics = NodeMetrics()
    /// Revoked token ids as of the last applied revocation, for the API's checks.
    let revoked = ReadMostly<Set<String>>([])
    /// Drill `diskDelay`: ms the loop sleeps before each durable write of the log.
    let fsyncDelayMs = Atomic<UInt64>(0)

    init(_ view: ClusterView) {
        mutex = Mutex(view)
    }
}
