import Testing
@testable import Raft

@Suite struct ReplicationTests {
    // §5.3: committed entries are applied on every member in order.
    @Test func proposalsReplicateAndApplyEverywhere() throws {
        var cluster = TestCluster(["a", "b", "c"])
        cluster.elect("a")
        for value in 0..<50 as Range<UInt8> { _ = try cluster.nodes[NodeID("a")]!.propose([value]) }
        cluster.settle()
        let expected = (0..<50 as Range<UInt8>).map { [$0] }
        for name in ["a", "b", "c"] { #expect(cluster.appliedData(name) == expected) }
    }

    // Raft thesis §10.2.1: a leader's appends may leave before its own fsync
    // (`Ready.messagesMayPrecedePersist`), so it counts its own log toward the
    // quorum only once `advance` says the entries are on its disk. Counting its
    // unpersisted log would commit an entry one follower holds, which a crash
    // of the leader could then lose.
    @Test func aLeaderCountsOnlyWhatItPersistedTowardTheQuorum() throws {
        var cluster = TestCluster(["a", "b", "c"])
        cluster.elect("a")
        // A candidate has a new term and vote to persist before anything leaves.
        let campaign = (cluster.readies[NodeID("a")] ?? []).filter { $0.softState?.role == .candidate || $0.softState?.role == .preCandidate }
        #expect(!campaign.isEmpty)
        #expect(campaign.allSatisfy { !$0.messagesMayPrecedePersist })
        cluster.settle()
        let ticket = try cluster["a"].propose([42])
        let ready = cluster["a"].ready()
        #expect(ready.messagesMayPrecedePersist)
        #expect(ready.entries.map(\.index) == [ticket.index])
        // b receives the append, persists it and acknowledges before a's fsync returns.
        for message in ready.messages where message.to == NodeID("b") { cluster["b"].step(message) }
        let followerReady = cluster["b"].ready()
        #expect(!followerReady.messagesMayPrecedePersist, "a follower's acknowledgements must wait for its disk")
        cluster["b"].advance(followerReady)
        let acks = followerReady.messages.filter { $0.kind == .appendResponse && $0.to == NodeID("a") }
        #expect(!acks.isEmpty)
        for ack in acks { cluster["a"].step(ack) }
        #expect(cluster["a"].status.commit < ticket.index, "committed with only one member's disk holding the entry")
        cluster["a"].advance(ready)
        #expect(cluster["a"].status.commit == ticket.index)
    }

    @Test func followersRefuseProposalsWithALeaderHint() {
        var cluster = TestCluster(["a", "b", "c"])
        cluster.elect("a")
        #expect(throws: ProposalError.notLeader(leaderHint: NodeID("a"))) {
            _ = try cluster.nodes[NodeID("b")]!.propose([1])
        }
    }

    // Batching: one append message carries at most entriesPerMessageMax entries.
    @Test func appendsAreBatchedWithinLimits() throws {
        var cluster = TestCluster(["a", "b", "c"]) { $0.entriesPerMessageMax = 8 }
        cluster.elect("a")
        for _ in 0..<100 { _ = try cluster.nodes[NodeID("a")]!.propose([7]) }
        let ready = cluster.nodes[NodeID("a")]!.ready()
        let appends = ready.messages.filter { $0.kind == .append }
        #expect(!appends.isEmpty)
        #expect(appends.allSatisfy { $0.entries.count <= 8 })
        cluster.nodes[NodeID("a")]!.advance(ready)
        cluster.inFlight.append(contentsOf: ready.messages)
        cluster.settle()
        #expect(cluster.appliedData("c").count == 100)
    }

    // Pipelining: in the replicate state at most inflightMessagesMax appends are out.
    @Test func inflightWindowIsBounded() throws {
        var cluster = TestCluster(["a", "b", "c"]) {
            $0.entriesPerMessageMax = 1
            $0.inflightMessagesMax = 4
        }
        cluster.elect("a")
        for _ in 0..<50 { _ = try cluster.nodes[NodeID("a")]!.propose([1]) }
        let ready = cluster.nodes[NodeID("a")]!.ready()
        let toB = ready.messages.filter { $0.kind == .append && $0.to == NodeID("b") }
        #expect(toB.count == 4)
        cluster.nodes[NodeID("a")]!.advance(ready)
        cluster.inFlight.append(contentsOf: ready.messages)
        cluster.settle(roundsMax: 500)
        #expect(cluster.appliedData("b").count == 50)
    }

