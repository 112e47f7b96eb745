import Foundation
@testable import Node
import Testing
import Vault

/// Bearer tokens and the role matrix on a real cluster: every route with every
/// role and with no token, bad, expired and revoked tokens, the record read with
/// its rules, and the audit trail that records it all.
@Suite(.serialized) struct AccessControlTests {
    func client(_ cluster: TestCluster, _ node: String, token: String?) throws -> HTTPClient {
        let entry = try #require(cluster.file.nodes.first { $0.node == node })
        let connector = try NodeClient.tlsConnector(caFile: cluster.file.caFile, certFile: cluster.file.certFile, keyFile: cluster.file.keyFile)
        return HTTPClient(address: try #require(entry.apiAddress), headers: token.map { [("authorization", "Bearer \($0)")] } ?? [], connector: connector)
    }

    func ring(_ cluster: TestCluster) throws -> KeyRing { try KeyRing.load(path: cluster.directory + "/keyring.json") }

    func token(_ cluster: TestCluster, _ subject: String, _ role: Role, site: String = "site-a", ttl: UInt64 = 3_600) throws -> String {
        try ring(cluster).tokenSigner.issue(subject: subject, role: role, site: site, now: Date(), ttlSeconds: ttl).token
    }

    /// A request for `route` with harmless values: unknown ids, so an allowed call
    /// ends in 404/409/422 and a refused one in 401/403.
    static func request(for route: String) -> (String, String, [UInt8]) {
        let parts = route.split(separator: " ", maxSplits: 1)
        var path = String(parts[1])
        path = path.replacingOccurrences(of: "/v1/tasks/{id}", with: "/v1/tasks/999999")
        path = path.replacingOccurrences(of: "/v1/tokens/{id}", with: "/v1/tokens/abcdef")
        path = path.replacingOccurrences(of: "{id}", with: "ghost").replacingOccurrences(of: "{key}", with: "k")
        // The record's own rules (a task of theirs, a reason) come after the matrix;
        // break-glass with a reason passes them, so an allowed role meets a 404.
        if path.hasSuffix("/record") { path += "?breakGlass=true&reason=matrix-test" }
        let method = String(parts[0])
        let body: [UInt8] = method == "GET" || method == "DELETE" ? [] : Array("{}".utf8)
        return (method, path, body)
    }

    @Test func everyRouteWithEveryRoleMatchesTheMatrix() throws {
        let cluster = try TestCluster(nodes: 3, slot: 17)
        defer { cluster.down() }
        guard let leader = cluster.awaitLeader(among: ["a", "b", "c"]) else { return }
        let table = OpenAPITests.router().table
        #expect(Set(table).subtracting(AccessPolicy.open).subtracting(AccessPolicy.matrix.keys).isEmpty,
                "routes without a row in the matrix: \(Set(table).subtracting(AccessPolicy.open).subtracting(AccessPolicy.matrix.keys))")
        let anonymous = try client(cluster, leader, token: nil)
        var clients: [Role: HTTPClient] = [:]
        for role in Role.allCases { clients[role] = try client(cluster, leader, token: try token(cluster, "ghost", role)) }
        var mismatches: [String] = []
        for route in table where route != "POST /v1/cluster/transfer-leader" && route != "DELETE /v1/cluster/members/{id}" {
            let (method, path, body) = Self.request(for: route)
            let open = AccessPolicy.open.contains(route)
            let status = try anonymous.send(method, path, body: body, timeoutMs: 15_000).status
            if open ? status == 401 : status != 401 { mismatches.append("\(route) without a token: \(status)") }
            for role in Role.allCases {
                let status = try clients[role]!.send(method, path, body: body, timeoutMs: 15_000).status
                let allowed = AccessPolicy.allows(role, route)
                if allowed ? (status == 401 || status == 403) : status != 403 {
                    mismatches.append("\(route) as \(role.rawValue): \(status), the matrix says \(allowed ? "allowed" : "forbidden")")
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n"))")

        // Bad, expired and revoked tokens.
        let ops = try token(cluster, "ops-1", .ops)
        let forged = String(ops.dropLast(4)) + (ops.hasSuffix("AAAA") ? "BBBB" : "AAAA")
        #expect(try client(cluster, leader, token: forged).send("GET", "/v1/cluster").status == 401)
        #expect(try client(cluster, leader, token: "ll1.garbage").send("GET", "/v1/cluster").status == 401)
        let signer = try ring(cluster).tokenSigner
        let expired = try signer.issue(subject: "old", role: .ops, site: "site-a", now: Date(timeIntervalSinceNow: -7_200), ttlSeconds: 60).token
        #expect(try client(cluster, leader, token: expired).send("GET", "/v1/cluster").status == 401)
        let (victim, claims) = try signer.issue(subject: "leaver", role: .ops, site: "site-a", now: Date(), ttlSeconds: 3_600)
        #expect(try client(cluster, leader, token: victim).send("GET", "/v1/cluster").status == 200)
        #expect(try clients[.ops]!.send("POST", "/v1/tokens/\(claims.tokenID)/revoke").status == 200)
        // One commit later every site refuses it.
        for node in ["a", "b", "c"] {
            #expect(cluster.waitUntil(timeoutMs: 5_000) { (try? client(cluster, node, token: victim).send("GET", "/v1/cluster").status) == 401 },
                    "\(node) still accepts a revoked token")
        }
    }

    /// Docs/security.md's per-route table is the matrix the server enforces.
    /// A token issued through the cluster is audited (token.issue, committed
    /// before the answer) and works on every node; supervisors issue only agent
    /// and nurse tokens of their own site; offline signing warns it is unaudited.
    @Test func tokensIssuedThroughTheClusterAreAuditedAndScoped() throws {
        let cluster = try TestCluster(nodes: 3, slot: 17)
        defer { cluster.down() }
        guard let leader = cluster.awaitLeader(among: ["a", "b", "c"]) else { return }
        let issued = TestCluster.run(["token", "issue", "--subject", "alice", "--role", "agent", "--site", "site-b", "--ttl", "8h",
                                      "--cluster", cluster.directory, "--json"])
        #expect(issued.0 == 0, "\(issued.1)")
        let answer = (try? JSONSerialization.jsonObject(with: Data(issued.1.utf8))) as? [String: Any] ?? [:]
        let token = try #require(answer["token"] as? String, "\(issued.1)")
        let tokenID = try #require(answer["tokenID"] as? String)
        for node in ["a", "b", "c"] {
            #expect(try client(cluster, node, token: token).send("GET", "/v1/queues").status == 200, "\(node) refuses the issued token")
        }
        let auditor = try client(cluster, leader, token: try self.token(cluster, "audrey", .auditor))
        let events = try auditor.send("GET", "/v1/audit?action=token.issue").jsonObject?["events"] as? [[String: Any]] ?? []
        #expect(events.contains { ($0["resources"] as? [String]) == ["token:\(tokenID)", "subject:alice"] && $0["outcome"] as? String == "allowed" },
                "the issuance was not audited: \(events)")
        #expect(!events.contains { "\($0)".contains(token) }, "the token itself is in the trail")

        let supervisor = try client(cluster, leader, token: try self.token(cluster, "sue", .supervisor, site: "site-b"))
        let own = try supervisor.sendJSON("POST", "/v1/tokens", json: ["subject": "nina", "role": "nurse", "site": "site-b", "ttlSeconds": 600])
        #expect(own.status == 201, "\(String(decoding: own.body, as: UTF8.self))")
        for (role, site) in [("ops", "site-b"), ("agent", "site-a")] {
            let refused = try supervisor.sendJSON("POST", "/v1/tokens", json: ["subject": "x", "role": role, "site": site])
            #expect(refused.status == 403, "a supervisor issued \(role)@\(site)")
        }
        let ops = try client(cluster, leader, token: try self.token(cluster, "olga", .ops))
        for bad in [["subject": "a b", "role": "agent", "site": "s"], ["subject": "a", "role": "king", "site": "s"],
                    ["subject": "a", "role": "agent", "site": "s", "ttlSeconds": 8 * 86_400], ["subject": "a", "role": "agent"]] as [[String: Any]] {
            let response = try ops.sendJSON("POST", "/v1/tokens", json: bad)
            #expect(response.status == 422, "\(bad): \(response.status)")
        }
        let offline = TestCluster.run(["token", "issue", "--subject", "bob", "--role", "agent", "--site", "site-a", "--keys", cluster.directory + "/keyring.json"])
        #expect(offline.0 == 0 && offline.1.contains("not in the audit trail"), "\(offline.1)")
    }

