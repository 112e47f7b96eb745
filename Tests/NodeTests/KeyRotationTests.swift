import Foundation
import Node
import Testing
import Vault

/// Key rotation without re-encrypting records: rotate the ring file, give every
/// node the new ring, re-wrap the data keys through a replicated command; the
/// records still open, the audit trail says so. And the retention listing.
@Suite(.serialized) struct KeyRotationTests {
    @Test func rotatingTheKeyRingRewrapsDataKeysAndRecordsStillOpen() throws {
        let cluster = try TestCluster(nodes: 3, slot: 19)
        defer { cluster.down() }
        guard let leader = cluster.awaitLeader(among: ["a", "b", "c"]) else { return }
        let supervisor = try #require(cluster.client(leader, role: "supervisor"))
        #expect(cluster.waitUntil(timeoutMs: 10_000) { ((try? supervisor.send("GET", "/v1/sites").jsonObject?["sites"]) as? [Any])?.count == 3 })
        #expect(try supervisor.sendJSON("PUT", "/v1/queues/general", json: [:] as [String: Any]).status == 200)
        let created = try supervisor.sendJSON("POST", "/v1/tasks", json: [
            "queue": "general", "channel": "chat", "site": "site-a",
            "patient": ["id": "ref-42", "name": "Jane Roe", "phone": "+1 555 0100", "dateOfBirth": "1970-01-02"],
        ])
        #expect(created.status == 201)
        let ringFile = cluster.directory + "/keyring.json"
        #expect(try KeyRing.load(path: ringFile).activeVersion == 1)
        let (rotated, output) = TestCluster.run(["keys", "rotate", "--file", ringFile])
        #expect(rotated == 0, "\(output)")
        #expect(try KeyRing.load(path: ringFile).activeVersion == 2)
        // Every node loads the new ring when it starts again (a maintenance window:
        // stop all, start all; one node at a time works too and keeps the quorum).
        for node in ["a", "b", "c"] {
            #expect(TestCluster.run(["cluster", "kill", node, "--signal", "TERM", "--dir", cluster.directory]).0 == 0)
        }
        for node in ["a", "b", "c"] { try cluster.restart(node) }
        guard let now = cluster.awaitLeader(among: ["a", "b", "c"]) else { return }
        let ops = try #require(cluster.client(now, role: "ops"))
        var rewrap: [String: Any] = [:]
        #expect(cluster.waitUntil(timeoutMs: 15_000) {
            rewrap = (try? ops.send("POST", "/v1/keys/rewrap").jsonObject) ?? [:]
            return rewrap["rewrapped"] as? Int == 1
        }, "\(rewrap)")
        #expect(rewrap["remaining"] as? Int == 0 && rewrap["kekVersion"] as? Int == 2)
        #expect(try ops.send("POST", "/v1/keys/rewrap").jsonObject?["rewrapped"] as? Int == 0, "a second rewrap found stale keys")
        let reader = try #require(cluster.client(now, role: "supervisor"))
        let record = try reader.send("GET", "/v1/patients/ref-42/record?breakGlass=true&reason=rotation%20check")
        #expect(record.status == 200 && (record.jsonObject?["fields"] as? [String: String])?["name"] == "Jane Roe",
                "\(String(decoding: record.body, as: UTF8.self))")
        let auditor = try #require(cluster.client(now, role: "auditor"))
        let actions = (try auditor.send("GET", "/v1/audit").jsonObject?["events"] as? [[String: Any]] ?? []).compactMap { $0["action"] as? String }
        #expect(actions.contains("key.rewrap"))
        // Retention: with a zero-day period every patient is due; with the default, none.
        let due = try reader.send("GET", "/v1/patients/retention?olderThanDays=0").jsonObject?["patients"] as? [String]
        #expect(due == ["ref-42"])
        #expect(try reader.send("GET", "/v1/patients/retention").jsonObject?["patients"] as? [String] == [])
    }
}
