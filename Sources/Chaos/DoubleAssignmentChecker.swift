/// No task is held by two agents at once and no agent holds more tasks than its
/// capacity. Replays each survivor's offers log (accepted → held; released, completed,
/// abandoned → let go) and also checks the history: one fencing token never grants the
/// same task to two agents. The bugs it exists for: an accept that does not check the
/// fencing token (a stale offer accepted after the task was re-offered), and routing
/// that ignores the agent's load.
public enum DoubleAssignmentChecker {
    public static let name = "DoubleAssignmentChecker"

    public static func check(history: [ClientOperation], survivors: [NodeFinalState]) -> CheckerVerdict {
        var offending: [String] = []
        var details: [String] = []
        for node in survivors {
            let capacity = Dictionary(node.agents.map { ($0.id, $0.capacity) }, uniquingKeysWith: { first, _ in first })
            var holder: [TaskID: AgentID] = [:]
            var load: [AgentID: Int] = [:]
            for event in node.offersLog {
                switch event.kind {
                case .accepted:
                    guard let agent = event.agent else { continue }
                    if let current = holder[event.task], current != agent {
                        offending += [event.task.rawValue, current.rawValue, agent.rawValue]
                        details.append("\(node.node) index \(event.index): \(event.task) accepted by \(agent) while \(current) holds it")
                        continue
                    }
                    if holder[event.task] == agent { continue }
                    holder[event.task] = agent
                    load[agent, default: 0] += 1
                    let limit = capacity[agent] ?? 1
                    if load[agent]! > limit {
                        offending += [agent.rawValue, event.task.rawValue]
                        details.append("\(node.node) index \(event.index): \(agent) holds \(load[agent]!) tasks, capacity \(limit)")
                    }
                case .released, .completed, .abandoned:
                    if let current = holder.removeValue(forKey: event.task) { load[current, default: 1] -= 1 }
                case .enqueued, .offered:
                    break
                }
            }
        }
        var granted: [TaskID: [UInt64: (AgentID, UInt64)]] = [:]
        for operation in history where operation.kind == .accept && operation.outcome == .ok {
            guard let agent = operation.value.agent, let token = operation.value.token else { continue }
            if let (other, otherOperation) = granted[operation.task]?[token], other != agent {
                offending += ["op \(otherOperation)", "op \(operation.id)", operation.task.rawValue]
                details.append("\(operation.task): token \(token) accepted by both \(other) (op \(otherOperation)) and \(agent) (op \(operation.id))")
            }
            granted[operation.task, default: [:]][token] = (agent, operation.id)
        }
        guard details.isEmpty else {
            return CheckerVerdict(
                checker: name, result: .fail, summary: "\(details.count) double assignments or capacity overruns",
                offending: offending, details: details
            )
        }
        let accepts = survivors.first?.offersLog.filter { $0.kind == .accepted }.count ?? 0
        return CheckerVerdict(
            checker: name, result: .pass,
            summary: "\(accepts) assignments, never two holders of a task, never over capacity"
        )
    }
}
