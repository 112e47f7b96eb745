import Foundation
import Raft

/// The node's HTTP routes. `makeRouter` builds the base set; later issues add
/// their routes to the returned router before the server starts.
public enum NodeAPI {
    public static func makeRouter(runtime: NodeRuntime) -> Router {
        var router = Router()
        addStatusRoutes(&router, runtime)
        addMemberRoutes(&router, runtime)
        addKeyValueRoutes(&router, runtime)
        addBackupRoute(&router, runtime)
        addContactCenterRoutes(&router, runtime)
        addMetricsRoute(&router, runtime)
        addStatusPageRoute(&router)
        addSecurityRoutes(&router, runtime)
        addDrillRoutes(&router, runtime)
        if let ring = runtime.keyRing { installAuthorization(&router, runtime, ring: ring) }
        return router
    }

    /// The plain-HTTP dashboard listener's routes: status, metrics and the page,
    /// read-only and without patient data.
    public static func makeDashboardRouter(runtime: NodeRuntime) -> Router {
        var router = Router()
        addStatusRoutes(&router, runtime)
        addMetricsRoute(&router, runtime)
        addStatusPageRoute(&router)
        return router
    }

    // MARK: - Status

    static func addStatusRoutes(_ router: inout Router, _ runtime: NodeRuntime) {
        router.add("GET", "/health") { _, _ in
            json(200, ["status": "ok", "node": runtime.config.node.rawValue])
        }
        router.add("GET", "/ready") { _, _ in
            let view = runtime.view
            if let reason = view.notReadyReason {
                return .error(503, code: "not_ready", message: reason)
            }
            return json(200, ["ready": true, "leader": view.leader?.rawValue ?? "", "appliedIndex": view.appliedIndex])
        }
        router.add("GET", "/v1/cluster") { _, _ in
            var object = runtime.view.json()
            if let summary = contactSummary(runtime) { object["contactCenter"] = summary.json }
            return json(200, object)
        }
    }

    // MARK: - Backup

    /// `GET /v1/backup`: this node's applied state as a `BackupImage` file.
    static func addBackupRoute(_ router: inout Router, _ runtime: NodeRuntime) {
        router.add("GET", "/v1/backup") { request, _ in
            guard let image = runtime.backup() else {
                return .error(503, code: "busy", message: "the node did not take the backup in time; retry shortly")
            }
            return audited(runtime, request, "cluster.backup", ["index:\(image.index)"], HTTPResponse(status: 200, headers: [
                ("content-type", "application/octet-stream"),
                ("x-lifeline-backup-index", "\(image.index)"),
            ], body: image.encoded()))
        }
    }

    // MARK: - Membership

    static func addMemberRoutes(_ router: inout Router, _ runtime: NodeRuntime) {
        router.add("POST", "/v1/cluster/members") { request, _ in
            guard let body = jsonBody(request) else { return badJSON() }
            var problems: [String] = []
            let node = (body["node"] as? String).map(NodeID.init)
            if node?.isValid != true { problems.append("node: a node id is required") }
            let site = body["site"] as? String
            if site.map({ NodeID($0).isValid }) != true { problems.append("site: a site id is required") }
            let peer = (body["peerAddress"] as? String).flatMap(HostPort.init(parsing:))
            if peer == nil { problems.append("peerAddress: host:port is required") }
            let api = (body["apiAddress"] as? String).flatMap(HostPort.init(parsing:))
            if api == nil { problems.append("apiAddress: host:port is required") }
            let unknown = Set(body.keys).subtracting(["node", "site", "peerAddress", "apiAddress"])
            problems += unknown.sorted().map { "\($0): unknown key" }
            guard problems.isEmpty, let node, let site, let peer, let api else {
                return .error(400, code: "invalid_member", message: problems.joined(separator: "; "))
            }
            let info = MemberInfo(site: SiteID(site), peerAddress: peer, apiAddress: api)
            return audited(runtime, request, "cluster.member_add", ["node:\(node)"],
                           outcome(runtime.changeMembers(ConfChange(kind: .addLearner, node: node, context: info.encoded())), created: true))
        }
        router.add("POST", "/v1/cluster/members/{id}/promote") { request, parameters in
            let node = NodeID(parameters["id"] ?? "")
            guard let member = runtime.view.members.first(where: { $0.node == node }),
                  let site = member.site, let peer = member.peerAddress, let api = member.apiAddress
            else {
                return .error(404, code: "unknown_member", message: "\(node) is not a member")
            }
            let info = MemberInfo(site: site, peerAddress: peer, apiAddress: api)
            return audited(runtime, request, "cluster.member_promote", ["node:\(node)"],
                           outcome(runtime.changeMembers(ConfChange(kind: .addVoter, node: node, context: info.encoded())), created: false))
        }
        router.add("DELETE", "/v1/cluster/members/{id}") { request, parameters in
            let node = NodeID(parameters["id"] ?? "")
            guard runtime.view.members.contains(where: { $0.node == node }) else {
                return .error(404, code: "unknown_member", message: "\(node) is not a member")
            }
            return audited(runtime, request, "cluster.member_remove", ["node:\(node)"],
                           outcome(runtime.changeMembers(ConfChange(kind: .removeNode, node: node)), created: false))
        }
        router.add("POST", "/v1/cluster/transfer-leader") { request, _ in
            guard let body = jsonBody(request) else { return badJSON() }
            guard let to = (body["to"] as? String).map(NodeID.init), to.isValid, body.count == 1 else {
                return .error(400, code: "invalid_request", message: "want {\"to\": \"node-id\"}")
            }
            guard runtime.view.members.contains(where: { $0.node == to && $0.isVoter }) else {
                return .error(404, code: "unknown_member", message: "\(to) is not a voter")
            }
            return audited(runtime, request, "cluster.transfer_leader", ["node:\(to)"], outcome(runtime.transferLeader(to: to), created: false))
        }
    }

