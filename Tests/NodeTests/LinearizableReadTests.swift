import Foundation
import Node
import Testing

/// `GET /v1/kv/{key}` is linearizable on every node (ReadIndex): a read that
/// starts after a write was acknowledged sees it, on a follower too, and a node
/// cut off from a quorum refuses rather than answer from stale state.
@Suite(.serialized) struct LinearizableReadTests {
    @Test func followersReadTheirClusterSWritesAndAMinorityRefusesToReadOrHangAWrite() throws {
        let cluster = try TestCluster(nodes: 3, slot: 8)
        defer { cluster.down() }
        let all = ["a", "b", "c"]
        guard let leader = cluster.awaitLeader(among: all) else { return }
        let followers = all.filter { $0 != leader }
        guard let writer = cluster.client(leader), let reader = cluster.client(followers[0]) else {
            Issue.record("no clients")
            return
        }
        var stale = 0
        for round in 0..<40 {
            let value = Array("v\(round)".utf8)
            let put = try writer.send("PUT", "/v1/kv/register", body: value)
            #expect(put.status == 200)
            let get = try reader.send("GET", "/v1/kv/register")
            if get.status != 200 || get.body != value { stale += 1 }
        }
        #expect(stale == 0, "\(stale) of 40 follower reads missed an acknowledged write")
        #expect(try reader.send("GET", "/v1/kv/never-written").status == 404)

        // Cut the leader off from everyone. A write it accepts before it notices
        // cannot commit: the answer is a 504 at the write's deadline (10 s; it
        // may still apply), not a connection left hanging. The node loop gives
        // that answer, since the API thread no longer waits for writes.
        for node in followers { cluster.kill9(node) }
        let stranded = try cluster.client(leader)?.send("PUT", "/v1/kv/stranded", body: Array("x".utf8), timeoutMs: 20_000)
        #expect(stranded.map { [504, 503, 421].contains($0.status) } == true, "a leader without a quorum answered \(stranded?.status ?? 0)")
        #expect(stranded.map { String(decoding: $0.body, as: UTF8.self).contains("\"timeout\"") || $0.status != 504 } == true)
        // And its read must fail, not return old data.
        let lonely = try cluster.client(leader)?.send("GET", "/v1/kv/register", timeoutMs: 15_000)
        #expect(lonely.map { $0.status == 503 || $0.status == 504 } == true, "a minority node answered \(lonely?.status ?? 0)")
    }
}