    /// `token issue` finds the ring in LIFELINE_KEY_RING when --keys is not given,
    /// and says where it looked when there is none.
    @Test func tokenIssueTakesTheKeyRingFromTheEnvironment() throws {
        let directory = NSTemporaryDirectory() + "lifeline-token-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let ring = directory + "/ring.json"
        #expect(TestCluster.run(["keys", "init", "--file", ring, "--cluster-id", "env-test"]).0 == 0)
        let issue = ["token", "issue", "--subject", "alice", "--role", "agent", "--site", "boston", "--ttl", "8h"]
        let (status, output) = ProcessControl.run(executable: "/usr/bin/env", arguments: ["LIFELINE_KEY_RING=\(ring)", TestCluster.binary] + issue, timeoutMs: 30_000)
        let token = output.split(separator: "\n").first { $0.hasPrefix("ll1.") }.map(String.init) ?? ""
        #expect(status == 0 && token.hasPrefix("ll1."), "\(output)")
        #expect((try? KeyRing.load(path: ring).tokenVerifier.verify(token, now: Date()))?.subject == "alice")
        let missing = ProcessControl.run(executable: "/usr/bin/env", arguments: ["LIFELINE_KEY_RING=", TestCluster.binary] + issue, timeoutMs: 30_000)
        #expect(missing.0 == 2 && missing.1.contains("no LIFELINE_KEY_RING"), "\(missing.1)")
    }

