import Foundation
@testable import Node
import Testing
import Vault

/// Patient data never exists in plaintext outside a node's memory: a cluster
/// that took tasks carrying a unique marker in every patient field, and took
/// snapshots, holds the marker in no file and no log line; the sealed record is
/// in the replicated state and opens only with the cluster's key ring.
@Suite(.serialized) struct PHIEncryptionTests {
    static let marker = "QZXPHIMARKER\(UInt32.random(in: 100_000...999_999))"

    @Test func noFileOrLogHoldsThePatientsDataAndTheKeyRingOpensIt() throws {
        let cluster = try TestCluster(nodes: 3, slot: 16, extra: ["--snapshot-every", "16"])
        defer { cluster.down() }
        guard let leader = cluster.awaitLeader(among: ["a", "b", "c"]) else { return }
        let client = try #require(cluster.client(leader, role: "supervisor"))
        #expect(try client.sendJSON("PUT", "/v1/queues/general", json: [:] as [String: Any]).status == 200)
        for number in 0..<40 {
            let body: [String: Any] = [
                "queue": "general", "channel": "voice", "callType": "clinical",
                "patient": ["id": "ref-\(number % 5)", "name": "\(Self.marker) Name \(number)", "phone": "+1 555 \(Self.marker)",
                            "dateOfBirth": "1970-01-02"],
                "reason": "\(Self.marker) chest pain",
            ]
            let node = ["a", "b", "c"][number % 3]
            let response = try #require(cluster.client(node, role: "supervisor")).sendJSON("POST", "/v1/tasks", json: body)
            #expect(response.status == 201, "\(String(decoding: response.body, as: UTF8.self))")
        }
        let applied = (cluster.view(leader)?["appliedIndex"] as? NSNumber)?.uint64Value ?? 0
        #expect(cluster.waitUntil(timeoutMs: 30_000) { cluster.converged(["a", "b", "c"], atLeast: applied) })
        #expect(((cluster.view(leader)?["snapshotIndex"] as? NSNumber)?.uint64Value ?? 0) > 0, "no snapshot was taken")

        // The sealed records are in the replicated state (a backup shows it) and open with the ring.
        let backup = cluster.directory + "/phi.llbk"
        #expect(TestCluster.run(["backup", "--cluster", cluster.directory, "--node", leader, "--out", backup]).0 == 0)
        let image = try BackupImage(decoding: Array(try #require(FileManager.default.contents(atPath: backup))))
        var machine = LifelineStateMachine()
        try machine.restore(try NodeSnapshotData(decoding: image.snapshot).machine)
        let ring = try KeyRing.load(path: cluster.directory + "/keyring.json")
        let record = try machine.security.readRecord("ref-1", ring: ring)
        #expect(record["name"]?.hasPrefix(Self.marker) == true && record["reason"]?.contains(Self.marker) == true)
        #expect(machine.security.events.contains { $0.action == "phi.write" && $0.resources.contains("patient:ref-1") })

        cluster.stopNodes()
        // Every byte under the cluster's directory: data, WAL, snapshots, logs, configs, the backup.
        var hits: [String] = []
        let needle = Array(Self.marker.utf8)
        let files = FileManager.default.enumerator(atPath: cluster.directory)?.compactMap { $0 as? String } ?? []
        #expect(files.contains { $0.hasSuffix("raft.db") } && files.contains { $0.hasSuffix(".log") })
        for file in files {
            let path = cluster.directory + "/" + file
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            let bytes = [UInt8](data)
            if bytes.count >= needle.count, (0...(bytes.count - needle.count)).contains(where: { bytes[$0] == needle[0] && Array(bytes[$0..<$0 + needle.count]) == needle }) {
                hits.append(file)
            }
        }
        #expect(hits.isEmpty, "patient data in plaintext in: \(hits)")
    }
}
