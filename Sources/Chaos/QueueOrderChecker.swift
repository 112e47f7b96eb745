/// Order within a queue: emergency first, then priority, then original enqueue time,
/// across failovers. Two checks:
/// 1. Routing: replaying a survivor's offers log, no task is offered while a task of the
///    same queue that ranks strictly ahead of it is waiting (enqueued or released, not
///    yet offered). Assumes the drill's agents are all eligible for every queue (the
///    workload makes them so), so rank is the only reason to pick a task.
/// 2. Place kept: if the enqueue of A was acknowledged before the enqueue of B was sent,
///    A's enqueue time is not later than B's. A failover that re-stamps rerouted tasks
///    (the caller loses their place) breaks this.
public enum QueueOrderChecker {
    public static let name = "QueueOrderChecker"

    public static func check(history: [ClientOperation], survivors: [NodeFinalState]) -> CheckerVerdict {
        var offending: [String] = []
        var details: [String] = []
        for node in survivors {
            let tasks = Dictionary(node.tasks.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            var waiting: [String: Set<TaskID>] = [:]
            for event in node.offersLog {
                guard let task = tasks[event.task] else { continue }
                switch event.kind {
                case .enqueued, .released:
                    waiting[task.queue, default: []].insert(task.id)
                case .offered:
                    waiting[task.queue, default: []].remove(task.id)
                    let skipped = (waiting[task.queue] ?? []).compactMap { tasks[$0] }.filter { $0.rank < task.rank }
                    if let first = skipped.min(by: { $0.rank < $1.rank }) {
                        offending += [task.id.rawValue, first.id.rawValue]
                        details.append(
                            "\(node.node) index \(event.index): \(task.id) (\(task.rank)) offered while \(first.id) (\(first.rank)) waited in \(task.queue)"
                        )
                    }
                case .accepted, .completed, .abandoned:
                    waiting[task.queue, default: []].remove(task.id)
                }
            }
        }
        if let node = survivors.first { placeKept(history: history, node: node, offending: &offending, details: &details) }
        guard details.isEmpty else {
            return CheckerVerdict(checker: name, result: .fail, summary: "\(details.count) queue order violations", offending: offending, details: details)
        }
        let offers = survivors.first?.offersLog.filter { $0.kind == .offered }.count ?? 0
        return CheckerVerdict(checker: name, result: .pass, summary: "\(offers) offers in rank order; every caller kept their place")
    }

    /// Sweep: acknowledged enqueues sorted by completion; for each enqueue B (by invocation),
    /// the latest enqueue time among those completed before B was invoked must not exceed B's.
    private static func placeKept(history: [ClientOperation], node: NodeFinalState, offending: inout [String], details: inout [String]) {
        let tasks = Dictionary(node.tasks.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let enqueues = history.filter { $0.kind == .enqueue && $0.outcome == .ok && tasks[$0.task] != nil }
        let byCompletion = enqueues.sorted { $0.completeUs < $1.completeUs }
        let byInvocation = enqueues.sorted { $0.invokeUs < $1.invokeUs }
        var latest: [String: (timeMs: UInt64, operation: ClientOperation)] = [:]
        var next = 0
        for operation in byInvocation {
            while next < byCompletion.count && byCompletion[next].completeUs < operation.invokeUs {
                let earlier = byCompletion[next]
                let task = tasks[earlier.task]!
                if (latest[task.queue]?.timeMs ?? 0) <= task.enqueueTimeMs { latest[task.queue] = (task.enqueueTimeMs, earlier) }
                next += 1
            }
            let task = tasks[operation.task]!
            if let before = latest[task.queue], before.timeMs > task.enqueueTimeMs {
                offending += ["op \(before.operation.id)", "op \(operation.id)", before.operation.task.rawValue, task.id.rawValue]
                details.append(
                    "\(before.operation.task) was enqueued (op \(before.operation.id)) before \(task.id) (op \(operation.id)) but has the later enqueue time \(before.timeMs) > \(task.enqueueTimeMs)"
                )
            }
        }
    }
}
