import Foundation
import Node
import Testing

/// The contact-center CLI clients against a real cluster: exit codes, output,
/// and what they changed.
@Suite(.serialized) struct ContactCenterCLITests {
    @Test func queuesAgentsTasksAndDrainFromTheCommandLine() throws {
        let cluster = try TestCluster(nodes: 3, slot: 14)
        defer { cluster.down() }
        guard cluster.awaitLeader(among: ["a", "b", "c"]) != nil else { return }
        let dir = cluster.directory
        var result = TestCluster.run(["queues", "set", "triage", "--cluster", dir, "--config", "{\"channels\":[\"voice\"],\"audience\":\"nurses\"}"])
        #expect(result.0 == 0, "\(result.1)")
        // The leader registers the members' sites just after its election.
        #expect(cluster.waitUntil(timeoutMs: 10_000) {
            result = TestCluster.run(["agents", "register", "nina", "--site", "site-b", "--roles", "nurse", "--skills", "spanish=7", "--cluster", dir])
            return result.0 == 0
        }, "\(result.1)")
        #expect(TestCluster.run(["agents", "login", "nina", "--cluster", dir]).0 == 0)
        result = TestCluster.run(["agents", "list", "--cluster", dir, "--json"])
        let agents = (try? JSONSerialization.jsonObject(with: Data(result.1.utf8))) as? [String: Any]
        let nina = (agents?["agents"] as? [[String: Any]])?.first
        #expect(nina?["agent"] as? String == "nina" && nina?["status"] as? String == "available", "\(result.1)")
        #expect(TestCluster.run(["queues", "list", "--cluster", dir]).1.contains("triage"))

        #expect(TestCluster.run(["drain", "site-b", "--cluster", dir]).0 == 0)
        result = TestCluster.run(["agents", "show", "nina", "--cluster", dir])
        #expect(result.1.contains("status: offline"), "a drained site's agent stayed on: \(result.1)")
        #expect(TestCluster.run(["drain", "site-b", "--resume", "--cluster", dir]).0 == 0)

        // Refusals are exit 1 with the API's reason; usage mistakes exit 2.
        result = TestCluster.run(["tasks", "show", "12345", "--cluster", dir])
        #expect(result.0 == 1 && result.1.contains("not_found"), "\(result.1)")
        #expect(TestCluster.run(["agents", "register", "zed", "--site", "atlantis", "--cluster", dir]).0 == 1)
        #expect(TestCluster.run(["queues", "set", "q", "--config", "not json", "--cluster", dir]).0 == 2)
        #expect(TestCluster.run(["tasks", "show", "abc", "--cluster", dir]).0 == 2)
    }
}