    @Test func theDocumentedMatrixIsTheEnforcedOne() throws {
        let doc = try String(contentsOfFile: OpenAPITests.document.replacingOccurrences(of: "openapi.json", with: "security.md"), encoding: .utf8)
        let roles = ["agent", "nurse", "supervisor", "auditor", "ops", "dashboard"]
        var documented: [String: Set<Role>] = [:]
        for line in doc.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == roles.count + 3 else { continue }
            let route = cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            documented[route] = Set(roles.indices.filter { cells[$0 + 2] == "✓" }.compactMap { Role(rawValue: roles[$0]) })
        }
        #expect(documented == AccessPolicy.matrix, "Docs/security.md and AccessPolicy differ")
    }

    @Test func recordsOpenOnlyToTheVerifiedAgentAReasonedSupervisorOrBreakGlassAndEveryReadIsAudited() throws {
        let cluster = try TestCluster(nodes: 3, slot: 18)
        defer { cluster.down() }
        guard let leader = cluster.awaitLeader(among: ["a", "b", "c"]) else { return }
        let supervisor = try client(cluster, leader, token: try token(cluster, "sue", .supervisor, site: "site-b"))
        let nina = try client(cluster, leader, token: try token(cluster, "nina", .nurse, site: "site-b"))
        let carl = try client(cluster, leader, token: try token(cluster, "carl", .agent, site: "site-c"))
        let ops = try client(cluster, leader, token: try token(cluster, "olga", .ops))
        let auditor = try client(cluster, leader, token: try token(cluster, "ada", .auditor))
        #expect(cluster.waitUntil(timeoutMs: 10_000) { ((try? supervisor.send("GET", "/v1/sites").jsonObject?["sites"]) as? [Any])?.count == 3 })
        #expect(try supervisor.sendJSON("PUT", "/v1/queues/triage", json: ["audience": "nurses"]).status == 200)
        #expect(try supervisor.sendJSON("PUT", "/v1/agents/nina", json: ["site": "site-b", "roles": ["nurse"]]).status == 200)
        #expect(try nina.send("POST", "/v1/agents/nina/login").status == 200)
        #expect(try carl.send("POST", "/v1/agents/nina/login").status == 403, "an agent acted as someone else")
        let created = try supervisor.sendJSON("POST", "/v1/tasks", json: [
            "queue": "triage", "channel": "voice", "callType": "clinical", "site": "site-b",
            "patient": ["id": "ref-9", "name": "Jane Roe", "phone": "+1 555 0100", "dateOfBirth": "1970-01-02"], "reason": "chest pain",
        ])
        #expect(created.status == 201)
        let task = try #require(created.jsonObject?["id"] as? Int)
        let record = "/v1/patients/ref-9/record"
        #expect(try nina.send("GET", "\(record)?task=\(task)").status == 403, "shown before the caller was verified")
        #expect(try nina.sendJSON("POST", "/v1/tasks/\(task)/verify", json: ["method": "dob+address"]).status == 200)
        let read = try nina.send("GET", "\(record)?task=\(task)")
        #expect(read.status == 200 && (read.jsonObject?["fields"] as? [String: String])?["name"] == "Jane Roe", "\(String(decoding: read.body, as: UTF8.self))")
        #expect(try carl.send("GET", "\(record)?task=\(task)").status == 403, "another agent read the record")
        #expect(try carl.send("GET", "/v1/tasks/\(task)").status == 404, "an agent saw a task that is not theirs")
        #expect(try supervisor.send("GET", record).status == 403, "a supervisor read without a reason")
        #expect(try supervisor.send("GET", "\(record)?reason=quality%20review").status == 200)
        #expect(try ops.send("GET", "\(record)?reason=x").status == 403, "ops saw PHI")
        #expect(try carl.send("GET", "\(record)?breakGlass=true&reason=emergency%20callback").status == 200)

        let audit = try auditor.send("GET", "/v1/audit")
        let events = audit.jsonObject?["events"] as? [[String: Any]] ?? []
        let actions = events.map { "\($0["action"] as? String ?? "")/\($0["outcome"] as? String ?? "")/\($0["actor"] as? String ?? "")" }
        #expect(actions.contains("phi.write/allowed/sue"))
        #expect(actions.contains("identity.verify/allowed/nina"))
        #expect(actions.filter { $0 == "phi.read/allowed/nina" }.count == 1)
        #expect(actions.contains("phi.read/allowed/sue"))
        #expect(events.contains { $0["action"] as? String == "phi.read" && $0["breakGlass"] as? Bool == true && $0["actor"] as? String == "carl" })
        #expect(actions.contains("api.denied/denied/carl") && actions.contains("api.denied/denied/olga"))
        #expect(actions.contains("workforce.queue_define/allowed/sue") && actions.contains("workforce.agent_register/allowed/sue"))
        #expect(!String(decoding: audit.body, as: UTF8.self).contains("Jane"), "PHI in the audit trail")
        #expect(try auditor.send("GET", "/v1/audit/verify").jsonObject?["ok"] as? Bool == true)
        #expect(try auditor.send("GET", record + "?reason=x").status == 403)

        // Archive the first five events: the file holds them, the trail starts at
        // 6 and still verifies, naming its anchor; the archive ties to it.
        let archive = cluster.directory + "/audit-archive.jsonl"
        let archived = TestCluster.run(["audit", "archive", "--through", "5", "--out", archive, "--cluster", cluster.directory])
        #expect(archived.0 == 0, "\(archived.1)")
        let lines = (try? String(contentsOfFile: archive, encoding: .utf8))?.split(separator: "\n") ?? []
        #expect(lines.count == 5 && lines.first?.contains("\"sequence\":1") == true, "\(lines)")
        let rest = try auditor.send("GET", "/v1/audit").jsonObject ?? [:]
        #expect((rest["events"] as? [[String: Any]])?.first?["sequence"] as? Int == 6)
        #expect((rest["anchor"] as? [String: Any])?["nextSequence"] as? Int == 6)
        let verified = TestCluster.run(["audit", "verify", "--archive", archive, "--cluster", cluster.directory])
        #expect(verified.0 == 0 && verified.1.contains("after the anchor at sequence 5") && verified.1.contains("links to the trail's anchor"), "\(verified.1)")
        let again = TestCluster.run(["audit", "archive", "--through", "3", "--out", archive + ".2", "--cluster", cluster.directory])
        #expect(again.0 == 1 && again.1.contains("already archived"), "\(again.1)")
        #expect(TestCluster.run(["audit", "archive", "--through", "7", "--out", archive, "--cluster", cluster.directory]).0 == 1, "overwrote an archive")
        // A second archive continues the first; verify checks the chain of files.
        let second = cluster.directory + "/audit-archive-2.jsonl"
        #expect(TestCluster.run(["audit", "archive", "--through", "8", "--out", second, "--cluster", cluster.directory]).0 == 0)
        let chained = TestCluster.run(["audit", "verify", "--archive", "\(archive),\(second)", "--cluster", cluster.directory])
        #expect(chained.0 == 0 && chained.1.contains("form one chain"), "\(chained.1)")
        let alone = TestCluster.run(["audit", "verify", "--archive", archive, "--cluster", cluster.directory])
        #expect(alone.0 == 1 && alone.1.contains("its last event is sequence 5; the trail's anchor is sequence 8"), "\(alone.1)")
        let swapped = TestCluster.run(["audit", "verify", "--archive", "\(second),\(archive)", "--cluster", cluster.directory])
        #expect(swapped.0 == 1 && swapped.1.contains("does not start where"), "\(swapped.1)")
        // A gap: the second file without its first event.
        let gapped = cluster.directory + "/audit-archive-gap.jsonl"
        let secondLines = (try? String(contentsOfFile: second, encoding: .utf8))?.split(separator: "\n") ?? []
        try Data((secondLines.dropFirst().joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: gapped))
        let gap = TestCluster.run(["audit", "verify", "--archive", "\(archive),\(gapped)", "--cluster", cluster.directory])
        #expect(gap.0 == 1 && gap.1.contains("does not start where") && gap.1.contains("ends at sequence 5, this starts at 7"), "\(gap.1)")
        #expect(try ops.sendJSON("POST", "/v1/audit/archive", json: ["through": 7, "hash": String(repeating: "0", count: 64)]).status == 403)
    }

    /// A supervisor manages the agents, tasks and drains of their own site only
    /// (a task's site is its ingress site); queues stay cluster-wide; reads are
    /// not narrowed; ops keep every site. Each refusal is a 403 that changes
    /// nothing and is audited.
    @Test func aSupervisorManagesOnlyTheAgentsTasksAndDrainsOfTheirOwnSite() throws {
        let cluster = try TestCluster(nodes: 3, slot: 18)
        defer { cluster.down() }
        guard let leader = cluster.awaitLeader(among: ["a", "b", "c"]) else { return }
        let sue = try client(cluster, leader, token: try token(cluster, "sue", .supervisor, site: "site-b"))
        let sam = try client(cluster, leader, token: try token(cluster, "sam", .supervisor, site: "site-a"))
        let ops = try client(cluster, leader, token: try token(cluster, "olga", .ops))
        let auditor = try client(cluster, leader, token: try token(cluster, "ada", .auditor))
        #expect(cluster.waitUntil(timeoutMs: 10_000) { ((try? sue.send("GET", "/v1/sites").jsonObject?["sites"]) as? [Any])?.count == 3 })
        #expect(try sue.sendJSON("PUT", "/v1/queues/triage", json: ["audience": "nurses"]).status == 200)
        #expect(try sam.sendJSON("PUT", "/v1/queues/billing", json: [:] as [String: Any]).status == 200, "queues are cluster-wide")

        // Agents: register, log in, offers.
        #expect(try sue.sendJSON("PUT", "/v1/agents/nina", json: ["site": "site-b", "roles": ["nurse"]]).status == 200)
        #expect(try sam.sendJSON("PUT", "/v1/agents/nina", json: ["site": "site-a", "roles": ["nurse"]]).status == 403, "moved another site's agent")
        #expect(try sam.sendJSON("PUT", "/v1/agents/zed", json: ["site": "site-b", "roles": ["agent"]]).status == 403, "registered at another site")
        #expect(try sam.sendJSON("PUT", "/v1/agents/al", json: ["site": "site-a", "roles": ["agent"]]).status == 200)
        #expect(try sam.send("POST", "/v1/agents/nina/login").status == 403)
        #expect(try sam.send("GET", "/v1/agents/nina/offer").status == 403)
        #expect(try sam.send("GET", "/v1/agents/nina").jsonObject?["status"] as? String == "offline", "reads stay cluster-wide")
        #expect(try sue.send("POST", "/v1/agents/nina/login").status == 200)
        #expect(try sue.send("GET", "/v1/agents/zed").status == 404, "a refused registration changed the directory")

        // A task that came in at site-b, offered to nina.
        let created = try sue.sendJSON("POST", "/v1/tasks", json: [
            "queue": "triage", "channel": "voice", "callType": "clinical", "site": "site-b",
            "patient": ["id": "ref-5", "name": "Jane Roe", "phone": "+1 555 0100", "dateOfBirth": "1970-01-02"],
        ])
        #expect(created.status == 201)
        let task = try #require(created.jsonObject?["id"] as? Int)
        let offer = try sue.send("GET", "/v1/agents/nina/offer?waitMs=5000").jsonObject ?? [:]
        let offerToken = try #require(offer["token"] as? Int, "\(offer)")
        let held: [String: Any] = ["agent": "nina", "token": offerToken]
        for (path, body) in [("abandon", nil), ("callback", nil), ("verify", ["method": "dob"]), ("transfer", held.merging(["to": "billing"]) { $1 }),
                             ("escalate", held.merging(["to": "triage", "reason": "clinicalConcern"]) { $1 }), ("disposition", held)] as [(String, [String: Any]?)] {
            let response = try body.map { try sam.sendJSON("POST", "/v1/tasks/\(task)/\(path)", json: $0) } ?? sam.send("POST", "/v1/tasks/\(task)/\(path)")
            #expect(response.status == 403, "\(path) on another site's task: \(response.status) \(String(decoding: response.body, as: UTF8.self))")
        }
        #expect(try sam.sendJSON("POST", "/v1/agents/nina/accept", json: ["task": task, "token": offerToken]).status == 403)
        #expect(try sue.send("GET", "/v1/tasks/\(task)").jsonObject?["state"] as? String == "offered", "a refused action changed the task")
        #expect(try sue.sendJSON("POST", "/v1/tasks/\(task)/verify", json: ["method": "dob"]).status == 200)
        #expect(try sue.sendJSON("POST", "/v1/agents/nina/accept", json: ["task": task, "token": offerToken]).status == 200)

        // Sites: their own, not another; ops any.
        #expect(try sam.send("POST", "/v1/sites/site-b/drain").status == 403)
        #expect(try sam.send("POST", "/v1/sites/site-a/drain").status == 200)
        #expect(try sam.send("POST", "/v1/sites/site-a/resume").status == 200)
        #expect(try ops.send("POST", "/v1/sites/site-c/drain").status == 200)
        #expect(try ops.send("POST", "/v1/sites/site-c/resume").status == 200)

        let audit = try auditor.send("GET", "/v1/audit")
        let denied = (audit.jsonObject?["events"] as? [[String: Any]] ?? []).filter {
            $0["action"] as? String == "api.denied" && $0["actor"] as? String == "sam"
        }
        #expect(denied.count == 12, "\(denied.map { $0["reason"] as? String ?? "" })")
        #expect(denied.allSatisfy { ($0["reason"] as? String)?.contains("site-a") == true }, "\(denied.map { $0["reason"] as? String ?? "" })")
        #expect(!String(decoding: audit.body, as: UTF8.self).contains("Jane"), "PHI in the audit trail")
        #expect(try auditor.send("GET", "/v1/audit/verify").jsonObject?["ok"] as? Bool == true)
    }
}
