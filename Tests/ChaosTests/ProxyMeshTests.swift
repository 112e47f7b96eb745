import Testing
@testable import Chaos

/// The mesh on three echo servers standing in for three nodes' peer ports.
@Suite(.serialized)
struct ProxyMeshTests {
    let nodes = [NodeName("n1"), NodeName("n2"), NodeName("n3")]

    /// True when two bytes sent through the proxy from->to come back within the time limit.
    func roundTrip(_ mesh: ProxyMesh, from: NodeName, to: NodeName, timeoutMs: UInt64 = 5_000) -> Bool {
        guard let client = try? TestClient(port: mesh.proxy(from: from, to: to).port) else { return false }
        defer { client.close() }
        client.send([42, 43])
        return client.receive(count: 2, timeoutMs: timeoutMs).bytes == [42, 43]
    }

    func withMesh(_ body: (ProxyMesh) throws -> Void) throws {
        let servers = try nodes.map { _ in try EchoServer() }
        defer { servers.forEach { $0.stop() } }
        var targets: [NodeName: ProxyTarget] = [:]
        for (node, server) in zip(nodes, servers) { targets[node] = ProxyTarget(port: server.port) }
        let mesh = try ProxyMesh(targets: targets, seed: 11)
        defer { mesh.stop() }
        try body(mesh)
    }

    @Test func oneProxyPerOrderedPairEachReachingItsTarget() throws {
        try withMesh { mesh in
            #expect(mesh.allLinks.count == 6)
            for link in mesh.allLinks {
                #expect(roundTrip(mesh, from: link.from, to: link.to), "\(link)")
            }
        }
    }

    @Test func isolateCutsEveryLinkOfTheNodeAndHealRestores() throws {
        try withMesh { mesh in
            mesh.isolate(nodes[0])
            #expect(roundTrip(mesh, from: nodes[0], to: nodes[1], timeoutMs: 250) == false)
            #expect(roundTrip(mesh, from: nodes[2], to: nodes[0], timeoutMs: 250) == false)
            #expect(roundTrip(mesh, from: nodes[1], to: nodes[2]))
            mesh.heal()
            #expect(roundTrip(mesh, from: nodes[0], to: nodes[1]))
            #expect(roundTrip(mesh, from: nodes[2], to: nodes[0]))
        }
    }

    @Test func asymmetricBlocksOneDirectionOnBothProxies() throws {
        try withMesh { mesh in
            mesh.blockOneWay(from: nodes[0], to: nodes[1])
            // n1's bytes to n2 cross proxy n1->n2 forward and proxy n2->n1 backward: both blocked.
            #expect(mesh.proxy(from: nodes[0], to: nodes[1]).settings(.forward).blackhole)
            #expect(!mesh.proxy(from: nodes[0], to: nodes[1]).settings(.backward).blackhole)
            #expect(mesh.proxy(from: nodes[1], to: nodes[0]).settings(.backward).blackhole)
            #expect(!mesh.proxy(from: nodes[1], to: nodes[0]).settings(.forward).blackhole)
            // An echo needs both ways, so both round trips stall; n1-n3 and n2-n3 are untouched.
            #expect(roundTrip(mesh, from: nodes[0], to: nodes[1], timeoutMs: 250) == false)
            #expect(roundTrip(mesh, from: nodes[0], to: nodes[2]))
            #expect(roundTrip(mesh, from: nodes[1], to: nodes[2]))
        }
    }

    @Test func partitionSplitsGroups() throws {
        try withMesh { mesh in
            mesh.partition([[nodes[0]], [nodes[1], nodes[2]]])
            let blocked = mesh.allLinks.filter { mesh.settings(of: $0).blackhole }
            #expect(Set(blocked) == Set([
                DirectedLink(from: nodes[0], to: nodes[1]), DirectedLink(from: nodes[1], to: nodes[0]),
                DirectedLink(from: nodes[0], to: nodes[2]), DirectedLink(from: nodes[2], to: nodes[0]),
            ]))
            #expect(roundTrip(mesh, from: nodes[1], to: nodes[2]))
        }
    }

    @Test func healRestoresTheBaselineLatencyNotZero() throws {
        try withMesh { mesh in
            let link = DirectedLink(from: nodes[0], to: nodes[1])
            mesh.setBaseline(link, FaultSettings(latencyMs: 30))
            mesh.setLatency(ms: 400, jitterMs: 50, only: [link])
            #expect(mesh.proxy(from: nodes[0], to: nodes[1]).settings(.forward).latencyMs == 400)
            #expect(mesh.proxy(from: nodes[1], to: nodes[0]).settings(.backward).latencyMs == 400)
            mesh.heal()
            #expect(mesh.settings(of: link) == FaultSettings(latencyMs: 30))
            #expect(mesh.proxy(from: nodes[1], to: nodes[0]).settings(.backward).latencyMs == 30)
        }
    }
}
