import Foundation
import Raft

/// What the leader does for the application besides replicating: stamp time,
/// propose the periodic clock command, and watch the sites.
struct ApplicationDuties {
    /// When each peer was last heard from (monotonic ns).
    var heard: [NodeID: UInt64] = [:]
    /// The last time stamped into a command (wall clock ms, never decreasing).
    var lastStampMs: UInt64 = 0
    var nextPeriodicNs: UInt64 = 0
    var nextSiteCheckNs: UInt64 = 0
    /// When this node last became leader: sites get a full `siteDownAfter` of grace.
    var leaderSinceNs: UInt64 = 0
    var wasLeader = false
    /// Site commands proposed and not yet applied, so a slow commit is not proposed twice.
    var siteCommandsInFlight: [[UInt8]: UInt64] = [:]

    static let periodicNs: UInt64 = 1_000_000_000
    static let siteCheckNs: UInt64 = 100_000_000
}

extension NodeLoop {
    /// The leader's stamp on a command it accepts: its wall clock, never earlier
    /// than the last stamp or than any time already applied.
    func stamp(_ command: [UInt8]) -> [UInt8] {
        guard machine.hasLeaderDuties else { return command }
        let wallMs = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
        duties.lastStampMs = max(duties.lastStampMs, machine.clockMs, wallMs)
        return machine.stamped(command, atMs: duties.lastStampMs)
    }

    /// Runs once per loop turn; cheap unless a duty is due.
    func performLeaderDuties() {
        guard machine.hasLeaderDuties, !stopping else { return }
        let now = MonotonicClock.nowNs()
        let isLeader = core.status.role == .leader
        defer { duties.wasLeader = isLeader }
        guard isLeader else {
            duties.siteCommandsInFlight.removeAll()
            return
        }
        if !duties.wasLeader {
            duties.leaderSinceNs = now
            duties.nextPeriodicNs = now
            duties.nextSiteCheckNs = now
        }
        if now >= duties.nextPeriodicNs {
            duties.nextPeriodicNs = now + ApplicationDuties.periodicNs
            let wallMs = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
            if let command = machine.periodicCommand(nowMs: max(wallMs, duties.lastStampMs)) { proposeInternally(command) }
        }
        if now >= duties.nextSiteCheckNs {
            duties.nextSiteCheckNs = now + ApplicationDuties.siteCheckNs
            checkSites(now: now)
        }
    }

    /// The leader's view of which sites answer: its own, and every site with a
    /// member heard within `siteDownAfter` (counting from when it became leader).
    func checkSites(now: UInt64) {
        let window = config.siteDownAfter * 1_000_000
        var sites: [String: Bool] = [config.site.rawValue: true]
        for (node, info) in directory.members where node != config.node {
            let last = max(duties.heard[node] ?? 0, duties.leaderSinceNs)
            let answers = now - min(now, last) < window
            sites[info.site.rawValue] = (sites[info.site.rawValue] ?? false) || answers
        }
        let reachable = Set(sites.filter(\.value).keys)
        let wanted = machine.siteCommands(known: sites.keys.sorted(), reachable: reachable)
        // Forget commands that applied (no longer wanted) or got lost (retry after 2 windows).
        for (command, sentNs) in duties.siteCommandsInFlight where !wanted.contains(command) || now - min(now, sentNs) > 2 * window {
            duties.siteCommandsInFlight[command] = nil
        }
        for command in wanted where duties.siteCommandsInFlight[command] == nil {
            duties.siteCommandsInFlight[command] = now
            published.metrics.update { $0.siteChangesProposed += 1 }
            log.info("site.change_proposed", [("command", String(decoding: command.dropFirst(), as: UTF8.self))])
            proposeInternally(command)
        }
    }

    /// Proposes a command of the leader's own; its outcome is only logged.
    func proposeInternally(_ command: [UInt8]) {
        let completion = Completion<ProposalOutcome>()
        propose(command, reply: .local(completion), deadline: MonotonicClock.nowNs() + 10_000_000_000)
    }
}
