import Foundation
import Node
import Testing

/// The contact center's API on a real three-site cluster: good and bad input on
/// every kind of route, writes through followers, the offer long-poll, and a
/// lost site's calls moving to agents at the other sites.
@Suite(.serialized) struct ContactCenterAPITests {
    let patient: [String: Any] = ["id": "ref-1", "name": "Jane Roe", "phone": "+1 555 0100", "dateOfBirth": "1970-01-02"]

    /// `as`: whose supervisor token (cluster up writes one per site); a supervisor
    /// acts only for the agents and tasks of their own site.
    func call(_ cluster: TestCluster, _ node: String, _ method: String, _ path: String, _ body: Any? = nil,
              raw: String? = nil, as site: String = "site-a") throws -> (Int, [String: Any]) {
        let client = try #require(cluster.client(node, role: "supervisor@\(site)"))
        var bytes: [UInt8] = []
        if let raw {
            bytes = Array(raw.utf8)
        } else if let body {
            bytes = Array(try JSONSerialization.data(withJSONObject: body))
        }
        let response = try client.send(method, path, body: bytes, timeoutMs: 15_000)
        return (response.status, response.jsonObject ?? [:])
    }

    func errorCode(_ object: [String: Any]) -> String? { (object["error"] as? [String: Any])?["code"] as? String }

