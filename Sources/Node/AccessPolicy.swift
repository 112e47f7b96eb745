import Foundation
import Vault

/// The caller of an API request, from a verified bearer token.
public struct Principal: Sendable, Equatable {
    public var subject: String
    public var role: Role
    public var site: String
    public var tokenID: String

    public init(_ claims: TokenClaims) {
        subject = claims.subject
        role = claims.role
        site = claims.site
        tokenID = claims.tokenID
    }

    /// An agent or nurse may act only as themselves; a supervisor for anyone
    /// here, narrowed to the agents of their own site where the agent's site is
    /// known: in apply (`LifelineStateMachine.outOfScope`, through the command's
    /// `scopeSite`) and for the offer long-poll (`NodeAPI.notOwnSite`).
    public func mayActAs(agent: String) -> Bool {
        role == .supervisor || ((role == .agent || role == .nurse) && subject == agent)
    }
}

/// A request the router refused before its handler ran.
public struct RefusedRequest: Error, Sendable {
    public var response: HTTPResponse
}

/// Which role may call which route ("METHOD /pattern"): the minimum necessary.
/// Finer rules (an agent only as themselves, a record only for a task of theirs
/// after verification, a supervisor with a reason) are in the handlers.
/// Docs/security.md shows the same table; a test drives every route with every
/// role against it.
public enum AccessPolicy {
    /// Routes anyone may call without a token: liveness for load balancers.
    public static let open: Set<String> = ["GET /health", "GET /ready"]

    static let people: Set<Role> = [.agent, .nurse, .supervisor]
    static let watchers: Set<Role> = [.supervisor, .auditor, .ops, .dashboard]

    public static let matrix: [String: Set<Role>] = {
        var table: [String: Set<Role>] = [
            "GET /": watchers, "GET /metrics": watchers, "GET /v1/cluster": watchers,
            "POST /v1/cluster/members": [.ops], "POST /v1/cluster/members/{id}/promote": [.ops],
            "DELETE /v1/cluster/members/{id}": [.ops], "POST /v1/cluster/transfer-leader": [.ops], "GET /v1/backup": [.ops],
            "PUT /v1/kv/{key}": [.ops], "GET /v1/kv/{key}": [.ops], "DELETE /v1/kv/{key}": [.ops],
            "POST /v1/tasks": people, "GET /v1/tasks/{id}": people,
            "PUT /v1/agents/{id}": [.supervisor], "GET /v1/agents": [.supervisor], "GET /v1/agents/{id}": people,
            "PUT /v1/queues/{id}": [.supervisor], "GET /v1/queues": people, "GET /v1/queues/{id}": people,
            "GET /v1/sites": [.supervisor, .ops], "POST /v1/sites/{id}/drain": [.supervisor, .ops], "POST /v1/sites/{id}/resume": [.supervisor, .ops],
            "GET /v1/patients/{id}/record": people, "POST /v1/patients/{id}/shred": [.supervisor],
            "GET /v1/audit": [.auditor], "GET /v1/audit/verify": [.auditor], "POST /v1/audit/archive": [.auditor],
            "POST /v1/tokens": [.supervisor, .ops], "POST /v1/tokens/{id}/revoke": [.supervisor, .ops],
            "POST /v1/keys/rewrap": [.ops], "GET /v1/keys/usage": [.ops], "POST /v1/keys/retire": [.ops], "POST /v1/keys/reload": [.ops],
            "GET /v1/patients/retention": [.supervisor], "POST /v1/patients/retention": [.supervisor],
            "GET /v1/drill/evidence": [.ops], "POST /v1/drill/disk": [.ops],
        ]
        for action in ["abandon", "callback", "escalate", "transfer", "disposition", "verify"] {
            table["POST /v1/tasks/{id}/\(action)"] = people
        }
        for action in ["login", "logout", "status", "accept", "reject", "wrap-up", "complete"] {
            table["POST /v1/agents/{id}/\(action)"] = people
        }
        table["GET /v1/agents/{id}/offer"] = people
        return table
    }()

    /// Whether `role` may call `route` at all.
    public static func allows(_ role: Role, _ route: String) -> Bool {
        open.contains(route) || matrix[route]?.contains(role) == true
    }
}
