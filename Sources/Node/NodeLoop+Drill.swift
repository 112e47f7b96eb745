import ContactCenter
import Foundation
import Glibc
import Raft
import Synchronization

/// The ack-before-commit bug's bookkeeping (drill `bugs: ["ack-before-commit"]`).
/// Empty and untouched unless that bug is on.
struct DrillAcks {
    /// Enqueues this leader proposed and has not answered yet: index → term.
    var waiting: [UInt64: UInt64] = [:]
    /// Indexes of the enqueue commands in the local log that are not applied yet,
    /// ascending: each will take the next task id if it applies.
    private(set) var unappliedEnqueues: [UInt64] = []

    /// An entry written to the local log. It replaces any entry at its index or
    /// after (a follower's conflicting suffix, a new leader's overwrite).
    mutating func appended(index: UInt64, isEnqueue: Bool) {
        while let last = unappliedEnqueues.last, last >= index { unappliedEnqueues.removeLast() }
        if isEnqueue { unappliedEnqueues.append(index) }
    }

    /// Enqueues in the local log before `index` that are not applied yet.
    func enqueues(before index: UInt64) -> Int {
        unappliedEnqueues.prefix { $0 < index }.count
    }

    mutating func applied(through index: UInt64) {
        if let first = unappliedEnqueues.first, first <= index { unappliedEnqueues.removeAll { $0 <= index } }
        if !waiting.isEmpty { waiting = waiting.filter { $0.key > index } }
    }
}

/// The drill hooks on the loop thread: the evidence recorder, the slow disk and
/// the deliberate bugs. See `DrillSettings`; all of it is inert unless configured.
extension NodeLoop {
    /// Starts recording at the state loaded from disk: the evidence is complete
    /// only from the next index on (earlier entries were applied by an earlier run).
    func startEvidence() {
        guard config.drill.evidence else { return }
        var recorder = DrillEvidence(fromIndex: applied + 1)
        if let lifeline = machine as? LifelineStateMachine { recorder.adopt(lifeline.center, snapshotIndex: applied) }
        evidence = recorder
    }

    /// Applies a normal entry, feeding the evidence recorder when it is on.
    func applyNormal(_ entry: Entry) -> [UInt8] {
        var command = entry.data
        if config.drill.has(.localClock), command.first == LifelineStateMachine.Tag.contact.rawValue, machine.hasLeaderDuties {
            // BUG (drill `local-clock`, on purpose): the time inside the state must
            // come from the leader's stamp in the command. Re-stamping with this
            // node's own wall clock at apply time makes replicas apply the same
            // entry at different times, so their states (and state hashes) diverge.
            let wallMs = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
            command = machine.stamped(command, atMs: wallMs)
        }
        guard evidence != nil else { return machine.apply(index: entry.index, command: command) }
        return machine.apply(index: entry.index, command: command) { events, after in
            evidence!.record(index: entry.index, events: events, center: after)
        }
    }

    /// Drill `diskDelay`: a slow disk, before each durable write of the Raft log.
    func delayDurableWrite() {
        let delayMs = published.fsyncDelayMs.load(ordering: .relaxed)
        guard delayMs > 0 else { return }
        var request = timespec(tv_sec: Int(delayMs / 1000), tv_nsec: Int(delayMs % 1000) * 1_000_000)
        nanosleep(&request, nil)
    }

    // MARK: - ack-before-commit

    /// A command this leader just appended to its log.
    func noteProposed(_ command: [UInt8], ticket: ProposalTicket) {
        guard config.drill.has(.ackBeforeCommit), Self.isEnqueue(command) else { return }
        drillAcks.waiting[ticket.index] = ticket.term
    }

    /// BUG (drill `ack-before-commit`, on purpose): answers a task enqueue as
    /// soon as it is durable in this leader's own log, before a quorum has it.
    /// If this leader is isolated, the entry is overwritten by the next leader and
    /// the acknowledged task never exists.
    ///
    /// Task ids are handed out by the core at apply time (1, 2, 3, ...), so the
    /// honest early answer is the id the entry WILL get if it applies in this
    /// log: the next id of the applied state plus the enqueues in the log before
    /// it. (It is off if an earlier enqueue is rejected at apply; and a lost
    /// entry's id is handed to a different task by the next leader, so a checker
    /// should compare the enqueue's log index too: the answer carries `index`,
    /// the evidence each task's `enqueueIndex`.)
    ///
    /// Called after `entries` were persisted and before any of them is applied.
    func acknowledgeEarly(_ entries: [Entry]) {
        for entry in entries {
            drillAcks.appended(index: entry.index, isEnqueue: entry.kind == .normal && Self.isEnqueue(entry.data))
        }
        guard !drillAcks.waiting.isEmpty else { return }
        let next = (machine as? LifelineStateMachine)?.center.nextTaskNumber ?? 1
        for entry in entries where drillAcks.waiting[entry.index] == entry.term {
            drillAcks.waiting[entry.index] = nil
            guard let waiting = pending.removeValue(forKey: entry.index), waiting.term == entry.term else { continue }
            let predicted = next + UInt64(drillAcks.enqueues(before: entry.index))
            answer(waiting.reply, .applied(index: entry.index, result: Array("{\"events\":[],\"ok\":true,\"task\":\(predicted)}".utf8)))
        }
    }

    static func isEnqueue(_ command: [UInt8]) -> Bool {
        guard command.first == LifelineStateMachine.Tag.contact.rawValue,
              let object = (try? JSONSerialization.jsonObject(with: Data(command.dropFirst()))) as? [String: Any]
        else { return false }
        return object["op"] as? String == "enqueue"
    }
}
