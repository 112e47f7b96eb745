/// No acknowledged write is lost: every enqueue, complete and abandon the cluster answered
/// `ok` is reflected on every surviving node (the task exists; is completed; is
/// abandoned). The bug it exists for: a write acknowledged before it was durable on a
/// quorum (acked by the leader alone, then the leader's site is lost).
public enum LostAckChecker {
    public static let name = "LostAckChecker"

    /// One acknowledged write a survivor does not reflect.
    public struct Loss: Equatable, Sendable {
        public var operation: UInt64
        public var task: TaskID
        public var node: NodeName
        public var expected: String
        public var found: TaskState
    }

    public static func losses(history: [ClientOperation], survivors: [NodeFinalState]) -> [Loss] {
        var losses: [Loss] = []
        for node in survivors {
            let tasks = Dictionary(node.tasks.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            for operation in history where operation.outcome == .ok {
                let task = tasks[operation.task]
                let found = task?.state ?? .absent
                let expected: String?
                switch operation.kind {
                case .enqueue:
                    if found == .absent {
                        expected = "present"
                    } else if let acknowledged = operation.value.index, let entered = task?.enqueueIndex, acknowledged != entered {
                        // The id was handed to another call: the acknowledged one was lost.
                        expected = "entered at index \(acknowledged), found a call entered at \(entered)"
                    } else if let ingress = operation.value.site, let site = task?.site, ingress != site {
                        // The same: another site's call holds the id (an index alone can
                        // coincide when a new leader appends at the index the lost entry had).
                        expected = "taken at \(ingress), found a call taken at \(site)"
                    } else {
                        expected = nil
                    }
                case .complete: expected = found == .completed ? nil : "completed"
                case .abandon: expected = found == .abandoned ? nil : "abandoned"
                case .offer, .accept, .read: expected = nil
                }
                if let expected {
                    losses.append(Loss(operation: operation.id, task: operation.task, node: node.node, expected: expected, found: found))
                }
            }
        }
        return losses
    }

    public static func check(history: [ClientOperation], survivors: [NodeFinalState]) -> CheckerVerdict {
        guard !survivors.isEmpty else {
            return CheckerVerdict(checker: name, result: .inconclusive, summary: "no surviving node to compare with")
        }
        let found = losses(history: history, survivors: survivors)
        let acknowledged = history.filter { $0.outcome == .ok && [.enqueue, .complete, .abandon].contains($0.kind) }.count
        guard !found.isEmpty else {
            return CheckerVerdict(
                checker: name, result: .pass,
                summary: "all \(acknowledged) acknowledged writes are on all \(survivors.count) survivors"
            )
        }
        return CheckerVerdict(
            checker: name, result: .fail,
            summary: "\(Set(found.map(\.operation)).count) acknowledged writes lost",
            offending: found.flatMap { ["op \($0.operation)", $0.task.rawValue] },
            details: found.map { "op \($0.operation) on \($0.task): \($0.node) has it \($0.found.rawValue), expected \($0.expected)" }
        )
    }
}
