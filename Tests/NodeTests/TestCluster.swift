#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Node
import Testing

/// A real cluster of `lifeline serve` processes on 127.0.0.1 for one test, started
/// with `lifeline cluster up` and always torn down (`down()` in a `defer`). It
/// signals only the PIDs it started.
final class TestCluster {
    let directory: String
    var file: ClusterFile
    private var clients: [String: HTTPClient] = [:]

    static let binary: String = {
        let here = (ProcessControl.currentExecutable() as NSString).deletingLastPathComponent
        // The test runner is .build/<triple>/debug/LifelinePackageTests.xctest[/...].
        var directory = here
        for _ in 0..<4 {
            let candidate = (directory as NSString).appendingPathComponent("lifeline")
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = (directory as NSString).deletingLastPathComponent
        }
        return (here as NSString).appendingPathComponent("lifeline")
    }()

    /// A base port unlikely to collide with other test runs on this machine.
    static func basePort(slot: Int) -> Int {
        // Each cluster uses base+1...base+9 (peers), base+31...base+39 (status pages)
        // and base+51...base+59 (API). Slots 0...24 of one test process stay inside its
        // 1,500 ports, and every port stays below 32768, where Linux starts handing out
        // ephemeral ports for outgoing connections (a listener there can find its port taken).
        precondition((0...24).contains(slot), "test cluster slots are 0...24")
        return 20_000 + Int(getpid() % 8) * 1_500 + slot * 60
    }

    init(nodes: Int, slot: Int, extra: [String] = []) throws {
        directory = NSTemporaryDirectory() + "lifeline-test-\(getpid())-\(slot)-\(UInt32.random(in: 0...UInt32.max))"
        let base = TestCluster.basePort(slot: slot)
        let (status, output) = TestCluster.run(["cluster", "up", "--nodes", "\(nodes)", "--dir", directory, "--base-port", "\(base)"] + extra)
        if let written = try? ClusterFile.read(from: directory) {
            file = written
        } else {
            file = ClusterFile(nodes: [], caFile: "", certFile: "", keyFile: "")
        }
        guard status == 0 else {
            let logs = logs()
            down()
            throw TestFailure("cluster up exited \(status): \(output)\n\(logs)")
        }
    }

    struct TestFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// Runs the lifeline binary to completion, for at most two minutes.
    static func run(_ arguments: [String]) -> (Int32, String) {
        ProcessControl.run(executable: binary, arguments: arguments, timeoutMs: 120_000)
    }

    /// A keep-alive client of `node`'s API carrying the token of `role` from cluster.json.
    func client(_ node: String, role: String = "ops") -> HTTPClient? {
        let key = "\(node)/\(role)"
        if let existing = clients[key] { return existing }
        guard let entry = file.nodes.first(where: { $0.node == node }), let address = entry.apiAddress,
              let connector = try? NodeClient.tlsConnector(caFile: file.caFile, certFile: file.certFile, keyFile: file.keyFile)
        else { return nil }
        let client = HTTPClient(address: address, headers: file.authorization(role), connector: connector)
        clients[key] = client
        return client
    }

    /// `GET /v1/cluster` on `node`, or nil when it does not answer.
    func view(_ node: String) -> [String: Any]? {
        guard let client = client(node) else { return nil }
        guard let response = try? client.send("GET", "/v1/cluster", timeoutMs: 2_000), response.status == 200 else {
            client.close()
            return nil
        }
        return response.jsonObject
    }

    /// Polls `condition` every 50 ms until it holds or `timeoutMs` passes.
    func waitUntil(timeoutMs: UInt64, _ condition: () -> Bool) -> Bool {
        let deadline = MonotonicClock.deadline(afterMs: timeoutMs)
        while MonotonicClock.now() < deadline {
            if condition() { return true }
            ProcessControl.pause(ms: 50)
        }
        return condition()
    }

    /// The leader that every listed node agrees on, or nil.
    func agreedLeader(among nodes: [String]) -> String? {
        let leaders = nodes.map { view($0)?["leader"] as? String }
        guard let first = leaders.first ?? nil, leaders.allSatisfy({ $0 == first }) else { return nil }
        return first
    }

    /// Waits until `nodes` agree on a leader (and it is not `excluding`); records an
    /// issue with the nodes' logs and returns nil when they do not within the wait.
    func awaitLeader(among nodes: [String], excluding: String? = nil, timeoutMs: UInt64 = 30_000) -> String? {
        var leader: String?
        let agreed = waitUntil(timeoutMs: timeoutMs) {
            leader = agreedLeader(among: nodes)
            return leader != nil && leader != excluding
        }
        guard agreed, let leader else {
            Issue.record("no agreed leader among \(nodes)\n\(logs())")
            return nil
        }
        return leader
    }

