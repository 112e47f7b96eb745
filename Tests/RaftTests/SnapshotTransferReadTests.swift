import Testing
@testable import Raft

@Suite struct SnapshotTests {
    // §7: a follower behind the leader's compacted log receives the snapshot.
    @Test func laggingFollowerReceivesASnapshot() throws {
        var cluster = TestCluster(["a", "b", "c"])
        cluster.elect("a")
        cluster.isolated = [NodeID("c")]
        for value in 0..<20 as Range<UInt8> { _ = try cluster.nodes[NodeID("a")]!.propose([value]) }
        cluster.settle()
        let applied = cluster["a"].status.applied
        try cluster.nodes[NodeID("a")]!.compact(index: applied, data: [42])
        #expect(cluster["a"].status.snapshotIndex == applied)
        cluster.isolated = []
        cluster.tickAll(3)
        #expect(cluster.stored[NodeID("c")]!.snapshot.data == [42])
        #expect(cluster["c"].status.commit == cluster["a"].status.commit)
        #expect(cluster.readies[NodeID("a")]!.flatMap(\.traces).contains { $0.name == "snapshot-sent" })
    }

    // §7: a snapshot that conflicts with the follower's log discards the suffix.
    @Test func conflictingSnapshotDiscardsTheLog() {
        var node = RaftNode(config: RaftConfig(id: NodeID("b"), initialVoters: [NodeID("a"), NodeID("b")]), state: PersistentState(), random: SeededRandom(seed: 1))
        node.step(Message(kind: .append, from: NodeID("a"), to: NodeID("b"), term: 2, logTerm: 1, index: 2, entries: [Entry(term: 2, index: 3, data: [1])], commit: 2))
        _ = node.ready()
        let snapshot = Snapshot(metadata: SnapshotMetadata(index: 10, term: 3, conf: ConfState(voters: [NodeID("a"), NodeID("b")])), data: [7])
        node.step(Message(kind: .snapshot, from: NodeID("a"), to: NodeID("b"), term: 3, snapshot: snapshot))
        let ready = node.ready()
        #expect(ready.snapshot == snapshot)
        #expect(node.status.lastIndex == 10)
        #expect(ready.messages.first?.index == 10)
    }

    // A snapshot whose last entry matches our log keeps the entries after it.
    @Test func matchingSnapshotKeepsTheSuffix() {
        var node = RaftNode(config: RaftConfig(id: NodeID("b"), initialVoters: [NodeID("a"), NodeID("b")]), state: PersistentState(), random: SeededRandom(seed: 1))
        let entries = (3...6).map { Entry(term: 2, index: UInt64($0), data: [UInt8($0)]) }
        node.step(Message(kind: .append, from: NodeID("a"), to: NodeID("b"), term: 2, logTerm: 1, index: 2, entries: entries, commit: 2))
        _ = node.ready()
        let snapshot = Snapshot(metadata: SnapshotMetadata(index: 4, term: 2, conf: ConfState(voters: [NodeID("a"), NodeID("b")])), data: [7])
        node.step(Message(kind: .snapshot, from: NodeID("a"), to: NodeID("b"), term: 2, snapshot: snapshot))
        let ready = node.ready()
        #expect(ready.snapshot == nil)
        #expect(node.status.lastIndex == 6)
        #expect(node.status.commit == 4)
    }
}

@Suite struct TransferTests {
    // Dissertation §3.10: the leader brings the target up to date, then TimeoutNow.
    @Test func leadershipMovesToTheTarget() throws {
        var cluster = TestCluster(["a", "b", "c"])
        cluster.elect("a")
        cluster.isolated = [NodeID("c")]
        _ = try cluster.nodes[NodeID("a")]!.propose([1])
        cluster.settle()
        cluster.isolated = []
        try cluster.nodes[NodeID("a")]!.transferLeadership(to: NodeID("c"))
        #expect(throws: ProposalError.transferInProgress) { _ = try cluster.nodes[NodeID("a")]!.propose([2]) }
        cluster.settle()
        #expect(cluster["c"].status.role == .leader)
        #expect(cluster["a"].status.leader == NodeID("c"))
        #expect(cluster.appliedData("c") == [[1]])
    }

    @Test func transferToAnUnreachableTargetIsAborted() throws {
        var cluster = TestCluster(["a", "b", "c"])
        cluster.elect("a")
        cluster.isolated = [NodeID("c")]
        try cluster.nodes[NodeID("a")]!.transferLeadership(to: NodeID("c"))
        cluster.tickAll(12)
        #expect(cluster["a"].status.role == .leader)
        _ = try cluster.nodes[NodeID("a")]!.propose([1])
    }
}