    // Fast backtracking: a follower with a long divergent suffix is repaired in a few
    // round trips, not one per entry.
    @Test func conflictHintSkipsWholeTerms() throws {
        var cluster = TestCluster(["a", "b", "c"]) { $0.checkQuorum = false }
        cluster.elect("a")
        cluster.isolated = [NodeID("a")]
        for _ in 0..<200 { _ = try? cluster.nodes[NodeID("a")]!.propose([9]) }
        cluster.process()
        cluster.inFlight.removeAll()
        cluster.elect("b")
        for _ in 0..<5 { _ = try cluster.nodes[NodeID("b")]!.propose([1]) }
        cluster.settle()
        cluster.isolated = []
        var rejections = 0
        for _ in 0..<20 {
            cluster.tickAll(1)
            rejections += cluster.readies[NodeID("a")]!.flatMap(\.messages).filter { $0.kind == .appendResponse && $0.reject }.count
            cluster.readies = [:]
        }
        #expect(cluster.appliedData("a") == cluster.appliedData("b"))
        #expect(rejections <= 3)
    }

    // §5.4.2, Figure 8: an entry from an earlier term is not committed by counting
    // replicas; it commits only together with an entry of the leader's own term.
    // With the injected bug the leader commits it by counting — the mistake that
    // lets a later leader overwrite a committed entry.
    @Test(arguments: [false, true]) func figure8(injectBug: Bool) throws {
        let configure: (inout RaftConfig) -> Void = { config in
            if injectBug { config.injectedBugs = [.commitPreviousTermByCounting] }
            config.preVote = false
            config.checkQuorum = false
            config.entriesPerMessageMax = 1
        }
        var cluster = TestCluster(["a", "b", "c"], configure: configure)
        let a = NodeID("a"), b = NodeID("b"), c = NodeID("c")
        cluster.elect("a")
        let base = cluster["a"].status.commit
        // a appends X in its term; nobody else gets it.
        cluster.isolated = [b, c]
        let x = try cluster.nodes[a]!.propose([88])
        cluster.settle()
        #expect(x.index == base + 1)
        // b wins the next term with c's vote; its no-op at the same index reaches no one.
        cluster.isolated = [a]
        cluster.nodes[b]!.campaign()
        cluster.process()
        cluster.settle(roundsMax: 2)  // vote request out, grant back
        cluster.process()
        #expect(cluster["b"].status.role == .leader)
        cluster.inFlight.removeAll()
        // a crashes and restarts from what it persisted, wins a later term with c's
        // vote, and replicates X to c before its own no-op.
        var restartConfig = RaftConfig(id: a, initialVoters: [a, b, c])
        configure(&restartConfig)
        cluster.nodes[a] = RaftNode(config: restartConfig, state: cluster.stored[a]!, random: SeededRandom(seed: 77))
        cluster.isolated = [b]
        cluster.readies = [:]
        cluster.nodes[a]!.campaign()
        cluster.settle()
        if cluster["a"].status.role != .leader {
            cluster.nodes[a]!.campaign()
            cluster.settle()
        }
        #expect(cluster["a"].status.role == .leader)
        let commits = cluster.readies[a, default: []].compactMap { $0.hardState?.commit }
        let committedXByCounting = commits.contains(x.index)
        #expect(committedXByCounting == injectBug, "commit indexes seen: \(commits)")
        #expect(cluster["a"].status.commit > x.index)
    }

    // §5.3: a follower's conflicting uncommitted suffix is replaced by the leader's.
    @Test func conflictingSuffixIsReplaced() throws {
        var cluster = TestCluster(["a", "b", "c"]) { $0.checkQuorum = false }
        cluster.elect("a")
        cluster.isolated = [NodeID("a")]
        _ = try cluster.nodes[NodeID("a")]!.propose([66])
        cluster.process()
        cluster.inFlight.removeAll()
        cluster.elect("b")
        _ = try cluster.nodes[NodeID("b")]!.propose([1])
        cluster.settle()
        cluster.isolated = []
        cluster.tickAll(3)
        #expect(cluster.appliedData("a") == [[1]])
        #expect(cluster.stored[NodeID("a")]!.entries.map(\.data) == cluster.stored[NodeID("b")]!.entries.map(\.data))
    }

    @Test func oversizedAndOverLimitProposalsAreRefused() {
        var cluster = TestCluster(["a"]) { $0.uncommittedBytesMax = 100 }
        cluster.elect("a")
        #expect(throws: ProposalError.tooLarge) {
            _ = try cluster.nodes[NodeID("a")]!.propose([UInt8](repeating: 0, count: CodecLimits.entryBytesMax + 1))
        }
        var three = TestCluster(["a", "b", "c"]) { $0.uncommittedBytesMax = 100 }
        three.elect("a")
        three.isolated = [NodeID("b"), NodeID("c")]
        _ = try? three.nodes[NodeID("a")]!.propose([UInt8](repeating: 0, count: 90))
        #expect(throws: ProposalError.uncommittedBytesExceeded) {
            _ = try three.nodes[NodeID("a")]!.propose([UInt8](repeating: 0, count: 90))
        }
    }
}
