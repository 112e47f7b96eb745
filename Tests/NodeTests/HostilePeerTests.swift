#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable import Node
import Raft
import Testing
import Transport

/// What arrives on a node's peer port that is not a peer: random bytes, a
/// certificate from another CA, a cluster certificate claiming another node's id.
/// Each such connection is closed and logged with its reason; the node keeps
/// serving and the cluster keeps committing.
@Suite(.serialized) struct HostilePeerTests {
    @Test func garbageForeignCertificatesAndFalseIdentitiesAreRefusedAndTheClusterCommits() throws {
        let cluster = try TestCluster(nodes: 3, slot: 5)
        defer { cluster.down() }
        let all = ["a", "b", "c"]
        guard cluster.awaitLeader(among: all) != nil, let target = cluster.file.nodes.first(where: { $0.node == "a" }),
              let address = HostPort(parsing: target.peerAddress) else { return }

        // 1. Random bytes over plain TCP, several times.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5 {
            if let connection = try? connectPlain(host: address.host, port: address.port, deadline: .after(milliseconds: 2_000)) {
                let garbage = (0..<4_096).map { _ in UInt8.random(in: 0...255, using: &generator) }
                try? connection.write(garbage, deadline: .after(milliseconds: 2_000))
                connection.close()
            }
        }

        // 2. A client certificate of this cluster's CA (the ops client) claiming to be node b.
        let tls = cluster.directory + "/tls"
        let ops = try TLSContext(role: .client, caFile: tls + "/ca.pem", certFile: tls + "/ops.pem", keyFile: tls + "/ops-key.pem")
        let impostor = try connectTLS(host: address.host, port: address.port, context: ops, expectedPeer: "a", deadline: .after(milliseconds: 5_000))
        try impostor.write(Hello(node: NodeID("b"), clusterID: "local").frame().encoded(), deadline: .after(milliseconds: 2_000))
        // The node closes the link (a clean close or a reset) instead of keeping it.
        var outcome: ConnectionError?
        for _ in 0..<25 where outcome == nil {
            do {
                _ = try impostor.read(maxBytes: 1_024, deadline: .after(milliseconds: 200))
            } catch {
                if error != .timedOut { outcome = error }
            }
        }
        #expect(outcome != nil, "the impostor's link stayed open")
        impostor.close()

        // 3. A certificate from another CA: the handshake fails.
        let foreign = NSTemporaryDirectory() + "lifeline-foreign-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: foreign) }
        try CertificateAuthority.generateCluster(directory: foreign, nodes: ["b"], clients: [])
        let stranger = try TLSContext(role: .client, caFile: foreign + "/ca.pem", certFile: foreign + "/b.pem", keyFile: foreign + "/b-key.pem")
        #expect(throws: ConnectionError.self) {
            let connection = try connectTLS(host: address.host, port: address.port, context: stranger, expectedPeer: nil, deadline: .after(milliseconds: 5_000))
            // TLS 1.3 may report the server's refusal of our certificate on the first read.
            _ = try connection.read(maxBytes: 1_024, deadline: .after(milliseconds: 2_000))
        }

        // The node still serves, and the cluster still commits through it.
        #expect(cluster.put(through: "a", keys: 0..<20, prefix: "after-garbage") == 20, "\(cluster.logs())")
        let applied = (cluster.view("a")?["appliedIndex"] as? NSNumber)?.uint64Value ?? 0
        #expect(cluster.waitUntil(timeoutMs: ClusterProcessTests.convergeWaitMs) { cluster.converged(all, atLeast: applied) })
        let log = (try? String(contentsOfFile: cluster.directory + "/a.log", encoding: .utf8)) ?? ""
        let rejections = log.split(separator: "\n").filter { $0.contains("\"event\":\"peer.rejected\"") }
        #expect(rejections.contains { $0.contains("claims to be") }, "no rejection of the false identity in a.log")
        #expect(rejections.count >= 3, "expected the garbage, the impostor and the stranger to be logged: \(rejections)")
    }
}
