import Raft

/// The durable Raft log as the node loop uses it. `RaftStorage` (SQLite) conforms;
/// tests may use an in-memory one.
///
/// Contract: `persist` is durable (fsync) when it returns, and writes snapshot,
/// then entries (replacing any stored entry at or after the first one's index),
/// then hard state, all in one transaction.
public protocol RaftLogStore: AnyObject {
    func load() throws -> PersistentState
    func persist(snapshot: Snapshot?, entries: [Entry], hardState: HardState?) throws
    /// Saves this node's own snapshot and drops the entries it covers (never the
    /// entries after it), in one transaction.
    func saveSnapshot(_ snapshot: Snapshot) throws
    func close()
}

/// How the node loop reaches its peers. Sends never block the loop: links queue
/// (bounded) and drop on overflow; Raft retransmits.
public protocol PeerNetwork: AnyObject, Sendable {
    /// Sends each message to its `to` member.
    func send(_ messages: [Message])
    /// Sends a forwarded client command to the leader.
    func forward(to node: NodeID, payload: [UInt8]) -> Bool
    /// Answers a forwarded command.
    func respond(to node: NodeID, payload: [UInt8])
    /// The members to keep links to, and how to reach them (never this node).
    func setMembers(_ members: [NodeID: MemberInfo])
    /// True when a link to `node` is currently connected.
    func isConnected(_ node: NodeID) -> Bool
    func stop()
}
