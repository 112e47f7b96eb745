#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Node
import Testing

/// Real `lifeline serve` processes on 127.0.0.1, over TLS with fsync. Serialized:
/// the clusters are heavy for a shared 2-core machine.
@Suite(.serialized) struct ClusterProcessTests {
    static let electionWaitMs: UInt64 = 30_000
    static let convergeWaitMs: UInt64 = 60_000

    func uint(_ value: Any?) -> UInt64 { (value as? NSNumber)?.uint64Value ?? 0 }

    @Test func threeNodesElectALeaderAndReplicate() throws {
        let cluster = try TestCluster(nodes: 3, slot: 0)
        defer { cluster.down() }
        let all = ["a", "b", "c"]
        guard let leader = cluster.awaitLeader(among: all) else { return }
        let follower = all.first { $0 != leader }!
        let before = cluster.view(leader)?["stateHash"] as? String
        // Through a follower (forwarded to the leader) and through the leader.
        #expect(cluster.put(through: follower, keys: 0..<30, prefix: "f") == 30, "\(cluster.logs())")
        #expect(cluster.put(through: leader, keys: 0..<30, prefix: "l") == 30)
        let target = uint(cluster.view(leader)?["appliedIndex"])
        #expect(cluster.waitUntil(timeoutMs: Self.convergeWaitMs) { cluster.converged(all, atLeast: target) }, "\(cluster.logs())")
        let after = cluster.view(leader)?["stateHash"] as? String
        #expect(after != before)
        let members = cluster.view(follower)?["members"] as? [[String: Any]] ?? []
        #expect(Set(members.compactMap { $0["node"] as? String }) == Set(all))
        #expect(members.allSatisfy { $0["role"] as? String == "voter" })
        let ready = try cluster.client(follower)?.send("GET", "/ready")
        #expect(ready?.status == 200)
    }