@Suite struct ReadIndexTests {
    // §6.4: a read point is released only after a quorum confirms leadership.
    @Test func leaderReadNeedsAQuorum() throws {
        var cluster = TestCluster(["a", "b", "c"])
        cluster.elect("a")
        cluster.isolated = [NodeID("b"), NodeID("c")]
        try cluster.nodes[NodeID("a")]!.readIndex(context: [1])
        cluster.settle()
        #expect(cluster.readStates[NodeID("a"), default: []].isEmpty)
        cluster.isolated = []
        try cluster.nodes[NodeID("a")]!.readIndex(context: [2])
        cluster.settle()
        #expect(cluster.readStates[NodeID("a")]!.map(\.context).contains([2]))
        #expect(cluster.readStates[NodeID("a")]!.allSatisfy { $0.index == cluster["a"].status.commit })
    }

    @Test func followerReadIsForwarded() throws {
        var cluster = TestCluster(["a", "b", "c"])
        cluster.elect("a")
        _ = try cluster.nodes[NodeID("a")]!.propose([1])
        cluster.settle()
        try cluster.nodes[NodeID("b")]!.readIndex(context: [9])
        cluster.settle()
        #expect(cluster.readStates[NodeID("b")] == [ReadState(index: cluster["a"].status.commit, context: [9])])
    }
}

@Suite struct MembershipTests {
    @Test func learnerCatchesUpWithoutVotingThenIsPromoted() throws {
        var cluster = TestCluster(["a", "b", "c"])
        cluster.elect("a")
        _ = try cluster.nodes[NodeID("a")]!.propose([1])
        cluster.settle()
        let d = NodeID("d")
        cluster.nodes[d] = RaftNode(config: RaftConfig(id: d, initialVoters: []), state: PersistentState(), random: SeededRandom(seed: 9))
        cluster.stored[d] = PersistentState()
        cluster.applied[d] = []
        _ = try cluster.nodes[NodeID("a")]!.proposeConfChange(ConfChange(kind: .addLearner, node: d))
        #expect(throws: ProposalError.confChangePending) {
            _ = try cluster.nodes[NodeID("a")]!.proposeConfChange(ConfChange(kind: .addLearner, node: NodeID("e")))
        }
        cluster.tickAll(3)
        #expect(cluster["a"].status.conf.learners == [d])
        #expect(cluster.appliedData("d") == [[1]])
        #expect(cluster["d"].status.conf.voters == [NodeID("a"), NodeID("b"), NodeID("c")])
        // A learner never campaigns.
        cluster.nodes[d]!.campaign()
        #expect(cluster["d"].status.role == .follower)
        _ = try cluster.nodes[NodeID("a")]!.proposeConfChange(ConfChange(kind: .addVoter, node: d))
        cluster.tickAll(3)
        #expect(cluster["a"].status.conf.voters.contains(d))
    }

    @Test func leaderRemovingItselfStepsDownAndOthersElect() throws {
        var cluster = TestCluster(["a", "b", "c"])
        cluster.elect("a")
        _ = try cluster.nodes[NodeID("a")]!.proposeConfChange(ConfChange(kind: .removeNode, node: NodeID("a")))
        cluster.settle()
        #expect(cluster["a"].status.role == .follower)
        cluster.isolated = [NodeID("a")]
        cluster.tickAll(40)
        let leaders = cluster.leaders
        #expect(leaders.count == 1)
        #expect(leaders.first != NodeID("a"))
        #expect(cluster["b"].status.conf.voters == [NodeID("b"), NodeID("c")])
    }

    @Test func invalidChangesAreRefused() {
        var cluster = TestCluster(["a"])
        cluster.elect("a")
        #expect(throws: ProposalError.invalidConfChange("a is already a voter")) {
            _ = try cluster.nodes[NodeID("a")]!.proposeConfChange(ConfChange(kind: .addVoter, node: NodeID("a")))
        }
        #expect(throws: ProposalError.invalidConfChange("cannot remove the last voter")) {
            _ = try cluster.nodes[NodeID("a")]!.proposeConfChange(ConfChange(kind: .removeNode, node: NodeID("a")))
        }
    }

    @Test func restartRecomputesMembershipFromTheLog() throws {
        var cluster = TestCluster(["a", "b", "c"])
        cluster.elect("a")
        _ = try cluster.nodes[NodeID("a")]!.proposeConfChange(ConfChange(kind: .addLearner, node: NodeID("d")))
        cluster.settle()
        cluster.tickAll(1)
        let restarted = RaftNode(config: RaftConfig(id: NodeID("b"), initialVoters: []), state: cluster.stored[NodeID("b")]!, random: SeededRandom(seed: 5))
        #expect(restarted.status.conf.learners == [NodeID("d")])
        #expect(restarted.status.conf.voters.count == 3)
    }
}
