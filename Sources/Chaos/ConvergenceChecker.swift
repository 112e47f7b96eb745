/// Every survivor ends with the same applied index, state hash and audit chain head.
/// The bug it exists for: a node that applies entries differently (non-deterministic
/// apply, a lost entry after a restart, a diverged log that was never truncated).
public enum ConvergenceChecker {
    public static let name = "ConvergenceChecker"

    public static func check(survivors: [NodeFinalState]) -> CheckerVerdict {
        guard !survivors.isEmpty else {
            return CheckerVerdict(checker: name, result: .inconclusive, summary: "no surviving node")
        }
        struct Fingerprint: Hashable { var applied: UInt64; var state: String; var audit: String }
        var groups: [Fingerprint: [NodeName]] = [:]
        for node in survivors {
            groups[Fingerprint(applied: node.appliedIndex, state: node.stateHash, audit: node.auditHead), default: []].append(node.node)
        }
        let sorted = groups.sorted { ($0.value.count, $1.value.first ?? NodeName("")) > ($1.value.count, $0.value.first ?? NodeName("")) }
        guard sorted.count > 1 else {
            let fingerprint = sorted[0].key
            return CheckerVerdict(
                checker: name, result: .pass,
                summary: "\(survivors.count) survivors agree at index \(fingerprint.applied), state \(fingerprint.state.prefix(12)), audit \(fingerprint.audit.prefix(12))"
            )
        }
        let minority = sorted.dropFirst().flatMap(\.value).sorted()
        return CheckerVerdict(
            checker: name, result: .fail, summary: "survivors disagree: \(sorted.count) different states",
            offending: minority.map(\.rawValue),
            details: sorted.map { "\($0.value.sorted().map(\.rawValue).joined(separator: ", ")): index \($0.key.applied), state \($0.key.state.prefix(16)), audit \($0.key.audit.prefix(16))" }
        )
    }
}
