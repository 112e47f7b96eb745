import Chaos
import Foundation
import Node
import Testing

/// The drill harness's node hooks on a real three-site cluster: evidence read
/// from every node agrees at one applied index and shows an agent's work with
/// the token the agent saw; hooks that are off answer 404; only ops may call
/// them; a slow disk shows in the node's persist latency.
@Suite(.serialized) struct DrillHooksTests {
    func call(_ cluster: TestCluster, _ node: String, _ method: String, _ path: String, _ body: Any? = nil,
              role: String = "supervisor") throws -> (Int, [String: Any]) {
        let response = try send(cluster, node, method, path, body, role: role)
        return (response.status, response.jsonObject ?? [:])
    }

    func send(_ cluster: TestCluster, _ node: String, _ method: String, _ path: String, _ body: Any? = nil,
              role: String = "supervisor") throws -> HTTPResponse {
        let client = try #require(cluster.client(node, role: role))
        let bytes = try body.map { Array(try JSONSerialization.data(withJSONObject: $0)) } ?? []
        return try client.send(method, path, body: bytes, timeoutMs: 15_000)
    }

    func errorCode(_ object: [String: Any]) -> String? { (object["error"] as? [String: Any])?["code"] as? String }

    func evidence(_ cluster: TestCluster, _ node: String) throws -> (NodeFinalState, [String: Any]) {
        let response = try send(cluster, node, "GET", "/v1/drill/evidence", role: "ops")
        #expect(response.status == 200, "\(String(decoding: response.body, as: UTF8.self))")
        return (try JSONDecoder().decode(NodeFinalState.self, from: Data(response.body)), response.jsonObject ?? [:])
    }

