import ContactCenter

/// The routing evidence the drill harness's checkers read from a node
/// (`GET /v1/drill/evidence`, only with `drill.evidence` on): an offers log, one
/// record per routing event in log order, and a record of every task ever seen,
/// kept after the core evicts closed tasks.
///
/// Fed ONLY by applied log entries (the events of applied contact-center
/// commands), so two replicas that applied the same entries hold the same
/// evidence. It lives beside the state machine, never in it: the replicated
/// state, its snapshot bytes and its state hash are the same with or without it.
///
/// Mapping of the core's events to offer kinds (the harness's `OfferEvent.Kind`):
/// - `taskCreated` → `enqueued` (once per task, even for a callback scheduled
///   for later or parked until opening hours);
/// - `taskOffered` → `offered` (agent, fencing token);
/// - `taskAccepted` → `accepted` (agent, the offer's token);
/// - `taskCompleted` → `completed` (agent; also a wrap-up finished by `SiteDown`);
/// - `taskAbandoned` → `abandoned`;
/// - `released` (agent and token of the offer or hold let go) when a task that
///   was offered or accepted goes back to waiting: `offerDeclined`,
///   `offerExpired`, `failoverDrop` (its site went down: a voice task becomes a
///   callback at its original place), `taskQueued` (requeued by `SiteDown` from
///   an agent at the lost site), `transferred`, `escalated`, and
///   `callbackScheduled` (the patient asked for a callback while offered).
///   The same events for a task that was only waiting change nothing here.
/// - No record: `taskQueued` of a new or overflowing task (still waiting),
///   `overflowed` (the task keeps waiting, in another queue: its record's queue
///   follows), `callbackDue`, `taskWrapUp` (the agent still holds the task), and
///   the events that do not concern a task.
///
/// Bounded: at most `offersMax` offer records and `tasksMax` tasks; beyond either,
/// nothing more is added there and `truncated` says so.
///
/// Not thread-safe by itself: a value owned by the node loop; the API gets copies.
struct DrillEvidence: Sendable {
    enum Kind: String, Sendable {
        case enqueued, offered, accepted, released, completed, abandoned
    }

    /// A task's state as the harness names it: wrap-up counts as accepted (the
    /// agent still holds it), a scheduled callback as queued.
    enum Phase: String, Sendable {
        case queued, offered, accepted, completed, abandoned
    }

    struct OfferRecord: Sendable, Equatable {
        var index: UInt64
        var kind: Kind
        var task: TaskID
        var agent: AgentID?
        var token: UInt64?
    }

    struct TaskRecord: Sendable, Equatable {
        var id: TaskID
        var phase: Phase
        /// The holder (offered, accepted) or the agent that completed it.
        var agent: AgentID?
        /// The fencing token of the holder's offer.
        var token: UInt64?
        var queue: QueueID
        /// The task's own priority (as enqueued; the queue's is not added).
        var priority: UInt8
        var emergency: Bool
        /// The caller's place in line (leader-stamped ms), kept through failover.
        var enqueueTimeMs: UInt64
        /// The log index of its enqueue; 0 when first seen in a snapshot.
        var enqueueIndex: UInt64
        /// The site whose node took the call (never changes).
        var site: ContactCenter.SiteID
    }

    static let offersMaxDefault = 2_000_000
    static let tasksMaxDefault = 1_000_000

    let offersMax: Int
    let tasksMax: Int
    private(set) var offers: [OfferRecord] = []
    private(set) var tasks: [TaskID: TaskRecord] = [:]
    /// The evidence is complete for log indexes `fromIndex...`: earlier entries
    /// were applied before recording began (a restart replays only the log after
    /// the local snapshot) or arrived inside an installed snapshot.
    private(set) var fromIndex: UInt64
    private(set) var truncated = false

    init(fromIndex: UInt64, offersMax: Int = offersMaxDefault, tasksMax: Int = tasksMaxDefault) {
        precondition(offersMax >= 0 && tasksMax >= 0, "evidence limits must not be negative: \(offersMax), \(tasksMax)")
        self.fromIndex = fromIndex
        self.offersMax = offersMax
        self.tasksMax = tasksMax
    }

    // MARK: - Recording

    /// Takes in the tasks of a state recording did not see built (at start, or a
    /// snapshot installed at `snapshotIndex`): their current records, no offer
    /// events. The evidence is complete only from the next index on.
    /// A task recorded before keeps its enqueue index; its state and holder are
    /// the snapshot's (what happened in the gap is not known).
    mutating func adopt(_ center: ContactCenterState, snapshotIndex: UInt64) {
        fromIndex = max(fromIndex, snapshotIndex + 1)
        for task in center.allTasks {
            guard var record = tasks[task.id] ?? newRecord(task, index: 0) else { continue }
            record.phase = Self.phase(task.state)
            record.agent = task.agent
            record.token = task.agent == nil ? nil : task.token
            tasks[task.id] = refreshed(record, from: task)
        }
    }

