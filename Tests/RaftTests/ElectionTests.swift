import Testing
@testable import Raft

@Suite struct ElectionTests {
    // Raft §5.2: a candidate that wins a majority becomes leader; the others follow.
    @Test func aCandidateWithAMajorityLeads() {
        var cluster = TestCluster(["a", "b", "c"])
        cluster.elect("a")
        #expect(cluster["a"].status.role == .leader)
        #expect(cluster["b"].status.leader == NodeID("a"))
        #expect(cluster["c"].status.leader == NodeID("a"))
    }

    // §5.2: randomized timeouts elect exactly one leader without a manual campaign.
    @Test func timeoutsElectOneLeader() {
        var cluster = TestCluster(["a", "b", "c", "d", "e"])
        cluster.tickAll(40)
        #expect(cluster.leaders.count == 1)
    }

    // §5.2 + Figure 2: the vote MUST be in the Ready's hard state that carries the
    // response, never sent before it is persisted.
    @Test func voteIsPersistedBeforeTheResponseLeaves() {
        var cluster = TestCluster(["a", "b", "c"]) { $0.preVote = false }
        cluster.process()
        cluster["a"].campaign()
        cluster.process()
        let requests = cluster.inFlight.filter { $0.kind == .vote }
        cluster.inFlight.removeAll()
        cluster.nodes[NodeID("b")]!.step(requests.first { $0.to == NodeID("b") }!)
        let ready = cluster.nodes[NodeID("b")]!.ready()
        let response = ready.messages.first { $0.kind == .voteResponse }
        #expect(response?.reject == false)
        #expect(ready.hardState?.vote == NodeID("a"))
        #expect(ready.hardState?.term == response?.term)
    }

    // §5.2: one vote per term. A second candidate in the same term is refused.
    @Test func oneVotePerTerm() {
        var b = RaftNode(config: RaftConfig(id: NodeID("b"), initialVoters: [NodeID("a"), NodeID("b"), NodeID("c")]), state: PersistentState(), random: SeededRandom(seed: 1))
        _ = b.ready()
        b.step(Message(kind: .vote, from: NodeID("a"), to: NodeID("b"), term: 5, logTerm: 1, index: 3))
        b.step(Message(kind: .vote, from: NodeID("c"), to: NodeID("b"), term: 5, logTerm: 1, index: 3))
        let responses = b.ready().messages.filter { $0.kind == .voteResponse }
        #expect(responses.map(\.reject) == [false, true])
    }

    @Test func injectedBugGrantsTwoVotes() {
        var config = RaftConfig(id: NodeID("b"), initialVoters: [NodeID("a"), NodeID("b"), NodeID("c")])
        config.injectedBugs = [.grantTwoVotesPerTerm]
        var b = RaftNode(config: config, state: PersistentState(), random: SeededRandom(seed: 1))
        _ = b.ready()
        b.step(Message(kind: .vote, from: NodeID("a"), to: NodeID("b"), term: 5, logTerm: 1, index: 3))
        b.step(Message(kind: .vote, from: NodeID("c"), to: NodeID("b"), term: 5, logTerm: 1, index: 3))
        #expect(b.ready().messages.filter { $0.kind == .voteResponse }.map(\.reject) == [false, false])
    }

    // §5.4.1: a voter refuses a candidate whose log is less up to date.
    @Test func staleLogIsRefused() {
        // Without check-quorum, so that c has no leader lease that would make it
        // ignore b's request altogether.
        var cluster = TestCluster(["a", "b", "c"]) { $0.checkQuorum = false }
        cluster.elect("a")
        _ = try! cluster.nodes[NodeID("a")]!.propose([1])
        cluster.settle()
        var c = cluster["c"]
        c.step(Message(kind: .vote, from: NodeID("b"), to: NodeID("c"), term: 10, logTerm: 1, index: 1))
        #expect(c.ready().messages.first { $0.kind == .voteResponse }?.reject == true)
    }

    // §9.6: pre-vote. A partitioned member does not raise its term, so it cannot
    // depose a healthy leader when it returns.
    @Test func preVoteKeepsAnIsolatedMemberFromRaisingItsTerm() {
        var cluster = TestCluster(["a", "b", "c"])
        cluster.elect("a")
        let term = cluster["a"].status.term
        cluster.isolated = [NodeID("c")]
        cluster.tickAll(60)
        #expect(cluster["c"].status.term == term)
        cluster.isolated = []
        cluster.tickAll(5)
        #expect(cluster["a"].status.role == .leader)
        #expect(cluster["a"].status.term == term)
    }

    // §6.2: check-quorum. A leader cut off from the majority steps down.
    @Test func checkQuorumStepsDownAnIsolatedLeader() {
        var cluster = TestCluster(["a", "b", "c"])
        cluster.elect("a")
        cluster.isolated = [NodeID("a")]
        cluster.tickAll(60)
        #expect(cluster["a"].status.role != .leader)
        #expect(cluster.leaders.count == 1)
        #expect(cluster.leaders.first != NodeID("a"))
    }
}