    @Test func killingTheLeaderElectsAnotherAndTheOldOneCatchesUp() throws {
        let cluster = try TestCluster(nodes: 3, slot: 1)
        defer { cluster.down() }
        let all = ["a", "b", "c"]
        guard let old = cluster.awaitLeader(among: all) else { return }
        let oldTerm = uint(cluster.view(old)?["term"])
        #expect(cluster.put(through: old, keys: 0..<20, prefix: "before") == 20)
        cluster.kill9(old)
        let survivors = all.filter { $0 != old }
        guard let next = cluster.awaitLeader(among: survivors, excluding: old) else { return }
        #expect(uint(cluster.view(next)?["term"]) > oldTerm)
        let other = survivors.first { $0 != next }!
        #expect(cluster.put(through: other, keys: 0..<20, prefix: "after") == 20, "\(cluster.logs())")
        try cluster.restart(old)
        let target = uint(cluster.view(next)?["appliedIndex"])
        #expect(cluster.waitUntil(timeoutMs: Self.convergeWaitMs) { cluster.converged(all, atLeast: target) },
                "old leader did not catch up\n\(cluster.logs())")
    }

    @Test func aNodeDownPastCompactionCatchesUpThroughASnapshot() throws {
        let cluster = try TestCluster(nodes: 3, slot: 2, extra: ["--snapshot-every", "16"])
        defer { cluster.down() }
        let all = ["a", "b", "c"]
        guard let leader = cluster.awaitLeader(among: all) else { return }
        let lagging = all.first { $0 != leader }!
        cluster.kill9(lagging)
        #expect(cluster.put(through: leader, keys: 0..<80, prefix: "k") == 80)
        let leaderView = cluster.view(leader)
        #expect(uint(leaderView?["snapshotIndex"]) >= 64, "leader did not compact")
        try cluster.restart(lagging)
        let target = uint(leaderView?["appliedIndex"])
        #expect(cluster.waitUntil(timeoutMs: Self.convergeWaitMs) { cluster.converged(all, atLeast: target) },
                "lagging node did not catch up\n\(cluster.logs())")
        let logText = (try? String(contentsOfFile: cluster.directory + "/\(lagging).log", encoding: .utf8)) ?? ""
        #expect(logText.contains("\"event\":\"snapshot.restored\""), "catch-up did not use a snapshot")
    }

    @Test func learnerJoinsIsPromotedAnotherIsRemovedAndLeadershipTransfers() throws {
        let cluster = try TestCluster(nodes: 3, slot: 3, extra: ["--spares", "1"])
        defer { cluster.down() }
        let founders = ["a", "b", "c"]
        guard let leader = cluster.awaitLeader(among: founders) else { return }
        #expect(cluster.put(through: leader, keys: 0..<10, prefix: "m") == 10)
        guard let spare = cluster.file.nodes.first(where: { $0.node == "d" }), let api = spare.apiAddress else {
            Issue.record("cluster up --spares 1 did not describe node d")
            return
        }
        let dir = cluster.directory
        let (added, addOutput) = TestCluster.run([
            "members", "add", "d", "--site", spare.site, "--peer-address", spare.peerAddress, "--api-address", api.description,
            "--cluster", dir,
        ])
        #expect(added == 0, "\(addOutput)")
        try cluster.restart("d")
        func role(_ node: String) -> String? {
            let members = cluster.view(leader)?["members"] as? [[String: Any]] ?? []
            return members.first { $0["node"] as? String == node }?["role"] as? String
        }
        #expect(role("d") == "learner")
        let target = uint(cluster.view(leader)?["appliedIndex"])
        #expect(cluster.waitUntil(timeoutMs: Self.convergeWaitMs) { cluster.converged(founders + ["d"], atLeast: target) },
                "learner did not catch up\n\(cluster.logs())")
        let (promoted, promoteOutput) = TestCluster.run(["members", "promote", "d", "--cluster", dir])
        #expect(promoted == 0, "\(promoteOutput)")
        #expect(cluster.waitUntil(timeoutMs: 10_000) { role("d") == "voter" })
        let removed = founders.first { $0 != leader }!
        let (removeStatus, removeOutput) = TestCluster.run(["members", "remove", removed, "--cluster", dir])
        #expect(removeStatus == 0, "\(removeOutput)")
        #expect(cluster.waitUntil(timeoutMs: 10_000) { role(removed) == nil })
        let remaining = (founders + ["d"]).filter { $0 != removed }
        let (transferred, transferOutput) = TestCluster.run(["transfer-leader", "--to", "d", "--cluster", dir])
        #expect(transferred == 0, "\(transferOutput)")
        #expect(cluster.waitUntil(timeoutMs: 15_000) { cluster.agreedLeader(among: remaining) == "d" }, "\(cluster.logs())")
        #expect(cluster.put(through: "d", keys: 0..<5, prefix: "after") == 5)
    }

    @Test func sigtermOnTheLeaderHandsOverLeadershipAndExits() throws {
        let cluster = try TestCluster(nodes: 3, slot: 4)
        defer { cluster.down() }
        let all = ["a", "b", "c"]
        guard let leader = cluster.awaitLeader(among: all) else { return }
        let pid = cluster.pid(leader)
        kill(pid, SIGTERM)
        #expect(cluster.waitUntil(timeoutMs: 15_000) { !ProcessControl.isRunning(pid, commandContains: ["serve"]) })
        let survivors = all.filter { $0 != leader }
        #expect(cluster.waitUntil(timeoutMs: Self.electionWaitMs) { cluster.agreedLeader(among: survivors) != nil })
        let logText = (try? String(contentsOfFile: cluster.directory + "/\(leader).log", encoding: .utf8)) ?? ""
        #expect(logText.contains("\"event\":\"leader.transfer_on_shutdown\""), "\(logText)")
        #expect(logText.contains("\"event\":\"node.exited\""), "\(logText)")
        #expect(logText.contains("\"code\":\"0\""), "\(logText)")
    }
}