    // MARK: - Key-value (tests and bench)

    static func addKeyValueRoutes(_ router: inout Router, _ runtime: NodeRuntime) {
        router.add("PUT", "/v1/kv/{key}") { request, parameters in
            let key = parameters["key"] ?? ""
            guard !key.isEmpty, key.utf8.count <= KeyValueStateMachine.keyBytesMax else {
                return .error(400, code: "invalid_key", message: "key must be 1...\(KeyValueStateMachine.keyBytesMax) bytes")
            }
            guard request.body.count <= KeyValueStateMachine.valueBytesMax else {
                return .error(413, code: "value_too_large", message: "value exceeds \(KeyValueStateMachine.valueBytesMax) bytes")
            }
            return proposal(runtime, request, LifelineStateMachine.keyValueCommand(KeyValueStateMachine.command(.put, key: key, value: request.body))) {
                outcome($0, created: false)
            }
        }
        router.add("GET", "/v1/kv/{key}") { _, parameters in
            let key = parameters["key"] ?? ""
            guard !key.isEmpty, key.utf8.count <= KeyValueStateMachine.keyBytesMax else {
                return .error(400, code: "invalid_key", message: "key must be 1...\(KeyValueStateMachine.keyBytesMax) bytes")
            }
            // [found byte] + value, read linearizably on this node.
            let outcome = runtime.read { machine in
                guard let value = (machine as? LifelineStateMachine)?.keyValue.values[key] else { return [0] }
                return [1] + value
            }
            switch outcome {
            case .applied(let index, let result):
                guard result.first == 1 else { return .error(404, code: "not_found", message: "no value for this key") }
                return HTTPResponse(status: 200, headers: [("content-type", "application/octet-stream"), ("x-lifeline-read-index", "\(index)")],
                                    body: Array(result.dropFirst()))
            case .failed(let status, let code, let message):
                return .error(status, code: code, message: message)
            }
        }
        router.add("DELETE", "/v1/kv/{key}") { request, parameters in
            let key = parameters["key"] ?? ""
            guard !key.isEmpty, key.utf8.count <= KeyValueStateMachine.keyBytesMax else {
                return .error(400, code: "invalid_key", message: "key must be 1...\(KeyValueStateMachine.keyBytesMax) bytes")
            }
            return proposal(runtime, request, LifelineStateMachine.keyValueCommand(KeyValueStateMachine.command(.delete, key: key))) {
                outcome($0, created: false)
            }
        }
    }

    // MARK: - Helpers

    public static func json(_ status: Int, _ object: [String: Any]) -> HTTPResponse {
        if let text = CompactJSON.data(object) { return .json(status, text) }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return .json(status, Array(data))
    }

    static func jsonBody(_ request: HTTPRequest) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any]
    }

    static func badJSON() -> HTTPResponse {
        .error(400, code: "invalid_json", message: "the body must be a JSON object")
    }

    /// The answer to a write of `command`: when the server can write it later
    /// (`request.deferrable`), a deferred response that `answer` builds once the
    /// command applies or fails, so no thread waits for it; otherwise (a router
    /// called directly) the proposal is waited for here.
    static func proposal(_ runtime: NodeRuntime, _ request: HTTPRequest, _ command: [UInt8],
                         answer: @escaping @Sendable (ProposalOutcome) -> HTTPResponse) -> HTTPResponse {
        guard request.deferrable else { return answer(runtime.propose(command)) }
        let pending = PendingResponse()
        runtime.propose(command) { outcome in pending.fulfil { answer(outcome) } }
        return .deferred(pending)
    }

    /// A proposal's outcome as a response: the machine's JSON result (or the
    /// index) on success, the error shape otherwise.
    public static func outcome(_ outcome: ProposalOutcome, created: Bool) -> HTTPResponse {
        switch outcome {
        case .applied(let index, let result):
            // Written by hand: Foundation's JSONSerialization (parse the result,
            // write the object with sorted keys) was a quarter of the leader's CPU
            // per write. Same shape: sorted keys, a result that is not JSON is null.
            let embedded = JSONSyntax.isValid(result) ? result : Array("null".utf8)
            return .json(created ? 201 : 200, Array("{\"index\":\(index),\"result\":".utf8) + embedded + [UInt8(ascii: "}")])
        case .failed(let status, let code, let message):
            return .error(status, code: code, message: message)
        }
    }
}
