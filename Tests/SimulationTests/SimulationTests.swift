import Foundation
import Testing
import Raft
@testable import Simulation

/// How many seeds the default run checks, and where it starts. Raise with
/// LIFELINE_SIM_SEEDS (and LIFELINE_SIM_FIRST_SEED) for long soaks.
enum SeedPlan {
    static let chunkCount = 20
    static var seedCount: Int {
        ProcessInfo.processInfo.environment["LIFELINE_SIM_SEEDS"].flatMap(Int.init) ?? 2_000
    }
    static var firstSeed: UInt64 {
        ProcessInfo.processInfo.environment["LIFELINE_SIM_FIRST_SEED"].flatMap(UInt64.init) ?? 1
    }
    static func seeds(chunk: Int) -> [UInt64] {
        let perChunk = (seedCount + chunkCount - 1) / chunkCount
        let start = firstSeed + UInt64(chunk * perChunk)
        let end = min(firstSeed + UInt64(seedCount), start + UInt64(perChunk))
        return start < end ? Array(start..<end) : []
    }
}

@Suite struct SimulationTests {
    /// The whole-cluster simulation over many seeds: no safety violation, and
    /// liveness after every heal. A failure names the seed and the replay command.
    @Test(arguments: 0..<SeedPlan.chunkCount)
    func seedsHoldEveryInvariant(chunk: Int) {
        for seed in SeedPlan.seeds(chunk: chunk) {
            var simulator = Simulator(config: SimulationConfig(seed: seed, nodeCount: SimulationConfig.nodeCount(forSeed: seed)))
            let summary = simulator.run()
            #expect(summary.violations.isEmpty, "seed \(seed) failed: \(summary.violations). Replay: \(summary.replayCommand)")
            if !summary.violations.isEmpty { return }
        }
    }

    /// The runs exercise what they claim to: faults happen and work commits.
    @Test func runsExerciseFaultsAndCommit() {
        var totals = SimulationSummary(seed: 0, nodeCount: 3)
        for seed in 1...40 as ClosedRange<UInt64> {
            var simulator = Simulator(config: SimulationConfig(seed: seed, nodeCount: SimulationConfig.nodeCount(forSeed: seed)))
            let summary = simulator.run()
            totals.crashes += summary.crashes
            totals.crashesLosingReady += summary.crashesLosingReady
            totals.partitions += summary.partitions
            totals.snapshotsInstalled += summary.snapshotsInstalled
            totals.transfers += summary.transfers
            totals.confChangesApplied += summary.confChangesApplied
            totals.readsServed += summary.readsServed
            totals.messagesDropped += summary.messagesDropped
            totals.messagesDuplicated += summary.messagesDuplicated
            totals.entriesCommitted += summary.entriesCommitted
        }
        #expect(totals.crashes > 0)
        #expect(totals.crashesLosingReady > 0)
        #expect(totals.partitions > 0)
        #expect(totals.snapshotsInstalled > 0)
        #expect(totals.transfers > 0)
        #expect(totals.confChangesApplied > 0)
        #expect(totals.readsServed > 0)
        #expect(totals.messagesDropped > 0)
        #expect(totals.messagesDuplicated > 0)
        #expect(totals.entriesCommitted > 1_000)
    }

    /// The same seed gives the same run.
    @Test func aSeedReplaysExactly() {
        var first = Simulator(config: SimulationConfig(seed: 4242, nodeCount: 5))
        var second = Simulator(config: SimulationConfig(seed: 4242, nodeCount: 5))
        let a = first.run()
        let b = second.run()
        #expect(a.description == b.description)
        #expect(a.messagesSent > 0)
    }
}

/// Proof that the checkers can fail: deliberately wrong rules in the core must be
/// reported by the simulator.
@Suite struct CheckerCatchesBugTests {
    @Test func grantingTwoVotesPerTermBreaksElectionSafety() {
        let found = firstViolation(bug: .grantTwoVotesPerTerm, seedsMax: 300) { config in
            config.preVote = false
        }
        #expect(found?.rule == .electionSafety, "no election safety violation found: \(String(describing: found))")
    }

    /// Figure 8 through the simulator: the correct rule loses nothing; committing
    /// an earlier term's entry by counting is reported as a safety violation.
    @Test func committingAPreviousTermByCountingIsCaught() {
        let correct = Simulator.figure8(injectBug: false)
        #expect(correct.violations.isEmpty, "\(correct.violations)")
        let buggy = Simulator.figure8(injectBug: true)
        let caught: Set<Violation.Rule> = [.stateMachineSafety, .leaderCompleteness]
        #expect(buggy.violations.contains { caught.contains($0.rule) }, "\(buggy.violations)")
    }

    /// The checkers themselves fire on a hand-made bad history.
    @Test func stateMachineCheckerFiresOnDivergentApply() {
        var simulator = Simulator(config: SimulationConfig(seed: 1, nodeCount: 3))
        simulator.applyEntry(NodeID("n1"), Entry(term: 1, index: 1, data: [1]))
        simulator.applyEntry(NodeID("n2"), Entry(term: 2, index: 1, data: [2]))
        #expect(simulator.summary.violations.first?.rule == .stateMachineSafety)
    }

    @Test func logMatchingCheckerFiresOnTwoEntriesAtOnePosition() {
        var simulator = Simulator(config: SimulationConfig(seed: 1, nodeCount: 3))
        simulator.recordPosition(Entry(term: 3, index: 7, data: [1]))
        simulator.recordPosition(Entry(term: 3, index: 7, data: [2]))
        #expect(simulator.summary.violations.first?.rule == .logMatching)
    }

    @Test func leaderCompletenessCheckerFiresOnAMissingEntry() {
        var simulator = Simulator(config: SimulationConfig(seed: 1, nodeCount: 3))
        simulator.applyEntry(NodeID("n1"), Entry(term: 1, index: 1, data: [1]))
        simulator.checkLeaderCompleteness(NodeID("n2"), term: 2)
        #expect(simulator.summary.violations.first?.rule == .leaderCompleteness)
    }

    @Test func readCheckerFiresOnAStaleReadPoint() {
        var simulator = Simulator(config: SimulationConfig(seed: 1, nodeCount: 3))
        simulator.reads[1] = Simulator.PendingRead(node: NodeID("n1"), context: [0, 0, 0, 0, 0, 0, 0, 1], committedBeforeIssue: 9)
        simulator.completeRead(NodeID("n1"), ReadState(index: 3, context: [0, 0, 0, 0, 0, 0, 0, 1]))
        #expect(simulator.summary.violations.first?.rule == .readLinearizability)
    }

    private func firstViolation(bug: InjectedBug, seedsMax: UInt64, configure: (inout SimulationConfig) -> Void) -> Violation? {
        for seed in 1...seedsMax {
            var config = SimulationConfig(seed: seed, nodeCount: 3)
            config.injectedBugs = [bug]
            configure(&config)
            var simulator = Simulator(config: config)
            if let violation = simulator.run().violations.first { return violation }
        }
        return nil
    }
}

