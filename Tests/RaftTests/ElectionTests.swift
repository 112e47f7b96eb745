import Testing
@testable import Raft

@Suite struct ElectionTests {
    // The shell saw the links to the leader close (a crashed process's kernel
    // resets them at once): the followers campaign within a third of an
    // election timeout (30 ticks here) instead of after 30-60 ticks.
    @Test func followersOfALeaderWhoseLinksClosedCampaignEarly() {
        var cluster = TestCluster(["a", "b", "c"]) { $0.electionTicks = 30 }
        cluster.elect("a")
        cluster.tickAll(3)
        let term = cluster["a"].status.term
        cluster.isolated = [NodeID("a")]
        cluster["b"].reportUnreachable(NodeID("a"))
        cluster["c"].reportUnreachable(NodeID("a"))
        var ticks = 0
        while ticks < 12, !cluster.leaders.contains(where: { $0 != NodeID("a") }) {
            cluster.tickAll(1)
            ticks += 1
        }
        let successor = cluster.leaders.filter { $0 != NodeID("a") }
        #expect(successor.count == 1, "no new leader within 12 ticks of the leader's links closing (election timeout 30)")
        #expect(successor.allSatisfy { cluster[$0.rawValue].status.term == term + 1 })
    }

    // One follower's link to a live leader broke: its early campaign is refused
    // by the follower that still hears the leader (the lease), so the term and
    // the leader stay.
    @Test func aBrokenLinkToALiveLeaderCostsNoElection() {
        var cluster = TestCluster(["a", "b", "c"]) { $0.electionTicks = 30 }
        cluster.elect("a")
        cluster.tickAll(3)
        let term = cluster["a"].status.term
        cluster["b"].reportUnreachable(NodeID("a"))
        // The link between a and b stays cut (else a's heartbeats reset b's
        // timer and b never campaigns); c hears both.
        func cut(_ message: Message) -> Bool {
            Set([message.from, message.to]) == Set([NodeID("a"), NodeID("b")])
        }
        var sawPreCandidate = false
        for _ in 0..<12 {
            for id in cluster.nodes.keys.sorted() { cluster.nodes[id]!.tick() }
            for _ in 0..<20 {
                cluster.process()
                sawPreCandidate = sawPreCandidate || cluster["b"].status.role == .preCandidate
                let batch = cluster.inFlight
                cluster.inFlight.removeAll()
                for message in batch where !cut(message) { cluster.nodes[message.to]?.step(message) }
            }
        }
        #expect(sawPreCandidate, "b did not campaign early")
        cluster.tickAll(5)
        #expect(cluster.leaders == [NodeID("a")])
        #expect(cluster.nodes.values.allSatisfy { $0.status.term == term })
    }

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

