import Foundation
@testable import Node
import Testing
import Vault

/// Key rotation without re-encrypting records: rotate the ring file, give every
/// node the new ring, re-wrap the data keys through a replicated command; the
/// records still open, the audit trail says so. And the retention listing. And
/// retiring the old version, audited the way 164.308(a)(7) is: an old backup's
/// shredded patient stays unreadable even restored with the cluster's ring.
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

    static func contents(_ path: String) -> [UInt8] { FileManager.default.contents(atPath: path).map(Array.init) ?? [] }

    static func message(_ response: HTTPResponse) -> String {
        ((response.jsonObject?["error"] as? [String: Any])?["message"] as? String) ?? String(decoding: response.body, as: UTF8.self)
    }

    static func errorCode(_ response: HTTPResponse) -> String? { (response.jsonObject?["error"] as? [String: Any])?["code"] as? String }

    /// Every node stops, then starts again with the ring file as it is now.
    static func restartAll(_ cluster: TestCluster) throws {
        for node in ["a", "b", "c"] {
            #expect(TestCluster.run(["cluster", "kill", node, "--signal", "TERM", "--dir", cluster.directory]).0 == 0)
        }
        for node in ["a", "b", "c"] { try cluster.restart(node) }
    }

    /// Backup, shred, rotate, re-wrap, retire; the old backup restored into a new
    /// cluster with the retired ring: the shredded patient's record fails with a
    /// clear, audited error naming the retired version, never plaintext; the live
    /// patient (re-wrapped) still reads on the live cluster and from a new backup.
    /// Retirement is refused, the ring file untouched, while it is still needed.
    @Test func retiringTheOldKeyVersionMakesAnOldBackupOfAShreddedPatientUnreadable() throws {
        let source = try TestCluster(nodes: 3, slot: 19)
        defer { source.down() }
        guard let leader = source.awaitLeader(among: ["a", "b", "c"]) else { return }
        let supervisor = try #require(source.client(leader, role: "supervisor"))
        #expect(source.waitUntil(timeoutMs: 10_000) { ((try? supervisor.send("GET", "/v1/sites").jsonObject?["sites"]) as? [Any])?.count == 3 })
        #expect(try supervisor.sendJSON("PUT", "/v1/queues/general", json: [:] as [String: Any]).status == 200)
        for (patient, name) in [("ref-live", "Jane Roe"), ("ref-gone", "John Doe")] {
            let created = try supervisor.sendJSON("POST", "/v1/tasks", json: [
                "queue": "general", "channel": "chat", "site": "site-a",
                "patient": ["id": patient, "name": name, "phone": "+1 555 0100", "dateOfBirth": "1970-01-02"],
            ])
            #expect(created.status == 201, "\(String(decoding: created.body, as: UTF8.self))")
        }
        let oldBackup = source.directory + "/before-shred.llbk"
        let backedUp = TestCluster.run(["backup", "--cluster", source.directory, "--node", leader, "--out", oldBackup])
        try #require(backedUp.0 == 0, "\(backedUp.1)")
        #expect(try supervisor.sendJSON("POST", "/v1/patients/ref-gone/shred", json: ["reason": "retention"]).status == 200)

        let ringFile = source.directory + "/keyring.json"
        let retire = ["keys", "retire", "--version", "1", "--keys", ringFile, "--cluster", source.directory]
        var before = Self.contents(ringFile)
        var refused = TestCluster.run(retire)
        #expect(refused.0 == 1 && refused.1.contains("active version") && refused.1.contains("unchanged"), "\(refused.1)")
        #expect(Self.contents(ringFile) == before, "a refused retire changed the ring")
        #expect(TestCluster.run(["keys", "rotate", "--file", ringFile]).0 == 0)
        // Rotated, but the nodes still run the old ring: refused (v1 active there, and in use).
        before = Self.contents(ringFile)
        refused = TestCluster.run(retire)
        #expect(refused.0 == 1 && refused.1.contains("unchanged"), "\(refused.1)")
        try Self.restartAll(source)
        guard let now = source.awaitLeader(among: ["a", "b", "c"]) else { return }
        let ops = try #require(source.client(now, role: "ops"))
        let usage = try ops.send("GET", "/v1/keys/usage")
        #expect(usage.status == 200 && (usage.jsonObject?["wrappedDataKeys"] as? [String: Int]) == ["1": 1], "\(String(decoding: usage.body, as: UTF8.self))")
        #expect(!String(decoding: usage.body, as: UTF8.self).contains("ref-"), "the usage report names patients")
        refused = TestCluster.run(retire)
        #expect(refused.0 == 1 && refused.1.contains("1 patient data key(s) wrapped under KEK version 1"), "\(refused.1)")
        #expect(Self.contents(ringFile) == before, "a refused retire changed the ring")
        #expect(source.waitUntil(timeoutMs: 15_000) { (try? ops.send("POST", "/v1/keys/rewrap").jsonObject?["remaining"] as? Int) == 0 })
        #expect(try ops.send("GET", "/v1/keys/usage").jsonObject?["wrappedDataKeys"] as? [String: Int] == ["2": 1])
        refused = TestCluster.run(["keys", "retire", "--version", "2", "--keys", ringFile, "--cluster", source.directory])
        #expect(refused.0 == 1 && refused.1.contains("active version"), "\(refused.1)")
        #expect(TestCluster.run(["keys", "retire", "--version", "1", "--cluster", source.directory]).0 == 2, "no --keys is a usage error")
        #expect(try ops.sendJSON("POST", "/v1/keys/retire", json: ["version": 2]).status == 409, "the active version was retired in the cluster")
        let retired = TestCluster.run(retire)
        #expect(retired.0 == 0 && retired.1.contains("KEK version 1 retired on"), "\(retired.1)")
        #expect(try ops.send("GET", "/v1/keys/usage").jsonObject?["retiredInCluster"] as? [Int] == [1])
        let trail = try #require(source.client(now, role: "auditor")).send("GET", "/v1/audit").jsonObject?["events"] as? [[String: Any]] ?? []
        #expect(trail.contains { $0["action"] as? String == "key.retire" && ($0["resources"] as? [String]) == ["kek:1"] }, "the retirement was not audited")
        let ring = try KeyRing.load(path: ringFile)
        #expect(ring.versions.map(\.version) == [2] && ring.retired.map(\.version) == [1])
        var info = stat()
        #expect(stat(ringFile, &info) == 0 && info.st_mode & 0o777 == 0o600)
        refused = TestCluster.run(retire)
        #expect(refused.0 == 1 && refused.1.contains("already retired"), "\(refused.1)")

        // The live cluster on the retired ring: the live patient reads.
        try Self.restartAll(source)
        guard let after = source.awaitLeader(among: ["a", "b", "c"]) else { return }
        let reader = try #require(source.client(after, role: "supervisor"))
        let live = try reader.send("GET", "/v1/patients/ref-live/record?breakGlass=true&reason=dr%20audit")
        #expect(live.status == 200 && (live.jsonObject?["fields"] as? [String: String])?["name"] == "Jane Roe", "\(Self.message(live))")
        // A backup taken now (after the re-wrap) opens with the retired ring.
        let newBackup = source.directory + "/after-retire.llbk"
        #expect(TestCluster.run(["backup", "--cluster", source.directory, "--node", after, "--out", newBackup]).0 == 0)
        var machine = LifelineStateMachine()
        try machine.restore(try NodeSnapshotData(decoding: try BackupImage(decoding: Self.contents(newBackup)).snapshot).machine)
        #expect(try machine.security.readRecord("ref-live", ring: ring)["name"] == "Jane Roe")
        source.stopNodes()

        // The old backup, restored into a new cluster that has the retired ring.
        let restored = try TestCluster(nodes: 3, slot: 19, extra: ["--restore", oldBackup, "--keys", ringFile])
        defer { restored.down() }
        guard let newLeader = restored.awaitLeader(among: ["a", "b", "c"]) else { return }
        let auditorView = try #require(restored.client(newLeader, role: "supervisor"))
        for patient in ["ref-gone", "ref-live"] {
            let response = try auditorView.send("GET", "/v1/patients/\(patient)/record?breakGlass=true&reason=dr%20audit")
            let text = String(decoding: response.body, as: UTF8.self)
            #expect(response.status == 409 && Self.errorCode(response) == "key_retired", "\(patient): \(text)")
            #expect(Self.message(response).contains("key version 1 was retired on"), "\(patient): \(text)")
            #expect(!text.contains("Doe") && !text.contains("Jane") && !text.contains("fields"), "plaintext in a failed read: \(text)")
        }
        let restoredOps = try #require(restored.client(newLeader, role: "ops"))
        let rewrap = try restoredOps.send("POST", "/v1/keys/rewrap").jsonObject ?? [:]
        #expect(rewrap["rewrapped"] as? Int == 0 && rewrap["unrecoverable"] as? Int == 2 && rewrap["remaining"] as? Int == 0, "\(rewrap)")
        let auditor = try #require(restored.client(newLeader, role: "auditor"))
        let events = try auditor.send("GET", "/v1/audit").jsonObject?["events"] as? [[String: Any]] ?? []
        #expect(events.contains {
            $0["action"] as? String == "phi.read" && $0["outcome"] as? String == "denied"
                && ($0["resources"] as? [String])?.contains("patient:ref-gone") == true
                && ($0["reason"] as? String)?.contains("key version 1 was retired") == true
        }, "the failed read was not audited")
        #expect(try auditor.send("GET", "/v1/audit/verify").jsonObject?["ok"] as? Bool == true)
    }

    /// Replaces the ring file's bytes, keeping it 0600 as nodes require.
    static func writeRing(_ bytes: [UInt8], _ path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(chmod(path, 0o600) == 0)
    }

    /// Creates the general queue and one task per patient at site-a.
    static func enqueue(_ cluster: TestCluster, _ supervisor: HTTPClient, patients: [String]) throws {
        #expect(cluster.waitUntil(timeoutMs: 10_000) { ((try? supervisor.send("GET", "/v1/sites").jsonObject?["sites"]) as? [Any])?.count == 3 })
        #expect(try supervisor.sendJSON("PUT", "/v1/queues/general", json: [:] as [String: Any]).status == 200)
        for patient in patients {
            let created = try supervisor.sendJSON("POST", "/v1/tasks", json: [
                "queue": "general", "channel": "chat", "site": "site-a",
                "patient": ["id": patient, "name": "Name of \(patient)", "phone": "+1 555 0100", "dateOfBirth": "1970-01-02"],
            ])
            #expect(created.status == 201, "\(String(decoding: created.body, as: UTF8.self))")
        }
    }

    /// `keys rotate --cluster` rotates, makes every running node reload the ring
    /// and re-wraps the data keys: no restart. A reload refuses another cluster's
    /// ring or an older copy and keeps the running ring; SIGHUP reloads too.
    @Test func rotatingWithATargetReloadsEveryNodeAndRewrapsWithoutARestart() throws {
        let cluster = try TestCluster(nodes: 3, slot: 19)
        defer { cluster.down() }
        guard let leader = cluster.awaitLeader(among: ["a", "b", "c"]) else { return }
        let supervisor = try #require(cluster.client(leader, role: "supervisor"))
        try Self.enqueue(cluster, supervisor, patients: ["ref-1", "ref-2"])
        let ringFile = cluster.directory + "/keyring.json"
        let original = Self.contents(ringFile)
        let rotated = TestCluster.run(["keys", "rotate", "--file", ringFile, "--cluster", cluster.directory])
        #expect(rotated.0 == 0 && rotated.1.contains("re-wrapped 2 data key(s) under KEK version 2; remaining 0"), "\(rotated.1)")
        for node in ["a", "b", "c"] {
            let usage = try #require(cluster.client(node)).send("GET", "/v1/keys/usage").jsonObject ?? [:]
            #expect(usage["activeVersion"] as? Int == 2 && usage["wrappedDataKeys"] as? [String: Int] == ["2": 2], "\(node): \(usage)")
        }
        let record = try supervisor.send("GET", "/v1/patients/ref-1/record?breakGlass=true&reason=after+rotation")
        #expect(record.status == 200 && (record.jsonObject?["fields"] as? [String: String])?["name"] == "Name of ref-1", "\(Self.message(record))")

        // Refused reloads keep the running ring: another cluster's ring, an older copy.
        let rotatedBytes = Self.contents(ringFile)
        let other = cluster.directory + "/other.json"
        #expect(TestCluster.run(["keys", "init", "--file", other, "--cluster-id", "local"]).0 == 0)
        for (bytes, expected) in [(Self.contents(other), "another token secret"), (original, "missing from the new ring without a tombstone")] {
            try Self.writeRing(bytes, ringFile)
            let refused = TestCluster.run(["keys", "reload", "--cluster", cluster.directory])
            #expect(refused.0 == 1 && refused.1.contains(expected) && refused.1.contains("keep their running ring"), "\(refused.1)")
            let usage = try #require(cluster.client("b")).send("GET", "/v1/keys/usage").jsonObject ?? [:]
            #expect(usage["activeVersion"] as? Int == 2, "a refused reload changed the running ring: \(usage)")
        }
        try Self.writeRing(rotatedBytes, ringFile)
        let again = TestCluster.run(["keys", "reload", "--cluster", cluster.directory])
        #expect(again.0 == 0 && again.1.contains("(unchanged)"), "\(again.1)")
        // Nodes on different versions: re-wrap refuses and changes nothing.
        #expect(TestCluster.run(["keys", "rotate", "--file", ringFile]).0 == 0)
        #expect(try #require(cluster.client("a")).send("POST", "/v1/keys/reload").status == 200)
        let split = TestCluster.run(["keys", "rewrap", "--cluster", cluster.directory])
        #expect(split.0 == 1 && split.1.contains("differ") && split.1.contains("nothing was re-wrapped"), "\(split.1)")
        // SIGHUP reloads the other two.
        for node in ["b", "c"] {
            #expect(TestCluster.run(["cluster", "kill", node, "--signal", "HUP", "--dir", cluster.directory]).0 == 0)
        }
        #expect(cluster.waitUntil(timeoutMs: 10_000) {
            ["b", "c"].allSatisfy { (try? cluster.client($0)?.send("GET", "/v1/keys/usage").jsonObject?["activeVersion"] as? Int) == 3 }
        }, "SIGHUP did not reload the key ring")
        let rewrapped = TestCluster.run(["keys", "rewrap", "--cluster", cluster.directory])
        #expect(rewrapped.0 == 0 && rewrapped.1.contains("re-wrapped 2 data key(s) under KEK version 3"), "\(rewrapped.1)")

        let auditor = try #require(cluster.client(leader, role: "auditor"))
        let events = try auditor.send("GET", "/v1/audit?action=key.reload").jsonObject?["events"] as? [[String: Any]] ?? []
        #expect(events.count >= 10 && events.allSatisfy { $0["action"] as? String == "key.reload" }, "\(events.count) key.reload events")
        #expect(events.filter { $0["outcome"] as? String == "denied" }.count == 6, "refused reloads are not audited")
        #expect(events.contains { $0["actor"] as? String == "signal:SIGHUP" })
        #expect(try auditor.send("GET", "/v1/audit/verify").jsonObject?["ok"] as? Bool == true)
    }

    /// Retention: patients past the period are listed and shredded by command,
    /// each audited; break-glass reads are reported.
    @Test func patientsPastRetentionAreShreddedByCommandAndBreakGlassIsReported() throws {
        let cluster = try TestCluster(nodes: 3, slot: 19)
        defer { cluster.down() }
        guard let leader = cluster.awaitLeader(among: ["a", "b", "c"]) else { return }
        let supervisor = try #require(cluster.client(leader, role: "supervisor"))
        try Self.enqueue(cluster, supervisor, patients: ["ref-1", "ref-2", "ref-3"])
        let read = try supervisor.send("GET", "/v1/patients/ref-2/record?breakGlass=true&reason=chart%20review+2026")
        #expect(read.status == 200, "\(Self.message(read))")

        let none = TestCluster.run(["patients", "retention", "--cluster", cluster.directory])
        #expect(none.0 == 0 && none.1.contains("0 patient(s) past the retention period (2192 days)"), "\(none.1)")
        let listed = TestCluster.run(["patients", "retention", "--cluster", cluster.directory, "--older-than-days", "0"])
        #expect(listed.0 == 0 && listed.1.contains("3 patient(s)") && listed.1.contains("ref-3"), "\(listed.1)")
        #expect(TestCluster.run(["patients", "retention", "--cluster", cluster.directory, "--shred"]).0 == 2, "a shred without a reason ran")
        #expect(try supervisor.send("GET", "/v1/patients/retention?olderThanDays=soon").status == 400)
        for bad in [["reason": "r", "olderThanDays": "soon"], ["reason": "r", "limit": 0], ["olderThanDays": 0]] as [[String: Any]] {
            let response = try supervisor.sendJSON("POST", "/v1/patients/retention", json: bad)
            #expect(response.status == 422 && Self.errorCode(response) == "invalid_request", "\(bad): \(Self.message(response))")
        }
        let first = try supervisor.sendJSON("POST", "/v1/patients/retention", json: ["reason": "policy", "olderThanDays": 0, "limit": 2])
        #expect(first.status == 200 && first.jsonObject?["shredded"] as? Int == 2 && first.jsonObject?["remaining"] as? Int == 1,
                "\(String(decoding: first.body, as: UTF8.self))")
        let rest = TestCluster.run(["patients", "retention", "--cluster", cluster.directory, "--older-than-days", "0", "--shred", "--reason", "policy"])
        #expect(rest.0 == 0 && rest.1.contains("crypto-shredded 1 patient(s)"), "\(rest.1)")
        for node in ["a", "b", "c"] {
            let reader = try #require(cluster.client(node, role: "supervisor"))
            for patient in ["ref-1", "ref-2", "ref-3"] {
                let response = try reader.send("GET", "/v1/patients/\(patient)/record?breakGlass=true&reason=check")
                #expect(response.status == 409 && Self.errorCode(response) == "shredded", "\(node) \(patient): \(Self.message(response))")
            }
        }
        let auditor = try #require(cluster.client(leader, role: "auditor"))
        let shreds = try auditor.send("GET", "/v1/audit?action=phi.shred").jsonObject?["events"] as? [[String: Any]] ?? []
        #expect(Set(shreds.compactMap { ($0["resources"] as? [String])?.first }) == ["patient:ref-1", "patient:ref-2", "patient:ref-3"])
        #expect(shreds.allSatisfy { ($0["reason"] as? String)?.hasPrefix("retention 0 days: policy") == true })

        let report = TestCluster.run(["audit", "break-glass", "--cluster", cluster.directory])
        // One allowed read and nine refused ones (the shredded records), each flagged.
        #expect(report.0 == 0 && report.1.contains("break-glass accesses: 10"), "\(report.1)")
        #expect(report.1.contains("phi.read allowed  patient:ref-2  reason: chart review 2026"), "\(report.1)")
        #expect(!report.1.contains("Name of"), "the report shows PHI")
        #expect(try auditor.send("GET", "/v1/audit/verify").jsonObject?["ok"] as? Bool == true)
    }
}
