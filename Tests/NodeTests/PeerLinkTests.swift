#if canImport(Glibc)
import Glibc
#endif
import Chaos
import Foundation
@testable import Node
import Raft
import Testing
import Transport

/// An outbound peer link whose far end stops answering. Writes keep succeeding into
/// socket buffers, so only the missing pongs can tell; the link must give up and
/// reconnect instead of writing heartbeat answers into the void for minutes.
@Suite(.serialized) struct PeerLinkTests {
    @Test func aLinkWhosePongsStopIsClosedAndRedialled() throws {
        let directory = NSTemporaryDirectory() + "lifeline-peerlink-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try CertificateAuthority.generateCluster(directory: directory, nodes: ["a", "b"], clients: [])
        func context(_ role: TLSContext.Role, _ node: String) throws -> TLSContext {
            try TLSContext(role: role, caFile: directory + "/ca.pem", certFile: directory + "/\(node).pem", keyFile: directory + "/\(node)-key.pem")
        }
        let logPath = directory + "/a.log"
        let logFD = open(logPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        try #require(logFD >= 0)
        defer { close(logFD) }

        // The receiver: node b's peer listener.
        let any = HostPort(host: "127.0.0.1", port: 0)
        let configB = NodeConfig(
            node: NodeID("b"), site: SiteID("b"), clusterID: "test", dataDir: directory,
            peerListen: any, apiListen: any, peers: [], tls: TLSFiles(ca: "", cert: "", key: ""))
        let receiver = try TLSPeerNetwork(
            config: configB, serverContext: try context(.server, "b"), clientContext: try context(.client, "b"),
            inbox: Inbox(capacity: 1_024), log: Log(node: "b", minimumLevel: .error))
        defer { receiver.stop() }
        let proxy = try FaultProxy(name: "a->b", target: ProxyTarget(port: receiver.peerPort), seed: 3)
        defer { proxy.stop() }

        // Node a's outbound link to b, through the proxy.
        let link = PeerLink(
            local: NodeID("a"), clusterID: "test", remote: NodeID("b"), address: HostPort(host: "127.0.0.1", port: proxy.port),
            context: try context(.client, "a"), inbox: Inbox(capacity: 1_024), log: Log(node: "a", fileDescriptor: logFD))
        defer { link.stop() }
        #expect(waitUntil(timeoutMs: 10_000) { link.isConnected }, "the link never connected")
        // Let the first ping be answered, so the link knows its receiver pongs.
        ProcessControl.pause(ms: 1_000)

        // The far end goes silent; the link keeps "sending" into buffers.
        proxy.setSettings(.forward, FaultSettings(blackhole: true))
        proxy.setSettings(.backward, FaultSettings(blackhole: true))
        let bound = UInt64(PeerLink.pongTimeoutMs) + 20_000
        #expect(waitUntil(timeoutMs: bound) {
            link.enqueue(Frame(type: .raftMessages, payload: TLSPeerNetwork.encode([])))
            return !link.isConnected
        }, "the link still counts as connected \(bound) ms after its receiver went silent")
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        #expect(log.contains("\"event\":\"peer.stale\""), "no peer.stale in:\n\(log)")

        // After the heal, it dials again and is connected.
        proxy.setSettings(.forward, .clean)
        proxy.setSettings(.backward, .clean)
        #expect(waitUntil(timeoutMs: 15_000) { link.isConnected }, "the link did not reconnect after the heal")
    }

    private func waitUntil(timeoutMs: UInt64, _ condition: () -> Bool) -> Bool {
        let deadline = Node.MonotonicClock.nowNs() + timeoutMs * 1_000_000
        while Node.MonotonicClock.nowNs() < deadline {
            if condition() { return true }
            ProcessControl.pause(ms: 100)
        }
        return condition()
    }
}