    @Test func tasksAgentsQueuesAndSitesThroughAnyNode() throws {
        let cluster = try TestCluster(nodes: 3, slot: 9)
        defer { cluster.down() }
        guard let leader = cluster.awaitLeader(among: ["a", "b", "c"]) else { return }
        let followers = ["a", "b", "c"].filter { $0 != leader }
        #expect(cluster.waitUntil(timeoutMs: 10_000) {
            ((try? call(cluster, leader, "GET", "/v1/sites").1["sites"]) as? [Any])?.count == 3
        }, "the leader did not register the members' sites")

        // Configuration, through a follower (forwarded).
        #expect(try call(cluster, followers[0], "PUT", "/v1/queues/triage", ["channels": ["voice", "chat"], "audience": "nurses"]).0 == 200)
        #expect(try call(cluster, followers[0], "PUT", "/v1/queues/billing", [:] as [String: Any]).0 == 200)
        #expect(try call(cluster, followers[1], "PUT", "/v1/agents/nina", ["site": "site-b", "roles": ["nurse"]], as: "site-b").0 == 200)
        #expect(try call(cluster, followers[1], "PUT", "/v1/agents/carl", ["site": "site-c", "roles": ["agent"]], as: "site-c").0 == 200)
        #expect(try call(cluster, leader, "POST", "/v1/agents/nina/login", as: "site-b").0 == 200)

        // A clinical call: only the nurse may take it.
        let (created, task) = try call(cluster, followers[0], "POST", "/v1/tasks", [
            "queue": "triage", "channel": "voice", "callType": "clinical", "priority": 5, "patient": patient, "reason": "chest pain",
        ])
        #expect(created == 201, "\(task)")
        let id = try #require(task["id"] as? Int)
        let (polled, offer) = try call(cluster, followers[1], "GET", "/v1/agents/nina/offer?waitMs=5000", as: "site-b")
        #expect(polled == 200 && offer["task"] as? Int == id, "\(offer)")
        let token = try #require(offer["token"] as? Int)
        #expect(try call(cluster, "c", "GET", "/v1/agents/carl/offer?waitMs=200", as: "site-c").0 == 204)

        // Accept through one node, a second accept is an illegal transition and changes nothing.
        #expect(try call(cluster, "a", "POST", "/v1/agents/nina/accept", ["task": id, "token": token], as: "site-b").0 == 200)
        let (again, refused) = try call(cluster, "b", "POST", "/v1/agents/nina/accept", ["task": id, "token": token], as: "site-b")
        #expect(again == 409 && errorCode(refused) == "illegal_transition", "\(refused)")
        let (stale, staleBody) = try call(cluster, "b", "POST", "/v1/agents/nina/wrap-up", ["task": id, "token": token + 100], as: "site-b")
        #expect(stale == 409 && errorCode(staleBody) == "stale_token", "\(staleBody)")
        #expect(try call(cluster, "c", "GET", "/v1/tasks/\(id)").1["state"] as? String == "accepted")
        #expect(try call(cluster, "c", "POST", "/v1/agents/nina/wrap-up", ["task": id, "token": token], as: "site-b").0 == 200)
        #expect(try call(cluster, "a", "POST", "/v1/agents/nina/complete",
                         ["task": id, "token": token, "resolvedFirstContact": true, "csat": 5], as: "site-b").0 == 200)
        let (_, done) = try call(cluster, "b", "GET", "/v1/tasks/\(id)")
        #expect(done["state"] as? String == "completed")
        #expect((done["disposition"] as? [String: Any])?["csat"] as? Int == 5)
        #expect(done["patient"] as? String == "ref-1")
        #expect(!String(describing: done).contains("Jane"), "PHI came back from the task view")

        // Callback keeps the place; abandon closes.
        let (_, second) = try call(cluster, "a", "POST", "/v1/tasks", ["queue": "billing", "channel": "voice", "callType": "billing", "patient": patient])
        let secondID = try #require(second["id"] as? Int)
        let positionBefore = try call(cluster, "c", "GET", "/v1/tasks/\(secondID)").1["position"] as? Int
        #expect(try call(cluster, "b", "POST", "/v1/tasks/\(secondID)/callback", [:] as [String: Any]).0 == 200)
        let (_, callback) = try call(cluster, "c", "GET", "/v1/tasks/\(secondID)")
        // Waiting as a callback with its place (or already offered to the free nurse).
        #expect(callback["channel"] as? String == "callback", "\(callback)")
        if callback["state"] as? String == "queued" {
            #expect(callback["position"] as? Int == positionBefore, "the caller lost their place")
        } else {
            #expect(callback["state"] as? String == "offered", "\(callback)")
        }
        #expect(try call(cluster, "c", "POST", "/v1/tasks/\(secondID)/abandon").0 == 200)
        #expect(try call(cluster, "a", "GET", "/v1/tasks/\(secondID)").1["state"] as? String == "abandoned")

        // Lists.
        let queues = try call(cluster, "a", "GET", "/v1/queues").1["queues"] as? [[String: Any]] ?? []
        #expect(Set(queues.compactMap { $0["queue"] as? String }) == ["triage", "billing"])
        #expect(queues.allSatisfy { $0["depth"] is Int && $0["kpis"] is [String: Any] })
        let agents = try call(cluster, "b", "GET", "/v1/agents").1["agents"] as? [[String: Any]] ?? []
        #expect(Set(agents.compactMap { $0["agent"] as? String }) == ["nina", "carl"])

        // Bad input of every kind: a clear error, and nothing changes.
        let bad: [(String, String, Any?, String?, Int, String)] = [
            ("POST", "/v1/tasks", nil, "{not json", 400, "invalid_json"),
            ("POST", "/v1/tasks", nil, "[1,2]", 400, "invalid_json"),
            ("POST", "/v1/tasks", ["queue": "triage", "channel": "voice", "patient": patient, "colour": "red"], nil, 400, "invalid_request"),
            ("POST", "/v1/tasks", ["queue": "triage", "channel": 7, "patient": patient], nil, 422, "invalid_request"),
            ("POST", "/v1/tasks", ["queue": "triage", "channel": "voice"], nil, 422, "invalid_request"),
            ("POST", "/v1/tasks", ["queue": "triage", "channel": "voice", "priority": 900, "patient": patient], nil, 422, "invalid_request"),
            ("POST", "/v1/tasks", ["queue": "nowhere", "channel": "voice", "patient": patient], nil, 404, "unknown_queue"),
            ("GET", "/v1/tasks/0", nil, nil, 400, "invalid_request"),
            ("GET", "/v1/tasks/987654", nil, nil, 404, "not_found"),
            ("POST", "/v1/agents/ghost/accept", ["task": id, "token": token], nil, 404, "unknown_agent"),
            ("PUT", "/v1/agents/bad%20name", ["site": "site-a"], nil, 400, "invalid_request"),
            ("PUT", "/v1/agents/zed", ["site": "atlantis"], nil, 404, "unknown_site"),
            ("DELETE", "/v1/tasks/\(id)", nil, nil, 405, "method_not_allowed"),
            ("POST", "/v1/tasks/\(id)/escalate", [:] as [String: Any], nil, 422, "invalid_request"),
            ("POST", "/v1/tasks/\(id)/escalate", ["agent": "nina", "token": "one", "to": "triage", "reason": "other"], nil, 422, "invalid_request"),
            ("POST", "/v1/tasks/\(id)/transfer", ["agent": "nina", "token": token, "to": "nowhere"], nil, 404, "unknown_queue"),
            ("POST", "/v1/tasks/\(id)/disposition", ["agent": "nina", "token": token, "csat": 9], nil, 422, "invalid_request"),
            ("POST", "/v1/tasks/\(id)/callback", ["dueAt": "soon"], nil, 422, "invalid_request"),
            ("POST", "/v1/tasks/\(id)/verify", ["method": 5], nil, 422, "invalid_request"),
            ("POST", "/v1/tasks/\(id)/verify", [:] as [String: Any], nil, 422, "invalid_request"),
            ("POST", "/v1/agents/nina/status", ["presence": "sleeping"], nil, 422, "invalid_request"),
            ("POST", "/v1/agents/nina/accept", ["task": id], nil, 422, "invalid_request"),
            ("PUT", "/v1/queues/q2", ["serviceLevelSeconds": -1], nil, 422, "invalid_request"),
            ("PUT", "/v1/queues/q2", ["channels": "voice"], nil, 422, "invalid_request"),
            ("PUT", "/v1/queues/q2", ["overflow": [["toQueue": "billing"]]], nil, 422, "invalid_request"),
            ("POST", "/v1/patients/bad%20id/shred", ["reason": "x"], nil, 400, "invalid_request"),
            ("POST", "/v1/patients/ref-1/shred", [:] as [String: Any], nil, 422, "invalid_request"),
            ("POST", "/v1/tokens/not-hex!/revoke", nil, nil, 400, "invalid_request"),
            ("GET", "/v1/patients/ref-1/record", nil, nil, 403, "forbidden"),
        ]
        for (method, path, body, raw, status, code) in bad {
            let (got, object) = try call(cluster, followers[0], method, path, body, raw: raw)
            #expect(got == status && errorCode(object) == code, "\(method) \(path): \(got) \(object)")
        }
        // The raw key-value routes (ops): a key too long, a value too large.
        let ops = try #require(cluster.client(followers[0], role: "ops"))
        #expect(try ops.send("PUT", "/v1/kv/" + String(repeating: "k", count: 300), body: [1]).status == 400)
        #expect(try ops.send("PUT", "/v1/kv/big", body: [UInt8](repeating: 1, count: 70_000)).status == 413)
        // Ticks keep coming, so compare what a refused command would have touched.
        #expect(try call(cluster, "a", "GET", "/v1/agents/zed").0 == 404)
        #expect(try call(cluster, "a", "GET", "/v1/tasks/\(id)").1["state"] as? String == "completed")
    }

    @Test func aLostSiteIsMarkedDownAndItsCallersGoToAgentsElsewhere() throws {
        let cluster = try TestCluster(nodes: 3, slot: 10)
        defer { cluster.down() }
        guard let leader = cluster.awaitLeader(among: ["a", "b", "c"]) else { return }
        let lost = ["a", "b", "c"].first { $0 != leader }!
        let lostSite = "site-\(lost)"
        let other = ["a", "b", "c"].first { $0 != leader && $0 != lost }!
        #expect(cluster.waitUntil(timeoutMs: 10_000) {
            ((try? call(cluster, leader, "GET", "/v1/sites").1["sites"]) as? [Any])?.count == 3
        })
        #expect(try call(cluster, leader, "PUT", "/v1/queues/general", [:] as [String: Any]).0 == 200)
        #expect(try call(cluster, leader, "PUT", "/v1/agents/local", ["site": lostSite], as: lostSite).0 == 200)
        #expect(try call(cluster, leader, "PUT", "/v1/agents/remote", ["site": "site-\(other)", "capacity": ["voice": 2]], as: "site-\(other)").0 == 200)
        #expect(try call(cluster, leader, "POST", "/v1/agents/local/login", as: lostSite).0 == 200)
        // Two calls at the doomed site: one offered to its agent, one waiting.
        var ids: [Int] = []
        for number in 0..<2 {
            let (status, task) = try call(cluster, lost, "POST", "/v1/tasks",
                                          ["queue": "general", "channel": "voice", "patient": ["id": "ref-\(number)", "name": "n", "phone": "1", "dateOfBirth": "1980-05-05"]])
            #expect(status == 201)
            ids.append(task["id"] as? Int ?? 0)
        }
        #expect(try call(cluster, leader, "GET", "/v1/tasks/\(ids[0])").1["agent"] as? String == "local")

        cluster.kill9(lost)
        #expect(cluster.waitUntil(timeoutMs: 15_000) {
            let sites = (try? call(cluster, leader, "GET", "/v1/sites").1["sites"]) as? [[String: Any]] ?? []
            return sites.contains { $0["site"] as? String == lostSite && $0["up"] as? Bool == false }
        }, "the leader did not mark \(lostSite) down\n\(cluster.logs())")
        let (_, localAgent) = try call(cluster, leader, "GET", "/v1/agents/local")
        #expect(localAgent["status"] as? String == "offline")
        // The callers keep their place as callbacks and reach the agent at another site.
        #expect(try call(cluster, other, "POST", "/v1/agents/remote/login", as: "site-\(other)").0 == 200)
        for id in ids {
            let (_, task) = try call(cluster, other, "GET", "/v1/tasks/\(id)")
            #expect(task["failedOver"] as? Bool == true, "\(task)")
            #expect(task["agent"] as? String == "remote" && task["state"] as? String == "offered", "task \(id) was not rerouted: \(task)")
        }
        // Back again: the site comes up.
        try cluster.restart(lost)
        #expect(cluster.waitUntil(timeoutMs: 15_000) {
            let sites = (try? call(cluster, leader, "GET", "/v1/sites").1["sites"]) as? [[String: Any]] ?? []
            return sites.contains { $0["site"] as? String == lostSite && $0["up"] as? Bool == true }
        }, "\(lostSite) did not come back up")
    }
}