    /// `lifeline_storage_persist_seconds_sum` of `node`, from /metrics.
    func persistSeconds(_ cluster: TestCluster, _ node: String) throws -> Double {
        let text = String(decoding: try send(cluster, node, "GET", "/metrics", role: "ops").body, as: UTF8.self)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("lifeline_storage_persist_seconds_sum") })
        return try #require(line.split(separator: " ").last.flatMap { Double($0) })
    }

    @Test func evidenceAgreesAcrossNodesAndHooksAnswerOnlyWhenOn() throws {
        let cluster = try TestCluster(nodes: 3, slot: 20)
        defer { cluster.down() }
        try cluster.reconfigure(drill: ["a": ["evidence": true], "b": ["evidence": true], "c": ["diskDelay": true]])
        guard let leader = cluster.awaitLeader(among: ["a", "b", "c"]) else { return }
        let logA = try String(contentsOfFile: cluster.directory + "/a.log", encoding: .utf8)
        #expect(logA.contains("WARNING: drill test hooks are enabled (evidence); never run this configuration in production"))
        let logC = try String(contentsOfFile: cluster.directory + "/c.log", encoding: .utf8)
        #expect(logC.contains("WARNING: drill test hooks are enabled (diskDelay);"))
        #expect(cluster.waitUntil(timeoutMs: 10_000) {
            ((try? call(cluster, leader, "GET", "/v1/sites").1["sites"]) as? [Any])?.count == 3
        }, "the leader did not register the members' sites")

        // One queue, one agent at site-a, three calls through three nodes.
        #expect(try call(cluster, "b", "PUT", "/v1/queues/triage", ["channels": ["voice"]]).0 == 200)
        #expect(try call(cluster, "c", "PUT", "/v1/agents/ann", ["site": "site-a"]).0 == 200)
        #expect(try call(cluster, "a", "POST", "/v1/agents/ann/login").0 == 200)
        var ids: [Int: Int] = [:]
        for (priority, node) in [(1, "a"), (2, "b"), (3, "c")] {
            let patient: [String: Any] = ["id": "ref-\(priority)", "name": "Pat \(priority)", "phone": "+1 555 010\(priority)", "dateOfBirth": "1970-01-02"]
            let (status, task) = try call(cluster, node, "POST", "/v1/tasks",
                                          ["queue": "triage", "channel": "voice", "callType": "general", "priority": priority, "patient": patient])
            #expect(status == 201, "\(task)")
            ids[priority] = try #require(task["id"] as? Int)
        }

        // The agent polls, accepts, wraps up and completes what she was offered.
        let (polled, offer) = try call(cluster, "a", "GET", "/v1/agents/ann/offer?waitMs=5000")
        #expect(polled == 200, "\(offer)")
        let task = try #require(offer["task"] as? Int)
        let token = try #require((offer["token"] as? NSNumber)?.uint64Value)
        for action in ["accept", "wrap-up", "complete"] {
            #expect(try call(cluster, "a", "POST", "/v1/agents/ann/\(action)", ["task": task, "token": token]).0 == 200, "\(action)")
        }
        let (completedStatus, completed) = try call(cluster, "b", "GET", "/v1/tasks/\(task)")
        #expect(completedStatus == 200 && completed["state"] as? String == "completed", "\(completed)")

        // a and b read at one applied index: the same state, audit head and evidence.
        var pair: ((NodeFinalState, [String: Any]), (NodeFinalState, [String: Any]))?
        #expect(cluster.waitUntil(timeoutMs: 10_000) {
            guard let first = try? evidence(cluster, "a"), let second = try? evidence(cluster, "b") else { return false }
            pair = (first, second)
            return first.0.appliedIndex == second.0.appliedIndex
                && first.0.offersLog.contains { $0.task.rawValue == "\(task)" && $0.kind == .completed }
        }, "a and b did not reach one applied index with the completion")
        let ((a, rawA), (b, rawB)) = try #require(pair)
        #expect(a.node.rawValue == "a" && a.site.rawValue == "site-a" && b.node.rawValue == "b" && b.site.rawValue == "site-b")
        #expect(a.stateHash == b.stateHash && a.auditHead == b.auditHead, "equal applied index, different state")
        #expect(a.stateHash.count == 16 && a.auditHead.count == 64)
        #expect(a.tasks == b.tasks && a.agents == b.agents && a.offersLog == b.offersLog)
        #expect(rawA["fromIndex"] as? Int == 1 && rawB["fromIndex"] as? Int == 1)
        #expect(rawA["truncated"] as? Bool == false)

        let log = a.offersLog.filter { $0.task.rawValue == "\(task)" }
        #expect(log.map(\.kind) == [.enqueued, .offered, .accepted, .completed], "\(log)")
        #expect(log.dropFirst().allSatisfy { $0.agent?.rawValue == "ann" && $0.token == token }, "\(log)")
        #expect(log.map(\.index) == log.map(\.index).sorted())
        let tasks = Dictionary(uniqueKeysWithValues: a.tasks.map { ($0.id.rawValue, $0) })
        #expect(Set(ids.values.map { "\($0)" }).isSubset(of: Set(tasks.keys)), "\(a.tasks)")
        for (priority, id) in ids {
            let record = try #require(tasks["\(id)"])
            #expect(record.priority == priority && record.queue == "triage" && !record.emergency && record.enqueueTimeMs > 1_700_000_000_000)
        }
        #expect(tasks["\(task)"]?.state == .completed && tasks["\(task)"]?.agent?.rawValue == "ann")
        #expect(a.agents == [AgentSnapshot(id: AgentID("ann"), site: SiteName("site-a"), capacity: 9)])

        // Hooks that are off: 404 with a clear error. Only ops may call them.
        let (off, offBody) = try call(cluster, "c", "GET", "/v1/drill/evidence", role: "ops")
        #expect(off == 404 && errorCode(offBody) == "drill_evidence_off", "\(offBody)")
        let (diskOff, diskOffBody) = try call(cluster, "a", "POST", "/v1/drill/disk", ["fsyncDelayMs": 10], role: "ops")
        #expect(diskOff == 404 && errorCode(diskOffBody) == "drill_disk_delay_off", "\(diskOffBody)")
        #expect(try call(cluster, "a", "GET", "/v1/drill/evidence", role: "supervisor").0 == 403)
        #expect(try call(cluster, "c", "POST", "/v1/drill/disk", ["fsyncDelayMs": 10], role: "supervisor").0 == 403)

        // The slow disk: bad values refused, then every durable write on c waits.
        for bad: Any in [["fsyncDelayMs": 10_001], ["fsyncDelayMs": -1], ["fsyncDelayMs": "5"], ["fsyncDelayMs": 5, "x": 1], [:] as [String: Any]] {
            let (status, body) = try call(cluster, "c", "POST", "/v1/drill/disk", bad, role: "ops")
            #expect(status == 400 && errorCode(body) == "invalid_request", "\(bad): \(status) \(body)")
        }
        let before = try persistSeconds(cluster, "c")
        let (set, setBody) = try call(cluster, "c", "POST", "/v1/drill/disk", ["fsyncDelayMs": 300], role: "ops")
        #expect(set == 200 && setBody["fsyncDelayMs"] as? Int == 300, "\(setBody)")
        #expect(try send(cluster, leader, "PUT", "/v1/kv/slow", ["v": 1], role: "ops").status == 200)
        #expect(cluster.waitUntil(timeoutMs: 5_000) { ((try? persistSeconds(cluster, "c")) ?? 0) - before >= 0.3 },
                "c's persist latency did not grow by the delay")
        #expect(try call(cluster, "c", "POST", "/v1/drill/disk", ["fsyncDelayMs": 0], role: "ops").1["fsyncDelayMs"] as? Int == 0)
    }
}