    /// Writes `count` keys through `node`; returns how many were acknowledged.
    func put(through node: String, keys: Range<Int>, prefix: String) -> Int {
        guard let client = client(node) else { return 0 }
        var acknowledged = 0
        for index in keys {
            if let response = try? client.send("PUT", "/v1/kv/\(prefix)-\(index)", body: Array("value-\(index)".utf8)),
               response.status == 200 {
                acknowledged += 1
            }
        }
        return acknowledged
    }

    /// True when every listed node has applied at least `index` and all report one
    /// state hash computed at one applied index (hashes are refreshed lazily).
    func converged(_ nodes: [String], atLeast index: UInt64) -> Bool {
        let views = nodes.map { view($0) }
        guard views.allSatisfy({ $0 != nil }) else { return false }
        let applied = views.map { ($0?["appliedIndex"] as? NSNumber)?.uint64Value ?? 0 }
        let hashedAt = Set(views.map { ($0?["stateHashIndex"] as? NSNumber)?.uint64Value ?? 0 })
        let hashes = Set(views.map { $0?["stateHash"] as? String ?? "" })
        return applied.allSatisfy { $0 >= index } && hashedAt.count == 1 && hashedAt.first! >= index
            && hashes.count == 1 && !hashes.contains("")
    }

    func pid(_ node: String) -> pid_t { file.nodes.first { $0.node == node }?.pid ?? 0 }

    /// SIGKILL, no goodbye, through `lifeline cluster kill` (which signals the recorded pid).
    func kill9(_ node: String) {
        let pid = pid(node)
        guard ProcessControl.isRunning(pid, commandContains: ["serve", directory]) else { return }
        let (status, output) = TestCluster.run(["cluster", "kill", node, "--dir", directory])
        #expect(status == 0, "cluster kill \(node): \(output)")
        _ = waitUntil(timeoutMs: 5_000) { !ProcessControl.isRunning(pid, commandContains: ["serve", directory]) }
        for (key, client) in clients where key.hasPrefix("\(node)/") { client.close() }
    }

    /// Starts `node` again through `lifeline cluster start`, which records its new pid in cluster.json.
    func restart(_ node: String) throws {
        // Keep-alive connections to the old process are dead: drop them.
        for (key, client) in clients where key.hasPrefix("\(node)/") {
            client.close()
            clients[key] = nil
        }
        let (status, output) = TestCluster.run(["cluster", "start", node, "--dir", directory])
        guard status == 0 else { throw TestFailure("cluster start \(node) exited \(status): \(output)") }
        file = try ClusterFile.read(from: directory)
    }

    /// Stops every node, merges `drill` blocks into their configurations (node id →
    /// the block; others unchanged) and starts them again. The caller waits for a leader.
    func reconfigure(drill blocks: [String: [String: Any]]) throws {
        stopNodes()
        for (node, block) in blocks {
            let entry = try #require(file.nodes.first { $0.node == node })
            var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: entry.config))) as? [String: Any])
            config["drill"] = block
            try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]).write(to: URL(fileURLWithPath: entry.config))
        }
        for entry in file.nodes { try restart(entry.node) }
    }

    /// Stops every node this cluster started (SIGTERM, then SIGKILL) and removes the directory.
    func down() {
        stopNodes()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Stops every node this cluster started and keeps the directory.
    func stopNodes() {
        for client in clients.values { client.close() }
        clients.removeAll()
        for entry in file.nodes {
            ProcessControl.stop(entry.pid, commandContains: ["serve", directory], graceMs: 5_000)
        }
    }

    func logs() -> String {
        let views = file.nodes.map { entry -> String in
            guard let view = view(entry.node) else { return "\(entry.node): no answer" }
            let fields = ["role", "leader", "term", "commitIndex", "appliedIndex", "snapshotIndex", "stateHashIndex", "stateHash"]
            return "\(entry.node): " + fields.map { "\($0)=\(view[$0].map { "\($0)" } ?? "-")" }.joined(separator: " ")
        }
        return "--- views\n" + views.joined(separator: "\n") + "\n" + file.nodes.map { entry in
            let path = (directory as NSString).appendingPathComponent("\(entry.node).log")
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            return "--- \(entry.node).log (last lines)\n" + text.split(separator: "\n").suffix(15).joined(separator: "\n")
        }.joined(separator: "\n")
    }
}
