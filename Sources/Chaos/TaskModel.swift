/// The sequential specification of one task, for the linearizability checker.
///
/// Client operations move it: enqueue, accept (with the offer's fencing token),
/// complete, abandon. The router also moves it without a client operation (offers a
/// queued task, re-offers after an expiry, requeues on decline or when the holder's site
/// goes down); those moves are invisible, so the model lets an observation (an offer
/// poll or a read) reveal them, under the rules the router must keep: fencing tokens
/// only grow, and terminal states are final.
///
/// Retries are idempotent in the API, so repeating an applied enqueue, accept or
/// complete answers ok without changing anything.
public struct TaskModel: Hashable, Sendable {
    public var phase: TaskState
    public var agent: AgentID?
    /// The highest fencing token issued so far (0: none).
    public var token: UInt64

    public static let initial = TaskModel(phase: .absent, agent: nil, token: 0)

    /// The state after `operation`, or nil when the operation could not have returned
    /// what it returned from this state. `operation.outcome` MUST be ok or unknown.
    public func step(_ operation: ClientOperation) -> TaskModel? {
        switch operation.outcome {
        case .failed: return self
        case .unknown: return (operation.isWrite ? apply(operation) : nil) ?? self
        case .ok: return apply(operation)
        }
    }

    private func apply(_ operation: ClientOperation) -> TaskModel? {
        let value = operation.value
        switch operation.kind {
        case .enqueue:
            return phase == .absent ? TaskModel(phase: .queued, agent: nil, token: token) : self
        case .offer:
            guard let agent = value.agent, let offered = value.token else { return nil }
            return reveal(.offered, agent: agent, token: offered)
        case .accept:
            guard let agent = value.agent, let offered = value.token else { return nil }
            if phase == .offered && self.agent == agent && token == offered {
                return TaskModel(phase: .accepted, agent: agent, token: offered)
            }
            return phase == .accepted && self.agent == agent && token == offered ? self : nil
        case .complete:
            if phase == .accepted && agent == value.agent { return TaskModel(phase: .completed, agent: agent, token: token) }
            return phase == .completed && agent == value.agent ? self : nil
        case .abandon:
            if phase == .queued || phase == .offered { return TaskModel(phase: .abandoned, agent: nil, token: token) }
            return phase == .abandoned ? self : nil
        case .read:
            guard let observed = value.state else { return nil }
            switch observed {
            case .offered:
                guard let agent = value.agent, let offered = value.token else { return nil }
                return reveal(.offered, agent: agent, token: offered)
            case .queued:
                return reveal(.queued, agent: nil, token: token)
            case .accepted:
                let tokenMatches = value.token == nil || value.token == token
                return phase == .accepted && agent == value.agent && tokenMatches ? self : nil
            case .absent, .completed, .abandoned:
                return phase == observed ? self : nil
            }
        }
    }

    /// An observation of a queued or offered task, possibly after invisible router moves.
    private func reveal(_ observed: TaskState, agent observedAgent: AgentID?, token observedToken: UInt64) -> TaskModel? {
        let live: Set<TaskState> = [.queued, .offered, .accepted]
        guard live.contains(phase) else { return nil }
        if observed == .queued {
            // Requeue: an offer expired or was declined, or the holder's site went down.
            return TaskModel(phase: .queued, agent: nil, token: token)
        }
        if phase == .offered && observedToken == token {
            return observedAgent == agent ? self : nil
        }
        // A new offer needs a fresh token: a reused or older token is a fencing bug.
        guard observedToken > token else { return nil }
        return TaskModel(phase: .offered, agent: observedAgent, token: observedToken)
    }
}
