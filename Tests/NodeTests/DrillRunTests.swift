#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Node
import Testing

/// `lifeline drill` end to end: real `lifeline serve` processes on 127.0.0.1 behind the
/// harness's fault proxies, the workload through the API, the checkers over the evidence.
/// The CI drill (Chaos/site-loss.json) must pass; a short leader-partition drill passes
/// on a correct build and fails, naming the right checker, when a node runs with a
/// test-only bug switch.
@Suite(.serialized)
struct DrillRunTests {
    static let chaosDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Chaos")
    static let drillTimeoutMs: UInt64 = 300_000

    struct Outcome {
        var status: Int32
        var output: String
        var report: [String: Any]
        var directory: String

        func verdict(_ checker: String) -> String? {
            (report["verdicts"] as? [[String: Any]])?.first { $0["checker"] as? String == checker }?["result"] as? String
        }
    }

    /// Runs `lifeline drill` to completion and reads its report.
    static func drill(_ scenario: String, seed: Int, slot: Int, extra: [String] = []) throws -> Outcome {
        let directory = NSTemporaryDirectory() + "lifeline-drill-\(getpid())-\(slot)-\(UInt32.random(in: 0...UInt32.max))"
        let (status, output) = ProcessControl.run(
            executable: TestCluster.binary,
            arguments: ["drill", scenario, "--out", directory, "--seed", "\(seed)", "--base-port", "\(TestCluster.basePort(slot: slot))"] + extra,
            timeoutMs: drillTimeoutMs
        )
        guard let data = FileManager.default.contents(atPath: directory + "/report.json"),
              let report = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        else {
            throw TestCluster.TestFailure("no report.json (exit \(status)):\n\(output)")
        }
        return Outcome(status: status, output: output, report: report, directory: directory)
    }

    /// A leader partitioned from the others for 12 s, with readers on every node: the
    /// window in which an unsafe leader acknowledges what it cannot commit, a stale node
    /// answers reads, and a node stamping its own clock diverges.
    static func partitionScenario() throws -> String {
        let directory = NSTemporaryDirectory() + "lifeline-scenario-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/leader-cut.json"
        let scenario = """
            {"name": "leader-cut", "description": "The leader's site is cut off for 12 s, then healed.",
             "sites": ["boston", "denver", "seattle"], "latency": {"defaultMs": 5, "jitterMs": 1},
             "workload": {"enqueuePerSecond": 15, "readsPerSecond": 25, "agentsPerSite": 3, "agentCapacity": 1,
                          "queues": ["triage"], "emergencyFraction": 0.1, "handleMs": 1500, "abandonFraction": 0.05},
             "steps": [{"at": 8, "action": "isolate", "site": "@leader"}, {"at": 20, "action": "heal"}],
             "targets": {"rtoSeconds": 15, "rpoEntries": 0}, "durationSeconds": 30}
            """
        try Data(scenario.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func theSiteLossDrillPassesEveryCheckerAndWritesTheEvidence() throws {
        let outcome = try Self.drill(Self.chaosDirectory.appendingPathComponent("site-loss.json").path, seed: 11, slot: 22)
        #expect(outcome.status == 0, "\(outcome.output)")
        #expect(outcome.report["passed"] as? Bool == true)
        for checker in ["LostAckChecker", "DoubleAssignmentChecker", "QueueOrderChecker", "ConvergenceChecker",
                        "LinearizabilityChecker", "RecoveryChecker", "AuditChainVerify"] {
            #expect(outcome.verdict(checker) == "pass", "\(checker): \(outcome.output)")
        }
        // The timeline holds the fault, the cluster's detection and the recovery.
        let events = outcome.report["events"] as? [[String: Any]] ?? []
        #expect(events.contains { $0["kind"] as? String == "fault" && ($0["label"] as? String ?? "").contains("kill -9 seattle") })
        #expect(events.contains { $0["action"] as? String == "site-down" && $0["sites"] as? [String] == ["seattle"] })
        #expect(events.contains { $0["kind"] as? String == "recovery" && ($0["label"] as? String ?? "").contains("restart seattle") })
        // Real work happened, and the evidence is the history the report hashed.
        #expect((outcome.report["operations"] as? Int ?? 0) > 200)
        let history = try Data(contentsOf: URL(fileURLWithPath: outcome.directory + "/history.jsonl"))
        let (status, sum) = ProcessControl.run(executable: "/usr/bin/sha256sum", arguments: [outcome.directory + "/history.jsonl"], timeoutMs: 10_000)
        #expect(status == 0 && sum.hasPrefix(outcome.report["historySHA256"] as? String ?? "-"), "history \(history.count) bytes")
        let html = try String(contentsOfFile: outcome.directory + "/report.html", encoding: .utf8)
        #expect(html.contains("<svg") && html.contains("kill -9 seattle") && html.contains("Average speed of answer"))
        let final = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: outcome.directory + "/final.json"))) as? [[String: Any]]
        #expect(final?.count == 3)
        // The drill stopped every node it started (the restarted one under its new pid).
        let cluster = try ClusterFile.read(from: outcome.directory + "/cluster")
        for node in cluster.nodes {
            #expect(!ProcessControl.isRunning(node.pid, commandContains: ["serve", node.config]), "\(node.node) still runs")
        }
        if outcome.status == 0 { try FileManager.default.removeItem(atPath: outcome.directory) }
    }

    @Test func theLeaderCutDrillPassesOnACorrectBuild() throws {
        let outcome = try Self.drill(try Self.partitionScenario(), seed: 5, slot: 23)
        #expect(outcome.status == 0, "\(outcome.output)")
        if outcome.status == 0 { try FileManager.default.removeItem(atPath: outcome.directory) }
    }

    @Test(arguments: [
        ("ack-before-commit", "LostAckChecker"),
        ("stale-reads", "LinearizabilityChecker"),
        ("local-clock", "ConvergenceChecker"),
    ])
    func aBugSwitchFailsTheDrillNamingItsChecker(bug: String, checker: String) throws {
        let outcome = try Self.drill(try Self.partitionScenario(), seed: 5, slot: 24, extra: ["--bugs", bug])
        #expect(outcome.status == 1, "\(outcome.output)")
        #expect(outcome.report["passed"] as? Bool == false)
        #expect(outcome.verdict(checker) == "fail", "\(bug) should fail \(checker):\n\(outcome.output)")
        if outcome.verdict(checker) == "fail" { try FileManager.default.removeItem(atPath: outcome.directory) }
    }
}
