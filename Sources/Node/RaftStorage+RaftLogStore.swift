import Storage

/// The SQLite log is the node's store: its typed-throwing methods satisfy the
/// protocol as they are.
extension RaftStorage: RaftLogStore {
    /// The connection closes when the store is released.
    public func close() {}
}