    /// Records what one applied command did: `events` from the command applied at
    /// `index`; `center` is the state after it.
    mutating func record(index: UInt64, events: [ContactEvent], center: ContactCenterState) {
        var touched: [TaskID] = []
        for event in events {
            guard let id = Self.task(of: event) else { continue }
            touched.append(id)
            note(event, task: id, index: index, center: center)
        }
        // Queue, priority, emergency and place follow the core; the state and the
        // holder follow the events (the core forgets evicted tasks).
        for id in touched {
            guard let record = tasks[id], let task = center.task(id) else { continue }
            tasks[id] = refreshed(record, from: task)
        }
    }

    private mutating func note(_ event: ContactEvent, task id: TaskID, index: UInt64, center: ContactCenterState) {
        if case .taskCreated = event {
            // `center` is the state after the whole command: the task may already be
            // offered. The events that follow say so; it starts out waiting.
            guard tasks[id] == nil, let task = center.task(id), var record = newRecord(task, index: index) else { return }
            record.phase = .queued
            record.agent = nil
            record.token = nil
            tasks[id] = record
            append(OfferRecord(index: index, kind: .enqueued, task: id))
            return
        }
        guard var record = tasks[id] else { return }
        switch event {
        case .taskOffered(_, let agent, let token, _):
            record.phase = .offered
            record.agent = agent
            record.token = token
            append(OfferRecord(index: index, kind: .offered, task: id, agent: agent, token: token))
        case .taskAccepted(_, let agent, _, _, _, _):
            record.phase = .accepted
            record.agent = agent
            append(OfferRecord(index: index, kind: .accepted, task: id, agent: agent, token: record.token))
        case .taskCompleted(_, let agent, _, _, _, _):
            record.phase = .completed
            record.agent = agent
            append(OfferRecord(index: index, kind: .completed, task: id, agent: agent, token: record.token))
        case .taskAbandoned:
            record.phase = .abandoned
            record.agent = nil
            record.token = nil
            append(OfferRecord(index: index, kind: .abandoned, task: id))
        case .offerDeclined, .offerExpired, .failoverDrop, .taskQueued, .transferred, .escalated, .callbackScheduled:
            guard record.phase == .offered || record.phase == .accepted else { return }
            append(OfferRecord(index: index, kind: .released, task: id, agent: record.agent, token: record.token))
            record.phase = .queued
            record.agent = nil
            record.token = nil
        default:
            return
        }
        tasks[id] = record
    }

    private mutating func append(_ record: OfferRecord) {
        guard offers.count < offersMax else {
            truncated = true
            return
        }
        offers.append(record)
    }

    /// A record for a task not seen before, or nil (and `truncated`) when full.
    private mutating func newRecord(_ task: ContactTask, index: UInt64) -> TaskRecord? {
        guard tasks.count < tasksMax else {
            truncated = true
            return nil
        }
        return TaskRecord(id: task.id, phase: Self.phase(task.state), agent: task.agent, token: task.agent == nil ? nil : task.token,
                          queue: task.queue, priority: task.priority, emergency: task.callType == .emergency,
                          enqueueTimeMs: task.enqueuedAt, enqueueIndex: index, site: task.site)
    }

    private func refreshed(_ record: TaskRecord, from task: ContactTask) -> TaskRecord {
        var record = record
        record.queue = task.queue
        record.priority = task.priority
        record.emergency = task.callType == .emergency
        record.enqueueTimeMs = task.enqueuedAt
        if record.enqueueIndex == 0 {
            // First seen in a snapshot: the core's state is all there is.
            record.phase = Self.phase(task.state)
            record.agent = task.agent
            record.token = task.agent == nil ? nil : task.token
        }
        return record
    }

    static func phase(_ state: ContactCenter.TaskState) -> Phase {
        switch state {
        case .queued, .callbackScheduled: return .queued
        case .offered: return .offered
        case .accepted, .wrapUp: return .accepted
        case .completed: return .completed
        case .abandoned: return .abandoned
        }
    }

    static func task(of event: ContactEvent) -> TaskID? {
        switch event {
        case .taskCreated(let id, _, _, _, _, _), .taskQueued(let id, _), .taskOffered(let id, _, _, _),
             .offerDeclined(let id, _, _), .offerExpired(let id, _, _), .taskAccepted(let id, _, _, _, _, _),
             .taskWrapUp(let id, _), .taskCompleted(let id, _, _, _, _, _), .taskAbandoned(let id, _, _, _, _),
             .callbackScheduled(let id, _), .failoverDrop(let id, _, _), .callbackDue(let id),
             .overflowed(let id, _, _, _), .transferred(let id, _, _, _), .escalated(let id, _, _, _, _):
            return id
        case .settingsChanged, .siteAdded, .queueDefined, .agentRegistered, .agentStatusChanged,
             .siteWentDown, .siteCameUp, .kpiWindowStarted:
            return nil
        }
    }
}
