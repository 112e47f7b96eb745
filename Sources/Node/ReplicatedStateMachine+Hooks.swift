/// What the node shell may ask of the application beyond apply/snapshot, each
/// with a neutral default so a plain machine (the key-value store) needs none.
///
/// All of them are pure functions of the state and their arguments: the shell
/// supplies the clock and the reachability it observed; the machine only says
/// which commands to propose. Nothing here changes the state.
///
/// They are requirements of `ReplicatedStateMachine` itself (not of a protocol
/// the loop casts to): a cast of the loop's `any ReplicatedStateMachine` copied
/// the whole machine value on every proposal and every loop turn.
extension ReplicatedStateMachine {
    public var hasLeaderDuties: Bool { false }
    public func stamped(_ command: [UInt8], atMs: UInt64) -> [UInt8] { command }
    public var clockMs: UInt64 { 0 }
    public func periodicCommand(nowMs: UInt64) -> [UInt8]? { nil }
    public func siteCommands(known: [String], reachable: Set<String>) -> [[UInt8]] { [] }
}
