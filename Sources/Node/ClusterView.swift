import Foundation
import Raft

/// One member as this node sees it, for `/v1/cluster`.
public struct MemberView: Sendable, Equatable {
    public var node: NodeID
    public var site: SiteID?
    public var isVoter: Bool
    public var reachable: Bool
    public var matchIndex: UInt64?
    public var apiAddress: HostPort?
    public var peerAddress: HostPort?
}

/// What the node loop publishes after each turn, so HTTP threads answer status
/// queries without entering the loop.
public struct ClusterView: Sendable, Equatable {
    public var node: NodeID
    public var site: SiteID
    public var clusterID: String
    public var role: String = "follower"
    public var term: UInt64 = 0
    public var leader: NodeID?
    public var commitIndex: UInt64 = 0
    public var appliedIndex: UInt64 = 0
    public var lastIndex: UInt64 = 0
    public var snapshotIndex: UInt64 = 0
    public var stateHash: String = ""
    /// The applied index `stateHash` describes: equal hashes at equal indexes mean equal states.
    public var stateHashIndex: UInt64 = 0
    public var members: [MemberView] = []
    public var started = false
    public var stopping = false
    /// Storage writes (one transaction and fsync each) and the entries they held,
    /// since start: `persistedEntries / persistBatches` shows how well proposals batch.
    public var persistBatches: UInt64 = 0
    public var persistedEntries: UInt64 = 0

    /// Why the node is not ready, or nil when it is: it knows a leader and has
    /// applied everything up to the commit index it last heard.
    public var notReadyReason: String? {
        if !started { return "starting" }
        if stopping { return "stopping" }
        guard leader != nil else { return "no leader known" }
        if appliedIndex < commitIndex { return "applying: applied \(appliedIndex) of committed \(commitIndex)" }
        return nil
    }

    /// The JSON object for `GET /v1/cluster`.
    public func json() -> [String: Any] {
        var object: [String: Any] = [
            "node": node.rawValue, "site": site.rawValue, "clusterID": clusterID, "role": role, "term": term,
            "commitIndex": commitIndex, "appliedIndex": appliedIndex, "lastIndex": lastIndex,
            "snapshotIndex": snapshotIndex, "stateHash": stateHash, "stateHashIndex": stateHashIndex, "ready": notReadyReason == nil,
            "storage": ["persistBatches": persistBatches, "persistedEntries": persistedEntries],
        ]
        object["leader"] = leader?.rawValue ?? NSNull()
        if let leader, let info = members.first(where: { $0.node == leader })?.apiAddress {
            object["leaderAPI"] = info.description
        }
        object["members"] = members.map { member -> [String: Any] in
            var entry: [String: Any] = [
                "node": member.node.rawValue, "role": member.isVoter ? "voter" : "learner", "reachable": member.reachable,
            ]
            entry["site"] = member.site?.rawValue ?? NSNull()
            entry["matchIndex"] = member.matchIndex.map { $0 as Any } ?? NSNull()
            // Entries behind this node's log (meaningful on the leader).
            entry["lag"] = member.matchIndex.map { (lastIndex - min($0, lastIndex)) as Any } ?? NSNull()
            entry["apiAddress"] = member.apiAddress?.description ?? NSNull()
            entry["peerAddress"] = member.peerAddress?.description ?? NSNull()
            return entry
        }
        return object
    }
}
