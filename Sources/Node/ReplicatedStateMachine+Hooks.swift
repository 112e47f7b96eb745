/// What the node shell may ask of the application beyond apply/snapshot, each
/// with a neutral default so a plain machine (the key-value store) needs none.
///
/// All of them are pure functions of the state and their arguments: the shell
/// supplies the clock and the reachability it observed; the machine only says
/// which commands to propose. Nothing here changes the state.
public protocol NodeApplication: ReplicatedStateMachine {
    /// `command` with its time set to `atMs`: the leader stamps every command it
    /// accepts, so replicas never read their own clocks.
    func stamped(_ command: [UInt8], atMs: UInt64) -> [UInt8]
    /// The latest time (ms) any applied command carried; a new leader never
    /// stamps earlier than this.
    var clockMs: UInt64 { get }
    /// A command the leader should propose now, at wall-clock `nowMs` (expire
    /// offers, fire callbacks, roll KPI windows), or nil when nothing is due. The
    /// leader asks about once a second.
    func periodicCommand(nowMs: UInt64) -> [UInt8]?
    /// Commands that bring the recorded sites in line with what the leader sees:
    /// `known` are the sites of the current members, `reachable` those the leader
    /// heard from recently (its own included).
    func siteCommands(known: [String], reachable: Set<String>) -> [[UInt8]]
}
