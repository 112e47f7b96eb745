import Raft

extension Simulator {
    /// The schedule of the Raft paper's Figure 8 (§5.4.2), played through the
    /// simulator's members, storage and checkers with five founders:
    ///
    /// 1. n1 leads and replicates entry X to n2 only, then crashes.
    /// 2. n5 wins the next term with n3 and n4, appends its own entry at X's index,
    ///    and crashes before anyone receives it.
    /// 3. n1 returns, wins a later term, and replicates X to n3, so a majority holds X.
    ///    A correct leader does not commit X by counting; a buggy one does, applies
    ///    it, and crashes.
    /// 4. n5 returns; its entry has a higher term than X, so it wins and overwrites X.
    ///
    /// With the correct rule nothing committed is lost. With
    /// `commitPreviousTermByCounting` the state-machine safety checker reports n1's
    /// applied X against the entry the others apply at the same index.
    public static func figure8(injectBug: Bool, log: @escaping (String) -> Void = { _ in }) -> SimulationSummary {
        var config = SimulationConfig(seed: 8, nodeCount: 5)
        config.spareCount = 0
        config.electionTicks = 1_000  // nothing campaigns unless the script says so
        config.preVote = false
        config.checkQuorum = false
        config.entriesPerMessageMax = 1
        config.proposePerMille = 0
        config.snapshotPerMille = 0
        config.transferPerMille = 0
        config.membershipPerMille = 0
        config.readPerMille = 0
        if injectBug { config.injectedBugs = [.commitPreviousTermByCounting] }
        var simulator = Simulator(config: config, log: log)
        simulator.faultsActive = false
        simulator.playFigure8()
        return simulator.finish()
    }

    private static let n1 = NodeID("n1"), n2 = NodeID("n2"), n3 = NodeID("n3"), n5 = NodeID("n5")

    private mutating func playFigure8() {
        let (n1, n2, n3, n5) = (Self.n1, Self.n2, Self.n3, Self.n5)
        for id in members.keys.sorted() { drain(id) }
        deliverEverything()
        campaign(n1)
        deliverEverything()
        guard members[n1]!.raft!.status.role == .leader else { return event("figure8", "n1 did not win term 2") }

        // 1. X reaches n2 only.
        guard let x = try? members[n1]!.raft!.propose(Array("X".utf8)) else { return }
        drain(n1)
        deliverEverything { $0.to == n2 || $0.from == n2 }
        crash(n1, losingReady: false)

        // 2. n5 wins with n3 and n4; its entry at X's index reaches no one.
        campaign(n5)
        deliverEverything { $0.to != n1 && $0.to != n2 && $0.kind != .append }
        guard members[n5]!.raft!.status.role == .leader else { return event("figure8", "n5 did not win") }
        event("figure8", "n5 leads term \(members[n5]!.raft!.status.term); its entry at \(x.index) stays local")
        network.removeAll()
        crash(n5, losingReady: false)

        // 3. n1 returns and wins a later term; X reaches n3 before n1's own entry.
        restart(n1)
        campaign(n1)
        deliverEverything()
        if members[n1]!.raft?.status.role != .leader {
            campaign(n1)
            deliverEverything { $0.kind != .append }
        }
        guard members[n1]!.raft?.status.role == .leader else { return event("figure8", "n1 did not win again") }
        network.removeAll()
        tickLeaderHeartbeat(n1)  // heartbeats, whose answers start replication
        // n2 and n3 take part, n4 hears nothing. Deliver one message at a time until
        // X is on n3, then hand n1 the acknowledgements already sent, and stop it.
        let talking: (Message) -> Bool = { [n2, n3].contains($0.to) || [n2, n3].contains($0.from) }
        var steps = 0
        while !network.isEmpty, steps < 200, members[n3]!.durable.entries.last(where: { $0.index == x.index })?.term != x.term {
            deliverOne(keep: talking)
            steps += 1
        }
        let acknowledgements = network.filter { $0.message.to == n1 && talking($0.message) }
        network.removeAll()
        for item in acknowledgements {
            members[n1]!.raft!.step(item.message)
            drain(n1)
        }
        event("figure8", "n1 commit is \(members[n1]!.raft!.status.commit) with X at \(x.index)")
        network.removeAll()
        crash(n1, losingReady: false)

        // 4. n5 returns with an entry of a higher term at X's index, and wins.
        restart(n5)
        for _ in 0..<3 where members[n5]!.raft!.status.role != .leader {
            campaign(n5)
            deliverEverything { $0.to != n1 }
        }
        for _ in 0..<5 {
            tickLeaderHeartbeat(n5)
            deliverEverything { $0.to != n1 }
        }
        checkLogMatchingFully()
    }

    private mutating func campaign(_ id: NodeID) {
        members[id]!.raft!.campaign()
        drain(id)
    }

    private mutating func tickLeaderHeartbeat(_ id: NodeID) {
        tick += 1
        members[id]!.raft?.tick()
        drain(id)
    }

    /// Delivers every message now (and what they cause), dropping those `keep` refuses.
    private mutating func deliverEverything(keep: (Message) -> Bool = { _ in true }) {
        var rounds = 0
        while !network.isEmpty, rounds < 100 {
            rounds += 1
            let batch = network
            network.removeAll()
            for item in batch where keep(item.message) && members[item.message.to]?.raft != nil {
                members[item.message.to]!.raft!.step(item.message)
                drain(item.message.to)
            }
        }
    }

    /// Delivers the oldest message `keep` accepts; drops the older ones it refuses.
    private mutating func deliverOne(keep: (Message) -> Bool) {
        while !network.isEmpty {
            let item = network.removeFirst()
            guard keep(item.message), members[item.message.to]?.raft != nil else { continue }
            members[item.message.to]!.raft!.step(item.message)
            drain(item.message.to)
            return
        }
    }
}
